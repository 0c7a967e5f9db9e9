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

    Parameters
    ----------
    shape : tuple of int
        (rows, cols) of the image.
    xy : array_like
        (n, 2) column positions, px (x = column, y = row).
    amplitude, sigma : float or array_like
        Peak height and width (px), one for all or one per column.
    row_shift : numpy.ndarray, optional
        (rows, 2) shift (dx, dy) of each scan line's sampling grid, px.
    reach : float, optional
        Each Gaussian is drawn out to this many widths.

    Returns
    -------
    numpy.ndarray
        The image, float.

    Examples
    --------
    >>> image = render((9, 9), [(4.0, 4.0)], 2.0, 1.0)
    >>> float(image[4, 4]), float(image[4, 5].round(4))
    (2.0, 1.2131)
    """
    xy = np.asarray(xy, dtype=float)
    image = np.zeros(shape, dtype=float)
    if len(xy) == 0:
        return image
    amplitude = np.broadcast_to(np.asarray(amplitude, float), (len(xy),))
    sigma = np.broadcast_to(np.asarray(sigma, float), (len(xy),))
    half = int(np.ceil(reach * sigma.max())) + 2
    offsets = np.arange(-half, half + 1)
    if row_shift is None:
        return _render_separable(shape, xy, amplitude, sigma, offsets)
    # Stamp every column on its own (2h+1)^2 pixel window, then accumulate.
    cols = np.rint(xy[:, 0]).astype(int)[:, None, None] + offsets[None, None, :]
    rows = np.rint(xy[:, 1]).astype(int)[:, None, None] + offsets[None, :, None]
    cols, rows = np.broadcast_arrays(cols, rows)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    clipped = np.clip(rows, 0, shape[0] - 1)
    sample_x = cols + row_shift[clipped, 0]
    sample_y = rows + row_shift[clipped, 1]
    r2 = (sample_x - xy[:, 0, None, None]) ** 2 + (sample_y - xy[:, 1, None, None]) ** 2
    values = amplitude[:, None, None] * np.exp(-r2 / (2 * sigma[:, None, None] ** 2))
    # bincount accumulates overlapping stamps far faster than np.add.at.
    flat = rows[inside] * shape[1] + cols[inside]
    image += np.bincount(flat, weights=values[inside], minlength=image.size).reshape(shape)
    return image


def _render_separable(shape, xy, amplitude, sigma, offsets) -> np.ndarray:
    """``render`` on a regular pixel grid: each stamp is the outer product of two 1-D Gaussians.

    The stamps are accumulated on a canvas padded by two stamp widths so that no pixel needs a test
    (columns beyond that reach nothing).
    """
    half = int(offsets[-1])
    pad = 2 * half
    centre = np.rint(xy).astype(int)
    near = np.all((centre >= -half) & (centre <= np.array(shape[::-1]) - 1 + half), axis=1)
    xy, centre, amplitude, sigma = xy[near], centre[near], amplitude[near], sigma[near]
    spread = 2 * sigma[:, None] ** 2
    gx = np.exp(-(((centre[:, :1] + offsets) - xy[:, :1]) ** 2) / spread)
    gy = amplitude[:, None] * np.exp(-(((centre[:, 1:] + offsets) - xy[:, 1:]) ** 2) / spread)
    width = shape[1] + 2 * pad
    flat = (
        (centre[:, 1:] + pad + offsets)[:, :, None] * width + (centre[:, :1] + pad + offsets)[:, None, :]
    ).ravel()
    canvas = np.bincount(
        flat, weights=(gy[:, :, None] * gx[:, None, :]).ravel(), minlength=(shape[0] + 2 * pad) * width
    )
    return canvas.reshape(shape[0] + 2 * pad, width)[pad : pad + shape[0], pad : pad + shape[1]].copy()


@dataclass(frozen=True)
class GaussianFit:
    """Per-column fit results (arrays of length n).

    Attributes
    ----------
    xy : numpy.ndarray
        (n, 2) fitted positions, px; the start position where the fit did not converge.
    amplitude, sigma, background : numpy.ndarray
        Peak height, width (px) and flat background.
    residual : numpy.ndarray
        rms residual / amplitude.
    uncertainty : numpy.ndarray
        1-sigma position uncertainty, px (NaN where not converged).
    converged : numpy.ndarray
        False where the fit ran away and the start position was kept.
    """

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

    Parameters
    ----------
    image : array_like
        2-D image.
    xy : array_like
        (n, 2) start positions, px (x = column, y = row).
    radius : float
        Radius of each column's fitted disc, px.
    sigma : float
        Starting Gaussian width, px.
    n_iter : int, optional
        Most Levenberg-Marquardt steps.
    tolerance : float, optional
        A column stops once its step moves it by less than this, px.

    Returns
    -------
    GaussianFit
        Per column: position, amplitude, width, background, residual, uncertainty and convergence.

    Examples
    --------
    >>> import numpy as np
    >>> image = render((32, 32), [(15.3, 16.6)], 1.0, 2.0)
    >>> result = fit(image, [(15.0, 17.0)], radius=5, sigma=2.5)
    >>> result.xy.round(3).tolist(), bool(result.converged[0])
    ([[15.3, 16.6]], True)
    """
    image = np.asarray(image, float)
    start = np.asarray(xy, float)
    n = len(start)
    if n == 0:
        empty = np.zeros(0)
        return GaussianFit(np.zeros((0, 2)), empty, empty, empty, empty, empty, np.zeros(0, bool))
    window = _Windows.around(image, start, radius)
    params = _start_parameters(window, sigma)
    current, (res, g, r2) = _levenberg_marquardt(window, params, n_iter, tolerance)
    return _result(window, start, params, current, (res, g, r2), radius, sigma)


def _start_parameters(window: _Windows, sigma: float) -> np.ndarray:
    """(n, 5) starting x0, y0 (from the start pixel), amplitude, sigma and background of every column."""
    # Pixels beyond the frame repeat the edge, harmless for a guess.
    background = np.percentile(window.values, 10, axis=1)
    peak = np.max(np.where(window.weight > 0, window.values, -np.inf), axis=1)
    peak = np.where(np.isfinite(peak), peak, background)
    return np.column_stack(
        [
            window.shift[:, 0],
            window.shift[:, 1],
            np.maximum(peak - background, 1e-12),
            np.full(len(peak), float(sigma)),
            background,
        ]
    )


def _result(window: _Windows, start, params, current, last, radius: float, sigma: float) -> GaussianFit:
    """The fit of every column from its final parameters: uncertainty from the normal matrix, and
    the start position kept where the fit ran away."""
    res, g, r2 = last
    normal, _ = _normal_equations(window, params, window.weight, g, r2, res)
    dof = np.maximum(window.weight.sum(axis=1) - 5, 1)
    variance = current / dof
    cov_diag = np.einsum("nii->ni", _inverse(normal))
    uncertainty = np.sqrt(np.abs(variance * (cov_diag[:, 0] + cov_diag[:, 1]) / 2))

    params[:, :2] += window.origin  # back to image coordinates
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


@dataclass(frozen=True)
class _Windows:
    """The fitted pixels of every column: a disc of offsets shared by all, their values and 0/1 weights."""

    ox: np.ndarray  # (1, m) float32 offsets from each column's rounded start pixel
    oy: np.ndarray
    origin: np.ndarray  # (n, 2) rounded start pixels
    shift: np.ndarray  # (n, 2) start positions relative to them
    values: np.ndarray  # (n, m) float32
    weight: np.ndarray  # (n, m) float32, 1 inside the frame and within radius of the start

    @classmethod
    def around(cls, image: np.ndarray, start: np.ndarray, radius: float) -> _Windows:
        # Pixels of a disc around each rounded start position: (n, m) coordinates and values.
        half = int(np.ceil(radius))
        oy, ox = np.mgrid[-half : half + 1, -half : half + 1]
        disc = ox**2 + oy**2 <= (radius + 0.5) ** 2
        ox, oy = ox[disc], oy[disc]
        # Coordinates relative to each column's rounded start pixel: the same offsets for every column.
        origin = np.rint(start).astype(int)
        px, py = origin[:, :1] + ox[None, :], origin[:, 1:] + oy[None, :]
        inside = (px >= 0) & (px < image.shape[1]) & (py >= 0) & (py < image.shape[0])
        # The per-pixel work is in single precision (half the memory traffic; positions still good to
        # 1e-5 px), the parameters and the solve in double.
        rows, cols = np.clip(py, 0, image.shape[0] - 1), np.clip(px, 0, image.shape[1] - 1)
        values = image[rows, cols].astype(np.float32)
        ox, oy = ox[None, :].astype(np.float32), oy[None, :].astype(np.float32)
        shift = start - origin
        near = (ox - shift[:, :1]) ** 2 + (oy - shift[:, 1:]) ** 2 <= radius**2
        weight = (inside & near).astype(np.float32)
        return cls(ox, oy, origin, shift, values, weight)


def _residual(window: _Windows, p: np.ndarray, values: np.ndarray, weight: np.ndarray):
    """Residuals, and the Gaussian (zero outside the fitted disc: so is every derivative but the
    background's)."""
    p = p.astype(np.float32)
    r2 = (window.ox - p[:, 0:1]) ** 2 + (window.oy - p[:, 1:2]) ** 2
    g = np.exp(-r2 / (2 * p[:, 3:4] ** 2)) * weight
    return values - p[:, 4:5] - p[:, 2:3] * g, g, r2


def _normal_equations(window: _Windows, p: np.ndarray, weight, g, r2, res):
    """J^T W J and J^T W r (parameters x0, y0, amplitude, sigma, background; W the 0/1 disc)."""
    p = p.astype(np.float32)
    ag = p[:, 2:3] * g / p[:, 3:4] ** 2
    jac = (ag * (window.ox - p[:, 0:1]), ag * (window.oy - p[:, 1:2]), g, ag * r2 / p[:, 3:4], weight)
    return row_gram(jac), np.column_stack([np.einsum("km,km->k", j, res) for j in jac])


def _levenberg_marquardt(window: _Windows, params: np.ndarray, n_iter: int, tolerance: float):
    """Damped Gauss-Newton steps on every column still moving; ``params`` updated in place.

    Returns the sum of squared residuals per column and the last (residuals, Gaussian, r^2).
    """
    n = len(params)
    values, weight = window.values, window.weight
    res, g, r2 = _residual(window, params, values, weight)
    current = np.sum(weight * res**2, axis=1)
    damping = np.full(n, 1e-2)
    active = np.ones(n, bool)
    for _ in range(n_iter):
        # Only the columns still moving are worked on: most settle in a few steps, a few take all of them.
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        everyone = len(rows) == n  # (no copies while all move)
        p, w, v = (params, weight, values) if everyone else (params[rows], weight[rows], values[rows])
        normal, gradient = _normal_equations(
            window,
            p,
            w,
            g if everyone else g[rows],
            r2 if everyone else r2[rows],
            res if everyone else res[rows],
        )
        diag = np.einsum("kii->ki", normal)
        # The ridge keeps degenerate columns (zero amplitude, flat patch) solvable.
        ridge = 1e-9 * (1 + np.abs(diag).mean(axis=1))[:, None, None] * np.eye(5)
        lhs = normal + damping[rows, None, None] * (diag[:, :, None] * np.eye(5)) + ridge
        step = np.linalg.solve(lhs, gradient[..., None])[..., 0]
        trial = p + step
        trial[:, 3] = np.abs(trial[:, 3])
        trial_res, trial_g, trial_r2 = _residual(window, trial, v, w)
        new = np.sum(w * trial_res**2, axis=1)
        better = np.isfinite(new) & (new < current[rows])
        won = rows[better]
        params[won], res[won], g[won], r2[won], current[won] = (
            trial[better],
            trial_res[better],
            trial_g[better],
            trial_r2[better],
            new[better],
        )
        damping[rows] = np.where(better, damping[rows] / 3, damping[rows] * 5)
        active[won[np.abs(step[better, :2]).max(axis=1) < tolerance]] = False
    return current, (res, g, r2)


def row_gram(vectors, weight=None) -> np.ndarray:
    """A batch of Gram matrices ``G[n, a, b] = sum_m w[n, m] v_a[n, m] v_b[n, m]``.

    Normal (or Fisher) matrices, one per row, as row-wise dot products: far faster than a stacked
    matmul of k x m matrices.

    Parameters
    ----------
    vectors : sequence of numpy.ndarray
        k arrays of shape (n, m).
    weight : numpy.ndarray, optional
        (n, m) weights ``w``; 1 where omitted.

    Returns
    -------
    numpy.ndarray
        (n, k, k) symmetric matrices.

    Examples
    --------
    >>> import numpy as np
    >>> row_gram([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])]).tolist()
    [[[5.0, 11.0], [11.0, 25.0]]]
    """
    weighted = vectors if weight is None else [weight * v for v in vectors]
    gram = np.empty((len(vectors[0]), len(vectors), len(vectors)))
    for a in range(len(vectors)):
        for b in range(a, len(vectors)):
            gram[:, a, b] = gram[:, b, a] = np.einsum("km,km->k", weighted[a], vectors[b])
    return gram


def _inverse(matrices: np.ndarray) -> np.ndarray:
    """Inverses of a stack of symmetric matrices; the pseudo-inverse for those that are singular."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrices)
