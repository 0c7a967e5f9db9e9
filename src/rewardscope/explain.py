"""Explained classes: what each class is, in the physics of its unit cells.

For every class: its share of the cells, the mean B-centred patch, the mean
polar displacement and its spread, the mean lattice parameters and antipolar
order, and a plain name derived from them:

* ``polar, P along +a+b`` (or ``+a``, ``-b``, ...) when the mean displacement
  exceeds ``POLAR_THRESHOLD`` lattice periods and three times its standard
  error (a bootstrap over the class's cells), and the classes differ in it; the
  direction is named by the signs of its components along a1 and a2, a
  component under 40% of the magnitude (beyond ~22 deg from the axis) left out;
* ``uniform offset of B along ...`` when such a displacement is shared by the
  whole frame (one class, or classes whose mean displacements differ by less
  than the threshold): one polar domain, or a specimen mistilt or probe tails,
  which one frame cannot tell apart;
* ``antipolar`` when the staggered A-site displacement exceeds
  ``ANTIPOLAR_THRESHOLD`` periods and the cell is not polar;
* ``paraelectric`` otherwise;
* ``unmeasured (incomplete cells)`` when none of its cells has all four A
  corners (cells cut by the frame), so there is no physics to name it by.
"""

from __future__ import annotations

import numpy as np

from .descriptors import patches
from .geometry import period_of

POLAR_THRESHOLD = 0.03  # |mean P| / period
ANTIPOLAR_THRESHOLD = 0.02  # median |staggered A displacement| / period


def direction_name(p: np.ndarray, basis: np.ndarray) -> str:
    """``'+a+b'``, ``'-a'``, ... for a displacement in the lattice basis.

    A component under 40% of the magnitude (beyond ~22 deg from the axis) is left out.

    Parameters
    ----------
    p : (2,) array
        The displacement (x, y), px.
    basis : (2, 2) array
        Rows are the lattice vectors a1, a2 in (x, y).

    Returns
    -------
    str

    Examples
    --------
    >>> square = np.array([[16.0, 0.0], [0.0, 16.0]])
    >>> direction_name(np.array([1.0, 1.0]), square), direction_name(np.array([0.2, -1.0]), square)
    ('+a+b', '-b')
    """
    along = np.linalg.solve(basis.T, p) * np.linalg.norm(basis, axis=1)  # components along a1, a2 in px
    magnitude = np.hypot(*along)
    parts = [
        f"{'+' if value > 0 else '-'}{axis}"
        for value, axis in zip(along, "ab")
        if abs(value) >= 0.4 * magnitude
    ]
    return "".join(parts)


ALIKE = (
    "alike in P: the classes differ in their patches (thickness, focus or chemistry), not as ferroic variants"
)


def name_class(
    mean_p: np.ndarray, antipolar: float, basis: np.ndarray, error: float = 0.0, shared: bool = False
) -> str:
    """The plain name of a class from its mean displacement and antipolar order.

    Parameters
    ----------
    mean_p : (2,) array
        The class's mean displacement, px (NaN where unmeasured).
    antipolar : float
        Its median staggered A displacement, px (NaN where unmeasured).
    basis : (2, 2) array
        Rows are the lattice vectors a1, a2 in (x, y), px.
    error : float, default 0.0
        The standard error of ``mean_p``; NaN where unknown (no evidence of polarity).
    shared : bool, default False
        Whether the displacement is shared by the whole frame (named a uniform offset, not polar).

    Returns
    -------
    str

    Examples
    --------
    >>> square = np.array([[16.0, 0.0], [0.0, 16.0]])
    >>> name_class(np.array([1.0, 1.0]), 0.0, square)
    'polar, P along +a+b'
    >>> name_class(np.array([0.05, 0.0]), 0.6, square)
    'antipolar'
    """
    period = period_of(basis)
    if not np.all(np.isfinite(mean_p)) and not np.isfinite(antipolar):
        return "unmeasured (incomplete cells)"
    magnitude = np.hypot(*mean_p) if np.all(np.isfinite(mean_p)) else 0.0
    # An unknown error is no evidence.
    if magnitude >= POLAR_THRESHOLD * period and np.isfinite(error) and magnitude >= 3 * error:
        if shared:
            return (
                f"uniform offset of B along {direction_name(mean_p, basis)} "
                "(one polar domain, or specimen mistilt or probe tails)"
            )
        return f"polar, P along {direction_name(mean_p, basis)}"
    if np.isfinite(antipolar) and antipolar >= ANTIPOLAR_THRESHOLD * period:
        return "antipolar"
    return "paraelectric"


def mean_and_interval(
    p: np.ndarray, seed: int = 0, n_boot: int = 400
) -> tuple[np.ndarray, float, np.ndarray]:
    """The mean of displacements, its standard error and 95% interval, from a bootstrap over the cells.

    Parameters
    ----------
    p : (n, 2) array
        The cells' displacements, px.
    seed : int, default 0
        Seed of the bootstrap.
    n_boot : int, default 400
        The bootstrap's resamples.

    Returns
    -------
    mean : (2,) array
    error : float
        The standard error of the mean (px, both components together); NaN for fewer than two cells.
    interval : (2, 2) array
        Per component, the 2.5th and 97.5th percentiles.

    Examples
    --------
    >>> mean, error, interval = mean_and_interval(np.array([[1.0, 0.0], [3.0, 0.0]]))
    >>> mean.tolist(), bool(0 < error < 1)
    ([2.0, 0.0], True)
    """
    # One cell has no spread to bootstrap: its error is unknown.
    if len(p) < 2:
        return (p[0] if len(p) else np.full(2, np.nan)), float("nan"), np.full((2, 2), np.nan)
    rng = np.random.default_rng(seed)
    boot = p[rng.integers(0, len(p), (n_boot, len(p)))].mean(axis=1)
    error = float(np.sqrt(np.sum(boot.var(axis=0))))
    return p.mean(axis=0), error, np.percentile(boot, [2.5, 97.5], axis=0).T


def explain_classes(
    result,
    geometry,
    image: np.ndarray,
    window: int,
    pixel_size: float | None = None,
    referenced: bool = False,
) -> list[dict]:
    """One dict per class with its share, physics and plain name, and its mean patch.

    Parameters
    ----------
    result : workflow.Result
        The class map (its labels, columns, lattice and config).
    geometry : lattice geometry
        The cells' lattice parameters ``a``, ``b``, ``angle`` and ``antipolar`` order, per column.
    image : (rows, cols) array
        The image the mean patches are cut from.
    window : int
        The mean patch's side, px.
    pixel_size : float, optional
        pm per px: the polarization is given in pm too.
    referenced : bool, default False
        P is measured from a reference's mean, so a displacement the frame shares is polar too.

    Returns
    -------
    list of dict
        Per class: ``label``, ``name``, ``share``, ``cells``, the mean polarization with its
        standard error, 95% interval and spread (px, and pm with ``pixel_size``), its magnitude over
        the period, the antipolar order, the mean ``a_px``, ``b_px``, ``angle_deg``, the
        ``mean_patch`` and the class's ``domains``.
    """
    labels = result.labels
    classified = np.flatnonzero(labels >= 0)
    means = (
        patches(image, result.columns.xy[classified], window)
        if len(classified)
        else np.zeros((0, window * window))
    )
    measured, stats, shared = _measured(result, classified, referenced)
    classes = []
    for k, ((rows, p), (mean_p, error, interval)) in enumerate(zip(measured, stats)):
        mean_patch = (
            means[labels[classified] == k].mean(axis=0).reshape(window, window)
            if len(rows)
            else np.zeros((window, window))
        )
        entry = _class_entry(result, geometry, k, rows, p, (mean_p, error, interval), shared, mean_patch)
        if pixel_size:
            entry["polarization_pm"] = [v * pixel_size for v in entry["polarization_px"]]
            entry["polarization_error_pm"] = error * pixel_size
            entry["polarization_interval_pm"] = (interval * pixel_size).tolist()
        entry["domains"] = domains(result, k, pixel_size)
        classes.append(entry)
    # Alike in physics: say what tells them apart.
    if len(classes) > 1 and len({entry["name"] for entry in classes}) == 1:
        for entry in classes:
            entry["name"] += f"; {ALIKE}"
    return classes


def _measured(result, classified: np.ndarray, referenced: bool) -> tuple[list, list, bool]:
    """Each class's rows and measured displacements, their mean and interval, and whether the frame
    shares one displacement."""
    labels = result.labels
    measured = []
    for k in range(result.config.n_classes):
        rows = classified[labels[classified] == k]
        p = result.lattice.polarization[rows]
        measured.append((rows, p[np.all(np.isfinite(p), axis=1)]))
    stats = [mean_and_interval(p, seed=k) for k, (_, p) in enumerate(measured)]
    # A displacement every class shares is the frame's, not a polar variant's.
    centres = [mean for mean, _, _ in stats if np.all(np.isfinite(mean))]
    shared = not referenced and all(
        np.hypot(*(a - b)) < POLAR_THRESHOLD * result.columns.period for a in centres for b in centres
    )
    return measured, stats, shared


def finite_stat(values, statistic=np.nanmean) -> float:
    """``statistic`` (a NaN-ignoring reduction) of the finite values, NaN where none is, without numpy's
    warning.

    Parameters
    ----------
    values : array-like
        Numbers, NaN where unmeasured.
    statistic : callable, default numpy.nanmean
        ``np.nanmean``, ``np.nanstd``, ``np.nanmedian``...

    Returns
    -------
    float

    Examples
    --------
    >>> finite_stat([1.0, float("nan"), 3.0]), finite_stat([float("nan")])
    (2.0, nan)
    """
    values = np.asarray(values, float)
    return float(statistic(values)) if np.isfinite(values).any() else float("nan")


def _class_entry(result, geometry, k, rows, p, stats, shared: bool, mean_patch: np.ndarray) -> dict:
    """``explain_classes``' dict of class ``k`` (rows ``rows``, measured displacements ``p``), in px."""
    mean_p, error, interval = stats
    period = result.columns.period
    n_classified = int(np.sum(result.labels >= 0))
    antipolar = (
        float(np.nanmedian(np.abs(geometry.antipolar[rows])))
        if np.isfinite(geometry.antipolar[rows]).any()
        else float("nan")
    )
    return {
        "label": k,
        "name": name_class(mean_p, antipolar, result.lattice.basis, error, shared),
        "share": float(len(rows) / max(n_classified, 1)),
        "cells": int(len(rows)),
        "polarization_px": [float(v) for v in mean_p],
        "polarization_error_px": error,  # standard error of the mean (bootstrap over the cells)
        "polarization_interval_px": interval.tolist(),  # 95% interval of each component
        "polarization_spread_px": float(np.sqrt(np.mean(np.sum((p - mean_p) ** 2, axis=1))))
        if len(p) > 1
        else float("nan"),
        "polarization_magnitude_over_period": float(np.hypot(*mean_p) / period),
        "antipolar_px": antipolar,
        "a_px": finite_stat(geometry.a[rows]),
        "b_px": finite_stat(geometry.b[rows]),
        "angle_deg": finite_stat(geometry.angle[rows]),
        "mean_patch": mean_patch,
    }


def domains(
    result, k: int, pixel_size: float | None = None, min_cells: int = 4, most: int = 10
) -> list[dict]:
    """The domains of class ``k``, largest first: connected regions (4-neighbours) of the cell grid.

    Each with its cells, centre (px) and mean P with its standard error, which at low dose, where one
    cell's P is mostly noise, is the measurement to read.

    Parameters
    ----------
    result : workflow.Result
        The class map.
    k : int
        The class.
    pixel_size : float, optional
        pm per px: the polarization is given in pm too.
    min_cells : int, default 4
        The smallest domain listed.
    most : int, default 10
        The most domains listed.

    Returns
    -------
    list of dict
        ``cells``, ``centre_px``, ``polarization_px``, ``polarization_error_px`` (and in pm).
    """
    from scipy import ndimage

    from .lattice import to_grid

    b = np.flatnonzero(result.labels == k)
    if len(b) == 0:
        return []
    ij = result.lattice.ij[b]
    regions, _ = ndimage.label(to_grid(ij, np.ones(len(b), int), result.lattice.grid_shape, fill=0))
    region = regions[ij[:, 1], ij[:, 0]]
    sizes = np.bincount(region)
    out: list[dict] = []
    for label in np.argsort(-sizes, kind="stable"):
        if label == 0 or sizes[label] < min_cells or len(out) == most:
            continue
        rows = b[region == label]
        p = result.lattice.polarization[rows]
        mean_p, error, _ = mean_and_interval(p[np.all(np.isfinite(p), axis=1)], seed=int(label))
        entry = {
            "cells": int(sizes[label]),
            "centre_px": result.columns.xy[rows].mean(axis=0).tolist(),
            "polarization_px": mean_p.tolist(),
            "polarization_error_px": error,
        }
        if pixel_size:
            entry["polarization_pm"], entry["polarization_error_pm"] = (
                (mean_p * pixel_size).tolist(),
                error * pixel_size,
            )
        out.append(entry)
    return out
