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
    background variation across the image do not become classes. Pixels beyond the frame are
    mirrored in.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    centres : numpy.ndarray
        (n, 2) patch centres (x, y), px.
    window : int
        Side of each patch, px (3 or more, at most the image's smaller side).

    Returns
    -------
    numpy.ndarray
        (n, window**2) standardised patches, row-major.

    Raises
    ------
    RewardscopeError
        For a window below 3 px or larger than the image.

    Examples
    --------
    >>> image = np.arange(100.0).reshape(10, 10)
    >>> patches(image, np.array([[4.0, 4.0]]), 3).round(3).tolist()
    [[-1.341, -1.219, -1.097, -0.122, 0.0, 0.122, 1.097, 1.219, 1.341]]
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
    """True for the patches of side ``window`` around ``centres`` that lie wholly inside the image.

    Parameters
    ----------
    centres : numpy.ndarray
        (n, 2) patch centres (x, y), px.
    window : int
        Side of each patch, px.
    shape : tuple of int
        (rows, cols) of the image.

    Returns
    -------
    numpy.ndarray
        (n,) bool: nothing of the patch mirrored in.

    Examples
    --------
    >>> within_frame(np.array([[1.0, 5.0], [5.0, 5.0]]), 5, (10, 10)).tolist()
    [False, True]
    """
    half = (int(window) - 1) / 2
    x, y = np.asarray(centres, float).T
    return (x - half >= 0) & (y - half >= 0) & (x + half <= shape[1] - 1) & (y + half <= shape[0] - 1)


def frame_edge(
    centres: np.ndarray, ij: np.ndarray, window: int, shape: tuple[int, int], pooling: int = 0
) -> np.ndarray:
    """True for the cells whose descriptor the frame's border touches.

    Their patch of side ``window`` is cut, or, with descriptors pooled over ``pooling`` cells, a cell
    they are pooled with has a cut patch.

    Parameters
    ----------
    centres : numpy.ndarray
        (n, 2) patch centres (x, y), px.
    ij : numpy.ndarray
        (n, 2) cell indices (i, j).
    window : int
        Side of each patch, px.
    shape : tuple of int
        (rows, cols) of the image.
    pooling : int, optional
        The pooling radius in cells (0: none).

    Returns
    -------
    numpy.ndarray
        (n,) bool.

    Examples
    --------
    >>> centres, ij = np.array([[1.0, 5.0], [5.0, 5.0]]), np.array([[0, 0], [1, 0]])
    >>> frame_edge(centres, ij, 5, (10, 10), pooling=1).tolist()
    [True, True]
    """
    edge = ~within_frame(centres, window, shape)
    return pooled(edge[:, None].astype(float), ij, pooling)[:, 0] > 0 if pooling > 0 else edge


def physical(kind: str, polarization: np.ndarray, geometry, period: float) -> np.ndarray:
    """Physical descriptors (n, d) of the ``polarization`` or ``lattice`` kind for the given rows.

    Parameters
    ----------
    kind : str
        ``"polarization"`` or ``"lattice"``.
    polarization : numpy.ndarray
        (n, 2) polar displacements, px.
    geometry : mapping
        Per-row ``strain_a``, ``strain_b``, ``angle`` (degrees) and ``antipolar`` (px), as
        `rewardscope.lattice.CellGeometry.as_dict` gives.
    period : float
        The lattice period, px.

    Returns
    -------
    numpy.ndarray
        (n, 2) P in periods, or (n, 4) strain a, strain b, shear (rad) and antipolar order (periods).

    Raises
    ------
    RewardscopeError
        For another kind.

    Examples
    --------
    >>> physical("polarization", np.array([[1.0, -2.0]]), None, 10.0).tolist()
    [[0.1, -0.2]]
    """
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
    """Concatenate descriptor blocks, each scaled to unit total variance.

    Parameters
    ----------
    *blocks : numpy.ndarray
        (n, d_k) descriptor blocks of the same rows.

    Returns
    -------
    numpy.ndarray
        (n, sum d_k), each block centred and of total variance 1 (a constant block stays 0).

    Examples
    --------
    >>> X = balanced(np.array([[0.0], [2.0]]), np.array([[0.0, 0.0], [10.0, 10.0]]))
    >>> X.var(axis=0).sum().round(6)
    np.float64(2.0)
    """
    scaled = []
    for block in blocks:
        centred = block - block.mean(axis=0)
        total = np.sqrt(np.sum(centred.var(axis=0)))
        scaled.append(centred / (total if total > 0 else 1.0))
    return np.hstack(scaled)


def pooled(X: np.ndarray, ij: np.ndarray, radius: int | tuple[int, int]) -> np.ndarray:
    """Each row of ``X`` averaged with those of the cells within ``radius`` cells.

    Parameters
    ----------
    X : numpy.ndarray
        (n, d) one row per cell.
    ij : numpy.ndarray
        (n, 2) the cells' indices (i, j).
    radius : int or tuple of int
        Within ``radius`` cells along i and j (a (2 radius + 1)^2 square, the cells present), or
        ``(along i, along j)`` cells (a rectangle, a line where one is 0); 0: ``X`` itself.

    Returns
    -------
    numpy.ndarray
        (n, d) the pooled rows.

    Examples
    --------
    >>> pooled(np.array([[0.0], [3.0], [6.0]]), np.array([[0, 0], [1, 0], [2, 0]]), 1).ravel().tolist()
    [1.5, 3.0, 4.5]
    """
    along_i, along_j = np.broadcast_to(np.asarray(radius), (2,)).tolist()  # one radius, or one per axis
    if along_i <= 0 and along_j <= 0:
        return X
    ij = np.asarray(ij, int)
    shape = (int(ij[:, 1].max()) + 1, int(ij[:, 0].max()) + 1)
    # (rows: j, columns: i) of the cell grid
    size = (2 * max(int(along_j), 0) + 1, 2 * max(int(along_i), 0) + 1)
    present = np.zeros(shape)
    present[ij[:, 1], ij[:, 0]] = 1.0
    count = ndimage.uniform_filter(present, size, mode="constant")[ij[:, 1], ij[:, 0]]
    out = np.empty_like(np.asarray(X, float))
    for column in range(X.shape[1]):
        grid = np.zeros(shape)
        grid[ij[:, 1], ij[:, 0]] = X[:, column]
        out[:, column] = ndimage.uniform_filter(grid, size, mode="constant")[ij[:, 1], ij[:, 0]] / count
    return out
