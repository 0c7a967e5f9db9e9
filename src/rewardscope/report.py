"""The report: atoms.csv, summary.json, and report.html with the figures that explain the result.

The figures are drawn by ``rewardscope.figures``; the page is rendered from the template
``templates/report.html.j2`` with the summary's plain data.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import platform
from functools import cache
from pathlib import Path

import numpy as np

from .config import uses_patches
from .figures import (  # noqa: F401  (re-exported: the report's names, as before the figures moved)
    FIGURES,
    class_colours,
    class_map_figure,
    columns_figure,
    figure,
    landscape_grid,
    polarization_colours,
    report_figures,
)

ATOMS_HEADER = [
    "x",
    "y",
    "sublattice",
    "i",
    "j",
    "label",
    "px",
    "py",
    "amplitude",
    "sigma",
    "uncertainty",
    "a",
    "b",
    "angle",
    "antipolar",
    "residual",
    "fit_ok",
]
COLUMNS_HEADER = ["x", "y", "sublattice", "i", "j", "amplitude", "sigma", "uncertainty", "residual", "fit_ok"]
SEARCHED_COLUMNS = {
    "pooling": "pooling (cells)",
    "smoothing": "Potts strength",
    "learner": "learner",
    "latent_dim": "latent size",
    "beta": "beta",
}


def write(analysis, out_dir) -> None:
    """Write every output of an analysis: atoms.csv, summary.json, the figures and report.html.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis written.
    out_dir : str or pathlib.Path
        An existing folder.
    """
    out = Path(out_dir)
    write_atoms_csv(analysis.result, analysis.geometry, out / "atoms.csv")
    summary = summarize(analysis)
    write_json(out / "summary.json", summary)
    drawers = report_figures(analysis)
    for name, draw in drawers.items():
        _save(draw(), out / name)
    from .interactive import views_html

    (out / "report.html").write_text(render_html(summary, list(drawers), views_html(analysis)))


def write_columns(image, columns, lattice, summary: dict, out_dir) -> None:
    """Write the outputs of ``rewardscope atoms``: atoms.csv, columns.png and summary.json.

    Parameters
    ----------
    image : rewardscope.io.Image
        The image the columns were found in.
    columns : rewardscope.atoms.Columns
        The columns found.
    lattice : rewardscope.lattice.Lattice
        Their indexing (``ij``).
    summary : dict
        The summary written, to which the versions are added.
    out_dir : str or pathlib.Path
        An existing folder.
    """
    out = Path(out_dir)
    residual = columns.residual if columns.residual is not None else np.full(len(columns), np.nan)
    with open(out / "atoms.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS_HEADER)
        for row in range(len(columns)):
            writer.writerow(
                [
                    f"{columns.xy[row, 0]:.3f}",
                    f"{columns.xy[row, 1]:.3f}",
                    columns.sublattice[row],
                    int(lattice.ij[row, 0]),
                    int(lattice.ij[row, 1]),
                    f"{columns.amplitude[row]:.5g}",
                    f"{columns.sigma[row]:.4f}",
                    f"{columns.uncertainty[row]:.4f}",
                    f"{residual[row]:.4f}",
                    int(columns.usable[row]),
                ]
            )
    _save(columns_figure(image.data, columns, image.pixel_size), out / "columns.png")
    write_json(out / "summary.json", {**summary, "versions": versions()})


def write_atoms_csv(result, geometry, path) -> None:
    """Write atoms.csv: every column with its cell, class, polarization, fit and local geometry.

    Parameters
    ----------
    result : rewardscope.workflow.Result
        The result (``columns``, ``lattice``, ``labels``).
    geometry : rewardscope.geometry.Geometry
        The local geometry per column (``a``, ``b``, ``angle``, ``antipolar``).
    path : str or pathlib.Path
        The file written.
    """
    columns, lattice = result.columns, result.lattice
    residual = columns.residual if columns.residual is not None else np.full(len(columns), np.nan)
    # Columns brought with given positions follow ours, under their own names (none may shadow ours).
    extra = {name: values for name, values in (columns.extra or {}).items() if name not in ATOMS_HEADER}
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ATOMS_HEADER + list(extra))
        for row in range(len(columns)):
            p = lattice.polarization[row]
            writer.writerow(
                [
                    f"{columns.xy[row, 0]:.3f}",
                    f"{columns.xy[row, 1]:.3f}",
                    columns.sublattice[row],
                    int(lattice.ij[row, 0]),
                    int(lattice.ij[row, 1]),
                    int(result.labels[row]),
                    f"{p[0]:.4f}",
                    f"{p[1]:.4f}",
                    f"{columns.amplitude[row]:.5g}",
                    f"{columns.sigma[row]:.4f}",
                    f"{columns.uncertainty[row]:.4f}",
                    f"{geometry.a[row]:.4f}",
                    f"{geometry.b[row]:.4f}",
                    f"{geometry.angle[row]:.3f}",
                    f"{geometry.antipolar[row]:.4f}",
                    f"{residual[row]:.4f}",
                    int(columns.usable[row]),
                    *(values[row] for values in extra.values()),
                ]
            )


def versions() -> dict:
    """The versions of rewardscope, Python and the libraries that make its numbers.

    Returns
    -------
    dict
        Name to version string.

    Examples
    --------
    >>> sorted(versions())[:3]
    ['numpy', 'optuna', 'python']
    """
    from importlib.metadata import version

    from . import __version__

    # The installed distributions' versions (skimage's lazy module hides __version__ from type checkers).
    packages = ("numpy", "scipy", "scikit-image", "scikit-learn", "optuna")
    return {
        "rewardscope": __version__,
        "python": platform.python_version(),
        **{name: version(name) for name in packages},
    }


def summarize(analysis) -> dict:
    """The content of summary.json: the setting chosen, its rewards, the lattice, classes and trials.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis summarized.

    Returns
    -------
    dict
        Plain data (numbers, strings, lists and dicts; NaN where nothing was measured).
    """
    result = analysis.result
    return {
        "config": result.config.to_dict(),
        "reward": result.reward,
        "components": result.components,
        "reward_weights": analysis.weights,
        "objectives": list(analysis.objectives) if analysis.objectives else None,
        "warnings": list(analysis.warnings),
        "image": analysis.image.summary(),
        "lattice": _lattice_summary(result, analysis.image.pixel_size),
        "detector": analysis.detector,
        "phases": analysis.phases,
        "reference": analysis.reference,
        "classes": [{k: v for k, v in c.items() if k != "mean_patch"} for c in analysis.classes],
        "walls": {"cells": int(result.walls.mask.sum()), "segments": result.walls.n_segments},
        "search_space": {
            "window": list(analysis.space.window_range),
            "n_classes": list(analysis.space.n_classes_range),
            "descriptors": list(analysis.space.descriptors),
        },
        "n_trials": analysis.n_trials,
        "trials": analysis.trials,
        "timings_s": {**analysis.timings, "total": analysis.seconds},
        "seed": analysis.seed,
        "versions": versions(),
    }


def _lattice_summary(result, pixel_size) -> dict:
    columns, lattice = result.columns, result.lattice
    b = result.labels[result.labels >= 0]
    is_b = columns.sublattice == "B"
    measured = np.all(np.isfinite(lattice.polarization), axis=1)
    polar = lattice.polarization[is_b]
    polar = polar[np.all(np.isfinite(polar), axis=1)]
    magnitude = np.hypot(*polar.T) if len(polar) else np.zeros(0)
    found = len(magnitude) > 0
    return {
        "basis_px": lattice.basis.tolist(),
        "period_px": columns.period,
        "columns": columns.counts,
        "fits_failed": fits_failed(columns),
        "cells_classified": int(len(b)),
        # of the cells whose B was found, indexed and fitted
        "cells_classified_share": float(
            len(b) / max(np.sum(is_b & (lattice.ij[:, 0] >= 0) & columns.usable), 1)
        ),
        # of the cells with a measured P, how many had their A corners completed (the frame cuts them, or a
        # fit failed)
        "cells_measured_with_corners": {
            str(n): int(np.sum((lattice.corners == n) & measured & is_b)) for n in (4, 3, 2)
        }
        if lattice.corners is not None
        else None,
        "median_polarization_px": float(np.median(magnitude)) if found else None,
        "mean_polarization_px": float(np.mean(magnitude)) if found else None,
        "mean_polarization_pm": float(np.mean(magnitude) * pixel_size) if found and pixel_size else None,
        "median_polarization_pm": float(np.median(magnitude) * pixel_size) if found and pixel_size else None,
    }


def fits_failed(columns) -> dict:
    """Columns per sublattice whose fit did not converge (kept in atoms.csv with fit_ok 0, never measured).

    Parameters
    ----------
    columns : rewardscope.atoms.Columns
        The columns (``usable``, ``sublattice``).

    Returns
    -------
    dict
        ``{"A": count, "B": count}``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> columns = SimpleNamespace(usable=np.array([True, False, False]), sublattice=np.array(["A", "A", "B"]))
    >>> fits_failed(columns)
    {'A': 1, 'B': 1}
    """
    failed = ~columns.usable
    return {site: int(np.sum(failed & (columns.sublattice == site))) for site in ("A", "B")}


def write_json(path, content) -> None:
    """Write strict JSON: NaN and infinities (no measurement) as null, numpy values as plain ones.

    Parameters
    ----------
    path : pathlib.Path
        The file written.
    content : dict
        What is written.

    Raises
    ------
    TypeError
        For a value JSON cannot hold.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_json(Path(folder) / "s.json", {"p": np.float32(0.5), "q": float("nan")})
    ...     (Path(folder) / "s.json").read_text().split()
    ['{', '"p":', '0.5,', '"q":', 'null', '}']
    """
    path.write_text(json.dumps(_strict(content), indent=2, default=_json_default, allow_nan=False))


def _strict(value):
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _strict(value.tolist())
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _save(fig, path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")


@cache
def templates():
    """The Jinja2 environment of the package's templates (``src/rewardscope/templates``), autoescaping.

    Returns
    -------
    jinja2.Environment
        With the filter ``fmt`` (``{{ value|fmt(".3f") }}``: Python's ``format``).

    Examples
    --------
    >>> templates().from_string("{{ x|fmt('.2f') }} {{ s }}").render(x=1 / 3, s="<b>")
    '0.33 &lt;b&gt;'
    """
    from jinja2 import Environment, PackageLoader

    environment = Environment(
        loader=PackageLoader("rewardscope"), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["fmt"] = format
    return environment


def notebook_html(analysis) -> str:
    """What an ``Analysis`` shows itself as in Jupyter: the answer, the setting chosen, the classes with
    their names and shares, and the class map on the cell grid (a small PNG inlined).

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis shown.

    Returns
    -------
    str
        An HTML fragment.
    """
    from matplotlib.colors import to_hex

    result = analysis.result
    config, k = result.config, result.config.n_classes
    buffer = io.BytesIO()
    class_map_figure(result.label_grid, k).savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    setting = f"{config.descriptor}" + (
        f", window {config.window} px" if uses_patches(config.descriptor) and config.window else ""
    )
    setting += f", {k} class{'es' if k != 1 else ''}"
    if config.pooling or config.smoothing:
        setting += f", pooling {config.pooling} cells, Potts strength {config.smoothing:g}"
    return (
        templates()
        .get_template("notebook.html.j2")
        .render(
            statement=(analysis.phases or {}).get("statement", ""),
            setting=setting,
            reward=result.reward,
            n_trials=analysis.n_trials,
            seconds=analysis.seconds,
            image=base64.b64encode(buffer.getvalue()).decode("ascii"),
            colours=[to_hex(colour) for colour in class_colours(k)],
            classes=analysis.classes,
        )
    )


def render_html(summary: dict, figure_names=None, interactive: str = "") -> str:
    """report.html: the summary's tables, the interactive views, the figures with their captions, the trials.

    Parameters
    ----------
    summary : dict
        As ``summarize`` gives it.
    figure_names : list of str, optional
        The figures shown (keys of ``FIGURES``); default all.
    interactive : str, optional
        The interactive views' HTML (``interactive.views_html``), shown before the figures.

    Returns
    -------
    str
        The page.
    """
    # The searched dimensions beyond descriptor, window and classes get a column each (spatial priors,
    # VAE settings).
    from markupsafe import Markup  # (jinja2's: the views are our own HTML, not text to escape)

    searched = [name for name in SEARCHED_COLUMNS if any(name in t["params"] for t in summary["trials"])]
    names = list(FIGURES) if figure_names is None else list(figure_names)
    return (
        templates()
        .get_template("report.html.j2")
        .render(
            summary=summary,
            figures=[(name, FIGURES[name]) for name in names],
            searched=[(name, SEARCHED_COLUMNS[name]) for name in searched],
            nan=float("nan"),
            interactive=Markup(interactive),
        )
    )


SERIES_COLUMNS = (  # series.html's table: (series.csv column, heading, format)
    ("polar_share", "polar", ".3f"),
    ("antipolar_share", "antipolar", ".3f"),
    ("paraelectric_share", "paraelectric", ".3f"),
    ("offset_share", "uniform offset", ".3f"),
    ("mean_abs_p_pm", "mean |P| (pm)", ".1f"),
    ("a_pm", "a (pm)", ".1f"),
    ("b_pm", "b (pm)", ".1f"),
    ("angle_deg", "angle (deg)", ".2f"),
    ("antipolar_order_pm", "antipolar (pm)", ".1f"),
    ("wall_density", "wall cells / cell", ".3f"),
    ("straightness", "straightness", ".2f"),
    ("continuity", "continuity", ".2f"),
    ("reward", "reward (shared)", ".3f"),
    ("own_reward", "reward (own optimum)", ".3f"),
)


def write_series_report(analysis, out_dir) -> None:
    """Write a series' outputs: series.csv, frames.csv, series.json, series.png, series_maps.png and
    series.html.

    Parameters
    ----------
    analysis : rewardscope.series.SeriesAnalysis
        The series analysis written.
    out_dir : pathlib.Path
        An existing folder (frames/NAME/ already in it where the frames' own optima were searched).
    """
    from dataclasses import asdict

    from .figures import series_figure, series_maps_figure
    from .series import REWARD_DROP

    out = Path(out_dir)
    _write_rows(out / "series.csv", analysis.compositions)
    failed = [{"frame": f["frame"], "status": "failed", "reason": f["reason"]} for f in analysis.failed]
    _write_rows(out / "frames.csv", analysis.frames + failed)
    content = {
        "config": asdict(analysis.config),
        "reward": analysis.reward,
        "classes": analysis.classes,
        "drops": analysis.drops,
        "compositions": analysis.compositions,
        "frames": analysis.frames,
        "failed": analysis.failed,
        "trials": [{k: t[k] for k in ("number", "params", "reward")} for t in analysis.trials],
        "seconds": analysis.seconds,
        "versions": versions(),
    }
    write_json(out / "series.json", content)
    _save(series_figure(analysis.compositions, analysis.drops), out / "series.png")
    grids = [r.label_grid for r in analysis.results]
    _save(series_maps_figure(analysis.frames, grids, analysis.classes), out / "series_maps.png")
    reports = {f["frame"] for f in analysis.frames if (out / "frames" / f["frame"] / "report.html").is_file()}
    page = (
        templates()
        .get_template("series.html.j2")
        .render(analysis=analysis, columns=SERIES_COLUMNS, reports=reports, drop=REWARD_DROP)
    )
    (out / "series.html").write_text(page)


def _write_rows(path: Path, rows: list[dict]) -> None:
    """A CSV of dict rows, every key of any row a column (in the order first seen); floats to 6 digits."""
    names = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
