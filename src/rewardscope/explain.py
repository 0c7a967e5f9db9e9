"""Explained classes: what each class is, in the physics of its unit cells.

For every class: its share of the cells, the mean B-centred patch, the mean
polar displacement and its spread, the mean lattice parameters and antipolar
order, and a plain name derived from them:

* ``polar, P along +a+b`` (or ``+a``, ``-b``, ...) when the mean displacement
  exceeds ``POLAR_THRESHOLD`` lattice periods; the direction is named by the
  signs of its components along a1 and a2, a component under 40% of the
  magnitude (beyond ~22 deg from the axis) left out;
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
    parts = [f"{'+' if value > 0 else '-'}{axis}" for value, axis in zip(along, "ab") if abs(value) >= 0.4 * magnitude]
    return "".join(parts)


def name_class(mean_p: np.ndarray, antipolar: float, basis: np.ndarray) -> str:
    period = float(np.linalg.norm(basis, axis=1).min())
    if not np.all(np.isfinite(mean_p)) and not np.isfinite(antipolar):
        return "unmeasured (incomplete cells)"
    if np.all(np.isfinite(mean_p)) and np.hypot(*mean_p) >= POLAR_THRESHOLD * period:
        return f"polar, P along {direction_name(mean_p, basis)}"
    if np.isfinite(antipolar) and antipolar >= ANTIPOLAR_THRESHOLD * period:
        return "antipolar"
    return "paraelectric"


def explain_classes(result, geometry, image: np.ndarray, window: int, pixel_size: float | None = None) -> list[dict]:
    """One dict per class with its share, physics and plain name, and its mean patch (``window`` px)."""
    labels = result.labels
    classified = np.flatnonzero(labels >= 0)
    period = result.columns.period
    means = patches(image, result.columns.xy[classified], window) if len(classified) else np.zeros((0, window * window))
    classes = []
    for k in range(result.config.n_classes):
        rows = classified[labels[classified] == k]
        p = result.lattice.polarization[rows]
        p = p[np.all(np.isfinite(p), axis=1)]
        mean_p = p.mean(axis=0) if len(p) else np.full(2, np.nan)
        antipolar = float(np.nanmedian(np.abs(geometry.antipolar[rows]))) if np.isfinite(geometry.antipolar[rows]).any() else float("nan")
        entry = {
            "label": k,
            "name": name_class(mean_p, antipolar, result.lattice.basis),
            "share": float(len(rows) / max(len(classified), 1)),
            "cells": int(len(rows)),
            "polarization_px": [float(v) for v in mean_p],
            "polarization_spread_px": float(np.sqrt(np.mean(np.sum((p - mean_p) ** 2, axis=1)))) if len(p) > 1 else float("nan"),
            "polarization_magnitude_over_period": float(np.hypot(*mean_p) / period),
            "antipolar_px": antipolar,
            "a_px": float(np.nanmean(geometry.a[rows])) if np.isfinite(geometry.a[rows]).any() else float("nan"),
            "b_px": float(np.nanmean(geometry.b[rows])) if np.isfinite(geometry.b[rows]).any() else float("nan"),
            "angle_deg": float(np.nanmean(geometry.angle[rows])) if np.isfinite(geometry.angle[rows]).any() else float("nan"),
            "mean_patch": means[labels[classified] == k].mean(axis=0).reshape(window, window) if len(rows) else np.zeros((window, window)),
        }
        if pixel_size:
            entry["polarization_pm"] = [v * pixel_size for v in entry["polarization_px"]]
        classes.append(entry)
    return classes
