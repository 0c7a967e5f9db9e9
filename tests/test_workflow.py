import json
from dataclasses import replace

import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.config import Config
from rewardscope.metrics import accuracy
from rewardscope.optimize import SearchSpace, best_params, optimize, trial_records
from rewardscope.synthetic import synthesize
from rewardscope.workflow import Pipeline, analyze


def test_changing_only_k_reuses_columns_and_patches(stripes):
    pipeline = Pipeline(stripes.image)
    pipeline.run(Config(window=16, n_classes=2))
    pipeline.run(Config(window=16, n_classes=3))
    pipeline.run(Config(window=20, n_classes=3))
    assert pipeline.calls["atoms"] == 1
    assert pipeline.calls["lattice"] == 1
    assert pipeline.calls["descriptors"] == 2
    assert pipeline.calls["learn"] == 4  # and the two-class split of window 20, for its split evidence
    assert pipeline.calls["split"] == 2


def test_same_seed_same_result(stripes):
    a = Pipeline(stripes.image).run(Config(window=16, n_classes=3, seed=4))
    b = Pipeline(stripes.image).run(Config(window=16, n_classes=3, seed=4))
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.reward == b.reward


def test_true_setting_scores_higher_than_oversplit(stripes):
    pipeline = Pipeline(stripes.image)
    right = pipeline.run(Config(window=16, n_classes=2))
    oversplit = pipeline.run(Config(window=16, n_classes=5))
    assert right.reward > oversplit.reward


@pytest.mark.parametrize("layout", ["stripes", "quadrants"])
def test_analyze_finds_the_variants_by_itself(layout):
    scene = synthesize(layout, seed=11, size=320)
    analysis = analyze(scene.image, n_trials=16, seed=0, progress=False)
    result = analysis.result
    score = accuracy(
        result.columns.xy,
        result.columns.sublattice,
        result.labels,
        result.lattice.polarization,
        scene.truth,
        scene.image.shape,
        result.columns.period,
    )
    assert result.config.n_classes == scene.n_variants
    assert score.ari >= 0.9
    assert score.wall_f1 >= 0.8


def test_interrupted_study_resumes(stripes, tmp_path):
    pipeline = Pipeline(stripes.image)
    space = SearchSpace.for_period(pipeline.columns(Config()).period, 256)
    storage = tmp_path / "study.journal"
    calls = []

    def flaky(config):
        calls.append(config)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the fourth trial
        result = pipeline.run(config)
        return result.reward, result.components

    with pytest.raises(KeyboardInterrupt):
        optimize(flaky, Config(), space, n_trials=6, storage=storage, seed=0, progress=False)
    study = optimize(flaky, Config(), space, n_trials=6, storage=storage, seed=0, progress=False)
    states = [t.state.name for t in study.trials]
    assert len(trial_records(study)) == 6
    assert states.count("FAIL") == 1  # the interrupted trial, closed on resume
    assert len(calls) == 4 + 3  # three finished trials were not redone
    assert len(calls) == len({(c.descriptor, c.window, c.n_classes) for c in calls}) + 1
    assert calls.count(calls[3]) == 2  # only the interrupted one twice: it is tried again on resume


def test_budget_buys_distinct_settings(stripes):
    pipeline = Pipeline(stripes.image)
    # 6 settings in all
    space = SearchSpace(window_range=(12, 16), n_classes_range=(2, 3), descriptors=("patch",))
    seen = []

    def score(config):
        seen.append((config.window, config.n_classes))
        result = pipeline.run(config)
        return result.reward, result.components

    study = optimize(score, Config(), space, n_trials=50, storage=None, seed=1, progress=False)
    assert sorted(seen) == sorted({(w, k) for w in (12, 14, 16) for k in (2, 3)})
    assert study.best_value == max(t["reward"] for t in trial_records(study))


def test_analyze_writes_the_output_contract(stripes, tmp_path):
    out = tmp_path / "result"
    analysis = analyze(stripes.image, out=out, n_trials=5, seed=2, progress=False)
    assert not (tmp_path / "result.partial").exists()
    lines = (out / "atoms.csv").read_text().splitlines()
    assert lines[0].startswith("x,y,sublattice,i,j,label,px,py")
    assert len(lines) == len(analysis.result.columns) + 1
    rows = [line.split(",") for line in lines[1:]]
    assert all(len(r) == len(lines[0].split(",")) for r in rows)
    assert {r[2] for r in rows} == {"A", "B"}
    assert all(r[5] == "-1" and float(r[6]) == 0 for r in rows if r[2] == "A")
    summary = json.loads((out / "summary.json").read_text())
    for key in ("config", "reward", "components", "trials", "timings_s", "versions", "seed"):
        assert key in summary
    assert len(summary["trials"]) == 5
    assert {c["name"] for c in summary["classes"]} == {"polar, P along +a+b", "polar, P along -a+b"}
    assert summary["seed"] == 2
    html = (out / "report.html").read_text()
    for figure in (
        "columns.png",
        "classes.png",
        "walls.png",
        "polarization.png",
        "explained.png",
        "cell_maps.png",
        "trials.png",
        "landscape.png",
    ):
        assert figure in html
        assert (out / figure).stat().st_size > 1000


def test_window_is_moot_without_patches():
    space = SearchSpace(window_range=(12, 16), n_classes_range=(2, 3), descriptors=("patch", "polarization"))
    assert space.size == 3 * 2 + 2
    assert space.key({"window": 12, "n_classes": 2, "descriptor": "polarization"}) == space.key(
        {"window": 16, "n_classes": 2, "descriptor": "polarization"}
    )
    assert space.key({"window": 12, "n_classes": 2, "descriptor": "patch"}) != space.key(
        {"window": 16, "n_classes": 2, "descriptor": "patch"}
    )


def test_search_space_scales_with_period():
    space = SearchSpace.for_period(16.0, 400)
    assert space.window_range == (12, 40)
    small = SearchSpace.for_period(16.0, 60)
    assert small.window_range == (12, 20)
    odd = SearchSpace.for_period(16.0, 81)  # a third of the side is 27 px: the top window stays even
    assert odd.window_range == (12, 26)
    assert replace(space, n_classes_range=(2, 3)).distributions()["n_classes"].high == 3


def test_python_api_takes_a_plain_array(stripes):
    import rewardscope

    analysis = rewardscope.analyze(stripes.image.data, n_trials=3, progress=False)
    assert analysis.image.pixel_size is None
    assert analysis.result.labels.shape == (len(analysis.result.columns),)
    with pytest.raises(rewardscope.RewardscopeError, match="non-finite"):
        rewardscope.analyze(np.full((64, 64), np.nan), n_trials=3, progress=False)


def test_opening_scores_every_physical_setting_first():
    space = SearchSpace(window_range=(12, 40), n_classes_range=(2, 6), descriptors=("patch", "polarization"))
    opening = space.opening(20)
    assert opening[0] == {"window": 26, "n_classes": 2, "descriptor": "patch"}
    assert sorted(p["n_classes"] for p in opening if p["descriptor"] == "polarization") == [2, 3, 4, 5, 6]
    assert SearchSpace(window_range=(12, 40), descriptors=("patch",)).opening(20) == [
        {"window": 26, "n_classes": 2}
    ]
    assert len(space.opening(3)) == 3


def test_several_objectives_give_a_pareto_front():
    # A made-up trade-off on a grid, so the front is known: objective a grows with k, b falls with it,
    # and the combined reward peaks at k = 4.
    space = SearchSpace(window_range=(8, 12), n_classes_range=(2, 6), descriptors=("patch",))

    def evaluate(config):
        k, w = config.n_classes, config.window
        components = {"separation": k / 6 - (w - 8) / 100, "straightness": 1 - k / 6 - (w - 8) / 100}
        return 1 - abs(k - 4) / 4 - (w - 8) / 100, components

    study = optimize(
        evaluate,
        Config(),
        space,
        n_trials=space.size,
        storage=None,
        seed=0,
        progress=False,
        objectives=("separation", "straightness"),
    )
    records = trial_records(study)
    front = sorted(r["params"]["n_classes"] for r in records if r["pareto"])
    assert front == [2, 3, 4, 5, 6]  # the window-8 setting of every k, nothing else
    assert all(r["params"]["window"] == 8 for r in records if r["pareto"])
    assert best_params(study) == {"window": 8, "n_classes": 4}


@pytest.mark.parametrize(
    "objectives, match",
    [(("separation",), "two or more"), (("separation", "nope"), "unknown objective 'nope'")],
)
def test_bad_objectives_are_refused_before_any_work(stripes, objectives, match, tmp_path):
    with pytest.raises(RewardscopeError, match=match):
        analyze(stripes.image, out=tmp_path / "out", objectives=objectives, progress=False)
    assert not (tmp_path / "out").exists()


def test_analyze_with_objectives_records_the_front(stripes, tmp_path):
    analysis = analyze(
        stripes.image, out=tmp_path / "out", n_trials=8, objectives=("separation", "bgmm"), progress=False
    )
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["objectives"] == ["separation", "bgmm"]
    front = [t for t in summary["trials"] if t["pareto"]]
    assert front and all(np.isfinite(t["components"]["bgmm"]) for t in summary["trials"])
    assert analysis.result.reward == pytest.approx(max(t["reward"] for t in front))


def test_a_given_window_range_is_what_is_searched(stripes, tmp_path):
    analysis = analyze(
        stripes.image, n_trials=6, window_range=(12, 16), descriptors=("patch",), progress=False
    )
    assert {t["params"]["window"] for t in analysis.trials} <= {12, 14, 16}
    with pytest.raises(
        RewardscopeError, match="`window_range` must be two whole numbers LOW <= HIGH, LOW >= 3"
    ):
        analyze(stripes.image, out=tmp_path / "out", window_range=(2, 4), progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_one_phase_is_an_answer(tmp_path):
    scene = synthesize("paraelectric", seed=3, size=256)
    analysis = analyze(scene.image, out=tmp_path / "out", n_trials=10, progress=False)
    assert analysis.phases["one_phase"] and analysis.config.n_classes == 1
    assert analysis.result.walls.n_segments == 0 and analysis.result.reward == 0.0
    assert [c["name"] for c in analysis.classes] == ["paraelectric"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["phases"]["statement"].startswith("one phase, no domain walls")
    assert all(t["refused"] for t in summary["trials"])


def test_a_uniform_offset_is_named_so_not_polar():
    from rewardscope.explain import explain_classes

    scene = synthesize(
        "paraelectric", seed=1, size=256, b_offset_pm=(0.0, 30.0)
    )  # 30 pm along b: 7.6% of the period
    pipeline = Pipeline(scene.image)
    result = pipeline.run(Config(descriptor="polarization", n_classes=1))
    (only,) = explain_classes(
        result, pipeline.geometry(result.config), scene.image.data, 24, scene.image.pixel_size
    )
    assert only["name"].startswith("uniform offset of B along +b")
    along_b = only["polarization_pm"] @ (result.lattice.basis[1] / np.linalg.norm(result.lattice.basis[1]))
    assert along_b == pytest.approx(30.0, abs=2.0)
    low, high = only["polarization_interval_pm"][1]
    assert low < only["polarization_pm"][1] < high and only["polarization_error_pm"] < 1.0


def test_a_reference_region_is_taken_as_non_polar(tmp_path):
    # A uniform offset over the whole frame, measured from a region of it: nothing polar is left.
    scene = synthesize("paraelectric", seed=2, size=256, b_offset_pm=(0.0, 30.0))
    analysis = analyze(
        scene.image, out=tmp_path / "out", n_trials=4, progress=False, reference=(0, 128, 0, 256)
    )
    assert (
        analysis.reference["reference"] == "the region x 0:128, y 0:256 px"
        and analysis.reference["cells"] > 50
    )
    assert np.hypot(*analysis.reference["offset_pm"]) == pytest.approx(30.0, abs=2.0)
    assert [c["name"] for c in analysis.classes] == ["paraelectric"]
    assert (
        abs(
            np.nanmedian(
                analysis.result.lattice.polarization[analysis.result.columns.sublattice == "B"][:, 1]
            )
        )
        < 0.1
    )
    assert "Polarization is measured from the reference" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize(
    "reference, message",
    [
        (7, "`reference` class 7 is not among the classes searched"),
        ((0, 900, 0, 10), "is not a region of the 256 x 256 px frame"),
    ],
)
def test_a_bad_reference_is_refused_before_any_work(reference, message, tmp_path):
    scene = synthesize("paraelectric", seed=2, size=256)
    with pytest.raises(RewardscopeError, match=message):
        analyze(scene.image, out=tmp_path / "out", n_trials=4, progress=False, reference=reference)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_stripes_keep_two_classes_and_every_cell(stripes, tmp_path):
    analysis = analyze(stripes.image, out=tmp_path / "out", n_trials=10, progress=False)
    result = analysis.result
    score = accuracy(
        result.columns.xy,
        result.columns.sublattice,
        result.labels,
        result.lattice.polarization,
        stripes.truth,
        stripes.image.shape,
        result.columns.period,
    )
    assert not analysis.phases["one_phase"] and analysis.config.n_classes == 2
    assert score.coverage >= 0.97 and score.ari >= 0.99
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["lattice"]["cells_classified_share"] >= 0.97
    assert all(c["name"].startswith("polar, P along") for c in summary["classes"])


def test_spatial_options_are_searched_when_asked(tmp_path):
    scene = synthesize("quadrants", seed=101, size=384, dose=6.0, polarization_pm=15.0, jitter_px=0.3)
    analysis = analyze(
        scene.image, out=tmp_path / "out", n_trials=12, progress=False, poolings=(0, 2), smoothings=(0.0, 1.0)
    )
    tried = {(t["params"].get("pooling", 0), t["params"].get("smoothing", 0.0)) for t in analysis.trials}
    assert len(tried) > 1  # both dimensions are in the search
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["config"]["pooling"] in (0, 2) and summary["config"]["smoothing"] in (0.0, 1.0)
    assert summary["search_space"]["n_classes"] == [2, 6]


def test_no_spatial_prior_unless_asked(stripes):
    analysis = analyze(stripes.image, n_trials=3, progress=False)
    assert analysis.config.pooling == 0 and analysis.config.smoothing == 0.0
    assert analysis.result.unsmoothed_grid is None


def test_a_single_spatial_value_is_used_not_dropped():
    scene = synthesize("stripes", seed=0, size=192)
    analysis = analyze(
        scene.image,
        n_trials=1,
        descriptors=("polarization",),
        n_classes_range=(2, 2),
        poolings=(2,),
        smoothings=(1.0,),
        progress=False,
    )
    assert analysis.config.pooling == 2 and analysis.config.smoothing == 1.0
    assert analysis.result.unsmoothed_grid is not None
    with pytest.raises(RewardscopeError, match="whole numbers of cells"):
        analyze(scene.image, n_trials=1, poolings=(1.5,), progress=False)
    with pytest.raises(RewardscopeError, match="`smoothing` must be >= 0"):
        analyze(scene.image, n_trials=1, smoothings=(0.0, -1.0), progress=False)


def test_writing_a_report_leaves_matplotlib_as_the_user_set_it(stripes, tmp_path):
    """A notebook's backend and its pyplot figures are the user's: the report draws on Figures of its own."""
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        plt.figure()  # the user's own figure
        before = plt.get_fignums()
        analyze(stripes.image, out=tmp_path / "out", n_trials=2, progress=False)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == before
        assert (tmp_path / "out" / "classes.png").stat().st_size > 0
    finally:
        plt.close("all")
        matplotlib.use(backend)


@pytest.mark.parametrize("unpooled, chosen", [(0.69, 0), (0.60, 1)])
def test_a_spatial_prior_that_only_ties_is_not_chosen(unpooled, chosen):
    """Within 2% of the best reward the least pooling wins; a clearly better pooled map is kept."""
    space = SearchSpace(window_range=(8, 8), n_classes_range=(2, 2), descriptors=("patch",), poolings=(0, 1))

    def evaluate(config):
        return (0.70 if config.pooling else unpooled), {}

    study = optimize(evaluate, Config(), space, n_trials=space.size, storage=None, seed=0, progress=False)
    assert best_params(study)["pooling"] == chosen


def test_an_analysis_shows_itself_in_jupyter(stripes):
    analysis = analyze(stripes.image, n_trials=4, progress=False)
    page = analysis._repr_html_()
    assert page.startswith("<div>") and "data:image/png;base64," in page
    assert analysis.phases["statement"] in page
    for entry in analysis.classes:
        assert entry["name"] in page
    assert f"{analysis.config.n_classes} classes" in page


def test_progress_bars_are_text_without_ipywidgets(monkeypatch):
    from tqdm import auto, std

    from rewardscope.progress import progress_bar

    monkeypatch.setattr("rewardscope.progress.find_spec", lambda name: None)
    bar = progress_bar(total=2, disable=True)
    assert type(bar) is std.tqdm  # not tqdm.auto's choice, which warns in a notebook without ipywidgets
    bar.close()
    monkeypatch.setattr("rewardscope.progress.find_spec", lambda name: object())
    bar = progress_bar(total=2, disable=True)
    assert type(bar) is auto.tqdm
    bar.close()


def test_the_trials_table_shows_every_searched_setting(stripes, tmp_path):
    analysis = analyze(
        stripes.image,
        out=tmp_path / "out",
        n_trials=6,
        progress=False,
        descriptors=("patch", "polarization"),
        poolings=(0, 1),
        smoothings=(0.0, 1.0),
    )
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<th>pooling (cells)</th>" in page and "<th>Potts strength</th>" in page
    polar = [t for t in analysis.trials if t["params"].get("descriptor") == "polarization"]
    assert polar and "<td>polarization</td><td>&mdash;</td>" in page  # no window without patches
