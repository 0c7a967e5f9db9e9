"""The command line (rewardscope.cli): every command, its options, refusals and messages."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import refused, snapshot

from rewardscope.cli import build_parser, main
from rewardscope.outputs import MARKER
from rewardscope.synthetic import synthesize


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "stripes.npy"
    np.save(path, synthesize("stripes", seed=1, size=256, stripe_cells=5).image.data)
    return path


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


def test_atoms_command(tmp_path, stripes):
    image = tmp_path / "image.npy"
    np.save(image, stripes.image.data)
    out = tmp_path / "atoms"
    assert main(["atoms", str(image), "--out", str(out), "--tune", "4", "--quiet"]) == 0
    lines = (out / "atoms.csv").read_text().splitlines()
    assert lines[0] == "x,y,sublattice,i,j,amplitude,sigma,uncertainty,residual,fit_ok"
    assert all(len(line.split(",")) == 10 for line in lines[1:])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detector"]["tuned_trials"] == 4
    assert summary["decisions"]["contrast"] == "bright" and summary["decisions"]["b_site"] == [0.5, 0.5]
    assert summary["pareto_front"]
    assert summary["quality"]["quality"] > 0.9
    assert (out / "columns.png").exists()
    assert not (tmp_path / "atoms.partial").exists()


def test_landscape_command(tmp_path, stripes):
    import numpy as np

    image = tmp_path / "image.npy"
    np.save(image, stripes.image.data)
    out = tmp_path / "land"
    assert (
        main(
            ["landscape", str(image), "--window", "12:16:4", "--classes", "2:3", "--out", str(out), "--quiet"]
        )
        == 0
    )
    assert len((out / "landscape.csv").read_text().splitlines()) == 1 + 4
    assert json.loads((out / "landscape.json").read_text())["optimum"]["n_classes"] == 2
    assert (out / "landscape.png").stat().st_size > 10_000
    # The spelling of the last release still works, and a second run is refused without --overwrite.
    assert (
        main(
            [
                "landscape",
                str(image),
                "--grid",
                "window=12:16:4",
                "--grid",
                "k=2:3",
                "--descriptor",
                "patch",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 1
    )
    assert (
        main(
            [
                "landscape",
                str(image),
                "--grid",
                "window=12:16:4",
                "--grid",
                "k=2:3",
                "--descriptor",
                "patch",
                "--out",
                str(out),
                "--quiet",
                "--overwrite",
            ]
        )
        == 0
    )
    assert len((out / "landscape.csv").read_text().splitlines()) == 1 + 4


def run_cli(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "rewardscope.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


@pytest.mark.parametrize(
    "out, pattern",
    [
        ("{image}", "is the input"),  # --out copy.npy --overwrite: the input image itself
        ("{folder}", "holds the input"),  # --out mydata --overwrite: the folder of raw data
    ],
)
def test_out_is_never_the_input_nor_its_folder(capsys, data_folder, tmp_path, out, pattern):
    image = data_folder / "copy.npy"
    before = snapshot(tmp_path)
    refused(
        capsys,
        ["analyze", image, "--out", out.format(image=image, folder=data_folder), "--overwrite", "--quiet"],
        pattern,
    )
    assert snapshot(tmp_path) == before


def test_an_existing_file_is_never_replaced_and_overwrite_is_not_suggested(capsys, data_folder, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    before = snapshot(tmp_path)
    for extra in ([], ["--overwrite"]):
        line = refused(
            capsys,
            ["analyze", data_folder / "copy.npy", "--out", notes, "--quiet", *extra],
            "is an existing file, not a folder",
        )
        assert "--overwrite" not in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("out", [".", ""])
def test_the_current_folder_is_refused(capsys, data_folder, tmp_path, monkeypatch, out):
    monkeypatch.chdir(data_folder)
    before = snapshot(tmp_path)
    refused(
        capsys,
        ["analyze", "copy.npy", "--out", out, "--overwrite", "--quiet"],
        r"refusing to write results into '\.'",
    )
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["mydata"]


def test_the_home_folder_is_refused(data_folder, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = run_cli(
        "analyze",
        data_folder / "copy.npy",
        "--out",
        home,
        "--overwrite",
        "--quiet",
        env={**os.environ, "HOME": str(home)},
    )
    assert result.returncode == 1 and "refusing to write results into" in result.stderr
    assert list(home.iterdir()) == []


def test_overwrite_replaces_only_what_rewardscope_wrote(capsys, data_folder, tmp_path):
    out = tmp_path / "results"
    assert (
        main(["analyze", str(data_folder / "copy.npy"), "--out", str(out), "--trials", "2", "--quiet"]) == 0
    )
    marker = json.loads((out / MARKER).read_text())
    assert marker["command"] == "analyze" and {"atoms.csv", "summary.json", "report.html"} <= set(
        marker["files"]
    )
    capsys.readouterr()
    refused(
        capsys,
        ["analyze", data_folder / "copy.npy", "--out", out, "--trials", "2", "--quiet"],
        "holds an earlier rewardscope result; add --overwrite to replace it",
    )
    # A file the user added makes the folder theirs: --overwrite then refuses too.
    (out / "my_analysis.txt").write_text("notes on the result")
    before = snapshot(tmp_path)
    refused(
        capsys,
        ["analyze", data_folder / "copy.npy", "--out", out, "--trials", "2", "--overwrite", "--quiet"],
        r"holds files rewardscope did not write \(my_analysis.txt\)",
    )
    assert snapshot(tmp_path) == before
    (out / "my_analysis.txt").unlink()
    assert (
        main(
            [
                "analyze",
                str(data_folder / "copy.npy"),
                "--out",
                str(out),
                "--trials",
                "2",
                "--overwrite",
                "--quiet",
            ]
        )
        == 0
    )
    assert (out / "report.html").is_file() and snapshot(data_folder) == before_data(before)


def before_data(snap: dict) -> dict:
    return {k.removeprefix("mydata/"): v for k, v in snap.items() if k.startswith("mydata/")}


def test_a_folder_rewardscope_did_not_write_is_never_replaced(capsys, data_folder, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("precious")
    before = snapshot(tmp_path)
    for command in (
        ["analyze", data_folder / "copy.npy"],
        ["atoms", data_folder / "copy.npy"],
        ["synth", "stripes"],
        ["demo"],
        ["landscape", data_folder / "copy.npy", "--window", "12:16"],
        ["batch", data_folder / "copy.npy"],
        ["validate"],
    ):
        refused(
            capsys,
            [*command, "--out", thesis, "--overwrite", "--quiet"],
            "is not a rewardscope result .it holds chapter1.tex.",
        )
    assert snapshot(tmp_path) == before


def test_an_interrupted_run_resumes_only_with_the_same_image_and_options(
    capsys, data_folder, tmp_path, scene
):
    image = data_folder / "copy.npy"
    out = tmp_path / "results"
    partial = tmp_path / "results.partial"
    run = subprocess.Popen(
        [sys.executable, "-m", "rewardscope.cli", "analyze", str(image), "--out", str(out), "--trials", "30"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not ((partial / "study.journal").is_file() and (partial / "study.journal").stat().st_size > 2000):
        assert run.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no trial was scored in time"
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=120) == 130 and "rewardscope: interrupted" in run.stderr.read()
    assert partial.is_dir() and not out.exists()

    before = snapshot(tmp_path)
    refused(
        capsys,
        ["analyze", image, "--out", out, "--trials", "30", "--classes", "2:3", "--quiet"],
        r"holds an interrupted run with another plan.n_classes_range \[2, 6\] \(now \[2, 3\]\);"
        r" rerun with the same options to resume it, or add --restart to start afresh",
    )
    other = tmp_path / "other.npy"
    np.save(other, synthesize("quadrants", seed=1, size=256).image.data)
    before[other.name] = snapshot(tmp_path)[other.name]
    refused(
        capsys,
        ["analyze", other, "--out", out, "--trials", "30", "--quiet"],
        r"holds an interrupted run with another image",
    )
    assert snapshot(tmp_path) == before

    assert (
        main(["analyze", str(image), "--out", str(out), "--trials", "30", "--quiet"]) == 0
    )  # the same: resumed
    summary = json.loads((out / "summary.json").read_text())
    assert len({json.dumps(t["params"], sort_keys=True) for t in summary["trials"]}) == 30

    out.rename(partial)  # as if stopped while writing its report
    assert (
        main(
            [
                "analyze",
                str(image),
                "--out",
                str(out),
                "--trials",
                "6",
                "--classes",
                "2:3",
                "--restart",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["search_space"]["n_classes"] == [2, 3] and len(summary["trials"]) == 6
    assert all(2 <= t["params"]["n_classes"] <= 3 for t in summary["trials"])


def test_low_detection_quality_stops_the_run_unless_forced(capsys, tmp_path, scene):
    inverted = (
        tmp_path / "inverted.npy"
    )  # dark columns on a bright background, read as bright: the gaps are taken for columns
    np.save(inverted, -scene.image.data)
    before = snapshot(tmp_path)
    for command in ("analyze", "atoms"):
        refused(
            capsys,
            [command, inverted, "--out", tmp_path / command, "--contrast", "bright", "--quiet"],
            r"detection quality 0\.\d\d is below 0\.5 \(count .*\): the columns found do not form a clean"
            r" lattice.*; --force goes on anyway",
        )
    assert snapshot(tmp_path) == before
    assert (
        main(
            [
                "atoms",
                str(inverted),
                "--out",
                str(tmp_path / "forced"),
                "--contrast",
                "bright",
                "--force",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "forced" / "summary.json").read_text())
    assert summary["quality"]["quality"] < 0.5 and summary["warnings"][0].startswith("low detection quality")
    # Left to decide (--contrast auto), the same image is read as dark columns, at a clean lattice's quality.
    assert main(["atoms", str(inverted), "--out", str(tmp_path / "auto"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "auto" / "summary.json").read_text())
    assert (
        summary["decisions"]["contrast"] == "dark"
        and summary["quality"]["quality"] > 0.9
        and summary["warnings"] == []
    )


def test_the_detection_quality_is_printed(tmp_path, scene):
    image = tmp_path / "image.npy"
    np.save(image, scene.image.data)
    result = run_cli("atoms", image, "--out", tmp_path / "columns")
    assert result.returncode == 0
    assert re.search(
        r"detection quality (0\.9\d|1\.00) \(count 1\.00, spacing 0\.\d\d, no_short_pairs 1\.00,"
        r" coverage 1\.00\)",
        result.stderr,
    )


def test_a_colour_image_is_converted_with_one_warning(tmp_path, scene):
    import imageio.v3 as iio

    data = scene.image.data
    grey = np.round(255 * (data - data.min()) / np.ptp(data)).astype(np.uint8)
    path = tmp_path / "rendered.png"
    iio.imwrite(path, np.stack([grey, grey, grey, np.full_like(grey, 255)], axis=-1))
    result = run_cli("atoms", path, "--out", tmp_path / "columns", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "rendered.png is an RGBA image with three equal channels: read as grey"
    ]


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("boolean", r"a boolean \(mask\) image holds no intensities"),
        ("huge", r"pixel values reach 1e\+300"),
        ("long", r"no crystal lattice found in the image of shape \(1100, 48\)"),
    ],
)
def test_unanalysable_pixels_are_one_line(tmp_path, case, pattern):
    rng = np.random.default_rng(0)
    path = tmp_path / f"{case}.npy"
    np.save(
        path,
        {
            "boolean": rng.random((128, 128)) > 0.5,
            "huge": rng.random((128, 128)) * 1e300,
            "long": rng.normal(100, 10, (1100, 48)),
        }[case],
    )
    result = run_cli("analyze", path, "--out", tmp_path / "out", "--quiet")
    assert result.returncode == 1 and "Warning" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), lines
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


@pytest.mark.parametrize("url", ["notaurl", "sqlite:///studies.db", "http://localhost:1/studies"])
def test_only_postgresql_storage_urls_are_accepted_and_nothing_is_made(
    capsys, tmp_path, monkeypatch, data_folder, url
):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    refused(
        capsys,
        ["worker", "--storage", url, "--study", "s1"],
        r"unsupported study storage .*: a shared study lives in PostgreSQL",
    )
    refused(
        capsys,
        ["analyze", data_folder / "copy.npy", "--out", "results", "--storage", url, "--quiet"],
        "unsupported study storage",
    )
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["mydata"]


def subcommand_help(name: str) -> str:
    parser = build_parser()
    return next(a for a in parser._actions if a.dest == "command").choices[name].format_help()


def test_every_command_uses_the_same_names_for_the_same_things():
    helps = {
        name: subcommand_help(name)
        for name in ("analyze", "atoms", "landscape", "batch", "demo", "synth", "validate")
    }
    for name in ("analyze", "atoms", "landscape", "batch"):
        for option in (
            "--entry",
            "--frame",
            "--pixel-size",
            "--channel",
            "--allow-pickle",
            "--out",
            "--overwrite",
        ):
            assert option in helps[name], (name, option)
    for name, text in helps.items():
        assert "--out" in text and "--overwrite" in text
        for old in ("--pixel-size-pm", "--tune ", "--grid", "--descriptor "):
            assert old not in text, (name, old)
    assert "--pixel-size PM" in helps["synth"]
    for name in ("analyze", "atoms"):
        assert "--tune-detector" in helps[name]
    for name in ("analyze", "landscape"):
        assert "--classes" in helps[name] and "--descriptors" in helps[name] and "--window" in helps[name]
    assert (
        "Synthesize the default stripe-domain scene" in helps["demo"]
        and "Write a synthetic HAADF scene" in helps["synth"]
    )


def test_the_older_spellings_still_work():
    parser = build_parser()
    assert parser.parse_args(["synth", "single", "--out", "x", "--pixel-size-pm", "20"]).pixel_size == 20
    assert parser.parse_args(["atoms", "a.npy", "--out", "x", "--tune", "3"]).tune_detector == 3
    assert parser.parse_args(["landscape", "a.npy", "--out", "x", "--descriptor", "lattice"]).descriptors == (
        "lattice",
    )
    batch = parser.parse_args(
        ["batch", "a.npy", "b.npy", "--out", "x", "--frame", "2", "--entry", "e", "--pixel-size", "12"]
    )
    assert batch.images == ["a.npy", "b.npy"] and (batch.frame, batch.entry, batch.pixel_size) == (2, "e", 12)


@pytest.mark.parametrize(
    "marker",
    [
        "{}",
        '{"files": null}',
        '{"written_by": "rewardscope 0.1.0", "command": "analyze", "files": null}',
        "not json",
    ],
)
def test_a_marker_that_rewardscope_did_not_write_unlocks_nothing(capsys, data_folder, tmp_path, marker):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("precious")
    (thesis / ".rewardscope").write_text(marker)
    before = snapshot(tmp_path)
    refused(
        capsys,
        ["analyze", data_folder / "copy.npy", "--out", thesis, "--overwrite", "--quiet"],
        "is not a rewardscope result",
    )
    assert snapshot(tmp_path) == before


def test_another_commands_interrupted_run_is_not_taken_over(capsys, data_folder, tmp_path, scene):
    from rewardscope import analyze

    out = tmp_path / "results"
    analyze(scene.image, out=out, n_trials=2, progress=False)
    out.rename(tmp_path / "results.partial")  # an analyze run stopped while writing its report
    before = snapshot(tmp_path)
    refused(
        capsys,
        ["atoms", data_folder / "copy.npy", "--out", out, "--quiet"],
        r"results.partial' holds an interrupted `analyze` run; add --overwrite to discard it",
    )
    assert snapshot(tmp_path) == before
    assert main(["atoms", str(data_folder / "copy.npy"), "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert not (out / "study.journal").exists() and not (tmp_path / "results.partial").exists()


def test_batch_bad_input(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "none" / "*.tif"), "--out", str(tmp_path / "out")]) == 1
    assert "no files match" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
