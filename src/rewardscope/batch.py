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
import json
import time
from pathlib import Path

from .errors import RewardscopeError
from .plan import SHARED_THREADS

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
TABLE_FILES = ("batch.csv", "index.html")  # rewritten whole as each frame finishes


def frame_names(files: list[Path]) -> list[str]:
    """One distinct folder name per file.

    Its stem; where stems repeat, the parent folder's name before it, then the suffix after it, then a count.

    Parameters
    ----------
    files : list of pathlib.Path
        The frames' files.

    Returns
    -------
    list of str
        A name per file, all distinct.

    Examples
    --------
    >>> frame_names([Path("a/x.tif"), Path("b/x.tif"), Path("y.npy")])
    ['a_x', 'b_x', 'y']
    """
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
    """The image files that ``images`` name: files, folders (their image files), and glob patterns.

    Parameters
    ----------
    images : str, pathlib.Path or list of them
        Files, folders and glob patterns.

    Returns
    -------
    list of pathlib.Path
        Each file once, however it was named, in the order given (a folder's files sorted).

    Raises
    ------
    RewardscopeError
        For a name that is no file, folder nor matching pattern, or when no image file is named.
    """
    from .io import SUPPORTED_SUFFIXES

    items = [images] if isinstance(images, (str, Path)) else images
    files = []
    for item in items:
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
        raise RewardscopeError(f"no image files in {', '.join(map(str, items))}")
    return files


def analyze_frame(path: str, out: str, options: dict, reading: dict | None = None) -> dict:
    """Analyze one frame into ``out``; its row of the batch table, failed (with the reason), never raised.

    Parameters
    ----------
    path : str
        The image file.
    out : str
        The frame's output folder.
    options : dict
        Keyword arguments of ``workflow.analyze``.
    reading : dict, optional
        Keyword arguments of ``io.read_image``.

    Returns
    -------
    dict
        The row: ``status`` done or failed, and its ``reason``.
    """
    from .io import read_image
    from .workflow import analyze

    start = time.perf_counter()
    # The frames share the machine's cores, one Dask worker each: one CPU thread a frame unless told.
    options = {**options, "threads": options.get("threads") or SHARED_THREADS}
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
    """The table row of a finished frame, from its summary.json.

    Parameters
    ----------
    path : str
        The image file.
    out : pathlib.Path
        The frame's output folder.
    seconds : float, optional
        The time it took; default the summary's total.

    Returns
    -------
    dict
        The row, with the columns of ``TABLE``.
    """
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
    """Analyze every image that ``images`` name into ``out`` on a Dask cluster; return the table rows.

    An earlier batch in ``out`` is taken up again (its finished frames kept); ``overwrite`` begins it
    afresh. ``out`` is otherwise refused as ``workflow.analyze`` refuses it.

    Parameters
    ----------
    images : str, pathlib.Path or list of them
        Files, folders and glob patterns (see ``image_files``).
    out : str or pathlib.Path
        The batch's folder.
    scheduler : str, optional
        The address of a running Dask scheduler (``tcp://host:8786``); without it a local cluster of
        ``n_workers`` single-threaded processes (default: one per core) is started and stopped.
    n_workers : int, optional
        Workers of the local cluster.
    progress, overwrite : bool
        Show a progress bar; replace an earlier batch in ``out``.
    options, reading : dict, optional
        Keyword arguments of ``workflow.analyze`` and of ``io.read_image``, for every frame.

    Returns
    -------
    list of dict
        A row per frame (``TABLE``'s columns), in the order of the files.

    Raises
    ------
    RewardscopeError
        For images that name no file, a refused ``out``, or a scheduler that cannot be reached.
    """
    from . import outputs

    files = image_files(images)
    out = outputs.check_output_folder(
        out, overwrite=overwrite, inputs=files, resumable="batch", command="batch"
    )
    targets = {str(f): out / "frames" / name for f, name in zip(files, frame_names(files))}
    # Frames an earlier batch finished are kept, unless it is begun afresh (overwrite).
    rows = {} if overwrite else _finished_rows(targets)
    todo = [path for path in targets if path not in rows]
    if progress and rows:
        print(f"{len(rows)} of {len(files)} frames already done; analyzing the other {len(todo)}")
    if todo:
        _run_frames(todo, targets, rows, out, scheduler, n_workers, options, reading, progress, overwrite)
    else:
        write_table(rows, targets, out)
    return [rows[p] for p in targets if p in rows]


def _run_frames(
    todo, targets, rows, out, scheduler, n_workers, options, reading, progress, overwrite
) -> None:
    """Reach the cluster, then (its folder made) analyze the frames to do on it."""
    from . import outputs

    client, cluster = connect(scheduler, n_workers)  # before writing anything: a wrong address leaves none
    if overwrite:  # an earlier batch is removed once the cluster is reached
        outputs.remove_result(out)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    # (The .partial files too: a batch killed while it rewrites the table leaves one, and is resumed.)
    outputs.write_marker(out, "batch", [*TABLE_FILES, *(f"{name}.partial" for name in TABLE_FILES)])
    write_table(rows, targets, out)
    try:
        _analyze_frames(client, todo, targets, rows, out, options or {}, reading, progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _finished_rows(targets: dict) -> dict:
    return {
        path: finished_row(path, target)
        for path, target in targets.items()
        if (target / "summary.json").is_file()
    }


def connect(scheduler: str | None, n_workers: int | None):
    """A Dask client of the scheduler at ``scheduler``, or of a local cluster started here (returned too)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except OSError as error:
            raise RewardscopeError(f"could not reach the Dask scheduler {scheduler}: {error}") from None
    import os

    workers = n_workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def _analyze_frames(client, todo, targets, rows, out, options, reading, progress) -> None:
    """One task per frame to do; each finished row into ``rows`` and the table rewritten."""
    from dask.distributed import as_completed

    from .progress import progress_bar as tqdm

    futures = [
        client.submit(
            analyze_frame,
            path,
            str(targets[path]),
            options,
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


def write_table(rows: dict, targets: dict, out: Path) -> None:
    """Write batch.csv and index.html: every frame, done, failed or still to do.

    Parameters
    ----------
    rows : dict
        The rows of the frames finished or failed, by file.
    targets : dict
        Every frame's output folder, by file (the table's order).
    out : pathlib.Path
        The batch's folder.
    """
    import io

    from .report import templates

    ordered = [rows.get(path, {"file": path, "status": "to do"}) for path in targets]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=TABLE, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(ordered)
    counts = {s: sum(r["status"] == s for r in ordered) for s in ("done", "failed", "to do")}
    page = templates().get_template("batch.html.j2").render(rows=ordered, columns=TABLE, counts=counts)
    for name, text in zip(TABLE_FILES, (table.getvalue(), page)):
        partial = out / f"{name}.partial"
        with open(partial, "w", newline="") as handle:
            handle.write(text)
        partial.replace(out / name)  # a reader never sees half a table or half a page
