"""Scale-out: trials per second with 1 and 2 workers on one PostgreSQL study, and frames per second
with 1 and 2 Dask workers in a batch, side by side.

Trials: rVAE settings on one synthetic image (each trial trains a VAE, the
case the issue names); 1 worker = one `rewardscope analyze --storage`, 2
workers = two of them on the same study, started together. First with the
window fixed and 25 settings of latent size x KL weight for a budget of 24,
so both runs do nearly the same work and trials cost alike; then with the
window and class count searched as well, where the runs try different
settings (a larger window trains a larger VAE) and a process reuses its VAE
across class counts. Frames: 6
synthetic frames, `rewardscope batch --workers 1` and `--workers 2`. Every
process single-threaded (OMP_NUM_THREADS=1), so 2 workers use the 2 cores;
`--threads 2` gives each process 2 threads instead (torch's default on 2 cores:
two workers then ask for 4 threads on 2 cores).

    REWARDSCOPE_BENCH_POSTGRES=postgresql://user:password@127.0.0.1:5432/db python benchmarks/scale.py \
        [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rewardscope.synthetic import synthesize, write_scene

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def cli(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rewardscope.cli", *map(str, args), "--quiet"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(run: subprocess.Popen) -> None:
    _, err = run.communicate()
    if run.returncode != 0:
        raise SystemExit(f"a benchmark process failed: {err.strip()}")


def trials_per_second(
    url: str, image: Path, workers: int, trials: int, epochs: int, out: Path, space: tuple
) -> tuple[float, dict]:
    import optuna

    name = f"bench-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    # Each worker an `analyze` on the same study, started together (a `worker` joins the same way, once the
    # study exists).
    runs = [
        cli(
            "analyze",
            image,
            "--storage",
            url,
            "--study",
            name,
            "--learner",
            "rvae",
            "--epochs",
            epochs,
            *space,
            "--trials",
            trials,
            "--out",
            out / f"{name}-{i}",
        )
        for i in range(workers)
    ]
    for run in runs:
        finished(run)
    seconds = time.perf_counter() - start
    study = optuna.load_study(study_name=name, storage=url)
    # A repeat of a known setting is told back and marked repeat_of: not a setting scored.
    scored = [t for t in study.trials if t.state.name == "COMPLETE" and "repeat_of" not in t.user_attrs]
    per_worker = {}
    for t in scored:
        per_worker[t.user_attrs["worker"]] = per_worker.get(t.user_attrs["worker"], 0) + 1
    # The study's own clock: first trial started to last trial finished (no process start-up, no report).
    span = (max(t.datetime_complete for t in scored) - min(t.datetime_start for t in scored)).total_seconds()
    # Trials that reuse a VAE the same process trained for another number of classes take well under a second.
    reused = sum(t.user_attrs["seconds"] < 0.5 for t in scored)
    # Settings differ in cost (a larger window trains a larger VAE) and the workers do not try the same ones:
    # trial-seconds done per second of wall time measures the parallel work itself.
    busy = sum(t.user_attrs["seconds"] for t in scored) / span
    return len(scored) / span, {
        "seconds": seconds,
        "span": span,
        "trials": len(scored),
        "per_worker": sorted(per_worker.values()),
        "reused": reused,
        "busy": busy,
    }


def frames_per_second(frames: Path, workers: int, trials: int, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    finished(cli("batch", frames / "*.tif", "--out", out, "--workers", workers, "--trials", trials))
    seconds = time.perf_counter() - start
    return len(list(frames.glob("*.tif"))) / seconds, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--storage", default=os.environ.get("REWARDSCOPE_BENCH_POSTGRES"), help="PostgreSQL URL"
    )
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1, help="OMP and MKL threads of every process")
    args = parser.parse_args()
    ENV.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image = write_scene(synthesize("stripes", seed=1, size=384), tmp / "scene") / "image.tif"
        frames = tmp / "frames"
        frames.mkdir()
        for seed in range(args.frames):
            write_scene(synthesize("stripes", seed=seed, size=320), tmp / f"s{seed}")
            (tmp / f"s{seed}" / "image.tif").rename(frames / f"frame{seed}.tif")

        print("| what | 1 worker | 2 workers | ratio (target >= 1.7 for trials) |")
        print("|---|---|---|---|")
        if args.storage:
            spaces = {
                "window 24 px, 2 classes, latent 2-6 x beta 0.25-4 (25 settings): equal work": (
                    "--window",
                    "24",
                    "--classes",
                    "2",
                    "--latent-dim",
                    "2:6",
                    "--beta",
                    "0.25,0.5,1,2,4",
                ),
                "window and classes 2-6 searched too, latent 2-4 x beta 0.5-2": (
                    "--latent-dim",
                    "2:4",
                    "--beta",
                    "0.5,1,2",
                ),
            }
            for what, space in spaces.items():
                one, a = trials_per_second(args.storage, image, 1, args.trials, args.epochs, tmp, space)
                two, b = trials_per_second(args.storage, image, 2, args.trials, args.epochs, tmp, space)
                print(
                    f"| trials/s on one PostgreSQL study, rVAE ({args.epochs} epochs, budget {args.trials}),"
                    f" {what}; first trial start to last end |"
                    f" {one:.3f} ({a['span']:.1f} s, {a['reused']} reused) |"
                    f" {two:.3f} ({b['span']:.1f} s, {b['reused']} reused, per worker {b['per_worker']}) |"
                    f" {two / one:.2f} |"
                )
                print(
                    f"| the same, trial-seconds done per wall second | {a['busy']:.2f} | {b['busy']:.2f} |"
                    f" {b['busy'] / a['busy']:.2f} |"
                )
                print(
                    f"| the same, whole commands (start-up, column finding, report) | {a['seconds']:.1f} s |"
                    f" {b['seconds']:.1f} s |"
                    f" {a['seconds'] / b['seconds']:.2f} |"
                )
        else:
            print("| trials/s | (no --storage / REWARDSCOPE_BENCH_POSTGRES given: not measured) | | |")
        f1, s1 = frames_per_second(frames, 1, 8, tmp / "batch1")
        f2, s2 = frames_per_second(frames, 2, 8, tmp / "batch2")
        print(
            f"| frames/s, Dask batch of {args.frames} frames (8 trials each) | {f1:.3f} ({s1:.1f} s) |"
            f" {f2:.3f} ({s2:.1f} s) | {f2 / f1:.2f} |"
        )


if __name__ == "__main__":
    main()
