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
    return subprocess.run([sys.executable, "-m", "rewardscope.cli", *map(str, args)], capture_output=True, text=True, timeout=300)


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("analyze", "demo", "synth"):
        assert command in result.stdout


def test_synth_then_analyze(tmp_path):
    assert main(["synth", "bubble", "--out", str(tmp_path / "scene"), "--size", "256", "--quiet"]) == 0
    for name in ("image.tif", "image.npy", "truth.csv"):
        assert (tmp_path / "scene" / name).exists()
    out = tmp_path / "analysis"
    assert main(["analyze", str(tmp_path / "scene" / "image.tif"), "--out", str(out), "--trials", "4", "--quiet"]) == 0
    assert (out / "report.html").exists()
    # A finished folder is not overwritten without asking.
    assert main(["analyze", str(tmp_path / "scene" / "image.tif"), "--out", str(out), "--trials", "4", "--quiet"]) == 1


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


@pytest.mark.parametrize("case", ["missing", "text renamed .tif", "3-D stack", "too small", "constant", "NaN", "no columns", "unsupported"])
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


def test_reward_weights_reach_the_summary(image_file, tmp_path):
    import json

    out = tmp_path / "out"
    weights = "continuity=1,straightness=2"
    assert main(["analyze", str(image_file), "--out", str(out), "--trials", "3", "--reward-weights", weights, "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["reward_weights"] == {"continuity": 1.0, "straightness": 2.0}


def test_demo_reruns_over_its_own_result_but_not_over_other_folders(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--trials", "2", "--quiet"]) == 0
    assert main(["demo", "--out", str(out), "--trials", "2", "--quiet"]) == 0  # replaces its own summary
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.tex").write_text("precious")
    assert main(["demo", "--out", str(other), "--trials", "2", "--quiet"]) == 1
    assert (other / "chapter1.tex").read_text() == "precious"


def test_debug_shows_traceback(tmp_path):
    result = run_cli("analyze", tmp_path / "nowhere.npy", "--out", tmp_path / "out", "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--trials", "0"], "must be >= 1"),
    (["--classes", "5:2"], "LOW <= HIGH"),
    (["--reward-weights", "wiggle=1"], "unknown reward component 'wiggle'"),
    (["--reward-weights", "continuity=-1"], "weights must be >= 0"),
    (["--reward-weights", "continuity=0"], "not all zero"),
    (["--descriptors", "texture"], "unknown descriptor 'texture'"),
    (["--learner", "rvae", "--symmetry", "5"], "invalid choice: 5"),
])
def test_bad_options_are_rejected(image_file, tmp_path, args, message):
    result = run_cli("analyze", image_file, "--out", tmp_path / "out", *args)
    assert result.returncode == 2
    assert message in result.stderr
