"""The report: atoms.csv, summary.json, and report.html with the figures that explain the result."""

from __future__ import annotations

import csv
import html
import json
import platform
import textwrap
from pathlib import Path

import numpy as np

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
FIGURES = {
    "columns.png": "Atom columns: A sublattice (orange) and B sublattice (blue).",
    "classes.png": "Classes of the B-centred unit cells, on the image and on the (i, j) cell grid.",
    "walls.png": "Domain walls: wall cells (black) on the class map; each wall segment is one connected component.",
    "polarization.png": "Polar displacement of each B column from the centroid of its four A neighbours (arrows magnified; colour = direction).",
    "explained.png": "Each class explained: its mean B-centred patch, its mean polar displacement (arrow, magnified) and its plain name.",
    "cell_maps.png": "Maps on the (i, j) cell grid: polarization (hue = direction, brightness = magnitude), |P|, strain along a, and the staggered antipolar A-site displacement.",
    "trials.png": "Reward of every optimization trial, and the best so far.",
    "landscape.png": "Reward landscape over descriptor, patch window and number of classes (best reward of the trials in each cell; the chosen setting is circled).",
    "latents.png": "VAE latents on the (i, j) cell grid (content latents; for the invariant VAEs also the rotation angle and the shifts), and the rotation latent against the polarization angle.",
    "traversal.png": "Latent traversal: patches the VAE's decoder draws across its first two content latents (in its own frame: angle and shifts 0).",
}


def write(analysis, out_dir) -> None:
    """Write every output of ``analysis`` into ``out_dir``."""
    out = Path(out_dir)
    write_atoms_csv(analysis.result, analysis.geometry, out / "atoms.csv")
    summary = summarize(analysis)
    write_json(out / "summary.json", summary)
    plot_columns(analysis, out / "columns.png")
    plot_classes(analysis, out / "classes.png")
    plot_walls(analysis, out / "walls.png")
    plot_polarization(analysis, out / "polarization.png")
    plot_explained(analysis, out / "explained.png")
    plot_cell_maps(analysis, out / "cell_maps.png")
    plot_trials(analysis, out / "trials.png")
    plot_landscape(analysis, out / "landscape.png")
    figures = [name for name in FIGURES if name not in ("latents.png", "traversal.png")]
    if hasattr(analysis.model, "latent_"):
        plot_latents(analysis, out / "latents.png")
        plot_traversal(analysis, out / "traversal.png")
        figures += ["latents.png", "traversal.png"]
    (out / "report.html").write_text(render_html(summary, figures))


COLUMNS_HEADER = ["x", "y", "sublattice", "i", "j", "amplitude", "sigma", "uncertainty", "residual", "fit_ok"]


def write_columns(image, columns, lattice, summary: dict, out_dir) -> None:
    """The outputs of ``rewardscope atoms``: atoms.csv, columns.png, summary.json."""
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
    plot_columns_on(image, columns, out / "columns.png")
    write_json(out / "summary.json", {**summary, "versions": versions()})


def write_atoms_csv(result, geometry, path) -> None:
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
    import optuna
    import scipy
    import skimage
    import sklearn

    from . import __version__

    return {
        "rewardscope": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-image": skimage.__version__,
        "scikit-learn": sklearn.__version__,
        "optuna": optuna.__version__,
    }


def summarize(analysis) -> dict:
    result = analysis.result
    b = result.labels[result.labels >= 0]
    polar = result.lattice.polarization[result.columns.sublattice == "B"]
    polar = polar[np.all(np.isfinite(polar), axis=1)]
    magnitude = np.hypot(*polar.T) if len(polar) else np.zeros(0)
    pixel_size = analysis.image.pixel_size
    return {
        "config": result.config.to_dict(),
        "reward": result.reward,
        "components": result.components,
        "reward_weights": analysis.weights,
        "objectives": list(analysis.objectives) if analysis.objectives else None,
        "warnings": list(analysis.warnings),
        "image": analysis.image.summary(),
        "lattice": {
            "basis_px": result.lattice.basis.tolist(),
            "period_px": result.columns.period,
            "columns": result.columns.counts,
            "fits_failed": fits_failed(result.columns),
            "cells_classified": int(len(b)),
            # of the cells whose B was found, indexed and fitted
            "cells_classified_share": float(
                len(b)
                / max(
                    np.sum(
                        (result.columns.sublattice == "B")
                        & (result.lattice.ij[:, 0] >= 0)
                        & result.columns.usable
                    ),
                    1,
                )
            ),
            # of the cells with a measured P, how many had their A corners completed (the frame cuts them, or a fit failed)
            "cells_measured_with_corners": {
                str(n): int(
                    np.sum(
                        (result.lattice.corners == n)
                        & np.all(np.isfinite(result.lattice.polarization), axis=1)
                        & (result.columns.sublattice == "B")
                    )
                )
                for n in (4, 3, 2)
            }
            if result.lattice.corners is not None
            else None,
            "median_polarization_px": float(np.median(magnitude)) if len(magnitude) else None,
            "mean_polarization_px": float(np.mean(magnitude)) if len(magnitude) else None,
            "mean_polarization_pm": float(np.mean(magnitude) * pixel_size)
            if len(magnitude) and pixel_size
            else None,
            "median_polarization_pm": float(np.median(magnitude) * pixel_size)
            if len(magnitude) and pixel_size
            else None,
        },
        "detector": analysis.detector,
        "phases": analysis.phases,
        "reference": analysis.reference,
        "classes": [{k: v for k, v in c.items() if k != "mean_patch"} for c in analysis.classes],
        "walls": {"cells": int(result.walls.mask.sum()), "segments": result.walls.n_segments},
        "search_space": {
            "window": list(analysis.space.window),
            "n_classes": list(analysis.space.n_classes),
            "descriptors": list(analysis.space.descriptors),
        },
        "n_trials": analysis.n_trials,
        "trials": analysis.trials,
        "timings_s": {**analysis.timings, "total": analysis.seconds},
        "seed": analysis.seed,
        "versions": versions(),
    }


def _domain_text(domain: dict) -> str:
    """'279 cells: (-9.3, 12.0) ± 1.3 pm' (px where the image is not calibrated)."""
    p, error, unit = domain.get("polarization_pm"), domain.get("polarization_error_pm"), "pm"
    if p is None:
        p, error, unit = domain["polarization_px"], domain["polarization_error_px"], "px"
    return f"{domain['cells']} cells: ({p[0]:.1f}, {p[1]:.1f}) &plusmn; {error:.1f} {unit}"


def fits_failed(columns) -> dict:
    """Columns per sublattice whose fit did not converge (kept in atoms.csv with fit_ok 0, never measured)."""
    failed = ~columns.usable
    return {site: int(np.sum(failed & (columns.sublattice == site))) for site in ("A", "B")}


def write_json(path, content) -> None:
    """Strict JSON: NaN and infinities (no measurement) are written as null."""
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


def _image_axes(analysis, title):
    fig, ax = figure(figsize=(7, 7))
    ax.imshow(analysis.image.data, cmap="gray")
    ax.set_title(title)
    ax.set_axis_off()
    return fig, ax


def figure(nrows: int = 1, ncols: int = 1, *, figsize, layout=None, **subplots):
    """A figure and its axes made without pyplot: drawing a report never switches a notebook's backend
    nor adds to pyplot's figures (matplotlib's advice for library code); ``subplots`` as for
    ``Figure.subplots``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **subplots)


def _save(fig, path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")


def notebook_html(analysis) -> str:
    """What an ``Analysis`` shows itself as in Jupyter: the answer, the setting chosen, the classes with
    their names and shares, and the class map on the cell grid (a small PNG inlined)."""
    import base64
    import io

    from matplotlib.colors import to_hex

    result = analysis.result
    k = result.config.n_classes
    fig, ax = figure(figsize=(3.2, 3.2))
    _show_classes(ax, result.label_grid, k)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    image = base64.b64encode(buffer.getvalue()).decode("ascii")
    colours = [to_hex(colour) for colour in _class_colours(k)]
    rows = "".join(
        f"<tr><td style='color:{colours[c['label']]}'>&#9632; {c['label']}</td><td>{html.escape(c['name'])}</td>"
        f"<td>{100 * c['share']:.1f}%</td></tr>"
        for c in analysis.classes
    )
    config = result.config
    setting = f"{config.descriptor}" + (
        f", window {config.window} px" if "patch" in config.descriptor and config.window else ""
    )
    setting += f", {k} class{'es' if k != 1 else ''}"
    if config.pooling or config.smoothing:
        setting += f", pooling {config.pooling} cells, Potts strength {config.smoothing:g}"
    statement = html.escape((analysis.phases or {}).get("statement", ""))
    return (
        f"<div><b>rewardscope</b>: {statement}<br>{html.escape(setting)}; reward {result.reward:.3f}, {analysis.n_trials} trials,"
        f" {analysis.seconds:.1f} s<div style='display:flex;gap:1em;align-items:flex-start'>"
        f"<img src='data:image/png;base64,{image}' alt='class map'><table><tr><th>class</th><th>what it is</th><th>cells</th></tr>"
        f"{rows}</table></div></div>"
    )


def plot_columns(analysis, path) -> None:
    plot_columns_on(analysis.image, analysis.result.columns, path)


def plot_columns_on(image, columns, path) -> None:
    fig, ax = figure(figsize=(7, 7))
    ax.imshow(image.data, cmap="gray")
    ax.set_title("atom columns")
    ax.set_axis_off()
    for site, colour in (("A", "tab:orange"), ("B", "tab:blue"), ("O", "tab:red")):
        xy = columns.xy[columns.sublattice == site]
        if site == "O" and not len(xy):
            continue
        ax.scatter(xy[:, 0], xy[:, 1], s=6, c=colour, label=f"{site} ({len(xy)})")
    ax.legend(loc="upper right", fontsize=8)
    _save(fig, path)


def _show_classes(ax, grid: np.ndarray, k: int, **imshow) -> None:
    """Draw a class map on the (i, j) cell grid (-1: unclassified, left blank) in the classes' colours."""
    from matplotlib.colors import ListedColormap

    ax.imshow(
        np.ma.masked_less(grid, 0),
        cmap=ListedColormap(_class_colours(k)),
        vmin=-0.5,
        vmax=k - 0.5,
        interpolation="nearest",
        **imshow,
    )


def _class_colours(n):
    from matplotlib import colormaps

    return colormaps["tab10"](np.arange(n) % 10)


def plot_classes(analysis, path) -> None:
    result = analysis.result
    k = result.config.n_classes
    colours = _class_colours(k)
    smoothed = result.unsmoothed_grid is not None
    fig, axes = figure(1, 3 if smoothed else 2, figsize=(19.5 if smoothed else 13, 6.5))
    left, right = axes[0], axes[-1]
    left.imshow(analysis.image.data, cmap="gray")
    rows = result.labels >= 0
    left.scatter(*result.columns.xy[rows].T, c=colours[result.labels[rows]], s=10)
    left.set_title(f"{k} class{'es' if k != 1 else ''} on the image")
    left.set_axis_off()
    if smoothed:  # the learner's own classes beside the regularized ones: what the prior changed
        _show_classes(axes[1], result.unsmoothed_grid, k)
        axes[1].set_title("cell by cell (the learner's own classes)")
        axes[1].set_xlabel("i")
        axes[1].set_ylabel("j")
    _show_classes(right, result.label_grid, k)
    right.set_title(
        f"with the Potts prior, strength {result.config.smoothing:g}"
        if smoothed
        else "class map on the (i, j) cell grid"
    )
    right.set_xlabel("i")
    right.set_ylabel("j")
    _save(fig, path)


def plot_walls(analysis, path) -> None:
    from matplotlib.colors import ListedColormap

    result = analysis.result
    k = result.config.n_classes
    fig, ax = figure(figsize=(7, 7))
    _show_classes(ax, result.label_grid, k, alpha=0.45)
    ax.imshow(
        np.ma.masked_equal(result.walls.mask.astype(int), 0),
        cmap=ListedColormap(["black"]),
        interpolation="nearest",
    )
    c = result.components
    ax.set_title(
        f"{result.walls.n_segments} wall segments; continuity {c['continuity']:.2f}, straightness {c['straightness']:.2f}"
    )
    ax.set_xlabel("i")
    ax.set_ylabel("j")
    _save(fig, path)


def plot_polarization(analysis, path) -> None:
    result = analysis.result
    rows = (result.columns.sublattice == "B") & np.all(np.isfinite(result.lattice.polarization), axis=1)
    xy, p = result.columns.xy[rows], result.lattice.polarization[rows]
    fig, ax = _image_axes(analysis, "polar displacement (B - centroid of 4 A)")
    if len(p):
        angle = np.arctan2(p[:, 1], p[:, 0])
        scale = 0.45 * result.columns.period / max(np.median(np.hypot(*p.T)), 1e-9)
        ax.quiver(
            xy[:, 0],
            xy[:, 1],
            p[:, 0] * scale,
            p[:, 1] * scale,
            angle,
            cmap="hsv",
            clim=(-np.pi, np.pi),
            angles="xy",
            scale_units="xy",
            scale=1,
            width=0.004,
        )
    _save(fig, path)


def plot_explained(analysis, path) -> None:
    classes = analysis.classes
    colours = _class_colours(len(classes))
    fig, axes = figure(1, len(classes), figsize=(3 * len(classes), 3.4), squeeze=False)
    period = analysis.result.columns.period
    for ax, entry, colour in zip(axes[0], classes, colours):
        patch = entry["mean_patch"]
        ax.imshow(patch, cmap="gray")
        centre = (patch.shape[1] - 1) / 2, (patch.shape[0] - 1) / 2
        p = np.nan_to_num(np.asarray(entry["polarization_px"]))
        scale = 0.3 * patch.shape[0] / max(0.1 * period, np.hypot(*p), 1e-9)
        ax.arrow(*centre, p[0] * scale, p[1] * scale, color=colour, width=0.4, length_includes_head=True)
        ax.set_title(
            textwrap.fill(f"{entry['label']}: {entry['name']}", 34)
            + f"\n{100 * entry['share']:.0f}% of cells",
            fontsize=9,
        )
        ax.set_axis_off()
    _save(fig, path)


def polarization_colours(p: np.ndarray) -> np.ndarray:
    """RGB per cell from a polarization grid (..., 2): hue = direction, value = magnitude / its 98th percentile."""
    from matplotlib.colors import hsv_to_rgb

    magnitude = np.hypot(p[..., 0], p[..., 1])
    finite = np.isfinite(magnitude)
    top = np.percentile(magnitude[finite], 98) if finite.any() else 1.0
    hue = (np.arctan2(p[..., 1], p[..., 0]) / (2 * np.pi)) % 1.0
    hsv = np.stack(
        [np.nan_to_num(hue), np.ones_like(hue), np.clip(np.nan_to_num(magnitude) / max(top, 1e-9), 0, 1)],
        axis=-1,
    )
    rgb = hsv_to_rgb(hsv)
    rgb[~finite] = 1.0
    return rgb


def plot_cell_maps(analysis, path) -> None:
    from .lattice import to_grid

    result, geometry = analysis.result, analysis.geometry
    rows = np.flatnonzero((result.columns.sublattice == "B") & (result.lattice.ij[:, 0] >= 0))
    ij, shape = result.lattice.ij[rows], result.lattice.grid_shape
    fig, axes = figure(2, 2, figsize=(11, 10))
    axes[0, 0].imshow(
        polarization_colours(to_grid(ij, result.lattice.polarization[rows], shape, fill=np.nan)),
        interpolation="nearest",
    )
    axes[0, 0].set_title("polarization (hue = direction)")
    maps = [
        ("|P| (px)", geometry.p_magnitude, "magma", axes[0, 1]),
        ("strain along a", geometry.strain_a, "coolwarm", axes[1, 0]),
        ("antipolar A displacement (px)", geometry.antipolar, "coolwarm", axes[1, 1]),
    ]
    for title, values, cmap, ax in maps:
        grid = to_grid(ij, values[rows], shape, fill=np.nan)
        finite = grid[np.isfinite(grid)]
        limit = np.percentile(np.abs(finite), 98) if finite.size else 1.0
        low = 0 if cmap == "magma" else -limit
        image = ax.imshow(grid, cmap=cmap, vmin=low, vmax=limit, interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(title)
    for ax in axes.ravel():
        ax.set_xlabel("i")
        ax.set_ylabel("j")
    _save(fig, path)


def plot_trials(analysis, path) -> None:
    """Reward per trial and the best so far; with several objectives, beside them the first two
    objectives of every trial with the Pareto front joined and the chosen trial circled."""
    numbers = [t["number"] for t in analysis.trials]
    values = [t["reward"] for t in analysis.trials]
    objectives = analysis.objectives
    fig, axes = figure(1, 2 if objectives else 1, figsize=(12 if objectives else 7, 4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(numbers, values, "o", label="trial")
    ax.plot(numbers, np.maximum.accumulate(values), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("combined reward")
    ax.legend()
    if objectives:
        ax = axes[0, 1]
        x, y = ([t["components"][name] for t in analysis.trials] for name in objectives[:2])
        front = sorted((xi, yi) for xi, yi, t in zip(x, y, analysis.trials) if t["pareto"])
        ax.plot(x, y, "o", color="0.6", label="trial")
        ax.plot(*zip(*front), "o-", color="C3", label="Pareto front")
        chosen = max(
            (t for t in analysis.trials if t["pareto"]), key=lambda t: (t["reward"], -t["number"])
        )  # as optimize.best_params
        ax.plot(
            chosen["components"][objectives[0]],
            chosen["components"][objectives[1]],
            "o",
            ms=14,
            mfc="none",
            mec="k",
            label="chosen",
        )
        ax.set_xlabel(objectives[0])
        ax.set_ylabel(objectives[1])
        ax.legend()
    _save(fig, path)


def landscape_grid(trials, space, descriptor: str):
    """Best reward per (n_classes, window) cell over the trials of one descriptor; NaN where none ran.

    Without patches the window is moot: the grid then has a single column.
    """
    windows = space.windows if "patch" in descriptor else np.array([0])
    classes = np.arange(space.n_classes[0], space.n_classes[1] + 1)
    grid = np.full((len(classes), len(windows)), np.nan)
    for t in trials:
        if t["params"].get("descriptor", space.descriptors[0]) != descriptor:
            continue
        r = np.flatnonzero(classes == t["params"]["n_classes"])
        c = np.flatnonzero(windows == t["params"]["window"]) if len(windows) > 1 else [0]
        if len(r) and len(
            c
        ):  # (a trial outside the grid cannot come from this study's space; skip, never fail)
            grid[r[0], c[0]] = np.fmax(grid[r[0], c[0]], t["reward"])
    return windows, classes, grid


def plot_landscape(analysis, path) -> None:
    descriptors = analysis.space.descriptors
    widths = [4 if "patch" in d else 1 for d in descriptors]
    fig, axes = figure(
        1,
        len(descriptors),
        figsize=(2 + 2 * sum(widths), 4),
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    values = [t["reward"] for t in analysis.trials]
    low, high = min(values), max(values)
    chosen = analysis.config
    for ax, descriptor in zip(axes[0], descriptors):
        windows, classes, grid = landscape_grid(analysis.trials, analysis.space, descriptor)
        extent = (windows[0] - 1, windows[-1] + 1, classes[0] - 0.5, classes[-1] + 0.5)
        image = ax.imshow(
            grid, origin="lower", aspect="auto", cmap="viridis", vmin=low, vmax=high, extent=extent
        )
        if chosen.descriptor == descriptor:
            ax.plot(
                chosen.window if len(windows) > 1 else 0,
                chosen.n_classes,
                "o",
                mfc="none",
                mec="red",
                ms=14,
                mew=2,
            )
        ax.set_title(descriptor)
        ax.set_xlabel("patch window (px)" if len(windows) > 1 else "")
        if len(windows) == 1:
            ax.set_xticks([])
        ax.set_ylabel("number of classes")
    fig.colorbar(image, ax=list(axes[0]), label="reward")
    _save(fig, path)


def plot_latents(analysis, path) -> None:
    """Each latent on the cell grid; for the invariant VAEs, the rotation latent against the polarization angle."""
    from .lattice import to_grid

    result, model = analysis.result, analysis.model
    rows = np.flatnonzero(result.labels >= 0)
    latent = model.latent_
    n_content = model.vae_.latent_dim
    names = [f"z{d}" for d in range(n_content)] + (
        ["angle (deg)", "shift x", "shift y"] if latent.shape[1] > n_content else []
    )
    values = latent.copy()
    if latent.shape[1] > n_content:
        values[:, n_content] = np.rad2deg(np.angle(np.exp(1j * latent[:, n_content])))
    panels = len(names) + (1 if latent.shape[1] > n_content else 0)
    fig, axes = figure(1, panels, figsize=(4 * panels, 4), squeeze=False)
    for ax, d, name in zip(axes[0], range(len(names)), names):
        grid = to_grid(result.lattice.ij[rows], values[:, d], result.lattice.grid_shape, fill=np.nan)
        shown = ax.imshow(
            grid,
            origin="lower",
            cmap="twilight" if name.startswith("angle") else "viridis",
            **({"vmin": -180, "vmax": 180} if name.startswith("angle") else {}),
        )
        ax.set_title(name)
        ax.set_xlabel("i")
        ax.set_ylabel("j")
        fig.colorbar(shown, ax=ax, shrink=0.8)
    if latent.shape[1] > n_content:
        ax = axes[0, -1]
        ax.scatter(
            analysis.geometry.p_angle[rows], values[:, n_content], c=result.labels[rows], s=6, cmap="tab10"
        )
        ax.set_xlabel("polarization angle (deg)")
        ax.set_ylabel("rotation latent (deg)")
        ax.set_title("rotation latent vs polarization")
    fig.tight_layout()
    _save(fig, path)


def plot_traversal(analysis, path, steps: int = 7) -> None:
    """Decoded patches on a grid of the first two content latents, from -2 to +2 standard deviations."""
    vae = analysis.model.vae_
    latent = analysis.model.latent_[:, : vae.latent_dim]
    centre, spread = latent.mean(axis=0), latent.std(axis=0) + 1e-6
    ticks = np.linspace(-2, 2, steps)
    grid_x, grid_y = np.meshgrid(ticks, ticks if vae.latent_dim > 1 else [0.0])
    z = np.tile(centre, (grid_x.size, 1))
    z[:, 0] += grid_x.ravel() * spread[0]
    if vae.latent_dim > 1:
        z[:, 1] += grid_y.ravel() * spread[1]
    classes = np.zeros(len(z), int) if vae.kind == "crvae" else None  # the largest class
    patches = vae.decode(z, classes).reshape(grid_x.shape + (vae.side_, vae.side_))
    mosaic = np.block([[patches[r, c] for c in range(grid_x.shape[1])] for r in range(grid_x.shape[0])])
    fig, ax = figure(figsize=(6, 6 * grid_x.shape[0] / grid_x.shape[1] + 0.5))
    ax.imshow(mosaic, cmap="gray", origin="lower")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("z0: -2 to +2 standard deviations")
    ax.set_ylabel("z1" if vae.latent_dim > 1 else "")
    _save(fig, path)


SEARCHED_COLUMNS = {
    "pooling": "pooling (cells)",
    "smoothing": "Potts strength",
    "learner": "learner",
    "latent_dim": "latent size",
    "beta": "beta",
}


def render_html(summary: dict, figure_names=None) -> str:
    def table(rows):
        body = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
        )
        return f"<table>{body}</table>"

    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else v  # noqa: E731
    figure_names = list(FIGURES) if figure_names is None else figure_names
    figures = "".join(
        f'<figure><img src="{name}" alt="{name}"><figcaption>{html.escape(FIGURES[name])}</figcaption></figure>'
        for name in figure_names
    )
    # The searched dimensions beyond descriptor, window and classes get a column each (spatial priors, VAE settings).
    searched = [name for name in SEARCHED_COLUMNS if any(name in t["params"] for t in summary["trials"])]

    def descriptor(t):
        return t["params"].get("descriptor", summary["search_space"]["descriptors"][0])

    trials = "".join(
        f"<tr><td>{t['number']}{' *' if summary['objectives'] and t['pareto'] else ''}</td><td>{descriptor(t)}</td>"
        f"<td>{t['params'].get('window') if 'patch' in descriptor(t) else '&mdash;'}</td><td>{t['params'].get('n_classes')}</td>"
        + "".join(f"<td>{t['params'].get(name, '')}</td>" for name in searched)
        + f"<td>{t['reward']:.4f}</td>"
        + "".join(f"<td>{t['components'].get(c, float('nan')):.3f}</td>" for c in summary["components"])
        + f"<td>{t['seconds']:.2f}</td><td>{html.escape(t.get('refused') or '')}</td></tr>"
        for t in summary["trials"]
    )
    tuned = summary["detector"]["tuned_trials"]
    detector_note = (
        f", tuned over {tuned} trials ({len(summary['detector']['pareto_front'] or [])} on the Pareto front)"
        if tuned
        else " (defaults)"
    )
    class_rows = "".join(
        f"<tr><td>{c['label']}</td><td>{html.escape(c['name'])}</td><td>{100 * c['share']:.1f}%</td>"
        f"<td>({c['polarization_px'][0]:.2f}, {c['polarization_px'][1]:.2f}) &plusmn; {c['polarization_error_px']:.2f}</td>"
        f"<td>{c['polarization_spread_px']:.2f}</td>"
        f"<td>{c['antipolar_px']:.2f}</td><td>{c['a_px']:.2f}</td><td>{c['b_px']:.2f}</td><td>{c['angle_deg']:.1f}</td>"
        f"<td>{'; '.join(_domain_text(d) for d in c.get('domains', [])[:3])}</td></tr>"
        for c in summary["classes"]
    )
    class_table = (
        "<table><tr><th>class</th><th>name</th><th>share</th><th>mean P &plusmn; standard error (px)</th><th>P spread (px)</th>"
        f"<th>antipolar (px)</th><th>a (px)</th><th>b (px)</th><th>angle (deg)</th><th>largest domains: cells, mean P &plusmn; error</th></tr>"
        f"{class_rows}</table>"
    )
    front = summary["detector"].get("pareto_front") or []
    front_table = ""
    if front:
        names = list(front[0]["objectives"])
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        body = "".join(
            f"<tr><td>{p['params']['column_sigma']:.3f}</td><td>{p['params']['threshold']:.3f}</td>"
            + "".join(f"<td>{p['objectives'][n]:.3f}</td>" for n in names)
            + f"<td>{p['quality']:.3f}</td></tr>"
            for p in front
        )
        front_table = f"<p>Pareto front of the detector tuning:</p><table><tr><th>column width</th><th>threshold</th>{head}<th>quality</th></tr>{body}</table>"
    component_heads = "".join(f"<th>{html.escape(c)}</th>" for c in summary["components"])
    searched_heads = "".join(f"<th>{SEARCHED_COLUMNS[name]}</th>" for name in searched)
    objectives_note = ""
    if summary["objectives"]:
        objectives_note = (
            f"<p>Optimized jointly: {html.escape(', '.join(summary['objectives']))}. Trials marked * are on their"
            " Pareto front; the chosen setting is the front member with the highest combined reward.</p>"
        )
    weights = summary["reward_weights"]
    component_rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{fmt(v)}</td><td>{weights.get(k, 0):g}</td></tr>"
        for k, v in summary["components"].items()
    )
    warnings = "".join(
        f'<p style="background:#fdd;padding:0.5em"><b>Warning:</b> {html.escape(w)}</p>'
        for w in summary["warnings"]
    )
    reference = summary.get("reference")
    reference_note = ""
    if reference:
        shift = reference["offset_pm"] or reference["offset_px"]
        unit = "pm" if reference["offset_pm"] else "px"
        reference_note = (
            f"<p>Polarization is measured from the reference, {html.escape(reference['reference'])} ({reference['cells']} cells):"
            f" its mean ({shift[0]:.1f}, {shift[1]:.1f}) {unit} was subtracted from every cell, and the classes are named from what is left.</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rewardscope report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
figure {{ display: inline-block; margin: 0.5em; max-width: 520px; vertical-align: top; }}
figure img {{ max-width: 100%; }}
figcaption {{ font-size: 0.9em; color: #555; }}
</style></head><body>
<h1>rewardscope report</h1>
{warnings}
<p>Source: {html.escape(str(summary["image"]["source"]))}; image {summary["image"]["shape"]};
lattice period {summary["lattice"]["period_px"]:.2f} px; {summary["lattice"]["columns"]["A"]} A and {summary["lattice"]["columns"]["B"]} B columns;
fits that did not converge (no polarization, no class): {summary["lattice"]["fits_failed"]["A"]} A, {summary["lattice"]["fits_failed"]["B"]} B.</p>
<p><b>{html.escape(summary["phases"]["statement"]) if summary.get("phases") else ""}</b></p>
{reference_note}
<h2>Chosen setting: reward {summary["reward"]:.4f}</h2>
{table([(k, fmt(v)) for k, v in summary["config"].items()])}
<h2>Reward components</h2>
<p>The reward is the weighted geometric mean of the components with a weight above 0.</p>
<table><tr><th>component</th><th>value</th><th>weight</th></tr>{component_rows}</table>
<h2>Column detection (LoG* quality)</h2>
{table([(k, fmt(v)) for k, v in summary["detector"]["quality"].items()])}
<p>Detector: column width {summary["config"]["column_sigma"]:.3f} periods, threshold {summary["config"]["threshold"]:.3f}{detector_note}.</p>
{front_table}
<h2>Classes</h2>
{class_table}
<h2>Figures</h2>
{figures}
<h2>Trials</h2>
{objectives_note}
<table><tr><th>#</th><th>descriptor</th><th>window</th><th>classes</th>{searched_heads}<th>reward</th>{component_heads}<th>s</th><th>scored 0 because</th></tr>{trials}</table>
<h2>Timings (s)</h2>
{table([(k, f"{v:.2f}") for k, v in summary["timings_s"].items()])}
<h2>Versions</h2>
{table(summary["versions"].items())}
<p>Seed {summary["seed"]}.</p>
</body></html>
"""
