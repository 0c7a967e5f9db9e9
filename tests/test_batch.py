"""Batches (rewardscope.batch): image lists, frame folders, and series on a real Dask LocalCluster."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import refused, snapshot, wait_for

from rewardscope import RewardscopeError
from rewardscope.cli import main
from rewardscope.synthetic import synthesize, write_scene


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


@pytest.fixture
def frames(tmp_path):
    folder = tmp_path / "frames"
    for seed in range(3):
        scene = synthesize("stripes", seed=seed, size=256)
        path = write_scene(scene, tmp_path / f"scene{seed}") / "image.tif"
        (folder / f"f{seed}.tif").parent.mkdir(exist_ok=True)
        path.rename(folder / f"f{seed}.tif")
    (folder / "corrupt.tif").write_text("not an image")
    return folder


def test_batch_on_a_dask_cluster_lists_a_corrupt_frame_and_goes_on(frames, tmp_path, capsys):
    import csv

    out = tmp_path / "batch"
    # The files one by one, as a shell expands an unquoted glob.
    assert (
        main(
            [
                "batch",
                *sorted(map(str, frames.glob("*.tif"))),
                "--out",
                str(out),
                "--workers",
                "2",
                "--trials",
                "6",
                "--quiet",
            ]
        )
        == 1
    )
    rows = {Path(r["file"]).name: r for r in csv.DictReader(open(out / "batch.csv"))}
    assert [rows[f"f{i}.tif"]["status"] for i in range(3)] == ["done"] * 3
    assert rows["corrupt.tif"]["status"] == "failed" and "TIFF" in rows["corrupt.tif"]["reason"]
    assert all(float(rows[f"f{i}.tif"]["reward"]) > 0 for i in range(3))
    assert all((out / rows[f"f{i}.tif"]["report"]).is_file() for i in range(3))
    assert "corrupt.tif" in (out / "index.html").read_text()
    assert "failed: " in capsys.readouterr().err


def test_a_killed_batch_restarts_with_the_unfinished_frames_only(frames, tmp_path):
    (frames / "corrupt.tif").unlink()
    out = tmp_path / "batch"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rewardscope.cli",
            "batch",
            str(frames / "*.tif"),
            "--out",
            str(out),
            "--workers",
            "1",
            "--trials",
            "12",
            "--quiet",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def finished_frames():  # a frame's folder gets its final name only when it is finished
        return {
            p.parent.name: p.stat().st_mtime_ns
            for p in out.glob("frames/*/summary.json")
            if not p.parent.name.endswith(".partial")
        }

    wait_for(lambda: finished_frames(), what="a first finished frame")
    os.killpg(run.pid, signal.SIGKILL)  # the batch and its Dask cluster
    run.wait()
    finished = finished_frames()
    assert 1 <= len(finished) < 3
    # As a kill while the table is rewritten leaves them (CI once killed the batch at that moment).
    (out / "batch.csv.partial").write_text("file,status\n")
    (out / "index.html.partial").write_text("<!doctype html>")
    assert (
        main(
            ["batch", str(frames / "*.tif"), "--out", str(out), "--workers", "2", "--trials", "12", "--quiet"]
        )
        == 0
    )
    after = finished_frames()
    assert set(after) == {"f0", "f1", "f2"}
    assert all(after[name] == mtime for name, mtime in finished.items())  # finished frames were not redone
