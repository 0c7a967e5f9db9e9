"""Lattice geometry shared by the stages: the basis from the image, and lattice coordinates.

A *basis* is a (2, 2) array whose rows are the lattice vectors a1, a2 in
(x, y) px; a1 points closest to +x, a2 completes it with positive y.
"""

from __future__ import annotations

import numpy as np
from skimage.feature import peak_local_max

from .errors import RewardscopeError


def estimate_basis(image: np.ndarray) -> np.ndarray:
    """Primitive lattice vectors from the image autocorrelation (computed by FFT).

    The autocorrelation peaks at every inter-column vector; the strongest
    non-central peaks are the lattice translations, so the two shortest strong,
    non-collinear peaks are a1 and a2. Sub-pixel precision from a parabola
    through each peak.
    """
    data = np.asarray(image, float)
    shape = data.shape  # the errors name the image's shape, not the crop's
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
    centre = np.array([rows // 2, cols // 2])
    auto /= auto[tuple(centre)]
    peaks = peak_local_max(auto, min_distance=2, threshold_abs=0.05, exclude_border=1)
    vectors = (peaks - centre)[:, ::-1].astype(float)  # (row, col) -> (x, y)
    length = np.hypot(*vectors.T)
    # The central peak has a width of about one column; keep translations beyond it.
    keep = (length >= 3) & (length <= min(rows, cols) / 3)
    if not keep.any():
        raise RewardscopeError(
            f"no crystal lattice found in the image of shape {shape}: the autocorrelation has no periodic peaks"
        )
    peaks, vectors, length = peaks[keep], vectors[keep], length[keep]
    strength = auto[peaks[:, 0], peaks[:, 1]]
    # The strongest peaks are the lattice translations; weaker ones are basis vectors (A-B).
    strong = strength >= 0.6 * strength.max()
    order = np.argsort(length[strong])
    candidates = vectors[strong][order]
    cand_peaks = peaks[strong][order]
    a1 = candidates[0]
    a2 = None
    for vector, peak in zip(candidates[1:], cand_peaks[1:]):
        cosine = abs(vector @ a1) / (np.linalg.norm(vector) * np.linalg.norm(a1))
        if cosine < 0.85:
            a2 = vector
            p2 = peak
            break
    if a2 is None:
        raise RewardscopeError(
            f"no crystal lattice found in the image of shape {shape}: only one lattice direction is periodic"
        )
    p1 = cand_peaks[0]
    a1 = a1 + _parabolic_offset(auto, p1)
    a2 = a2 + _parabolic_offset(auto, p2)
    return orient_basis(np.array([a1, a2]))


def _parabolic_offset(surface, peak) -> np.ndarray:
    """Sub-pixel (dx, dy) of a maximum from a parabola through its 3 x 3 neighbourhood."""
    r, c = peak
    offsets = []
    for lo, mid, hi in ((surface[r, c - 1], surface[r, c], surface[r, c + 1]), (surface[r - 1, c], surface[r, c], surface[r + 1, c])):
        curvature = lo - 2 * mid + hi
        offsets.append(0.0 if curvature >= 0 else 0.5 * (lo - hi) / curvature)
    return np.clip(np.array(offsets), -0.5, 0.5)


def orient_basis(basis: np.ndarray) -> np.ndarray:
    """Choose signs and order: a1 is the vector closest to +x, a2 has positive y."""
    vectors = np.vstack([basis, -basis])
    a1 = vectors[np.argmax(vectors[:, 0] / np.hypot(*vectors.T))]
    rest = [v for v in vectors if abs(v @ a1) / (np.linalg.norm(v) * np.linalg.norm(a1)) < 0.99]
    a2 = max(rest, key=lambda v: v[1])
    return np.array([a1, a2])


def fractional(xy: np.ndarray, origin: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Lattice coordinates (n, 2) of points ``xy``: xy = origin + f0 * a1 + f1 * a2."""
    return np.linalg.solve(basis.T, (np.asarray(xy, float) - origin).T).T


def fit_lattice(xy: np.ndarray, origin: np.ndarray, basis: np.ndarray, n_rounds: int = 3):
    """Refine (origin, basis) by least squares on points that sit on lattice nodes.

    Returns (origin, basis, integer indices (n, 2)).
    """
    xy = np.asarray(xy, float)
    for _ in range(n_rounds):
        index = np.rint(fractional(xy, origin, basis))
        design = np.column_stack([np.ones(len(xy)), index])
        solution, *_ = np.linalg.lstsq(design, xy, rcond=None)
        origin, basis = solution[0], solution[1:]
    return origin, basis, np.rint(fractional(xy, origin, basis)).astype(int)
