"""Reward landscapes: every reward component on a full grid of settings.

Where the optimizer samples a few settings, a landscape scores all of them, so
that one can see where each reward component peaks and whether the reward's
optimum is the physics' (``rewardscope landscape``). Grid points run in
parallel over the cores, one patch window per task.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .config import Config, uses_patches
from .errors import RewardscopeError
from .rewards import COMPONENTS, GATES
from .text import counted

GRID_NAMES = {"window": "window", "classes": "n_classes", "k": "n_classes", "n_classes": "n_classes"}


def parse_range(text: str, *, step: int = 1, minimum: int = 1) -> list[int]:
    """The values of ``LOW:HIGH[:STEP]`` (inclusive; ``step`` when none is given).

    Parameters
    ----------
    text : str
        ``LOW:HIGH`` or ``LOW:HIGH:STEP``, whole numbers.
    step : int, default 1
        The step where ``text`` gives none.
    minimum : int, default 1
        The least value allowed.

    Returns
    -------
    list of int
        At least two values, each >= ``minimum``.

    Raises
    ------
    RewardscopeError
        If ``text`` is not of that form, gives fewer than two values or one below ``minimum``.

    Examples
    --------
    >>> parse_range("8:16:4"), parse_range("2:4")
    ([8, 12, 16], [2, 3, 4])
    """
    try:
        parts = [int(p) for p in text.split(":")]
    except ValueError:
        raise RewardscopeError(f"expected LOW:HIGH[:STEP] with whole numbers, got {text!r}") from None
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
        raise RewardscopeError(f"expected LOW:HIGH[:STEP] with STEP >= 1, got {text!r}")
    low, high, step = parts[0], parts[1], parts[2] if len(parts) == 3 else step
    values = list(range(low, high + 1, step))
    if len(values) < 2:
        raise RewardscopeError(f"{text!r} has {len(values)} point(s); a landscape needs at least two")
    if values[0] < minimum:
        raise RewardscopeError(f"{text!r}: values must be >= {minimum}, got {values[0]}")
    return values


def parse_grid(text: str) -> tuple[str, list[int]]:
    """The config field and values of ``NAME=LOW:HIGH[:STEP]``, the spelling before ``--window``.

    Parameters
    ----------
    text : str
        ``window=...``, ``classes=...`` (or ``k=``, ``n_classes=``).

    Returns
    -------
    field : str
        ``"window"`` or ``"n_classes"``.
    values : list of int
        As ``parse_range`` gives them (windows >= 3).

    Raises
    ------
    RewardscopeError
        If the name is unknown or the range malformed.

    Examples
    --------
    >>> parse_grid("classes=2:4")
    ('n_classes', [2, 3, 4])
    """
    name, _, spec = text.partition("=")
    field = GRID_NAMES.get(name.strip())
    if field is None:
        raise RewardscopeError(f"unknown grid parameter {name.strip()!r}; choose from window, classes")
    try:
        return field, parse_range(spec, minimum=3 if field == "window" else 1)
    except RewardscopeError as exc:
        raise RewardscopeError(f"grid {text!r}: {exc}") from None


def _score_window(image, base: Config, window: int | None, classes: list[int], weights) -> list[dict]:
    from .workflow import Pipeline

    pipeline = Pipeline(image, weights=weights, all_components=True)
    rows = []
    for k in classes:
        result = pipeline.run(replace(base, window=window, n_classes=k))
        rows.append({"window": window, "n_classes": k, "reward": result.reward, **result.components})
    return rows


def compute(
    image,
    windows: list[int | None],
    classes: list[int],
    *,
    base: Config | None = None,
    weights=None,
    n_jobs: int = -1,
) -> list[dict]:
    """Reward and every component at each (window, n_classes) point, one window per parallel task.

    Parameters
    ----------
    image : Image
        The image analysed.
    windows : list of int or None
        The patch windows (None: the descriptor's default).
    classes : list of int
        The numbers of classes.
    base : Config, optional
        The other settings (default ``Config()``).
    weights : dict, optional
        The reward's weights.
    n_jobs : int, default -1
        joblib's number of processes (-1: all cores).

    Returns
    -------
    list of dict
        One row per point: ``window``, ``n_classes``, ``reward`` and every component and gate.
    """
    from joblib import Parallel, delayed

    base = base or Config()
    per_window = Parallel(n_jobs=n_jobs)(
        delayed(_score_window)(image, base, w, classes, weights) for w in windows
    )
    return [row for rows in per_window for row in rows]


def run(
    image,
    out,
    windows: list[int] | None,
    classes: list[int],
    *,
    base: Config | None = None,
    weights=None,
    overwrite: bool = False,
) -> list[dict]:
    """Score the grid (``compute``) and write it into the new folder ``out`` (``write``).

    Parameters
    ----------
    image : Image, array or path
        The image analysed (``io.as_image``).
    out : str or Path
        The folder made; as for ``workflow.analyze``.
    windows : list of int or None
        The patch windows; required for a patch descriptor.
    classes : list of int
        The numbers of classes.
    base : Config, optional
        The other settings (default ``Config()``).
    weights : dict, optional
        Changes to the default weights.
    overwrite : bool, default False
        Replace an earlier rewardscope output in ``out``.

    Returns
    -------
    list of dict
        The rows (``compute``).

    Raises
    ------
    RewardscopeError
        If no windows are given for a patch descriptor, the weights are invalid, or ``out`` may not be
        written.
    """
    from . import outputs, rewards
    from .io import as_image

    image = as_image(image)
    base = base or Config()
    weights = rewards.with_defaults(weights)
    if not windows and uses_patches(base.descriptor):
        raise RewardscopeError(
            "give the windows for a patch descriptor, e.g. windows=[8, 12, 16]",
            cli="give the windows for a patch descriptor, e.g. --window 8:48:4",
        )
    out = outputs.check_output_folder(out, overwrite=overwrite, inputs=image.files, command="landscape")
    points: list[int | None] = list(windows) if windows else [None]
    rows = compute(image, points, list(classes), base=base, weights=weights)
    staging = outputs.staging_folder(out, "landscape")
    write(rows, staging, base.descriptor)
    outputs.move_into_place(staging, out, "landscape")
    return rows


def write(rows: list[dict], out: Path, descriptor: str) -> None:
    """Write landscape.csv, landscape.json and landscape.png (one heat map per component, maxima marked).

    Parameters
    ----------
    rows : list of dict
        The points (``compute``).
    out : Path
        An existing folder.
    descriptor : str
        The descriptor scored, for the titles.
    """
    names = ["reward", *COMPONENTS]
    with open(out / "landscape.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["window", "n_classes", *names, *GATES])
        writer.writeheader()
        writer.writerows(rows)
    best = max(rows, key=lambda r: r["reward"])
    (out / "landscape.json").write_text(
        json.dumps({"descriptor": descriptor, "optimum": best, "points": rows}, indent=2)
    )

    plot(
        rows,
        names,
        out / "landscape.png",
        f"reward landscape ({descriptor} descriptor); circle: each panel's maximum; the reward's optimum:"
        f" window {best['window']} px, {counted(best['n_classes'], 'class', 'classes')}",
    )


def plot(
    rows: list[dict], names: list[str], path: Path, title: str, xlabel: str = "patch window (px)"
) -> None:
    """One heat map per name in ``rows`` (window, or what ``xlabel`` says, x number of classes).

    Each panel's maximum is circled.

    Parameters
    ----------
    rows : list of dict
        The points: ``window``, ``n_classes`` and a value for each name.
    names : list of str
        The values drawn, one panel each.
    path : Path
        The PNG written.
    title : str
        The figure's title.
    xlabel : str, default "patch window (px)"
        The x axis's label.
    """
    from .report import figure

    windows = sorted({r["window"] for r in rows})
    classes = sorted({r["n_classes"] for r in rows})
    n_rows = int(np.ceil(len(names) / 3))
    fig, axes = figure(n_rows, 3, figsize=(15, 4.2 * n_rows), squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        grid = np.full((len(classes), len(windows)), np.nan)
        for r in rows:
            grid[classes.index(r["n_classes"]), windows.index(r["window"])] = r[name]
        image = ax.imshow(
            grid,
            origin="lower",
            aspect="auto",
            cmap="viridis",
            vmin=0,
            vmax=1,
            extent=(-0.5, len(windows) - 0.5, classes[0] - 0.5, classes[-1] + 0.5),
        )
        if np.isfinite(grid).any():
            k, w = np.unravel_index(np.nanargmax(grid), grid.shape)
            ax.plot(w, classes[k], "o", mfc="none", mec="red", ms=12, mew=2)
        ax.set_xticks(range(len(windows)), windows, fontsize=7)
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("number of classes")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(title)
    fig.savefig(path, dpi=80)
