"""The report's figures, each a pure function of the data it draws returning a ``matplotlib.figure.Figure``.

Figures are made through matplotlib's object API, never pyplot: drawing them does not switch a notebook's
backend nor add to pyplot's figures (matplotlib's advice for library code). Nothing here writes a file;
``report.write`` saves them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .config import is_vae, uses_patches

FIGURES = {
    "columns.png": "Atom columns: A sublattice (orange) and B sublattice (blue).",
    "classes.png": "Classes of the B-centred unit cells, on the image and on the (i, j) cell grid.",
    "walls.png": "Domain walls: wall cells (black) on the class map; each wall segment is one connected"
    " component.",
    "polarization.png": "Polar displacement of each B column from the centroid of its four A neighbours"
    " (arrows magnified, the reference arrow's length given; colour = direction on the colour wheel shown,"
    " the same wheel as cell_maps.png).",
    "explained.png": "Each class explained: its mean B-centred patch, its mean polar displacement (arrow,"
    " magnified) and its plain name.",
    "cell_maps.png": "Maps on the (i, j) cell grid: polarization (hue = direction, brightness = magnitude),"
    " |P|, strain along a, and the staggered antipolar A-site displacement.",
    "trials.png": "Reward of every optimization trial, and the best so far.",
    "landscape.png": "Reward landscape over descriptor, patch window and number of classes (best reward of"
    " the trials in each cell; the chosen setting is circled).",
    "latents.png": "VAE latents on the (i, j) cell grid, j downward as on every map (content latents; for the"
    " invariant VAEs also the rotation angle and the shifts), and the rotation latent against the"
    " polarization angle.",
    "traversal.png": "Latent traversal: patches the VAE's decoder draws across its first two content latents"
    " (in its own frame: angle and shifts 0), ticks in standard deviations; beside them, each less the centre"
    " patch.",
}
VAE_FIGURES = ("latents.png", "traversal.png")


def figure(nrows: int = 1, ncols: int = 1, *, figsize, layout=None, **subplots) -> tuple[Figure, Any]:
    """A figure and its axes made without pyplot.

    Parameters
    ----------
    nrows, ncols : int
        The grid of axes.
    figsize : tuple of float
        Width and height in inches.
    layout : str, optional
        Matplotlib's layout engine (``"constrained"``, ``"tight"``).
    **subplots
        As for ``Figure.subplots`` (``squeeze``, ``gridspec_kw`` ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or numpy.ndarray of Axes
        As ``Figure.subplots`` gives them.

    Examples
    --------
    >>> fig, axes = figure(1, 2, figsize=(4, 2))
    >>> len(axes)
    2
    """
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **subplots)


def class_colours(n: int) -> np.ndarray:
    """The colours of ``n`` classes (matplotlib's tab10, repeated past ten).

    Parameters
    ----------
    n : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        RGBA colours, shape (n, 4).

    Examples
    --------
    >>> class_colours(12).shape
    (12, 4)
    """
    from matplotlib import colormaps

    return colormaps["tab10"](np.arange(n) % 10)


def direction_colours(p: np.ndarray) -> np.ndarray:
    """RGB of each displacement's direction on the one colour wheel every figure uses (``colour_wheel``).

    Hue goes with the angle in image coordinates (x right, y down): +x red, +y (down) yellow-green, -x cyan,
    -y (up) violet, whatever the figure.

    Parameters
    ----------
    p : numpy.ndarray
        Displacements, shape (..., 2), x and y.

    Returns
    -------
    numpy.ndarray
        RGB, shape (..., 3), at full brightness.

    Examples
    --------
    >>> direction_colours(np.array([[1.0, 0.0], [-1.0, 0.0]])).round(2).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    """
    from matplotlib.colors import hsv_to_rgb

    hue = (np.arctan2(p[..., 1], p[..., 0]) / (2 * np.pi)) % 1.0
    hue = np.nan_to_num(hue)
    return hsv_to_rgb(np.stack([hue, np.ones_like(hue), np.ones_like(hue)], axis=-1))


def colour_wheel(ax, size: int = 64) -> None:
    """Draw the direction colour wheel (``direction_colours``) in ``ax``: the legend of P's direction.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        An (inset) axes, drawn in image orientation (y down) as the maps are.
    size : int
        Its side in samples.
    """
    offsets = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(offsets, offsets)
    rgba = np.concatenate([direction_colours(np.stack([x, y], axis=-1)), np.ones((size, size, 1))], axis=-1)
    rgba[np.hypot(x, y) > size / 2, 3] = 0.0  # a disc
    ax.imshow(rgba, interpolation="bilinear")
    ax.set_axis_off()
    ax.set_title("P direction", fontsize=7, pad=2)


def add_colour_wheel(fig: Figure, ax, where=(1.02, 0.8, 0.18, 0.18)) -> None:
    """Inset the direction colour wheel beside ``ax`` (axes fraction: x, y, width, height; default outside
    its upper right corner, where it hides no data)."""
    colour_wheel(ax.inset_axes(list(where)))


def scale_bar(ax, pixel_size: float | None, width_px: float) -> None:
    """A scale bar of a round length in nm, about a fifth of the image wide, at its lower left.

    Nothing is drawn when the image is not calibrated (``pixel_size`` None: pm per px).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        An axes showing the image in pixel coordinates.
    pixel_size : float or None
        pm per px.
    width_px : float
        The image's width, px.

    Examples
    --------
    >>> fig, ax = figure(figsize=(2, 2))
    >>> _ = ax.imshow(np.zeros((100, 100)))
    >>> scale_bar(ax, 25.0, 100)
    >>> [t.get_text() for t in ax.texts]
    ['0.5 nm']
    """
    if not pixel_size:
        return
    target_nm = 0.2 * width_px * pixel_size / 1000
    length_nm = max(
        v for v in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if v <= max(target_nm, 0.1)
    )
    length_px = length_nm * 1000 / pixel_size
    x0, y0 = ax.get_xlim()[0], ax.get_ylim()[0]  # image orientation: ylim[0] is the bottom row
    margin = 0.04 * width_px
    ax.plot(
        [x0 + margin, x0 + margin + length_px], [y0 - margin] * 2, color="white", lw=4, solid_capstyle="butt"
    )
    ax.plot(
        [x0 + margin, x0 + margin + length_px],
        [y0 - margin] * 2,
        color="black",
        lw=1.5,
        solid_capstyle="butt",
    )
    ax.text(
        x0 + margin + length_px / 2,
        y0 - 1.6 * margin,
        f"{length_nm:g} nm",
        color="white",
        ha="center",
        va="bottom",
        fontsize=9,
        fontweight="bold",
        path_effects=_outline(),
    )


def _outline():
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=2, foreground="black")]


def class_legend(ax, classes: list[dict] | None, k: int, **legend) -> None:
    """A legend of the class colours: each class's number, name and share where known.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where the legend goes.
    classes : list of dict or None
        The classes explained (``label``, ``name``, ``share``); None: numbers only.
    k : int
        The number of classes.
    **legend
        Further arguments of ``Axes.legend``.
    """
    from matplotlib.patches import Patch

    entries = classes or [{"label": n} for n in range(k)]
    handles = [
        Patch(
            color=colour,
            label=(
                f"{e['label']}: {textwrap.shorten(e['name'], 48)} ({100 * e['share']:.0f}%)"
                if "name" in e
                else f"class {e['label']}"
            ),
        )
        for colour, e in zip(class_colours(k), entries)
    ]
    ax.legend(handles=handles, fontsize=8, **{"loc": "upper right", "framealpha": 0.85, **legend})


def show_classes(ax, grid: np.ndarray, k: int, **imshow) -> None:
    """Draw a class map on the (i, j) cell grid in the classes' colours (-1: unclassified, left blank).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    grid : numpy.ndarray
        Class per cell, 2-D, -1 where none.
    k : int
        Number of classes.
    **imshow
        Further arguments of ``Axes.imshow`` (``alpha`` ...).
    """
    from matplotlib.colors import ListedColormap

    ax.imshow(
        np.ma.masked_less(grid, 0),
        cmap=ListedColormap(class_colours(k)),
        vmin=-0.5,
        vmax=k - 0.5,
        interpolation="nearest",
        **imshow,
    )


def class_map_figure(grid: np.ndarray, k: int, size: float = 3.2) -> Figure:
    """The class map on the cell grid alone, without axes (the notebook view's picture).

    Parameters
    ----------
    grid : numpy.ndarray
        Class per cell, 2-D, -1 where none.
    k : int
        Number of classes.
    size : float
        Side of the figure in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> class_map_figure(np.array([[0, 1], [-1, 1]]), 2).axes[0].axison
    False
    """
    fig, ax = figure(figsize=(size, size))
    show_classes(ax, grid, k)
    ax.set_axis_off()
    return fig


def columns_figure(data: np.ndarray, columns, pixel_size: float | None = None) -> Figure:
    """The image with its atom columns marked by sublattice (O only where there are any), and a scale bar.

    Parameters
    ----------
    data : numpy.ndarray
        The image, 2-D.
    columns : rewardscope.atoms.Columns
        The columns: ``xy`` (n, 2) and ``sublattice`` (n,).
    pixel_size : float, optional
        pm per px: a scale bar in nm.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = figure(figsize=(7, 7))
    ax.imshow(data, cmap="gray")
    ax.set_title("atom columns")
    ax.set_axis_off()
    for site, colour in (("A", "tab:orange"), ("B", "tab:blue"), ("O", "tab:red")):
        xy = columns.xy[columns.sublattice == site]
        if site == "O" and not len(xy):
            continue
        ax.scatter(xy[:, 0], xy[:, 1], s=6, c=colour, label=f"{site} ({len(xy)})")
    ax.legend(loc="upper right", fontsize=8)
    scale_bar(ax, pixel_size, data.shape[1])
    return fig


def classes_figure(analysis) -> Figure:
    """The classes on the image and on the cell grid; with the Potts prior, the learner's own classes too.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    result = analysis.result
    k = result.config.n_classes
    colours = class_colours(k)
    smoothed = result.unsmoothed_grid is not None
    fig, axes = figure(1, 3 if smoothed else 2, figsize=(19.5 if smoothed else 13, 6.5))
    left, right = axes[0], axes[-1]
    left.imshow(analysis.image.data, cmap="gray")
    rows = result.labels >= 0
    left.scatter(*result.columns.xy[rows].T, c=colours[result.labels[rows]], s=10)
    left.set_title(f"{k} class{'es' if k != 1 else ''} on the image")
    left.set_axis_off()
    scale_bar(left, analysis.image.pixel_size, analysis.image.shape[1])
    if smoothed:  # the learner's own classes beside the regularized ones: what the prior changed
        show_classes(axes[1], result.unsmoothed_grid, k)
        axes[1].set_title("cell by cell (the learner's own classes)")
        axes[1].set_xlabel("i")
        axes[1].set_ylabel("j")
    show_classes(right, result.label_grid, k)
    right.set_title(
        f"with the Potts prior, strength {result.config.smoothing:g}"
        if smoothed
        else "class map on the (i, j) cell grid"
    )
    right.set_xlabel("i")
    right.set_ylabel("j")
    class_legend(right, analysis.classes, k, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def walls_figure(analysis) -> Figure:
    """The wall cells in black on the class map, with the wall rewards in the title.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import ListedColormap

    result = analysis.result
    fig, ax = figure(figsize=(7, 7))
    show_classes(ax, result.label_grid, result.config.n_classes, alpha=0.45)
    ax.imshow(
        np.ma.masked_equal(result.walls.mask.astype(int), 0),
        cmap=ListedColormap(["black"]),
        interpolation="nearest",
    )
    c, n = result.components, result.walls.n_segments
    ax.set_title(
        f"{n} wall segment{'s' if n != 1 else ''}; continuity {c['continuity']:.2f},"
        f" straightness {c['straightness']:.2f}"
    )
    class_legend(ax, analysis.classes, result.config.n_classes, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.set_xlabel("i")
    ax.set_ylabel("j")
    return fig


def polarization_figure(analysis) -> Figure:
    """Arrows of the polar displacement of each B column on the image (magnified, coloured by direction on
    the colour wheel drawn in the corner), a reference arrow in pm (px where uncalibrated), a scale bar.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    result, pixel_size = analysis.result, analysis.image.pixel_size
    rows = (result.columns.sublattice == "B") & np.all(np.isfinite(result.lattice.polarization), axis=1)
    xy, p = result.columns.xy[rows], result.lattice.polarization[rows]
    period = result.columns.period
    fig, ax = figure(figsize=(7.5, 7.5), layout="constrained")
    ax.imshow(analysis.image.data, cmap="gray")
    ax.set_title("polar displacement of B from the centroid of its 4 A (magnified)")
    ax.set_axis_off()
    if len(p):
        # The 90th-percentile arrow is 0.8 periods long; heads a fifth of a period: a shaft is always seen.
        reference = max(float(np.percentile(np.hypot(*p.T), 90)), 1e-9)
        scale = 0.8 * period / reference
        arrows = ax.quiver(
            xy[:, 0],
            xy[:, 1],
            p[:, 0] * scale,
            p[:, 1] * scale,
            color=direction_colours(p),
            angles="xy",
            scale_units="xy",
            scale=1,
            units="xy",
            width=0.07 * period,
            headwidth=3,
            headlength=3,
            headaxislength=2.6,
            pivot="middle",
        )
        shown = reference * pixel_size if pixel_size else reference
        unit = "pm" if pixel_size else "px"
        ax.quiverkey(
            arrows,
            0.85,
            -0.03,
            reference * scale,
            f"{shown:.3g} {unit}",
            labelpos="E",
            coordinates="axes",
            color="black",
        )
    add_colour_wheel(fig, ax)
    scale_bar(ax, pixel_size, analysis.image.shape[1])
    return fig


def explained_figure(classes: list[dict], period: float) -> Figure:
    """Each class's mean patch, its mean polar displacement as an arrow, its name and share.

    Parameters
    ----------
    classes : list of dict
        The classes explained (``Analysis.classes``: ``mean_patch``, ``polarization_px``, ``label``,
        ``name``, ``share``).
    period : float
        The lattice period in px (the shortest arrow drawn is a tenth of it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    colours = class_colours(len(classes))
    fig, axes = figure(1, len(classes), figsize=(3 * len(classes), 3.4), squeeze=False)
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
    return fig


def polarization_colours(p: np.ndarray) -> np.ndarray:
    """RGB per cell from a polarization grid: hue = direction (``direction_colours``), value = magnitude / its
    98th percentile.

    Parameters
    ----------
    p : numpy.ndarray
        Polarization, shape (..., 2); NaN where none was measured.

    Returns
    -------
    numpy.ndarray
        RGB, shape (..., 3); white where ``p`` is NaN.

    Examples
    --------
    >>> polarization_colours(np.array([[1.0, 0.0], [np.nan, np.nan]])).round(2).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """
    magnitude = np.hypot(p[..., 0], p[..., 1])
    finite = np.isfinite(magnitude)
    top = np.percentile(magnitude[finite], 98) if finite.any() else 1.0
    value = np.clip(np.nan_to_num(magnitude) / max(top, 1e-9), 0, 1)
    rgb = direction_colours(p) * value[..., None]  # the colour wheel's hue, darker where P is small
    rgb[~finite] = 1.0
    return rgb


def cell_maps_figure(analysis) -> Figure:
    """Maps on the cell grid: polarization colours, ``|P|``, strain along a, the antipolar A displacement.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .lattice import to_grid

    result, geometry = analysis.result, analysis.geometry
    rows = np.flatnonzero((result.columns.sublattice == "B") & (result.lattice.ij[:, 0] >= 0))
    ij, shape = result.lattice.ij[rows], result.lattice.grid_shape
    scale, unit = (analysis.image.pixel_size, "pm") if analysis.image.pixel_size else (1.0, "px")
    fig, axes = figure(2, 2, figsize=(10, 9), layout="constrained")
    axes[0, 0].imshow(
        polarization_colours(to_grid(ij, result.lattice.polarization[rows], shape, fill=np.nan)),
        interpolation="nearest",
    )
    axes[0, 0].set_title("polarization (hue = direction, brightness = |P|)")
    add_colour_wheel(fig, axes[0, 0], where=(1.02, 0.7, 0.28, 0.28))
    maps = [
        (f"|P| ({unit})", geometry.p_magnitude * scale, "magma", axes[0, 1]),
        ("strain along a", geometry.strain_a, "coolwarm", axes[1, 0]),
        (f"antipolar A displacement ({unit})", geometry.antipolar * scale, "coolwarm", axes[1, 1]),
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
    return fig


def trials_figure(trials: list[dict], objectives=None) -> Figure:
    """Reward per trial and the best so far; with several objectives, beside them the first two
    objectives of every trial with the Pareto front joined and the chosen trial circled.

    Parameters
    ----------
    trials : list of dict
        The trials (``Analysis.trials``: ``number``, ``reward``, ``components``, ``pareto``).
    objectives : list of str, optional
        The objectives optimized jointly, if any.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> trials_figure([{"number": 0, "reward": 0.5}, {"number": 1, "reward": 0.7}]).axes[0].get_xlabel()
    'trial'
    """
    numbers = [t["number"] for t in trials]
    values = [t["reward"] for t in trials]
    fig, axes = figure(1, 2 if objectives else 1, figsize=(12 if objectives else 7, 4), squeeze=False)
    ax = axes[0, 0]
    ax.plot(numbers, values, "o", label="trial")
    ax.plot(numbers, np.maximum.accumulate(values), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("combined reward")
    ax.legend()
    if objectives:
        _draw_pareto(axes[0, 1], trials, objectives)
    return fig


def _draw_pareto(ax, trials: list[dict], objectives) -> None:
    x, y = ([t["components"][name] for t in trials] for name in objectives[:2])
    front = sorted((xi, yi) for xi, yi, t in zip(x, y, trials) if t["pareto"])
    ax.plot(x, y, "o", color="0.6", label="trial")
    ax.plot(*zip(*front), "o-", color="C3", label="Pareto front")
    # chosen as optimize.best_params chooses
    chosen = max((t for t in trials if t["pareto"]), key=lambda t: (t["reward"], -t["number"]))
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


def landscape_grid(trials, space, descriptor: str):
    """Best reward per (n_classes, window) cell over the trials of one descriptor; NaN where none ran.

    Without patches the window is moot: the grid then has a single column.

    Parameters
    ----------
    trials : list of dict
        The trials (``params`` with ``n_classes``, ``window`` and maybe ``descriptor``; ``reward``).
    space : rewardscope.optimize.SearchSpace
        The space searched (``windows``, ``n_classes_range``, ``descriptors``).
    descriptor : str
        The descriptor whose trials are gathered.

    Returns
    -------
    windows : numpy.ndarray
        The grid's columns (``[0]`` without patches).
    classes : numpy.ndarray
        The grid's rows, the numbers of classes.
    grid : numpy.ndarray
        Best reward, (len(classes), len(windows)).
    """
    windows = space.windows if uses_patches(descriptor) else np.array([0])
    classes = np.arange(space.n_classes_range[0], space.n_classes_range[1] + 1)
    grid = np.full((len(classes), len(windows)), np.nan)
    for t in trials:
        if t["params"].get("descriptor", space.descriptors[0]) != descriptor:
            continue
        r = np.flatnonzero(classes == t["params"]["n_classes"])
        c = np.flatnonzero(windows == t["params"]["window"]) if len(windows) > 1 else [0]
        # a trial outside the grid cannot come from this study's space; skip, never fail
        if len(r) and len(c):
            grid[r[0], c[0]] = np.fmax(grid[r[0], c[0]], t["reward"])
    return windows, classes, grid


def landscape_figure(trials: list[dict], space, chosen) -> Figure:
    """The reward landscape: a heat map of ``landscape_grid`` per descriptor, the chosen setting circled.

    Parameters
    ----------
    trials : list of dict
        The trials, as for ``landscape_grid``.
    space : rewardscope.optimize.SearchSpace
        The space searched.
    chosen : rewardscope.config.Config
        The setting chosen.

    Returns
    -------
    matplotlib.figure.Figure
    """
    descriptors = space.descriptors
    widths = [4 if uses_patches(d) else 1 for d in descriptors]
    fig, axes = figure(
        1,
        len(descriptors),
        figsize=(2 + 2 * sum(widths), 4),
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    values = [t["reward"] for t in trials]
    low, high = min(values), max(values)
    for ax, descriptor in zip(axes[0], descriptors):
        windows, classes, grid = landscape_grid(trials, space, descriptor)
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
    return fig


def latents_figure(analysis) -> Figure:
    """Each VAE latent on the cell grid; for the invariant VAEs, the rotation latent against the
    polarization angle.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        An analysis whose model is a ``VAEClassifier``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .lattice import to_grid

    result, model = analysis.result, analysis.model
    rows = np.flatnonzero(result.labels >= 0)
    latent, n_content = model.latent_, model.latent_dim
    invariant = latent.shape[1] > n_content
    names = [f"z{d}" for d in range(n_content)] + (["angle (deg)", "shift x", "shift y"] if invariant else [])
    values = latent.copy()
    if invariant:
        values[:, n_content] = np.rad2deg(np.angle(np.exp(1j * latent[:, n_content])))
    panels = len(names) + (1 if invariant else 0)
    ncols = min(panels, 3)  # readable panels on a grid, not a strip
    nrows = int(np.ceil(panels / ncols))
    fig, axes = figure(nrows, ncols, figsize=(4.2 * ncols, 3.8 * nrows), squeeze=False, layout="constrained")
    for ax in axes.ravel()[panels:]:
        ax.set_axis_off()
    for ax, d, name in zip(axes.ravel(), range(len(names)), names):
        grid = to_grid(result.lattice.ij[rows], values[:, d], result.lattice.grid_shape, fill=np.nan)
        shown = ax.imshow(  # j downward, as on every cell grid of the report
            grid,
            interpolation="nearest",
            cmap="twilight" if name.startswith("angle") else "viridis",
            **({"vmin": -180, "vmax": 180} if name.startswith("angle") else {}),
        )
        ax.set_title(name)
        ax.set_xlabel("i")
        ax.set_ylabel("j")
        fig.colorbar(shown, ax=ax, shrink=0.8)
    if invariant:
        ax = axes.ravel()[panels - 1]
        ax.scatter(
            analysis.geometry.p_angle[rows], values[:, n_content], c=result.labels[rows], s=6, cmap="tab10"
        )
        ax.set_xlabel("polarization angle (deg)")
        ax.set_ylabel("rotation latent (deg)")
        ax.set_title("rotation latent vs polarization")
    return fig


def traversal_figure(model, steps: int = 7) -> Figure:
    """Decoded patches on a grid of the first two content latents, from -2 to +2 standard deviations.

    Parameters
    ----------
    model : rewardscope.learn.VAEClassifier
        A fitted VAE classifier (its ``latent_``, ``latent_dim``, ``patch_side`` and ``decode``).
    steps : int
        Patches along each latent.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_content = model.latent_dim
    latent = model.latent_[:, :n_content]
    centre, spread = latent.mean(axis=0), latent.std(axis=0) + 1e-6
    ticks = np.linspace(-2, 2, steps)
    grid_x, grid_y = np.meshgrid(ticks, ticks if n_content > 1 else [0.0])
    z = np.tile(centre, (grid_x.size, 1))
    z[:, 0] += grid_x.ravel() * spread[0]
    if n_content > 1:
        z[:, 1] += grid_y.ravel() * spread[1]
    classes = np.zeros(len(z), int) if model.conditional else None  # the largest class
    side = model.patch_side
    patches = model.decode(z, classes).reshape(grid_x.shape + (side, side))
    rows, cols = grid_x.shape
    # Beside the decoded patches, each one less the centre's: what the latents change, on a scale of its own
    # (the patches alone look alike where the change is a few per cent of the contrast).
    change = patches - patches[rows // 2, cols // 2]
    limit = max(float(np.abs(change).max()), 1e-12)
    fig, axes = figure(1, 2, figsize=(12, 6 * rows / cols + 0.8), layout="constrained")
    for ax, shown, title, style in (
        (axes[0], patches, "decoded patches", {"cmap": "gray"}),
        (axes[1], change, "less the centre patch", {"cmap": "coolwarm", "vmin": -limit, "vmax": limit}),
    ):
        image = ax.imshow(np.ma.masked_invalid(_mosaic(shown)), origin="lower", **style)
        _traversal_ticks(ax, ticks, side, n_content > 1)
        ax.set_title(title)
    fig.colorbar(image, ax=axes[1], shrink=0.8)
    return fig


def _mosaic(patches: np.ndarray) -> np.ndarray:
    """(rows, cols, side, side) patches as one image, a gap of NaN (drawn blank) between them."""
    rows, cols, side, _ = patches.shape
    gap = max(1, side // 8)  # patches apart, so that each reads as one
    mosaic = np.full((rows * (side + gap) - gap, cols * (side + gap) - gap), np.nan)
    for r in range(rows):
        for c in range(cols):
            mosaic[r * (side + gap) : r * (side + gap) + side, c * (side + gap) : c * (side + gap) + side] = (
                patches[r, c]
            )
    return mosaic


def _traversal_ticks(ax, ticks: np.ndarray, side: int, two: bool) -> None:
    """Each patch's latent values, in standard deviations, as the axes' ticks."""
    centres = np.arange(len(ticks)) * (side + max(1, side // 8)) + (side - 1) / 2
    ax.set_xticks(centres, [f"{v:+.1f}" for v in ticks])
    ax.set_xlabel("z0 (standard deviations from its mean)")
    if two:
        ax.set_yticks(centres, [f"{v:+.1f}" for v in ticks])
        ax.set_ylabel("z1 (standard deviations)")
    else:
        ax.set_yticks([])


def report_figures(analysis) -> dict[str, Callable[[], Figure]]:
    """The figures of an analysis's report, by file name, each drawn when called.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis drawn.

    Returns
    -------
    dict
        File name (a key of ``FIGURES``) to a function of no arguments drawing it; the VAE's figures
        only where the learner is a VAE.
    """
    result = analysis.result
    drawers: dict[str, Callable[[], Figure]] = {
        "columns.png": lambda: columns_figure(analysis.image.data, result.columns, analysis.image.pixel_size),
        "classes.png": lambda: classes_figure(analysis),
        "walls.png": lambda: walls_figure(analysis),
        "polarization.png": lambda: polarization_figure(analysis),
        "explained.png": lambda: explained_figure(analysis.classes, result.columns.period),
        "cell_maps.png": lambda: cell_maps_figure(analysis),
        "trials.png": lambda: trials_figure(analysis.trials, analysis.objectives),
        "landscape.png": lambda: landscape_figure(analysis.trials, analysis.space, result.config),
    }
    if is_vae(result.config.learner):
        drawers["latents.png"] = lambda: latents_figure(analysis)
        drawers["traversal.png"] = lambda: traversal_figure(analysis.model)
    return drawers


# What the series figure plots against composition: (column of series.csv, truth column or None, axis label).
SERIES_PANELS = (
    (
        "phase shares",
        (
            ("polar_share", "truth_polar_share"),
            ("antipolar_share", "truth_antipolar_share"),
            ("paraelectric_share", "truth_paraelectric_share"),
            ("offset_share", None),
        ),
        "share of the cells",
    ),
    (
        "mean |P|",
        (("mean_abs_p_pm", "truth_mean_abs_p_pm"), ("polar_abs_p_pm", "truth_polarization_pm")),
        "pm",
    ),
    ("lattice parameters", (("a_pm", "truth_lattice_pm"), ("b_pm", "truth_lattice_pm")), "pm"),
    ("antipolar order", (("antipolar_order_pm", None),), "mean |staggered A displacement|, pm"),
    ("walls", (("wall_density", None), ("straightness", None), ("continuity", None)), "per cell; 0 to 1"),
    ("reward", (("reward", None), ("own_reward", None)), "reward"),
)


def series_figure(compositions: list[dict], drops: list[dict]) -> Figure:
    """What a series shows against composition: each quantity's mean over a composition's frames with its
    spread as error bars, the truth beside it (open markers, dashed) where known, the reward drops shaded.

    Parameters
    ----------
    compositions : list of dict
        ``series.by_composition`` rows (``NAME_mean``, ``NAME_sd``).
    drops : list of dict
        ``series.reward_drops``: shaded on every panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = figure(2, 3, figsize=(13, 7), layout="constrained")
    x = np.array([r["composition"] for r in compositions], float)
    for ax, (title, curves, unit) in zip(axes.ravel(), SERIES_PANELS):
        for n, (name, truth) in enumerate(curves):
            mean = np.array([r.get(f"{name}_mean", np.nan) for r in compositions], float)
            if not np.isfinite(mean).any() or (truth is None and not np.nanmax(np.abs(mean)) > 0):
                continue  # nothing measured, or a share that is nowhere (no uniform offset)
            spread = np.array([r.get(f"{name}_sd", np.nan) for r in compositions], float)
            colour = f"C{n}"
            label = name.replace("_pm", "").replace("_", " ")
            ax.errorbar(x, mean, yerr=np.nan_to_num(spread), marker="o", color=colour, capsize=3, label=label)
            known = np.array([r.get(f"{truth}_mean", np.nan) for r in compositions], float) if truth else None
            if known is not None and np.isfinite(known).any():
                ax.plot(
                    x, known, "--", marker="s", mfc="none", color=colour, alpha=0.7, label=f"{label} (truth)"
                )
        for drop in drops:
            ax.axvspan(drop["composition"] - 0.8, drop["composition"] + 0.8, color="0.85", zorder=0)
        ax.set(title=title, xlabel="composition (% Sm)", ylabel=unit)
        if ax.lines:
            ax.legend(fontsize=7)
    return fig


def series_maps_figure(frames: list[dict], grids: list[np.ndarray], classes: list[dict]) -> Figure:
    """Every frame's map of the shared classes on its (i, j) cell grid, with one legend for all.

    Parameters
    ----------
    frames : list of dict
        The frames' rows (``frame``, ``composition``), in the order of ``grids``.
    grids : list of numpy.ndarray
        Each frame's class per cell (-1: unclassified).
    classes : list of dict
        The shared classes (``label``, ``name``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Patch

    k = len(classes)
    ncols = min(5, len(grids))
    nrows = int(np.ceil(len(grids) / ncols))
    fig, axes = figure(
        nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows + 0.6), layout="constrained", squeeze=False
    )
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, row, grid in zip(axes.ravel(), frames, grids):
        show_classes(ax, grid, k)
        ax.set_title(f"{row['frame']} ({row['composition']:g}% Sm)", fontsize=8)
    handles = [Patch(color=c, label=f"{e['label']}: {e['name']}") for c, e in zip(class_colours(k), classes)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(k, 3), fontsize=8)
    return fig


class AnalysisPlots:
    """The report's figures of one analysis, each a method returning a matplotlib ``Figure``
    (``analysis.plot.classes()``): to show in a notebook, arrange, or save as you like.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis drawn.

    Examples
    --------
    >>> from rewardscope import analyze, synthesize
    >>> analysis = analyze(synthesize("stripes", size=128).image, n_trials=2, progress=False)
    >>> type(analysis.plot.classes()).__name__, "latents" in analysis.plot.available()
    ('Figure', False)
    """

    def __init__(self, analysis) -> None:
        self._drawers = report_figures(analysis)

    def available(self) -> list[str]:
        """The figures this analysis has (the VAE's only where its learner is one)."""
        return [name.removesuffix(".png") for name in self._drawers]

    def _draw(self, name: str) -> Figure:
        if f"{name}.png" not in self._drawers:
            from .errors import RewardscopeError

            raise RewardscopeError(f"no {name} figure: this analysis has {', '.join(self.available())}")
        return self._drawers[f"{name}.png"]()

    def columns(self) -> Figure:
        """The atom columns on the image, by sublattice."""
        return self._draw("columns")

    def classes(self) -> Figure:
        """The classes on the image and on the cell grid, with their names."""
        return self._draw("classes")

    def walls(self) -> Figure:
        """The wall cells on the class map."""
        return self._draw("walls")

    def polarization(self) -> Figure:
        """The polar displacements as arrows on the image, coloured on the direction wheel."""
        return self._draw("polarization")

    def explained(self) -> Figure:
        """Each class's mean patch, mean displacement and name."""
        return self._draw("explained")

    def cell_maps(self) -> Figure:
        """Polarization, ``|P|``, strain and antipolar order on the cell grid."""
        return self._draw("cell_maps")

    def trials(self) -> Figure:
        """The reward of every trial and the best so far."""
        return self._draw("trials")

    def landscape(self) -> Figure:
        """The reward landscape over the searched settings."""
        return self._draw("landscape")

    def latents(self) -> Figure:
        """A VAE's latents on the cell grid."""
        return self._draw("latents")

    def traversal(self) -> Figure:
        """A VAE's latent traversal."""
        return self._draw("traversal")
