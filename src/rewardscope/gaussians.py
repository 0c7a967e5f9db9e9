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
    np.add.at(image, (rows[inside], cols[inside]), values[inside])
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


def fit(image, xy, *, radius: float, sigma: float, n_iter: int = 20) -> GaussianFit:
    """Fit one Gaussian + flat background to every column at once (batched Levenberg-Marquardt).

    Each column is fitted on the pixels within ``radius`` of its start position;
    ``sigma`` is the starting width. Columns whose fit moves more than
    ``0.7 * radius``, or whose width or amplitude become unphysical, keep their
    start position and are flagged ``converged=False``.
    """
    image = np.asarray(image, float)
    start = np.asarray(xy, float)
    n = len(start)
    if n == 0:
        empty = np.zeros(0)
        return GaussianFit(np.zeros((0, 2)), empty, empty, empty, empty, empty, np.zeros(0, bool))
    half = int(np.ceil(radius))
    offsets = np.arange(-half, half + 1)
    ox, oy = np.meshgrid(offsets, offsets)
    ox, oy = ox.ravel(), oy.ravel()
    cx = np.rint(start[:, 0]).astype(int)
    cy = np.rint(start[:, 1]).astype(int)
    px = cx[:, None] + ox[None, :]
    py = cy[:, None] + oy[None, :]
    inside = (px >= 0) & (px < image.shape[1]) & (py >= 0) & (py < image.shape[0])
    values = image[np.clip(py, 0, image.shape[0] - 1), np.clip(px, 0, image.shape[1] - 1)]
    x = px.astype(float)
    y = py.astype(float)
    weight = (inside & ((x - start[:, :1]) ** 2 + (y - start[:, 1:]) ** 2 <= radius**2)).astype(float)

    background = np.percentile(np.where(weight > 0, values, np.nan), 10, axis=1)
    background = np.nan_to_num(background)
    peak = np.nanmax(np.where(weight > 0, values, np.nan), axis=1)
    params = np.column_stack(
        [start[:, 0], start[:, 1], np.maximum(np.nan_to_num(peak) - background, 1e-12), np.full(n, float(sigma)), background]
    )

    def residuals_and_jacobian(p):
        dx = x - p[:, 0:1]
        dy = y - p[:, 1:2]
        s2 = p[:, 3:4] ** 2
        r2 = dx**2 + dy**2
        g = np.exp(-r2 / (2 * s2))
        ag = p[:, 2:3] * g
        model = p[:, 4:5] + ag
        jac = np.stack([ag * dx / s2, ag * dy / s2, g, ag * r2 / (s2 * p[:, 3:4]), np.ones_like(g)], axis=-1)
        return values - model, jac

    def cost(p):
        res, _ = residuals_and_jacobian(p)
        return np.sum(weight * res**2, axis=1)

    damping = np.full(n, 1e-2)
    current = cost(params)
    for _ in range(n_iter):
        res, jac = residuals_and_jacobian(params)
        jw = jac * weight[..., None]
        normal = np.einsum("nmi,nmj->nij", jw, jac)
        gradient = np.einsum("nmi,nm->ni", jw, res)
        diag = np.einsum("nii->ni", normal)
        lhs = normal + damping[:, None, None] * (diag[:, :, None] * np.eye(5) + 1e-12 * np.eye(5))
        try:
            step = np.linalg.solve(lhs, gradient[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(lhs.reshape(-1, 5), gradient.reshape(-1), rcond=None)[0].reshape(n, 5)
        trial = params + step
        trial[:, 3] = np.abs(trial[:, 3])
        new = cost(trial)
        better = np.isfinite(new) & (new < current)
        params = np.where(better[:, None], trial, params)
        current = np.where(better, new, current)
        damping = np.where(better, damping / 3, damping * 5)

    res, jac = residuals_and_jacobian(params)
    dof = np.maximum(weight.sum(axis=1) - 5, 1)
    variance = np.sum(weight * res**2, axis=1) / dof
    normal = np.einsum("nmi,nmj->nij", jac * weight[..., None], jac)
    try:
        cov_diag = np.einsum("nii->ni", np.linalg.inv(normal + 1e-12 * np.eye(5)))
    except np.linalg.LinAlgError:
        cov_diag = np.full((n, 5), np.inf)
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
