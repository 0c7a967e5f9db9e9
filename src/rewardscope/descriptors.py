"""Descriptors: what the unsupervised learners see of each unit cell.

* ``patch``: the B-centred image patch of side ``window`` (standardised);
* ``polarization``: the B-site polar displacement in lattice periods;
* ``lattice``: cell strain along a and b, shear (angle - 90 deg) and the
  antipolar A-site displacement, in periods and radians;
* ``patch+polarization``: both blocks, each scaled to unit total variance so
  that neither drowns the other.

Any of them may be ``pooled``: averaged over each cell's neighbours on the cell grid, for low-dose
frames where one cell's descriptor is mostly noise but a domain's cells share theirs.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .config import DESCRIPTORS as KINDS
from .errors import RewardscopeError


def patches(image: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """Square ``window`` x ``window`` patches centred (sub-pixel, bilinear) on ``centres`` (n, 2).

    Each patch is standardised (zero mean, unit variance) so that thickness and
    background variation across the image do not become classes. Returns (n, window**2).
    Pixels beyond the frame are mirrored in.
    """
    window = int(window)
    if window < 3:
        raise RewardscopeError(f"`window` must be >= 3 px, got {window=}")
    if window > min(image.shape):
        raise RewardscopeError(f"`window` of {window} px is larger than the image {image.shape}")
    centres = np.asarray(centres, float)
    offsets = np.arange(window) - (window - 1) / 2
    ox, oy = np.meshgrid(offsets, offsets)
    x = centres[:, 0, None] + ox.ravel()[None]
    y = centres[:, 1, None] + oy.ravel()[None]
    values = ndimage.map_coordinates(np.asarray(image, float), [y.ravel(), x.ravel()], order=1, mode="mirror")
    values = values.reshape(len(centres), window * window)
    values -= values.mean(axis=1, keepdims=True)
    scale = values.std(axis=1, keepdims=True)
    return values / np.where(scale > 0, scale, 1.0)


def within_frame(centres: np.ndarray, window: int, shape: tuple[int, int]) -> np.ndarray:
    """True for the patches of side ``window`` around ``centres`` (n, 2; x, y) that lie wholly inside an
    image of ``shape``: nothing of them mirrored in."""
    half = (int(window) - 1) / 2
    x, y = np.asarray(centres, float).T
    return (x - half >= 0) & (y - half >= 0) & (x + half <= shape[1] - 1) & (y + half <= shape[0] - 1)


def frame_edge(
    centres: np.ndarray, ij: np.ndarray, window: int, shape: tuple[int, int], pooling: int = 0
) -> np.ndarray:
    """True for the cells whose descriptor the frame's border touches: their patch of side ``window`` is
    cut, or, with descriptors pooled over ``pooling`` cells, a cell they are pooled with has a cut patch."""
    edge = ~within_frame(centres, window, shape)
    return pooled(edge[:, None].astype(float), ij, pooling)[:, 0] > 0 if pooling > 0 else edge


def physical(kind: str, polarization: np.ndarray, geometry, period: float) -> np.ndarray:
    """Physical descriptors (n, d) of the ``polarization`` or ``lattice`` kind for the given rows."""
    if kind == "polarization":
        return np.asarray(polarization, float) / period
    if kind == "lattice":
        return np.column_stack(
            [
                geometry["strain_a"],
                geometry["strain_b"],
                np.deg2rad(geometry["angle"] - 90.0),
                geometry["antipolar"] / period,
            ]
        )
    raise RewardscopeError(f"unknown descriptor {kind!r}; choose one of {', '.join(KINDS)}")


def balanced(*blocks: np.ndarray) -> np.ndarray:
    """Concatenate descriptor blocks, each scaled to unit total variance."""
    scaled = []
    for block in blocks:
        centred = block - block.mean(axis=0)
        total = np.sqrt(np.sum(centred.var(axis=0)))
        scaled.append(centred / (total if total > 0 else 1.0))
    return np.hstack(scaled)


def pooled(X: np.ndarray, ij: np.ndarray, radius: int | tuple[int, int]) -> np.ndarray:
    """Each row of ``X`` (one per cell at ``ij``, (n, 2): i, j) averaged with those of the cells within
    ``radius`` cells along i and j (a (2 radius + 1)^2 square, the cells present), or within
    ``radius = (along i, along j)`` cells (a rectangle, a line where one is 0); ``radius`` 0: ``X``."""
    along_i, along_j = (radius, radius) if np.ndim(radius) == 0 else radius
    if along_i <= 0 and along_j <= 0:
        return X
    ij = np.asarray(ij, int)
    shape = (int(ij[:, 1].max()) + 1, int(ij[:, 0].max()) + 1)
    size = (
        2 * max(int(along_j), 0) + 1,
        2 * max(int(along_i), 0) + 1,
    )  # (rows: j, columns: i) of the cell grid
    present = np.zeros(shape)
    present[ij[:, 1], ij[:, 0]] = 1.0
    count = ndimage.uniform_filter(present, size, mode="constant")[ij[:, 1], ij[:, 0]]
    out = np.empty_like(np.asarray(X, float))
    for column in range(X.shape[1]):
        grid = np.zeros(shape)
        grid[ij[:, 1], ij[:, 0]] = X[:, column]
        out[:, column] = ndimage.uniform_filter(grid, size, mode="constant")[ij[:, 1], ij[:, 0]] / count
    return out
