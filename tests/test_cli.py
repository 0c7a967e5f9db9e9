import re
import subprocess
import sys

import numpy as np
import pytest

from rewardscope.cli import main
from rewardscope.synthetic import synthesize


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "stripes.npy"
    np.save(path, synthesize("stripes", seed=1, size=256, stripe_cells=5).image.data)
    return path


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "rewardscope.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_lists_every_command():
    from rewardscope.cli import COMMANDS

    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
        assert run_cli(command, "--help").returncode == 0


def test_synth_then_analyze(tmp_path):
    assert main(["synth", "bubble", "--out", str(tmp_path / "scene"), "--size", "256", "--quiet"]) == 0
    for name in ("image.tif", "image.npy", "truth.csv"):
        assert (tmp_path / "scene" / name).exists()
    out = tmp_path / "analysis"
    assert (
        main(
            ["analyze", str(tmp_path / "scene" / "image.tif"), "--out", str(out), "--trials", "4", "--quiet"]
        )
        == 0
    )
    assert (out / "report.html").exists()
    # A finished folder is not overwritten without asking.
    assert (
        main(
            ["analyze", str(tmp_path / "scene" / "image.tif"), "--out", str(out), "--trials", "4", "--quiet"]
        )
        == 1
    )


def bad_inputs(tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("this is not an image\n")
    stack = tmp_path / "stack.npy"
    np.save(stack, np.random.default_rng(0).random((3, 64, 64)))
    small = tmp_path / "small.npy"
    np.save(small, np.random.default_rng(0).random((16, 16)))
    constant = tmp_path / "constant.npy"
    np.save(constant, np.full((128, 128), 7.0))
    nans = tmp_path / "nans.npy"
    data = np.random.default_rng(0).random((128, 128))
    data[5, 5] = np.nan
    np.save(nans, data)
    noise = tmp_path / "noise.npy"
    np.save(noise, np.random.default_rng(0).normal(100, 10, (128, 128)))
    odd = tmp_path / "image.bmp"
    odd.write_bytes(b"BM")
    return {
        "missing": (tmp_path / "nowhere.tif", "no such file"),
        "text renamed .tif": (text, "cannot read"),
        "3-D stack": (stack, r"shape \(3, 64, 64\)"),
        "too small": (small, "too small"),
        "constant": (constant, "constant"),
        "NaN": (nans, "non-finite"),
        "no columns": (noise, "no (crystal lattice|atom columns)"),
        "unsupported": (odd, "unsupported file type '.bmp'"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "text renamed .tif",
        "3-D stack",
        "too small",
        "constant",
        "NaN",
        "no columns",
        "unsupported",
    ],
)
def test_bad_input_gives_one_line_and_leaves_nothing(tmp_path, case):
    path, message = bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    result = run_cli("analyze", path, "--out", out, "--quiet")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rewardscope: error: ")
    assert "Traceback" not in result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_reward_weights_change_only_the_named_weights(image_file, tmp_path):
    import json

    from rewardscope.rewards import DEFAULT_WEIGHTS

    out = tmp_path / "out"
    result = run_cli(
        "analyze",
        image_file,
        "--out",
        out,
        "--trials",
        "3",
        "--reward-weights",
        "continuity=1,straightness=0",
    )
    assert result.returncode == 0, result.stderr
    expected = {**DEFAULT_WEIGHTS, "continuity": 1.0, "straightness": 0.0}
    assert json.loads((out / "summary.json").read_text())["reward_weights"] == expected
    assert (
        "reward weights: continuity 1, economy 1, separation 3, balance 1" in result.stdout
    )  # straightness 0: not used
    assert (
        "<th>straightness</th><td>" in (out / "report.html").read_text()
        and "<th>weight</th>" in (out / "report.html").read_text()
    )


def test_demo_replaces_its_own_result_only_when_asked_and_never_other_folders(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--trials", "2", "--quiet"]) == 0
    first = (out / "summary.json").stat().st_mtime_ns
    capsys.readouterr()
    assert (
        main(["demo", "--out", str(out), "--trials", "2", "--quiet"]) == 1
    )  # as analyze: not without --overwrite
    assert "holds an earlier rewardscope result; add --overwrite to replace it" in capsys.readouterr().err
    assert (out / "summary.json").stat().st_mtime_ns == first
    assert main(["demo", "--out", str(out), "--trials", "2", "--quiet", "--overwrite"]) == 0
    assert (out / "summary.json").stat().st_mtime_ns != first
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.tex").write_text("precious")
    assert main(["demo", "--out", str(other), "--trials", "2", "--quiet", "--overwrite"]) == 1
    assert (other / "chapter1.tex").read_text() == "precious" and sorted(
        p.name for p in tmp_path.iterdir()
    ) == ["demo", "thesis"]


def test_debug_shows_traceback(tmp_path):
    result = run_cli("analyze", tmp_path / "nowhere.npy", "--out", tmp_path / "out", "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trials", "0"], "must be >= 1"),
        (["--classes", "5:2"], "LOW <= HIGH"),
        (["--reward-weights", "wiggle=1"], "unknown reward component 'wiggle'"),
        (["--reward-weights", "continuity=-1"], "weights must be >= 0"),
        (
            ["--reward-weights", "continuity=0,straightness=0,economy=0,separation=0,balance=0"],
            "not all zero",
        ),
        (["--frame", "-1"], "must be >= 0"),
        (["--tune-detector", "-2"], "must be >= 0"),
        (["--channel", "x"], "invalid choice: 'x'"),
        (["--descriptors", "texture"], "unknown descriptor 'texture'"),
        (["--learner", "rvae", "--symmetry", "5"], "invalid choice: 5"),
    ],
)
def test_bad_options_are_rejected(image_file, tmp_path, args, message):
    result = run_cli("analyze", image_file, "--out", tmp_path / "out", *args)
    assert result.returncode == 2
    assert message in result.stderr
