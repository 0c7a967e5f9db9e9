"""Lattice geometry shared by the stages: the basis from the image, and lattice coordinates.

A *basis* is a (2, 2) array whose rows are the lattice vectors a1, a2 in
(x, y) px; a1 points closest to +x, a2 completes it with positive y.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .errors import RewardscopeError


def period_of(basis: np.ndarray) -> float:
    """The lattice period: the length of the shorter lattice vector, in the basis's units.

    Parameters
    ----------
    basis : (2, 2) array
        Rows are the lattice vectors a1, a2 in (x, y).

    Returns
    -------
    float
        The shorter vector's length.

    Examples
    --------
    >>> period_of(np.array([[12.0, 0.0], [0.0, 10.0]]))
    10.0
    """
    return float(np.linalg.norm(basis, axis=1).min())


def _local_maxima(image: np.ndarray, threshold: float) -> np.ndarray:
    """(row, col) of the pixels above ``threshold`` that are the maximum of their 5 x 5 neighbourhood.

    One pixel or more from the border, strongest first: skimage's peak_local_max(min_distance=2)
    without its spacing pass, which costs seconds on the autocorrelation of a small period (tens of
    thousands of peaks) and has nothing to do where the values are distinct.
    """
    peaks = np.argwhere(
        (image == ndimage.maximum_filter(image, size=5, mode="nearest")) & (image > threshold)
    )
    rows, cols = image.shape
    peaks = peaks[
        (peaks[:, 0] >= 1) & (peaks[:, 0] < rows - 1) & (peaks[:, 1] >= 1) & (peaks[:, 1] < cols - 1)
    ]
    return peaks[np.argsort(-image[peaks[:, 0], peaks[:, 1]], kind="stable")]


def estimate_basis(image: np.ndarray) -> np.ndarray:
    """Primitive lattice vectors from the image autocorrelation (computed by FFT).

    The autocorrelation peaks at every inter-column vector; the strongest non-central peaks are the
    lattice translations, so the two shortest strong, non-collinear peaks are a1 and a2. Sub-pixel
    precision from a parabola through each peak.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image of a crystal (only its central 1024 x 1024 px are used).

    Returns
    -------
    numpy.ndarray
        (2, 2) basis, rows a1, a2 in (x, y) px, oriented by `orient_basis`.

    Raises
    ------
    RewardscopeError
        Where the autocorrelation has no periodic peaks, or only one lattice direction.

    Examples
    --------
    >>> from rewardscope.gaussians import render
    >>> xy = [(x, y) for x in range(4, 128, 10) for y in range(4, 128, 12)]
    >>> estimate_basis(render((128, 128), xy, 1.0, 2.0)).round(0).tolist()
    [[10.0, 0.0], [0.0, 12.0]]
    """
    shape = np.shape(image)  # the errors name the image's shape, not the crop's
    auto = _autocorrelation(np.asarray(image, float))
    rows, cols = auto.shape
    centre = np.array([rows // 2, cols // 2])
    peaks = _local_maxima(auto, threshold=0.05)
    vectors = (peaks - centre)[:, ::-1].astype(float)  # (row, col) -> (x, y)
    length = np.hypot(*vectors.T)
    # The central peak has a width of about one column; keep translations beyond it.
    keep = (length >= 3) & (length <= min(rows, cols) / 3)
    if not keep.any():
        raise RewardscopeError(
            f"no crystal lattice found in the image of shape {shape}: "
            "the autocorrelation has no periodic peaks"
        )
    peaks, vectors, length = peaks[keep], vectors[keep], length[keep]
    strength = auto[peaks[:, 0], peaks[:, 1]]
    # The strongest peaks are the lattice translations; weaker ones are basis vectors (A-B).
    strong = strength >= 0.6 * strength.max()
    order = np.argsort(length[strong])
    candidates, cand_peaks = vectors[strong][order], peaks[strong][order]
    a1 = candidates[0]
    # The second lattice vector: the shortest strong one not collinear with a1.
    second = [k for k in range(1, len(candidates)) if _cosine(candidates[k], a1) < 0.85]
    if not second:
        raise RewardscopeError(
            f"no crystal lattice found in the image of shape {shape}: only one lattice direction is periodic"
        )
    a2, p2 = candidates[second[0]], cand_peaks[second[0]]
    a1 = a1 + _parabolic_offset(auto, cand_peaks[0])
    a2 = a2 + _parabolic_offset(auto, p2)
    return orient_basis(np.array([a1, a2]))


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    """|cos| of the angle between two vectors."""
    return abs(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v))


def _autocorrelation(data: np.ndarray) -> np.ndarray:
    """High-passed autocorrelation of the central 1024 x 1024 px, 1 at its centre (rows // 2, cols // 2)."""
    # The central 1024 x 1024 px hold hundreds of cells at any period worth analysing.
    r0, c0 = max(0, (data.shape[0] - 1024) // 2), max(0, (data.shape[1] - 1024) // 2)
    data = data[r0 : r0 + 1024, c0 : c0 + 1024]
    rows, cols = data.shape
    flat = (data - data.mean()) * np.outer(np.hanning(rows), np.hanning(cols))
    spectrum = np.abs(np.fft.fft2(flat)) ** 2
    # High-pass: drop the smooth background (thickness, vacuum gradients), periods above 1/8 of the frame.
    ky, kx = np.fft.fftfreq(rows)[:, None], np.fft.fftfreq(cols)[None, :]
    spectrum *= 1 - np.exp(-(kx**2 + ky**2) / (2 * (8 / max(rows, cols)) ** 2))
    auto = np.fft.fftshift(np.fft.ifft2(spectrum).real)
    return auto / auto[rows // 2, cols // 2]


def _parabolic_offset(surface, peak) -> np.ndarray:
    """Sub-pixel (dx, dy) of a maximum from a parabola through its 3 x 3 neighbourhood."""
    r, c = peak
    offsets = []
    for lo, mid, hi in (
        (surface[r, c - 1], surface[r, c], surface[r, c + 1]),
        (surface[r - 1, c], surface[r, c], surface[r + 1, c]),
    ):
        curvature = lo - 2 * mid + hi
        offsets.append(0.0 if curvature >= 0 else 0.5 * (lo - hi) / curvature)
    return np.clip(np.array(offsets), -0.5, 0.5)


def orient_basis(basis: np.ndarray) -> np.ndarray:
    """Choose signs and order: a1 is the vector closest to +x, a2 has positive y.

    Parameters
    ----------
    basis : numpy.ndarray
        (2, 2) lattice vectors as rows, any signs and order.

    Returns
    -------
    numpy.ndarray
        (2, 2) the same lattice, rows a1, a2.

    Examples
    --------
    >>> orient_basis(np.array([[0.0, -12.0], [-10.0, 0.0]])).tolist()
    [[10.0, -0.0], [-0.0, 12.0]]
    """
    vectors = np.vstack([basis, -basis])
    a1 = vectors[np.argmax(vectors[:, 0] / np.hypot(*vectors.T))]
    rest = [v for v in vectors if abs(v @ a1) / (np.linalg.norm(v) * np.linalg.norm(a1)) < 0.99]
    a2 = max(rest, key=lambda v: v[1])
    return np.array([a1, a2])


def fractional(xy: np.ndarray, origin: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Lattice coordinates (n, 2) of points ``xy``: xy = origin + f0 * a1 + f1 * a2.

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) points, px.
    origin : numpy.ndarray
        (2,) the lattice point (0, 0).
    basis : numpy.ndarray
        (2, 2) rows a1, a2.

    Returns
    -------
    numpy.ndarray
        (n, 2) float coordinates (f0, f1).

    Examples
    --------
    >>> fractional(np.array([[15.0, 6.0]]), np.zeros(2), np.array([[10.0, 0.0], [0.0, 12.0]])).tolist()
    [[1.5, 0.5]]
    """
    return np.linalg.solve(basis.T, (np.asarray(xy, float) - origin).T).T


def affine_lattice(xy: np.ndarray, ij: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (origin, basis) that best put points ``xy`` at ``origin + ij @ basis`` (least squares).

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) points, px.
    ij : numpy.ndarray
        (n, 2) their integer lattice coordinates.

    Returns
    -------
    origin : numpy.ndarray
        (2,) position of lattice point (0, 0).
    basis : numpy.ndarray
        (2, 2) rows a1, a2.

    Examples
    --------
    >>> xy, ij = np.array([[1.0, 2.0], [11.0, 2.0], [1.0, 14.0]]), np.array([[0, 0], [1, 0], [0, 1]])
    >>> origin, basis = affine_lattice(xy, ij)
    >>> origin.round(6).tolist(), basis.round(6).tolist()
    ([1.0, 2.0], [[10.0, 0.0], [0.0, 12.0]])
    """
    design = np.column_stack([np.ones(len(xy)), ij])
    solution, *_ = np.linalg.lstsq(design, np.asarray(xy, float), rcond=None)
    return solution[0], solution[1:]


def lattice_links(xy: np.ndarray, steps: np.ndarray, tolerance: float = 0.25):
    """The links between points whose difference is ``±steps[0]`` or ``±steps[1]``.

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) points, px.
    steps : numpy.ndarray
        (2, 2) the two lattice steps as rows.
    tolerance : float, optional
        A link's misfit may be at most this fraction of the shorter step.

    Returns
    -------
    graph : scipy.sparse.csr_matrix
        (n, n) symmetric graph weighted by each link's misfit (px).
    moves : dict
        For every linked pair (p, q) with ``q - p ~ +steps[k]`` the index move, (1, 0) or (0, 1).

    Examples
    --------
    >>> steps = np.array([[10.0, 0.0], [0.0, 12.0]])
    >>> graph, moves = lattice_links(np.array([[0.0, 0.0], [10.0, 0.0]]), steps)
    >>> moves
    {(0, 1): (1, 0)}
    """
    from scipy.sparse import coo_matrix

    n = len(xy)
    reach = tolerance * period_of(steps)
    tree = cKDTree(xy)
    rows, cols, weights, moves = [], [], [], {}
    for k, move in enumerate(((1, 0), (0, 1))):
        distance, index = tree.query(xy + steps[k], distance_upper_bound=reach)
        linked = np.flatnonzero(np.isfinite(distance))
        rows.append(linked)
        cols.append(index[linked])
        weights.append(distance[linked] + 1e-9)  # a zero weight would drop the link
        moves.update({(int(a), int(b)): move for a, b in zip(linked, index[linked])})
    graph = coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsr()
    return graph + graph.T, moves


def walk_indices(xy: np.ndarray, steps: np.ndarray, tolerance: float = 0.25) -> np.ndarray:
    """Integer lattice coordinates (n, 2) of points ``xy`` by walking from neighbour to neighbour.

    Indices are carried along the links (``lattice_links``) of a minimum
    spanning tree, the most regular links first, so they follow a bent or
    locally rotated lattice instead of slipping against one global basis. A
    group of points that no link reaches (across a gap) is placed by rounding
    against the nearest indexed point: a local, not a global, step.

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) points, px.
    steps : numpy.ndarray
        (2, 2) the two lattice steps as rows.
    tolerance : float, optional
        As for `lattice_links`.

    Returns
    -------
    numpy.ndarray
        (n, 2) integer coordinates, relative to the first point of the largest linked group.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.5, 0.5], [21.0, 1.0], [10.0, 12.0]])
    >>> walk_indices(xy, np.array([[10.0, 0.0], [0.0, 12.0]])).tolist()
    [[0, 0], [1, 0], [2, 0], [1, 1]]
    """
    from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

    xy = np.asarray(xy, float)
    steps = np.asarray(steps, float)
    ij = np.zeros((len(xy), 2), int)
    if len(xy) < 2:
        return ij
    graph, moves = lattice_links(xy, steps, tolerance)
    spanning = minimum_spanning_tree(graph)
    spanning = spanning + spanning.T
    _, group = connected_components(spanning, directed=False)
    placed = np.zeros(len(xy), bool)
    for g in np.argsort(-np.bincount(group)):  # the largest group first: it sets the frame
        members = np.flatnonzero(group == g)
        root = members[0]
        if placed.any():
            done = np.flatnonzero(placed)
            distance, nearest = cKDTree(xy[done]).query(xy[members])
            root = members[np.argmin(distance)]
            anchor = done[nearest[np.argmin(distance)]]
            ij[root] = ij[anchor] + np.rint(fractional(xy[root][None], xy[anchor], steps)[0]).astype(int)
        order, parent = breadth_first_order(spanning, root, directed=False, return_predecessors=True)
        for node in order[1:]:
            up = int(parent[node])
            move = moves.get((up, int(node)))
            ij[node] = ij[up] + (np.array(move) if move is not None else -np.array(moves[(int(node), up)]))
        placed[members] = True
    return ij
