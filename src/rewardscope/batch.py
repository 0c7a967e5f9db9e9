"""Batches: analyze a series of images on Dask distributed.

Each image (frame) is one task, analyzed into ``OUT/frames/NAME/`` exactly
as ``rewardscope analyze`` would (built in ``NAME.partial``, moved into place
when finished). A frame counts as done when its folder holds a summary.json,
so a batch that is stopped or killed and started again redoes only the
frames that did not finish (a frame killed mid-optimization resumes from its
journal). A frame that cannot be analyzed (an unreadable file, no lattice)
is listed as failed with its reason; the others go on. The table
(``batch.csv``) and ``index.html`` are rewritten as each frame finishes.
"""

from __future__ import annotations

import csv
import glob
import html
import json
import time
from pathlib import Path

from .errors import RewardscopeError

TABLE = [
    "file",
    "status",
    "reason",
    "descriptor",
    "window",
    "n_classes",
    "learner",
    "reward",
    "class_shares",
    "mean_polarization_px",
    "mean_polarization_pm",
    "seconds",
    "report",
]


def frame_names(files: list[Path]) -> list[str]:
    """One distinct folder name per file: its stem; where stems repeat, the parent folder's name before it,
    then the suffix after it, then a count."""
    stems = [f.stem for f in files]
    names = [f"{f.parent.name}_{f.stem}" if stems.count(f.stem) > 1 else f.stem for f in files]
    names = [f"{n}_{f.suffix.lstrip('.')}" if names.count(n) > 1 else n for n, f in zip(names, files)]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def image_files(images) -> list[Path]:
    """The image files that ``images`` name: files, folders (their image files), and glob patterns."""
    from .io import SUPPORTED_SUFFIXES

    files = []
    for item in [images] if isinstance(images, (str, Path)) else images:
        path = Path(item)
        if path.is_dir():
            files += [
                p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            ]
        elif path.is_file():
            files.append(path)
        elif glob.has_magic(str(item)):
            matches = sorted(Path(p) for p in glob.glob(str(item)) if Path(p).is_file())
            if not matches:
                raise RewardscopeError(f"no files match {str(item)!r}")
            files += matches
        else:
            raise RewardscopeError(f"no such file: {str(item)!r}")
    files = list({f.resolve(): f for f in files}.values())  # one task per file, however it was named
    if not files:
        raise RewardscopeError(
            f"no image files in {', '.join(map(str, [images] if isinstance(images, (str, Path)) else images))}"
        )
    return files


def analyze_frame(path: str, out: str, options: dict, reading: dict | None = None) -> dict:
    """Analyze one frame into ``out``; a row of the batch table, failed (with the reason) rather than raised."""
    from .io import read_image
    from .workflow import analyze

    start = time.perf_counter()
    try:
        analyze(read_image(path, **(reading or {})), out=out, progress=False, **options)
    except (RewardscopeError, OSError, ValueError) as error:
        return {
            "file": path,
            "status": "failed",
            "reason": " ".join(str(error).split()),
            "seconds": time.perf_counter() - start,
        }
    return finished_row(path, Path(out), time.perf_counter() - start)


def finished_row(path: str, out: Path, seconds: float | None = None) -> dict:
    """The table row of a finished frame, from its summary.json."""
    summary = json.loads((out / "summary.json").read_text())
    config, lattice = summary["config"], summary["lattice"]
    return {
        "file": path,
        "status": "done",
        "reason": "",
        "descriptor": config["descriptor"],
        "window": config["window"],
        "n_classes": config["n_classes"],
        "learner": config["learner"],
        "reward": summary["reward"],
        "class_shares": "/".join(f"{c['share']:.3f}" for c in summary["classes"]),
        "mean_polarization_px": lattice.get("mean_polarization_px"),
        "mean_polarization_pm": lattice.get("mean_polarization_pm"),
        "seconds": seconds if seconds is not None else summary["timings_s"]["total"],
        "report": f"frames/{out.name}/report.html",
    }


def run_batch(
    images,
    out,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    options: dict | None = None,
    reading: dict | None = None,
    overwrite: bool = False,
) -> list[dict]:
    """Analyze every image that ``images`` name (see ``image_files``) into ``out`` on a Dask cluster; return the table rows.

    ``scheduler``: the address of a running Dask scheduler (``tcp://host:8786``);
    without it a local cluster of ``n_workers`` single-threaded processes
    (default: one per core) is started and stopped. ``options`` are passed to
    ``workflow.analyze`` and ``reading`` to ``io.read_image`` for every frame.
    An earlier batch in ``out`` is taken up again (its finished frames kept);
    ``overwrite`` begins it afresh. ``out`` is otherwise refused as
    ``workflow.analyze`` refuses it.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    from . import outputs
    from .progress import progress_bar as tqdm

    files = image_files(images)
    out = outputs.check_output_folder(
        out, overwrite=overwrite, inputs=files, resumable="batch", command="batch"
    )
    frames = out / "frames"
    targets = {str(f): frames / name for f, name in zip(files, frame_names(files))}
    # Frames finished by an earlier batch are kept, unless it is begun afresh (overwrite: removed once the cluster is reached).
    rows = (
        {}
        if overwrite
        else {
            path: finished_row(path, target)
            for path, target in targets.items()
            if (target / "summary.json").is_file()
        }
    )
    todo = [path for path in targets if path not in rows]
    if progress and rows:
        print(f"{len(rows)} of {len(files)} frames already done; analyzing the other {len(todo)}")
    if not todo:
        write_table(rows, targets, out)
        return [rows[p] for p in targets]
    # Reach the cluster before writing anything: a wrong address leaves no folder behind.
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as error:
            raise RewardscopeError(f"could not reach the Dask scheduler {scheduler}: {error}") from None
        cluster = None
    else:
        import os

        workers = n_workers or os.cpu_count() or 1
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
    if overwrite:
        outputs.remove_result(out)
    frames.mkdir(parents=True, exist_ok=True)
    outputs.write_marker(out, "batch", ["batch.csv", "index.html"])
    write_table(rows, targets, out)
    try:
        futures = [
            client.submit(
                analyze_frame,
                path,
                str(targets[path]),
                options or {},
                reading,
                pure=False,
                key=f"frame-{i}-{Path(path).name}",
            )
            for i, path in enumerate(todo)
        ]
        for future in tqdm(
            as_completed(futures), total=len(futures), desc="frames", unit="frame", disable=not progress
        ):
            row = future.result()
            rows[row["file"]] = row
            write_table(rows, targets, out)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [rows[p] for p in targets if p in rows]


def write_table(rows: dict, targets: dict, out: Path) -> None:
    """batch.csv and index.html: every frame, done, failed or still to do."""
    ordered = [rows.get(path, {"file": path, "status": "to do"}) for path in targets]
    partial = out / "batch.csv.partial"
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLE, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(ordered)
    partial.replace(out / "batch.csv")  # a reader never sees half a table

    def cell(row, name):
        value = row.get(name)
        if value is None or value == "":
            return ""
        if name == "report":
            return f'<a href="{html.escape(value)}">report</a>'
        return html.escape(f"{value:.3f}" if isinstance(value, float) else str(value))

    head = "".join(f"<th>{html.escape(n)}</th>" for n in TABLE)
    body = "".join("<tr>" + "".join(f"<td>{cell(r, n)}</td>" for n in TABLE) + "</tr>" for r in ordered)
    counts = {s: sum(r["status"] == s for r in ordered) for s in ("done", "failed", "to do")}
    (out / "index.html").write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rewardscope batch</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}</style></head><body>
<h1>rewardscope batch</h1><p>{len(ordered)} frames: {counts["done"]} done, {counts["failed"]} failed, {counts["to do"]} to do.</p>
<table><tr>{head}</tr>{body}</table></body></html>
""")
