"""Nothing lost, nothing misread: output folders, resumed runs, storage URLs and option names, tried as a
careless user would.

Every refusal is checked for its exit code and its one line, and that nothing
outside the output folder changed (the input and its folder hashed before and after).
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.cli import build_parser, main
from rewardscope.outputs import MARKER
from rewardscope.synthetic import synthesize


@pytest.fixture(scope="module")
def scene():
    return synthesize("stripes", seed=2, size=256, stripe_cells=5)


@pytest.fixture
def data_folder(tmp_path, scene):
    """A user's folder of raw data: the image to analyze and a file that must survive."""
    folder = tmp_path / "mydata"
    folder.mkdir()
    np.save(folder / "copy.npy", scene.image.data)
    (folder / "raw.dat").write_bytes(b"\x00\x01 precious raw data")
    return folder


def snapshot(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_cli(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "rewardscope.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def refused(capsys, argv, pattern) -> str:
    """Run the CLI in this process; it must exit 1 with one error line matching ``pattern``."""
    assert main(list(map(str, argv))) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("rewardscope: error: ") and "internal error" not in lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


# --- --out and --overwrite
# ---------------------------------------------------------------------------------------


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


def test_the_python_api_names_its_own_arguments(data_folder, tmp_path, scene):
    from rewardscope import analyze

    out = tmp_path / "results"
    analyze(scene.image, out=out, n_trials=2, progress=False)
    with pytest.raises(RewardscopeError, match="pass overwrite=True to replace it") as error:
        analyze(scene.image, out=out, n_trials=2, progress=False)
    assert "--overwrite" not in str(error.value)
    with pytest.raises(RewardscopeError, match="pass restart=True to start afresh"):
        out.rename(tmp_path / "results.partial")
        analyze(scene.image, out=out, n_trials=2, n_classes_range=(2, 3), progress=False)


# --- resuming
# ------------------------------------------------------------------------------------------------------


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


# --- what was assumed
# ----------------------------------------------------------------------------------------------


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


# --- storage URLs
# --------------------------------------------------------------------------------------------------


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


# --- one name per concept
# ------------------------------------------------------------------------------------------


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


def test_batch_takes_files_folders_and_globs(tmp_path):
    from rewardscope.batch import image_files

    for name in ("a.npy", "b.tif", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert image_files([str(tmp_path / "a.npy"), str(tmp_path / "b.tif")]) == [
        tmp_path / "a.npy",
        tmp_path / "b.tif",
    ]
    assert image_files([str(tmp_path)]) == [tmp_path / "a.npy", tmp_path / "b.tif"]
    assert image_files(str(tmp_path / "*.npy")) == [tmp_path / "a.npy"]
    with pytest.raises(RewardscopeError, match="no such file: .*missing.npy"):
        image_files([str(tmp_path / "missing.npy")])
    with pytest.raises(RewardscopeError, match="no files match"):
        image_files([str(tmp_path / "*.dm4")])


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


def test_batch_takes_up_only_a_batch_and_keeps_it_until_the_cluster_is_reached(
    capsys, data_folder, tmp_path, scene
):
    from rewardscope import analyze
    from rewardscope.batch import run_batch
    from rewardscope.outputs import write_marker

    result = tmp_path / "analysis"
    analyze(scene.image, out=result, n_trials=2, progress=False)
    before = snapshot(tmp_path)
    refused(
        capsys,
        ["batch", data_folder / "copy.npy", "--out", result, "--quiet"],
        "holds an earlier rewardscope result",
    )
    earlier = tmp_path / "series"
    earlier.mkdir()
    for name in ("batch.csv", "index.html"):
        (earlier / name).write_text("earlier batch")
    write_marker(earlier, "batch", ["batch.csv", "index.html"])
    before = snapshot(tmp_path)
    with pytest.raises(RewardscopeError, match="could not reach the Dask scheduler"):
        run_batch(
            [str(data_folder / "copy.npy")],
            earlier,
            scheduler="tcp://127.0.0.1:9",
            overwrite=True,
            progress=False,
        )
    assert snapshot(tmp_path) == before  # begun afresh only once there is a cluster to do it


def test_batch_frames_get_distinct_folders():
    from rewardscope.batch import frame_names

    names = frame_names(
        [
            Path("s/image.tif"),
            Path("s/image.npy"),
            Path("t/image.tif"),
            Path("a.tif"),
            Path("x/s/b.tif"),
            Path("y/s/b.tif"),
        ]
    )
    assert len(set(names)) == len(names) and names[3] == "a"


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
