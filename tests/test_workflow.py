"""The workflow (rewardscope.workflow): the Pipeline's stages and analyze end to end."""

import json
import sys

import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.atoms import find_columns
from rewardscope.config import Config
from rewardscope.lattice import index_columns
from rewardscope.metrics import result_accuracy
from rewardscope.synthetic import synthesize
from rewardscope.workflow import Pipeline, analyze


def test_the_b_sublattice_check_passes_resolved_scenes_and_refuses_unresolved_ones():
    from rewardscope.workflow import judge_b_sublattice

    for overrides in ({}, {"dose": 5.0, "size": 384, "polarization_pm": 15.0}):
        columns = find_columns(synthesize("quadrants", seed=2, **overrides).image.data)
        figures, warnings = judge_b_sublattice(columns, index_columns(columns), force=False)
        assert figures["resolved"] and warnings == ()
    # An ABF scene read as bright columns: the "B" found are the bright gaps between the columns.
    columns = find_columns(synthesize("paraelectric", seed=4, contrast="abf").image.data, contrast="bright")
    with pytest.raises(RewardscopeError, match="the B sublattice is not resolved"):
        judge_b_sublattice(columns, index_columns(columns), force=False)
    figures, warnings = judge_b_sublattice(columns, index_columns(columns), force=True)
    assert not figures["resolved"] and warnings[0].startswith("B sublattice not resolved")


def test_the_recorded_digest_is_the_one_a_worker_recomputes(data_folder, tmp_path):
    # A worker reads the image again and compares this digest: it must be of the data, not of what was found
    # in it.
    from rewardscope import analyze
    from rewardscope.io import read_image
    from rewardscope.workflow import image_digest

    image = read_image(data_folder / "copy.npy")
    analyze(image, out=tmp_path / "results", n_trials=2, progress=False)
    recorded = json.loads((tmp_path / "results" / "study.json").read_text())
    assert recorded["image"] == image_digest(read_image(data_folder / "copy.npy"))
    assert recorded["read"]["path"] == str((data_folder / "copy.npy").resolve())


def test_a_vae_learner_without_torch_fails_before_any_work(stripes, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(RewardscopeError, match="pip install torch"):
        analyze(stripes.image, out=tmp_path / "out", learners=("gmm", "rvae"), progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


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
    score = result_accuracy(result, scene)
    assert result.config.n_classes == scene.n_variants
    assert score.ari >= 0.9
    assert score.wall_f1 >= 0.8


def test_python_api_takes_a_plain_array(stripes):
    import rewardscope

    analysis = rewardscope.analyze(stripes.image.data, n_trials=3, progress=False)
    assert analysis.image.pixel_size is None
    assert analysis.result.labels.shape == (len(analysis.result.columns),)
    with pytest.raises(rewardscope.RewardscopeError, match="non-finite"):
        rewardscope.analyze(np.full((64, 64), np.nan), n_trials=3, progress=False)


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


def test_stripes_keep_two_classes_and_every_cell(stripes, tmp_path):
    analysis = analyze(stripes.image, out=tmp_path / "out", n_trials=10, progress=False)
    result = analysis.result
    score = result_accuracy(result, stripes)
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
