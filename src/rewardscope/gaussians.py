"""Isotropic 2-D Gaussian columns: rendering many at once and fitting many at once.

Both the synthetic microscope and the column refinement use this model
``I(x, y) = background + amplitude * exp(-((x-x0)^2 + (y-y0)^2) / (2 sigma^2))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def render(shape, xy, amplitude, sigma, *, row_shift=None, reach: float = 4.0) -> np.ndarray:
    """Sum of Gaussians at ``xy`` (n, 2) on an image of ``shape``.

    ``row_shift`` (rows, 2) optionally moves the sampling grid of each scan line
    by (dx, dy) px: the synthetic microscope's scan-line jitter.
    """
    xy = np.asarray(xy, dtype=float)
    image = np.zeros(shape, dtype=float)
    if len(xy) == 0:
        return image
    amplitude = np.broadcast_to(np.asarray(amplitude, float), (len(xy),))
    sigma = np.broadcast_to(np.asarray(sigma, float), (len(xy),))
    half = int(np.ceil(reach * sigma.max())) + 2
    offsets = np.arange(-half, half + 1)
    # Stamp every column on its own (2h+1)^2 pixel window, then accumulate.
    cols = np.rint(xy[:, 0]).astype(int)[:, None, None] + offsets[None, None, :]
    rows = np.rint(xy[:, 1]).astype(int)[:, None, None] + offsets[None, :, None]
    cols, rows = np.broadcast_arrays(cols, rows)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    sample_x = cols.astype(float)
    sample_y = rows.astype(float)
    if row_shift is not None:
        clipped = np.clip(rows, 0, shape[0] - 1)
        sample_x = sample_x + row_shift[clipped, 0]
        sample_y = sample_y + row_shift[clipped, 1]
    r2 = (sample_x - xy[:, 0, None, None]) ** 2 + (sample_y - xy[:, 1, None, None]) ** 2
    values = amplitude[:, None, None] * np.exp(-r2 / (2 * sigma[:, None, None] ** 2))
    # bincount accumulates overlapping stamps far faster than np.add.at.
    flat = rows[inside] * shape[1] + cols[inside]
    image += np.bincount(flat, weights=values[inside], minlength=image.size).reshape(shape)
    return image


@dataclass(frozen=True)
class GaussianFit:
    """Per-column fit results (arrays of length n)."""

    xy: np.ndarray
    amplitude: np.ndarray
    sigma: np.ndarray
    background: np.ndarray
    residual: np.ndarray  # rms residual / amplitude
    uncertainty: np.ndarray  # 1-sigma position uncertainty, px
    converged: np.ndarray  # False where the fit ran away and the start position was kept


def fit(image, xy, *, radius: float, sigma: float, n_iter: int = 12, tolerance: float = 1e-3) -> GaussianFit:
    """Fit one Gaussian + flat background to every column at once (batched Levenberg-Marquardt).

    Each column is fitted on the pixels within ``radius`` of its start position;
    ``sigma`` is the starting width. Iteration stops when no position moves by
    more than ``tolerance`` px. Columns whose fit moves more than
    ``0.7 * radius``, or whose width or amplitude become unphysical, keep their
    start position and are flagged ``converged=False``.
    """
    image = np.asarray(image, float)
    start = np.asarray(xy, float)
    n = len(start)
    if n == 0:
        empty = np.zeros(0)
        return GaussianFit(np.zeros((0, 2)), empty, empty, empty, empty, empty, np.zeros(0, bool))
    # Pixels of a disc around each rounded start position: (n, m) coordinates and values.
    half = int(np.ceil(radius))
    oy, ox = np.mgrid[-half : half + 1, -half : half + 1]
    disc = ox**2 + oy**2 <= (radius + 0.5) ** 2
    ox, oy = ox[disc], oy[disc]
    px = np.rint(start[:, 0]).astype(int)[:, None] + ox[None, :]
    py = np.rint(start[:, 1]).astype(int)[:, None] + oy[None, :]
    inside = (px >= 0) & (px < image.shape[1]) & (py >= 0) & (py < image.shape[0])
    values = image[np.clip(py, 0, image.shape[0] - 1), np.clip(px, 0, image.shape[1] - 1)]
    x = px.astype(float)
    y = py.astype(float)
    weight = (inside & ((x - start[:, :1]) ** 2 + (y - start[:, 1:]) ** 2 <= radius**2)).astype(float)
    # Starting guesses; pixels beyond the frame repeat the edge, harmless for a guess.
    background = np.percentile(values, 10, axis=1)
    peak = np.max(np.where(weight > 0, values, -np.inf), axis=1)
    peak = np.where(np.isfinite(peak), peak, background)
    # Parameters: x0, y0, amplitude, sigma, background.
    params = np.column_stack([start[:, 0], start[:, 1], np.maximum(peak - background, 1e-12), np.full(n, float(sigma)), background])

    def residual(p):
        r2 = (x - p[:, 0:1]) ** 2 + (y - p[:, 1:2]) ** 2
        g = np.exp(-r2 / (2 * p[:, 3:4] ** 2))
        return values - p[:, 4:5] - p[:, 2:3] * g, g, r2

    def jacobian(p, g, r2):
        s2 = p[:, 3:4] ** 2
        ag = p[:, 2:3] * g
        return (ag * (x - p[:, 0:1]) / s2, ag * (y - p[:, 1:2]) / s2, g, ag * r2 / (s2 * p[:, 3:4]), np.ones_like(g))

    def normal_equations(jac, res):
        weighted = [j * weight for j in jac]
        normal = np.empty((n, 5, 5))
        for a in range(5):
            for b in range(a, 5):
                normal[:, a, b] = normal[:, b, a] = np.sum(weighted[a] * jac[b], axis=1)
        gradient = np.stack([np.sum(w * res, axis=1) for w in weighted], axis=1)
        return normal, gradient

    res, g, r2 = residual(params)
    current = np.sum(weight * res**2, axis=1)
    damping = np.full(n, 1e-2)
    active = np.ones(n, bool)
    for _ in range(n_iter):
        normal, gradient = normal_equations(jacobian(params, g, r2), res)
        diag = np.einsum("nii->ni", normal)
        # The ridge keeps degenerate columns (zero amplitude, flat patch) solvable.
        ridge = 1e-9 * (1 + np.abs(diag).mean(axis=1))[:, None, None] * np.eye(5)
        lhs = normal + damping[:, None, None] * (diag[:, :, None] * np.eye(5)) + ridge
        step = np.linalg.solve(lhs, gradient[..., None])[..., 0]
        step[~active] = 0
        trial = params + step
        trial[:, 3] = np.abs(trial[:, 3])
        trial_res, trial_g, trial_r2 = residual(trial)
        new = np.sum(weight * trial_res**2, axis=1)
        better = np.isfinite(new) & (new < current) & active
        params = np.where(better[:, None], trial, params)
        res = np.where(better[:, None], trial_res, res)
        g = np.where(better[:, None], trial_g, g)
        r2 = np.where(better[:, None], trial_r2, r2)
        current = np.where(better, new, current)
        damping = np.where(better, damping / 3, damping * 5)
        active &= ~(better & (np.abs(step[:, :2]).max(axis=1) < tolerance))
        if not active.any():
            break

    normal, _ = normal_equations(jacobian(params, g, r2), res)
    dof = np.maximum(weight.sum(axis=1) - 5, 1)
    variance = current / dof
    cov_diag = np.einsum("nii->ni", np.linalg.pinv(normal))
    uncertainty = np.sqrt(np.abs(variance * (cov_diag[:, 0] + cov_diag[:, 1]) / 2))

    moved = np.hypot(params[:, 0] - start[:, 0], params[:, 1] - start[:, 1])
    converged = (
        (moved <= 0.7 * radius)
        & (params[:, 2] > 0)
        & (params[:, 3] > 0.25 * sigma)
        & (params[:, 3] < 3.0 * sigma)
        & np.all(np.isfinite(params), axis=1)
    )
    xy_out = np.where(converged[:, None], params[:, :2], start)
    amplitude = np.abs(params[:, 2])
    return GaussianFit(
        xy=xy_out,
        amplitude=amplitude,
        sigma=params[:, 3],
        background=params[:, 4],
        residual=np.sqrt(variance) / np.maximum(amplitude, 1e-12),
        uncertainty=np.where(converged, uncertainty, np.nan),
        converged=converged,
    )
