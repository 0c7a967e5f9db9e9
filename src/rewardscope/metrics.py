"""Accuracy against synthetic ground truth: column matching, ARI, wall F1, polarization error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from sklearn.metrics import adjusted_rand_score

from .errors import RewardscopeError
from .gaussians import row_gram
from .synthetic import ANTIPOLAR, Scene, Truth


def match(found_xy: np.ndarray, truth_xy: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """For each truth column, the nearest found column within ``tolerance`` and its distance.

    One-to-one is not enforced; a tolerance well below the column spacing makes it so.

    Parameters
    ----------
    found_xy : (m, 2) array
        The found columns, px.
    truth_xy : (n, 2) array
        The truth columns, px.
    tolerance : float
        The farthest a match may be, px.

    Returns
    -------
    index : (n,) int array
        The found column matched to each truth column, -1 if none.
    distance : (n,) array
        Its distance, inf if none.

    Examples
    --------
    >>> found = np.array([[0.0, 0.0], [10.0, 0.2]])
    >>> index, distance = match(found, np.array([[0.1, 0.0], [5.0, 5.0], [10.0, 0.0]]), 1.0)
    >>> index.tolist(), distance.round(3).tolist()
    ([0, -1, 1], [0.1, inf, 0.2])
    """
    if len(found_xy) == 0:
        return np.full(len(truth_xy), -1), np.full(len(truth_xy), np.inf)
    distance, index = cKDTree(found_xy).query(truth_xy, distance_upper_bound=tolerance)
    index = np.where(np.isfinite(distance), index, -1)
    return index, distance


def interior(truth: Truth, shape, margin: float) -> np.ndarray:
    """Truth columns at least ``margin`` px inside the frame (columns cut by the edge are not findable).

    Parameters
    ----------
    truth : Truth
        The scene's columns.
    shape : (rows, cols)
        The frame's shape.
    margin : float
        px.

    Returns
    -------
    (n,) bool array

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("single", size=64, seed=0)
    >>> int(interior(scene.truth, (64, 64), 3.0).sum()), len(scene.truth.xy)
    (25, 31)
    """
    x, y = truth.xy[:, 0], truth.xy[:, 1]
    return (x >= margin) & (y >= margin) & (x <= shape[1] - 1 - margin) & (y <= shape[0] - 1 - margin)


def cramer_rao_bound(scene: Scene) -> np.ndarray:
    """The Cramer-Rao bound of every truth column's position, from the generator's expected counts.

    The bound (px, radial: sqrt(var x + var y)) is the least error any unbiased estimator can reach on
    that column. Each column is a Gaussian of the probe's width with unknown position, height, width and
    local background (the model rewardscope fits), seen on the pixels within half a lattice period of
    it (beyond, its neighbours dominate); each pixel's noise is Poisson on its expected counts plus the
    read noise. The scan-line jitter is not in the bound: it is an error the data carries, not noise.

    Parameters
    ----------
    scene : Scene
        A scene made by ``rewardscope.synthetic`` (with its expected counts).

    Returns
    -------
    (n,) array
        px, one per truth column.

    Raises
    ------
    RewardscopeError
        If the scene carries no expected counts.

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("single", size=64, seed=0)
    >>> bool(np.median(cramer_rao_bound(scene)) < 0.1)
    True
    """
    expected, peak_counts = scene.expected, scene.truth.peak_counts
    if expected is None or peak_counts is None:
        raise RewardscopeError("the scene carries no expected counts: make it with rewardscope.synthetic")
    spec, truth = scene.spec, scene.truth
    sigma = spec.probe_sigma_pm / spec.pixel_size_pm
    radius = 0.5 * spec.lattice_pm / spec.pixel_size_pm
    reach = int(np.ceil(radius))
    oy, ox = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    disc = ox**2 + oy**2 <= radius**2
    rows, cols = expected.shape
    px = np.rint(truth.xy[:, :1]).astype(int) + ox[disc]
    py = np.rint(truth.xy[:, 1:]).astype(int) + oy[disc]
    inside = (px >= 0) & (px < cols) & (py >= 0) & (py < rows)
    variance = expected[np.clip(py, 0, rows - 1), np.clip(px, 0, cols - 1)] + spec.read_noise**2
    dx, dy = px - truth.xy[:, :1], py - truth.xy[:, 1:]
    r2 = dx**2 + dy**2
    g = np.exp(-r2 / (2 * sigma**2))
    peak = peak_counts[:, None]
    # Derivatives of the expected counts by x0, y0, height, width and background.
    jac = (peak * g * dx / sigma**2, peak * g * dy / sigma**2, g, peak * g * r2 / sigma**3, np.ones_like(g))
    weight = inside / np.maximum(variance, 1e-12)
    covariance = np.linalg.pinv(row_gram(jac, weight))  # the inverse of the Fisher information
    return np.sqrt(np.abs(covariance[:, 0, 0] + covariance[:, 1, 1]))


def limit_ratios(xy: np.ndarray, sublattice: np.ndarray, scene: Scene) -> dict:
    """Per sublattice, the found columns' position error against the Cramer-Rao bound.

    Parameters
    ----------
    xy : (m, 2) array
        The found columns, px.
    sublattice : (m,) str array
        Their sublattice, ``"A"`` or ``"B"``.
    scene : Scene
        The synthetic scene they were found in.

    Returns
    -------
    dict
        For ``"A"`` and ``"B"``: ``rmse_px`` against the truth, ``bound_px`` the bound's rms over the
        same (matched, interior) columns, and their ``ratio`` (1 is the physical limit).

    Raises
    ------
    RewardscopeError
        If the scene carries no expected counts.

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("single", size=64, seed=0)
    >>> limit_ratios(scene.truth.xy, scene.truth.sublattice, scene)["A"]["ratio"]
    0.0
    """
    period = scene.spec.lattice_pm / scene.spec.pixel_size_pm
    bound = cramer_rao_bound(scene)
    inner = interior(scene.truth, scene.image.shape, 0.3 * period)
    out = {}
    for site in ("A", "B"):
        rows = np.flatnonzero((scene.truth.sublattice == site) & inner)
        index, distance = match(xy[sublattice == site], scene.truth.xy[rows], 0.25 * period)
        ok = index >= 0
        rmse = float(np.sqrt(np.mean(distance[ok] ** 2))) if ok.any() else float("nan")
        crb = float(np.sqrt(np.mean(bound[rows[ok]] ** 2))) if ok.any() else float("nan")
        out[site] = {"rmse_px": rmse, "bound_px": crb, "ratio": rmse / crb if ok.any() else float("nan")}
    return out


def true_polarization(truth: Truth) -> np.ndarray:
    """What P measures, from the truth: each B's displacement less the mean of its four A corners'.

    Equal to the B's own displacement where the corners sit on the lattice; beside an antipolar region,
    whose A columns shift, the offset from the corners' centroid is what a microscope (and rewardscope)
    measures.

    Parameters
    ----------
    truth : Truth
        The scene's columns.

    Returns
    -------
    (n, 2) array
        px; NaN but for the B columns whose four corners are known.

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("single", size=64, seed=0)
    >>> P = true_polarization(scene.truth)
    >>> bool(np.isnan(P[scene.truth.sublattice == "A"]).all()), np.nanmedian(P, axis=0).round(2).tolist()
    (True, [0.92, 1.06])
    """
    a, b = truth.sublattice == "A", np.flatnonzero(truth.sublattice == "B")
    corners = np.full((truth.i.max() + 2, truth.j.max() + 2, 2), np.nan)
    corners[truth.i[a], truth.j[a]] = truth.dxy[a]
    i, j = truth.i[b], truth.j[b]
    centroid = (corners[i, j] + corners[i + 1, j] + corners[i, j + 1] + corners[i + 1, j + 1]) / 4
    out = np.full(truth.dxy.shape, np.nan)
    out[b] = truth.dxy[b] - centroid
    return out


def ideal_polarization(scene: Scene, seed: int = 0) -> dict:
    """What an estimator at the Cramer-Rao bound would make of the polarization, cell by cell.

    P = B - mean of four A, so its noise per axis is (bound_B^2 + bound_A^2 / 4) / 2 (the bounds
    radial), drawn once per cell; each cell is assigned to the variant whose mean displacement is
    nearest.

    Parameters
    ----------
    scene : Scene
        A synthetic scene with its expected counts.
    seed : int, default 0
        Seed of the noise drawn.

    Returns
    -------
    dict
        ``angle_error_deg`` the median polarization angle error (over polar cells) and
        ``cell_accuracy`` the share of cells whose variant it gets right.

    Raises
    ------
    RewardscopeError
        If the scene carries no expected counts.

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("single", size=64, seed=0)
    >>> ideal_polarization(scene)["cell_accuracy"]
    1.0
    """
    truth = scene.truth
    period = scene.spec.lattice_pm / scene.spec.pixel_size_pm
    bound = cramer_rao_bound(scene)
    inner = interior(truth, scene.image.shape, 0.3 * period)
    polarization = true_polarization(truth)
    b = np.flatnonzero((truth.sublattice == "B") & inner & np.all(np.isfinite(polarization), axis=1))
    a_bound = float(np.median(bound[(truth.sublattice == "A") & inner]))
    sigma = np.sqrt((bound[b] ** 2 + a_bound**2 / 4) / 2)
    rng = np.random.default_rng(seed)
    expected = polarization[b]
    measured = expected + rng.normal(size=expected.shape) * sigma[:, None]
    variants = np.unique(truth.variant[b])
    means = np.array([expected[truth.variant[b] == v].mean(axis=0) for v in variants])
    nearest = variants[np.argmin(np.linalg.norm(measured[:, None, :] - means[None], axis=2), axis=1)]
    return {
        "angle_error_deg": _median_angle_error(measured, expected, truth.variant[b] != ANTIPOLAR),
        "cell_accuracy": float(np.mean(nearest == truth.variant[b])),
    }


@dataclass(frozen=True)
class Accuracy:
    """A result's accuracy against a synthetic scene's truth (``accuracy``).

    Parameters
    ----------
    recall, precision, rmse : dict
        Per sublattice ``"A"``, ``"B"``: the columns found, the found columns that are true, and the
        position error (px) of the matched ones.
    ari : float
        The adjusted Rand index of the classes against the variants, over matched B columns.
    wall_f1 : float
        F1 of the found walls against the true ones, within a cell.
    polarization_angle_error_deg : float
        The median polarization angle error over polar cells.
    n_classes_true, n_classes_found : int
        The variants among the true B columns and the classes found.
    coverage : float
        The share of the truth's interior cells whose B was found and classified.
    """

    recall: dict
    precision: dict
    rmse: dict
    ari: float
    wall_f1: float
    polarization_angle_error_deg: float
    n_classes_true: int
    n_classes_found: int
    coverage: float = float("nan")

    def to_dict(self) -> dict:
        """The figures flat, as the benchmarks' tables hold them.

        Returns
        -------
        dict
            ``recall_A``, ``recall_B``, ``precision_A``, ``precision_B``, ``rmse_A_px``, ``rmse_B_px`` and
            the other fields by name.
        """
        return {
            "recall_A": self.recall["A"],
            "recall_B": self.recall["B"],
            "precision_A": self.precision["A"],
            "precision_B": self.precision["B"],
            "rmse_A_px": self.rmse["A"],
            "rmse_B_px": self.rmse["B"],
            "ari": self.ari,
            "wall_f1": self.wall_f1,
            "polarization_angle_error_deg": self.polarization_angle_error_deg,
            "n_classes_true": self.n_classes_true,
            "n_classes_found": self.n_classes_found,
            "coverage": self.coverage,
        }


def column_accuracy(xy, sublattice, truth: Truth, shape, period: float) -> tuple[dict, dict, dict, tuple]:
    """Recall, precision and RMSE (px) per sublattice, columns matched within 0.25 periods.

    Truth columns cut by the frame edge are not counted.

    Parameters
    ----------
    xy : (m, 2) array
        The found columns, px.
    sublattice : (m,) str array
        Their sublattice.
    truth : Truth
        The scene's columns.
    shape : (rows, cols)
        The frame's shape.
    period : float
        The lattice period, px.

    Returns
    -------
    recall, precision, rmse : dict
        Per sublattice ``"A"``, ``"B"``.
    matched_b : (truth rows, found rows)
        The matched B columns.

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("single", size=64, seed=0)
    >>> t = scene.truth
    >>> column_accuracy(t.xy, t.sublattice, t, (64, 64), 15.84)[0]
    {'A': 1.0, 'B': 1.0}
    """
    tolerance = 0.25 * period
    inner = interior(truth, shape, 0.3 * period)
    recall, precision, rmse = {}, {}, {}
    matched_b = (np.zeros(0, int), np.zeros(0, int))
    for site in ("A", "B"):
        truth_rows = np.flatnonzero((truth.sublattice == site) & inner)
        found_rows = np.flatnonzero(sublattice == site)
        index, distance = match(xy[found_rows], truth.xy[truth_rows], tolerance)
        ok = index >= 0
        recall[site] = float(ok.mean()) if len(ok) else 0.0
        rmse[site] = float(np.sqrt(np.mean(distance[ok] ** 2))) if ok.any() else float("nan")
        back, _ = match(truth.xy[truth.sublattice == site], xy[found_rows], tolerance)
        precision[site] = float((back >= 0).mean()) if len(back) else 0.0
        if site == "B":
            matched_b = (truth_rows[ok], found_rows[index[ok]])
    return recall, precision, rmse, matched_b


def result_accuracy(result, scene: Scene) -> Accuracy:
    """``accuracy`` of a workflow result (``workflow.Result``) against the synthetic scene it was found in.

    Parameters
    ----------
    result : rewardscope.workflow.Result
        Columns, lattice and per-column classes of one setting.
    scene : Scene
        The scene, with its truth.

    Returns
    -------
    Accuracy
    """
    return accuracy(
        result.columns.xy,
        result.columns.sublattice,
        result.labels,
        result.lattice.polarization,
        scene.truth,
        scene.image.shape,
        result.columns.period,
    )


def accuracy(xy, sublattice, labels, polarization, truth: Truth, shape, period: float) -> Accuracy:
    """Compare a per-column result with the truth; columns matched within 0.25 lattice periods.

    Parameters
    ----------
    xy : (m, 2) array
        The found columns, px.
    sublattice : (m,) str array
        Their sublattice.
    labels : (m,) int array
        Their classes (-1: unclassified).
    polarization : (m, 2) array
        Their polarization, px (NaN where unknown).
    truth : Truth
        The scene's columns.
    shape : (rows, cols)
        The frame's shape.
    period : float
        The lattice period, px.

    Returns
    -------
    Accuracy

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("single", size=64, seed=0)
    >>> t = scene.truth
    >>> labels = np.where(t.sublattice == "B", 0, -1)
    >>> result = accuracy(t.xy, t.sublattice, labels, true_polarization(t), t, (64, 64), 15.84)
    >>> result.ari, result.polarization_angle_error_deg, result.coverage
    (1.0, 0.0, 1.0)
    """
    recall, precision, rmse, matched_b = column_accuracy(xy, sublattice, truth, shape, period)
    truth_b, found_b = matched_b
    angle_error = _median_angle_error(
        polarization[found_b], true_polarization(truth)[truth_b], truth.variant[truth_b] != ANTIPOLAR
    )
    classified = labels[found_b] >= 0
    coverage = float(
        classified.sum() / max(np.sum(interior(truth, shape, 0.3 * period) & (truth.sublattice == "B")), 1)
    )
    truth_b, found_b = truth_b[classified], found_b[classified]
    ari = float(adjusted_rand_score(truth.variant[truth_b], labels[found_b])) if len(found_b) else 0.0
    wall_f1 = _wall_f1(truth, truth_b, labels[found_b])
    return Accuracy(
        recall,
        precision,
        rmse,
        ari,
        wall_f1,
        angle_error,
        n_classes_true=len(np.unique(truth.variant[truth.sublattice == "B"])),
        n_classes_found=len(np.unique(labels[labels >= 0])),
        coverage=coverage,
    )


def _wall_f1(truth: Truth, truth_rows: np.ndarray, found_labels: np.ndarray, tolerance: int = 1) -> float:
    """F1 of found against true wall cells on the truth's (i, j) grid, within ``tolerance`` cells."""
    from .walls import find_walls

    if len(truth_rows) == 0:
        return 0.0
    ij = np.column_stack([truth.i[truth_rows], truth.j[truth_rows]])
    shape = (ij[:, 1].max() + 1, ij[:, 0].max() + 1)
    true_grid = np.full(shape, -1)
    found_grid = np.full(shape, -1)
    true_grid[ij[:, 1], ij[:, 0]] = truth.variant[truth_rows]
    found_grid[ij[:, 1], ij[:, 0]] = found_labels
    true_walls = find_walls(true_grid).mask
    found_walls = find_walls(found_grid).mask
    if not true_walls.any() and not found_walls.any():
        return 1.0
    if not true_walls.any() or not found_walls.any():
        return 0.0
    structure = np.ones((2 * tolerance + 1,) * 2, bool)
    near_true = ndimage.binary_dilation(true_walls, structure)
    near_found = ndimage.binary_dilation(found_walls, structure)
    precision = (found_walls & near_true).sum() / found_walls.sum()
    recall = (true_walls & near_found).sum() / true_walls.sum()
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def _median_angle_error(measured: np.ndarray, expected: np.ndarray, polar: np.ndarray) -> float:
    """Median |angle difference| in degrees over polar cells with a measured displacement."""
    ok = polar & np.all(np.isfinite(measured), axis=1) & (np.hypot(*expected.T) > 0)
    if not ok.any():
        return float("nan")
    angle = np.arctan2(measured[ok, 1], measured[ok, 0]) - np.arctan2(expected[ok, 1], expected[ok, 0])
    return float(np.median(np.abs(np.rad2deg(np.angle(np.exp(1j * angle))))))
