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

POLAR_THRESHOLD = 0.03  # |mean P| / period
ANTIPOLAR_THRESHOLD = 0.02  # median |staggered A displacement| / period


def direction_name(p: np.ndarray, basis: np.ndarray) -> str:
    """'+a+b', '-a', ... for a displacement ``p`` (x, y) in the lattice basis (rows a1, a2)."""
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
    """The plain name of a class from its mean displacement ``mean_p`` (px; ``error`` its standard error, NaN
    where unknown),
    its antipolar order, and whether the displacement is ``shared`` by the whole frame."""
    period = float(np.linalg.norm(basis, axis=1).min())
    if not np.all(np.isfinite(mean_p)) and not np.isfinite(antipolar):
        return "unmeasured (incomplete cells)"
    magnitude = np.hypot(*mean_p) if np.all(np.isfinite(mean_p)) else 0.0
    if (
        magnitude >= POLAR_THRESHOLD * period and np.isfinite(error) and magnitude >= 3 * error
    ):  # an unknown error is no evidence
        if shared:
            return f"uniform offset of B along {direction_name(mean_p, basis)} (one polar domain, or specimen mistilt or probe tails)"
        return f"polar, P along {direction_name(mean_p, basis)}"
    if np.isfinite(antipolar) and antipolar >= ANTIPOLAR_THRESHOLD * period:
        return "antipolar"
    return "paraelectric"


def mean_and_interval(
    p: np.ndarray, seed: int = 0, n_boot: int = 400
) -> tuple[np.ndarray, float, np.ndarray]:
    """The mean of displacements ``p`` (n, 2), the standard error of the mean (px, both components
    together) and its 95% interval per component (2, 2), from a bootstrap over the cells."""
    if len(p) < 2:  # one cell has no spread to bootstrap: its error is unknown
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
    """One dict per class with its share, physics and plain name, and its mean patch (``window`` px).
    ``referenced``: P is measured from a reference's mean, so a displacement the frame shares is polar too."""
    labels = result.labels
    classified = np.flatnonzero(labels >= 0)
    period = result.columns.period
    means = (
        patches(image, result.columns.xy[classified], window)
        if len(classified)
        else np.zeros((0, window * window))
    )
    measured = []
    for k in range(result.config.n_classes):
        rows = classified[labels[classified] == k]
        p = result.lattice.polarization[rows]
        measured.append((rows, p[np.all(np.isfinite(p), axis=1)]))
    stats = [mean_and_interval(p, seed=k) for k, (_, p) in enumerate(measured)]
    # A displacement every class shares is the frame's, not a polar variant's.
    centres = [mean for mean, _, _ in stats if np.all(np.isfinite(mean))]
    shared = not referenced and all(
        np.hypot(*(a - b)) < POLAR_THRESHOLD * period for a in centres for b in centres
    )
    classes = []
    for k, ((rows, p), (mean_p, error, interval)) in enumerate(zip(measured, stats)):
        antipolar = (
            float(np.nanmedian(np.abs(geometry.antipolar[rows])))
            if np.isfinite(geometry.antipolar[rows]).any()
            else float("nan")
        )
        entry = {
            "label": k,
            "name": name_class(mean_p, antipolar, result.lattice.basis, error, shared),
            "share": float(len(rows) / max(len(classified), 1)),
            "cells": int(len(rows)),
            "polarization_px": [float(v) for v in mean_p],
            "polarization_error_px": error,  # standard error of the mean (bootstrap over the cells)
            "polarization_interval_px": interval.tolist(),  # 95% interval of each component
            "polarization_spread_px": float(np.sqrt(np.mean(np.sum((p - mean_p) ** 2, axis=1))))
            if len(p) > 1
            else float("nan"),
            "polarization_magnitude_over_period": float(np.hypot(*mean_p) / period),
            "antipolar_px": antipolar,
            "a_px": float(np.nanmean(geometry.a[rows]))
            if np.isfinite(geometry.a[rows]).any()
            else float("nan"),
            "b_px": float(np.nanmean(geometry.b[rows]))
            if np.isfinite(geometry.b[rows]).any()
            else float("nan"),
            "angle_deg": float(np.nanmean(geometry.angle[rows]))
            if np.isfinite(geometry.angle[rows]).any()
            else float("nan"),
            "mean_patch": means[labels[classified] == k].mean(axis=0).reshape(window, window)
            if len(rows)
            else np.zeros((window, window)),
        }
        if pixel_size:
            entry["polarization_pm"] = [v * pixel_size for v in entry["polarization_px"]]
            entry["polarization_error_pm"] = error * pixel_size
            entry["polarization_interval_pm"] = (interval * pixel_size).tolist()
        entry["domains"] = domains(result, k, pixel_size)
        classes.append(entry)
    if (
        len(classes) > 1 and len({entry["name"] for entry in classes}) == 1
    ):  # alike in physics: say what tells them apart
        for entry in classes:
            entry["name"] += f"; {ALIKE}"
    return classes


def domains(
    result, k: int, pixel_size: float | None = None, min_cells: int = 4, most: int = 10
) -> list[dict]:
    """The domains of class ``k``, largest first (at most ``most``, of ``min_cells`` cells or more): connected
    regions of the cell grid (4-neighbours), each with its cells, centre (px) and mean P with its standard
    error, which at low dose, where one cell's P is mostly noise, is the measurement to read."""
    from scipy import ndimage

    from .lattice import to_grid

    b = np.flatnonzero(result.labels == k)
    if len(b) == 0:
        return []
    ij = result.lattice.ij[b]
    regions, _ = ndimage.label(to_grid(ij, np.ones(len(b), int), result.lattice.grid_shape, fill=0))
    region = regions[ij[:, 1], ij[:, 0]]
    sizes = np.bincount(region)
    out = []
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
