"""Composition series (rewardscope.series, synthetic.synthesize_series): shared classes, fractions, input."""

import numpy as np
import pytest
from helpers import refused

from rewardscope import RewardscopeError
from rewardscope.cli import main
from rewardscope.io import write_image
from rewardscope.metrics import result_accuracy
from rewardscope.plan import AnalysisPlan
from rewardscope.series import (
    SeriesInputs,
    SeriesRun,
    analyze_series,
    by_composition,
    check_alike,
    composition_lookup,
    demo_inputs,
    read_series,
    reward_drops,
)
from rewardscope.synthetic import composition_spec, synthesize_series, write_series

COMPOSITIONS = (0.0, 13.0, 20.0)


@pytest.fixture(scope="module")
def small_series():
    """Three compositions, one 192 px frame each, the frames and their shared analysis (8 trials)."""
    frames = synthesize_series(COMPOSITIONS, frames_per_composition=1, size=192, seed=1)
    inputs = demo_inputs(compositions=COMPOSITIONS, frames_per_composition=1, size=192, seed=1)
    plan = AnalysisPlan(n_trials=8, descriptors=("polarization",))
    return frames, analyze_series(inputs, plan, run=SeriesRun(per_frame=False), progress=False)


def test_the_synthetic_series_moves_toward_the_antipolar_phase_as_sm_rises():
    specs = [composition_spec(c) for c in (0, 7, 10, 13, 20)]
    assert [s.antipolar_share for s in specs][:2] == [0.0, 0.0]
    assert np.all(np.diff([s.antipolar_share for s in specs]) >= 0) and specs[-1].antipolar_share == 0.85
    assert np.all(np.diff([s.stripe_cells for s in specs]) <= 0)  # domains shrink
    assert np.all(np.diff([s.wall_roughness for s in specs]) > 0)  # walls roughen
    assert (
        np.all(np.diff([s.lattice_pm for s in specs]) < 0)
        and specs[-1].lattice_pm > 0.99 * specs[0].lattice_pm
    )
    rows = [f.truth_row() for f in synthesize_series(frames_per_composition=1, size=160)]
    polar = [r["polar_share"] for r in rows]
    assert polar[0] == 1.0 and np.all(np.diff(polar) <= 0) and polar[-1] < 0.4
    with pytest.raises(RewardscopeError, match="composition"):
        composition_spec(120.0)


def test_the_same_seed_gives_the_same_series():
    one, two = (synthesize_series((0, 20), frames_per_composition=2, size=96, seed=4) for _ in range(2))
    assert [f.name for f in one] == ["Sm_0_0", "Sm_0_1", "Sm_20_0", "Sm_20_1"]
    for a, b in zip(one, two):
        assert np.array_equal(a.scene.image.data, b.scene.image.data)
    # Frames of one composition are other places of the film: other seeds.
    assert not np.array_equal(one[0].scene.image.data, one[1].scene.image.data)
    other = synthesize_series((0, 20), frames_per_composition=2, size=96, seed=5)
    assert not np.array_equal(one[0].scene.image.data, other[0].scene.image.data)


def test_shared_classes_agree_with_the_truth_in_every_frame(small_series):
    frames, analysis = small_series
    assert analysis.config.n_classes == 3
    assert sorted(c["phase"] for c in analysis.classes) == ["antipolar", "polar", "polar"]
    for frame, result in zip(frames, analysis.results):
        assert result_accuracy(result, frame.scene).ari >= 0.9, frame.name


def test_phase_fractions_against_composition_are_within_5_points_of_the_truth(small_series):
    _, analysis = small_series
    assert [r["composition"] for r in analysis.compositions] == list(COMPOSITIONS)
    for row in analysis.compositions:
        for phase in ("polar", "antipolar", "paraelectric"):
            error = abs(row[f"{phase}_share_mean"] - row[f"truth_{phase}_share_mean"])
            assert error <= 0.05, (row["composition"], phase, error)
    # The lattice and |P| are measured in pm against composition, the truth beside them.
    first, last = analysis.compositions[0], analysis.compositions[-1]
    assert abs(first["polar_abs_p_pm_mean"] - first["truth_polarization_pm_mean"]) < 2.0
    assert last["antipolar_order_pm_mean"] > 5 * first["antipolar_order_pm_mean"]
    assert abs(first["a_pm_mean"] - 396.0) < 3.0


def test_a_class_absent_from_a_frame_does_not_fail_it(small_series):
    _, analysis = small_series
    undoped = analysis.results[0]
    (antipolar,) = [c["label"] for c in analysis.classes if c["phase"] == "antipolar"]
    assert antipolar not in undoped.labels  # no antipolar cell at 0% Sm
    assert undoped.reward > 0 and analysis.frames[0]["reward"] == undoped.reward


def test_the_reward_drop_is_marked_where_the_best_reward_falls():
    rows = [
        {"composition": c, "own_reward_mean": r, "straightness_mean": s}
        for c, r, s in [(0, 0.9, 1.0), (10, 0.85, 0.9), (20, 0.6, 0.5)]
    ]
    (drop,) = reward_drops(rows)
    assert drop["composition"] == 20 and drop["highest_at"] == 0 and drop["fall"] == pytest.approx(1 / 3)
    assert reward_drops(rows[:2]) == []
    # Without own optima the shared setting's reward is read.
    assert reward_drops([{"composition": 0, "reward_mean": 0.8}, {"composition": 5, "reward_mean": 0.5}])


def test_compositions_average_their_frames():
    rows = [{"composition": 7.0, "x": 1.0, "name": "a"}, {"composition": 7.0, "x": np.nan, "name": "b"}]
    (row,) = by_composition(rows)
    assert row["frames"] == 2 and row["x_mean"] == 1.0 and row["x_sd"] == 0.0 and "name_mean" not in row


def test_compositions_come_from_a_table_or_a_pattern(tmp_path):
    table = tmp_path / "c.csv"
    table.write_text("frame,composition\nfilm_a,3.5\n")
    assert composition_lookup(str(table), [])("film_a") == 3.5
    with pytest.raises(RewardscopeError, match="no composition for frame 'film_b' in"):
        composition_lookup(str(table), [])("film_b")
    assert composition_lookup(r"x(\d+)pc", [])("film_x12pc") == 12.0
    with pytest.raises(RewardscopeError, match="has no group"):
        composition_lookup(r"x\d+", [])
    with pytest.raises(RewardscopeError, match="no such composition table"):
        composition_lookup(str(tmp_path / "none.csv"), [])


def test_frames_of_other_pixel_sizes_or_periods_are_refused_unless_allowed():
    with pytest.raises(RewardscopeError, match=r"pixel sizes differ by 20% \(a 25, b 30 pm\).*--allow-mixed"):
        check_alike(["a", "b"], [25.0, 30.0], [16.0, 16.0], allow_mixed=False)
    with pytest.raises(RewardscopeError, match="lattice periods differ by 25%"):
        check_alike(["a", "b"], [25.0, 25.0], [16.0, 20.0], allow_mixed=False)
    with pytest.raises(RewardscopeError, match="frame 'b' has no pixel size"):
        check_alike(["a", "b"], [25.0, None], [16.0, 16.0], allow_mixed=False)
    check_alike(["a", "b"], [25.0, 26.0], [16.0, 16.5], allow_mixed=False)  # within 10%
    check_alike(["a", "b"], [25.0, 40.0], [16.0, 26.0], allow_mixed=True)


def test_a_corrupt_frame_is_listed_as_failed_and_the_series_goes_on(tmp_path):
    frames = synthesize_series((0, 20), frames_per_composition=1, size=160, seed=2)
    folder = write_series(frames, tmp_path / "frames")
    (folder / "Sm_13_0.tif").write_bytes(b"not a tiff")
    with open(folder / "compositions.csv", "a") as table:
        table.write("Sm_13_0,13\n")
    inputs = read_series(folder)
    assert [f.name for f in inputs.frames] == ["Sm_0_0", "Sm_20_0"]
    assert inputs.failed[0]["frame"] == "Sm_13_0" and "Sm_13_0.tif" in inputs.failed[0]["reason"]
    assert inputs.truth["Sm_20_0"]["composition"] == 20.0  # series_truth.csv read beside the frames
    (folder / "odd.tif").write_bytes((folder / "Sm_0_0.tif").read_bytes())
    with pytest.raises(RewardscopeError, match="no composition for frame 'odd'"):
        read_series(folder)


def test_frames_of_a_multi_entry_file_are_each_a_frame(tmp_path):
    frames = synthesize_series((0, 20), frames_per_composition=1, size=96)
    path = tmp_path / "library.npz"
    np.savez(path, **{f.name: f.scene.image.data for f in frames})
    inputs = read_series(path)
    assert [(f.name, f.composition) for f in inputs.frames] == [("Sm_0_0", 0.0), ("Sm_20_0", 20.0)]
    assert np.array_equal(inputs.frames[1].image.data, frames[1].scene.image.data)


def test_series_command_writes_the_report_and_resumes(capsys, tmp_path):
    frames = synthesize_series((0, 20), frames_per_composition=1, size=160, seed=3)
    folder = write_series(frames, tmp_path / "frames")
    (tmp_path / "elsewhere").mkdir()
    other = tmp_path / "elsewhere" / "Sm_7_0.tif"
    write_image(other, frames[0].scene.image.data, pixel_size_pm=40.0)
    out = tmp_path / "series"
    argv = ["series", str(folder / "Sm_*.tif"), "--out", str(out), "--trials", "4", "--quiet"]
    assert main([*argv, "--workers", "1"]) == 0
    written = {p.name for p in out.iterdir()}
    assert {
        "series.html",
        "series.csv",
        "frames.csv",
        "series.json",
        "series.png",
        "series_maps.png",
    } <= written
    assert {p.name for p in (out / "frames").iterdir()} == {"Sm_0_0", "Sm_20_0"}  # each frame's own optimum
    page = (out / "series.html").read_text()
    assert "The shared classes" in page and "antipolar" in page and "frames/Sm_0_0/report.html" in page
    assert "truth" in page  # series_truth.csv was beside the frames
    header = (out / "series.csv").read_text().splitlines()[0]
    assert "polar_share_mean" in header and "truth_polar_share_mean" in header and "a_pm_mean" in header
    capsys.readouterr()
    # A rerun into the same folder is refused as an earlier result; --overwrite replaces it.
    refused(capsys, argv, "holds an earlier rewardscope")
    assert main([*argv, "--overwrite", "--no-own"]) == 0
    # Frames of another pixel size: one line, nothing written.
    mixed = [
        "series",
        folder / "Sm_0_0.tif",
        other,
        "--composition",
        r"Sm_(\d+)_",
        "--out",
        tmp_path / "mixed",
    ]
    refused(capsys, mixed, "pixel sizes differ by 60%")
    assert not (tmp_path / "mixed").exists() and not (tmp_path / "mixed.partial").exists()


def test_series_refuses_options_for_one_frame(capsys, tmp_path):
    refused(
        capsys,
        ["series", "--demo", "--out", str(tmp_path / "s"), "--objectives", "continuity,balance"],
        "--objectives is for one frame",
    )
    refused(capsys, ["series", "--out", str(tmp_path / "s")], "give the series' frames, or --demo")
    assert isinstance(SeriesInputs([]).frames, list)


def test_an_interrupted_series_resumes_its_study_and_its_frames(monkeypatch, tmp_path, caplog):
    import rewardscope.series as series

    inputs = demo_inputs(compositions=(0, 20), frames_per_composition=1, size=160, seed=6)
    plan = AnalysisPlan(n_trials=4, descriptors=("polarization",))
    run = SeriesRun(n_workers=1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(series, "summarize", interrupted)
        with pytest.raises(KeyboardInterrupt):
            analyze_series(inputs, plan, out=tmp_path / "s", run=run, progress=False)
    staging = tmp_path / "s.partial"
    assert (staging / "study.journal").is_file() and not (tmp_path / "s").exists()
    assert {p.name for p in (staging / "frames").iterdir()} == {"Sm_0_0", "Sm_20_0"}
    with caplog.at_level("INFO", logger="rewardscope"):
        analysis = analyze_series(inputs, plan, out=tmp_path / "s", run=run, progress=False)
    assert "resuming the study: 4 of 4 settings already scored" in caplog.text
    assert (tmp_path / "s" / "series.html").is_file() and not staging.exists()
    assert all(np.isfinite(row["own_reward"]) for row in analysis.frames)  # read back from frames/NAME


def test_each_frame_names_its_phases_by_its_own_cells():
    from rewardscope.series import frame_phases, phase_of, shared_classes

    offset = "uniform offset of B along +b (one polar domain, or specimen mistilt or probe tails)"
    explained = [[{"name": "paraelectric", "cells": 233}], [{"name": offset, "cells": 248}]]
    (shared,) = shared_classes(explained)
    assert shared["name"] == offset and shared["phase"] == "offset" and shared["cells"] == 481
    # One class, two phases: the paraelectric frame stays paraelectric.
    assert [frame_phases(entries, [shared]) for entries in explained] == [["paraelectric"], ["offset"]]
    # A few stray cells of a class are no evidence: the series' name holds.
    assert frame_phases([{"name": "paraelectric", "cells": 4}], [shared]) == ["offset"]
    assert phase_of("unmeasured (incomplete cells)") == "other"


def test_a_frames_own_optimum_without_an_output_folder_gives_its_setting_and_reward(small_series):
    from rewardscope.series import own_optimum

    frames, _ = small_series
    plan = AnalysisPlan(n_trials=3, descriptors=("polarization",))
    row = own_optimum(frames[0].scene.image, None, plan)
    assert row["status"] == "done" and row["descriptor"] == "polarization" and np.isfinite(row["reward"])
    assert row["n_classes"] >= 1
    failed = own_optimum(np.zeros((96, 96)), None, plan)  # a blank frame: no lattice to analyze
    assert failed["status"] == "failed" and failed["reason"]
