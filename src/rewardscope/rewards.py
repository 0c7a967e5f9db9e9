"""Physics-based rewards: how much a class map looks like real ferroic domains.

Every component lies in [0, 1] and higher is better. With ``n_s`` the cells of
wall segment ``s`` and ``L = min(rows, cols) / 2`` the length a wall needs to
cross a good part of the field of view:

* continuity  ``C = sum_s n_s min(1, n_s / L) / sum_s n_s``:
  walls do not end in the middle of a crystal, so wall cells should belong to
  long walls; fragments (salt-and-pepper labels) drive C to 0.
* straightness ``S = median over wall cells of the coherence (l1 - l2) / (l1 + l2)``
  of the structure tensor of the wall mask (Gaussian scale 2 cells): 1 along a
  straight wall, lower where it bends, wiggles, or splinters. Junctions of
  straight walls lower it only locally.
* wall economy ``E = 1 - wall cells / classified cells``: a Potts-like term
  against labellings that are all wall.
* separation ``Q = max(0, silhouette)`` of the classes in descriptor (PCA)
  space: classes that split one continuous cloud are poorly separated, so the
  reward does not grow by adding classes.
* balance ``B = min(1, smallest class share / min_share)``: a class with a
  handful of members is a fit to noise.

Three more components are computed for every map and weighted 0 by default
(choose them with ``--reward-weights``):

* chord straightness ``K = sum_s n_s min(1, chord_s / path_s) / sum_s n_s`` on
  the skeleton of each segment (chord: the largest distance between two of
  its skeleton cells; path: its skeleton length): 1 for straight walls, about
  0.3 for a closed loop; junctions count against it;
* orientation ``O``: the share of wall cells whose local wall direction lies
  within 15 deg of a lattice direction ({10} or {11}) on the (i, j) grid;
* Potts ``P = 1 - unlike neighbour pairs / neighbour pairs`` (the total wall
  length per area, as a reward);
* confidence ``F = 1 - mean_i H(p_i) / log k``, with ``H(p_i)`` the entropy of
  cell i's class responsibilities: the entropy term of the ICL criterion
  (ICL = BIC + 2 sum_i H(p_i)) made a bounded reward; 1 when every cell is
  assigned without doubt, 0 when the classes overlap completely;
* line fit ``L = sum_s n_s / (1 + r_s) / sum_s n_s``, ``r_s`` the rms distance
  (cells) of segment s's skeleton from its best straight line: 1 for straight
  walls, lower for rough, curved or closed ones;
* curvature ``V = 1 / (1 + mean |dtheta / ds| * min(rows, cols) / 2)`` along the
  wall skeletons (theta the structure-tensor direction, ds between neighbouring
  skeleton cells): 1 for straight walls, 1/3 for a circle of radius a quarter
  of the field;
* class evidence, from mixtures of 1..8 classes fitted to the same PCA scores
  (``learn.class_evidence``): ``bic`` and ``icl`` the posterior probability of
  this k among them, ``exp(-X_k / 2) / sum_j exp(-X_j / 2)`` for X = BIC or
  ICL; ``bgmm`` = ``min(k, k_eff) / max(k, k_eff)`` with k_eff the number of
  components a Dirichlet-process Bayesian mixture keeps (>= 3% of the cells).

The reward is the weighted geometric mean ``R = prod_c c^(w_c / sum w)``: a
zero in any component zeroes the reward. The degenerate labellings score 0:
one class or no walls (nothing to explain), no classified cells.

Gates: a map also scores 0, whatever its components, when it fails one of four
tests of whether its classes are real (``gates``, ``refusal``; their figures are
kept with the components):

* ``split_evidence`` (``learn.split_evidence`` of the best two-class split of the
  same descriptors) below ``SPLIT_EVIDENCE_MIN``: the cells form one cloud, and
  no number of classes is warranted; when every map fails, the answer is one phase;
* ``edge_share``: a class of which ``EDGE_SHARE_MAX`` or more of the cells lie
  within half a window of the frame's border (patches cut by the frame);
* ``smallest_class``: a class of fewer than max(``MIN_CLASS_CELLS``, ``MIN_SHARE``
  of the cells) cells, a fit to a handful of outliers;
* ``coherence`` (``coherence``: neighbouring cells' agreement beyond chance) below
  ``COHERENCE_MIN``: classes of scattered cells (cells beside a substituted column,
  noise) are not domains, however well separated.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .errors import RewardscopeError
from .walls import Walls

COMPONENTS = (
    "continuity",
    "straightness",
    "economy",
    "separation",
    "balance",
    "chord_straightness",
    "orientation",
    "potts",
    "confidence",
    "line_fit",
    "curvature",
    "bic",
    "icl",
    "bgmm",
)
GATES = (
    "split_evidence",
    "edge_share",
    "smallest_class",
    "cells",
    "coherence",
)  # figures of the gates, kept with the components
EVIDENCE = ("bic", "icl", "bgmm")  # need mixtures of every k: computed only when weighted or asked for
# Chosen by `rewardscope validate` (docs/how-it-works.md): of the weightings tried, separation x3
# with the wall terms kept has the lowest regret (normal dose 0.000, low dose 0.009
# against 0.151 with separation x2: the straightness prior misleads at low dose).
DEFAULT_WEIGHTS = {"continuity": 1.0, "straightness": 1.0, "economy": 1.0, "separation": 3.0, "balance": 1.0}
MIN_SHARE = 0.03
# Two equal Gaussian clouds about 2.9 sigma apart; one cloud of any unimodal shape: < 0.07.
SPLIT_EVIDENCE_MIN = 0.2
EDGE_SHARE_MAX = 0.8
MIN_CLASS_CELLS = 20
# Measured on 7 layouts at 400 and 60 e/px: domain maps 0.59-0.93, maps of Sm-substituted cells in one phase
# 0.18-0.36.
COHERENCE_MIN = 0.5


def continuity(walls: Walls) -> float:
    """Share of wall cells in long segments, ``sum n_s min(1, n_s / L) / sum n_s`` with L = min(grid) / 2.

    Parameters
    ----------
    walls : Walls
        The walls of the class map (``walls.find_walls``).

    Returns
    -------
    float
        In [0, 1]; 0 without walls.

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> continuity(find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)))
    1.0
    """
    total = walls.sizes.sum()
    if total == 0:
        return 0.0
    length = max(min(walls.mask.shape) / 2, 1.0)
    return float(np.sum(walls.sizes * np.minimum(1.0, walls.sizes / length)) / total)


def _structure_tensor(mask: np.ndarray, scale: float):
    """(coherence, orientation in radians of the gradient) of a binary mask, per cell."""
    mask = mask.astype(float)
    gy = ndimage.gaussian_filter(mask, 1.0, order=(1, 0), mode="nearest")
    gx = ndimage.gaussian_filter(mask, 1.0, order=(0, 1), mode="nearest")
    jxx = ndimage.gaussian_filter(gx * gx, scale, mode="nearest")
    jyy = ndimage.gaussian_filter(gy * gy, scale, mode="nearest")
    jxy = ndimage.gaussian_filter(gx * gy, scale, mode="nearest")
    trace = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / np.where(trace > 1e-12, trace, np.inf)
    return coherence, 0.5 * np.arctan2(2 * jxy, jxx - jyy)


def straightness(walls: Walls, scale: float = 2.0) -> float:
    """Median structure-tensor coherence of the wall mask over the wall cells (1 = straight).

    Parameters
    ----------
    walls : Walls
        The walls of the class map (``walls.find_walls``).
    scale : float, default 2.0
        The structure tensor's Gaussian scale, in cells.

    Returns
    -------
    float
        In [0, 1]; 0 without walls.

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> straightness(find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)))
    1.0
    """
    if not walls.mask.any():
        return 0.0
    coherence, _ = _structure_tensor(walls.mask, scale)
    return float(np.median(coherence[walls.mask]))


def wall_skeleton(mask: np.ndarray) -> np.ndarray:
    """One-cell-wide centre lines of the walls, by morphological thinning.

    Skeletonize would shrink a diagonal staircase wall, which is already one cell wide along its
    diagonal, to a point.

    Parameters
    ----------
    mask : (rows, cols) bool array
        The wall cells.

    Returns
    -------
    (rows, cols) bool array

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> mask = find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)).mask
    >>> wall_skeleton(mask).sum(axis=0).tolist()
    [0, 0, 5, 0, 0, 0]
    """
    from skimage.morphology import thin

    return thin(mask)


def chord_straightness(walls: Walls) -> float:
    """``sum_s n_s min(1, chord_s / path_s) / sum_s n_s`` over the skeletons of the wall segments.

    Parameters
    ----------
    walls : Walls
        The walls of the class map (``walls.find_walls``).

    Returns
    -------
    float
        In [0, 1]: 1 for straight walls; 0 without walls.

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> chord_straightness(find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)))
    1.0
    """
    from scipy.spatial.distance import pdist

    if not walls.mask.any():
        return 0.0
    skeleton = wall_skeleton(walls.mask)
    total, score = 0, 0.0
    for label, size in enumerate(walls.sizes, start=1):
        points = np.argwhere(skeleton & (walls.segments == label))
        if len(points) < 2:
            ratio = 0.0  # a dot of a wall: no direction at all
        else:
            ratio = min(1.0, pdist(points).max() / (len(points) - 1))
        total += size
        score += size * ratio
    return float(score / total)


def orientation(walls: Walls, tolerance_deg: float = 15.0) -> float:
    """Share of wall cells whose wall direction is within ``tolerance_deg`` of 0, 45, 90 or 135 deg.

    Parameters
    ----------
    walls : Walls
        The walls of the class map (``walls.find_walls``).
    tolerance_deg : float, default 15.0
        The largest angle from a lattice direction that counts, in degrees.

    Returns
    -------
    float
        In [0, 1]; 0 without walls.

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> orientation(find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)))
    1.0
    """
    if not walls.mask.any():
        return 0.0
    _, angle = _structure_tensor(walls.mask, 2.0)
    degrees = np.rad2deg(angle[walls.mask]) % 45.0
    off = np.minimum(degrees, 45.0 - degrees)
    return float(np.mean(off <= tolerance_deg))


def potts(label_grid: np.ndarray) -> float:
    """``1 - unlike 4-neighbour pairs / 4-neighbour pairs`` among the classified cells.

    Parameters
    ----------
    label_grid : (rows, cols) int array_like
        The class map on the cell grid (-1: unclassified).

    Returns
    -------
    float
        In [0, 1]; 0 without a pair of classified neighbours.

    Examples
    --------
    A 6 x 6 grid in two halves: 6 of the 60 neighbour pairs straddle the wall.

    >>> round(potts(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)), 6)
    0.9
    """
    labels = np.asarray(label_grid)
    unlike = pairs = 0
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        both = (a >= 0) & (b >= 0)
        pairs += int(both.sum())
        unlike += int((both & (a != b)).sum())
    return float(1 - unlike / pairs) if pairs else 0.0


def coherence(label_grid: np.ndarray) -> float:
    """How much more often 4-neighbour cells share a class than chance would have them.

    ``(agree - chance) / (1 - chance)``, chance the agreement of the same labels shuffled (the sum of
    the squared class shares). Domains are many cells wide (near 1); classes of scattered cells, such
    as cells next to a substituted column, are not (near 0).

    Parameters
    ----------
    label_grid : (rows, cols) int array_like
        The class map on the cell grid (-1: unclassified).

    Returns
    -------
    float
        In [0, 1]; 0 for one class or no classified cells.

    Examples
    --------
    Two halves: agreement 0.9 against a chance of 0.5.

    >>> round(coherence(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)), 6)
    0.8
    """
    labels = np.asarray(label_grid)
    classified = labels[labels >= 0]
    if len(classified) == 0:
        return 0.0
    chance = float(np.sum((np.bincount(classified) / len(classified)) ** 2))
    if chance >= 1:
        return 0.0
    return float(max(0.0, (potts(labels) - chance) / (1 - chance)))


def economy(walls: Walls) -> float:
    """``1 - wall cells / classified cells``.

    Parameters
    ----------
    walls : Walls
        The walls of the class map (``walls.find_walls``).

    Returns
    -------
    float
        In [0, 1]; 0 without classified cells.

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> round(economy(find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0))), 6)
    0.666667
    """
    n = walls.classified.sum()
    return float(1 - walls.mask.sum() / n) if n else 0.0


def separation(scores: np.ndarray, labels: np.ndarray, *, max_samples: int = 2000, random_state=0) -> float:
    """``max(0, silhouette)`` of the labels in descriptor space.

    Parameters
    ----------
    scores : (n, d) array_like
        The cells' descriptors (PCA scores).
    labels : (n,) int array
        The cells' classes.
    max_samples : int, default 2000
        The silhouette is computed on a random subsample of this many cells beyond it.
    random_state : int, default 0
        Seed of the subsample.

    Returns
    -------
    float
        In [0, 1]; 0 for fewer than two classes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (18, 2)), rng.normal(3, 0.1, (18, 2))])
    >>> separation(X, np.repeat([0, 1], 18)) > 0.9
    True
    """
    if len(np.unique(labels)) < 2:
        return 0.0
    size = min(max_samples, len(labels))
    # Imported here: the command line lists the components without scikit-learn.
    from sklearn.metrics import silhouette_score

    return float(max(0.0, silhouette_score(scores, labels, sample_size=size, random_state=random_state)))


def balance(labels: np.ndarray, n_classes: int, min_share: float = MIN_SHARE) -> float:
    """``min(1, smallest class share / min_share)``; an empty class scores 0.

    Parameters
    ----------
    labels : (n,) int array
        The cells' classes (-1: unclassified, not counted).
    n_classes : int
        The number of classes the map should have.
    min_share : float, default MIN_SHARE
        The share a class needs to score 1.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> round(balance(np.array([0] * 99 + [1]), 2), 6)
    0.333333
    """
    shares = np.bincount(labels[labels >= 0], minlength=n_classes) / max(int(np.sum(labels >= 0)), 1)
    return float(min(1.0, shares.min() / min_share))


def confidence(probabilities: np.ndarray) -> float:
    """``1 - mean entropy of the responsibilities / log k``, k the columns of ``probabilities``.

    Parameters
    ----------
    probabilities : (n, k) array_like
        The cells' class responsibilities.

    Returns
    -------
    float
        In [0, 1]; 0 for fewer than two classes or no cells.

    Examples
    --------
    One cell certain, one undecided:

    >>> round(confidence(np.array([[1.0, 0.0], [0.5, 0.5]])), 6)
    0.5
    """
    probabilities = np.asarray(probabilities, float)
    k = probabilities.shape[1] if probabilities.ndim == 2 else 1
    if k < 2 or len(probabilities) == 0:
        return 0.0
    p = np.clip(probabilities, 1e-300, 1.0)
    entropy = -np.sum(p * np.log(p), axis=1)
    return float(max(0.0, 1 - entropy.mean() / np.log(k)))


def line_fit(walls: Walls) -> float:
    """``sum_s n_s / (1 + r_s) / sum_s n_s``, r_s the rms distance of skeleton s from its principal line.

    Parameters
    ----------
    walls : Walls
        The walls of the class map (``walls.find_walls``).

    Returns
    -------
    float
        In [0, 1]; 0 without walls (segments of fewer than 3 skeleton cells score 0).

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> line_fit(find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)))
    1.0
    """
    if not walls.mask.any():
        return 0.0
    skeleton = wall_skeleton(walls.mask)
    score = 0.0
    for label, size in enumerate(walls.sizes, start=1):
        points = np.argwhere(skeleton & (walls.segments == label)).astype(float)
        if len(points) < 3:
            continue  # a dot of a wall: no line to fit, scores 0
        spread = np.linalg.eigvalsh(np.cov(points.T))  # ascending: the smallest is the variance off the line
        score += size / (1 + np.sqrt(max(spread[0], 0.0)))
    return float(score / walls.sizes.sum())


def curvature(walls: Walls) -> float:
    """``1 / (1 + mean |dtheta / ds| min(grid) / 2)`` over pairs of neighbouring skeleton cells.

    Parameters
    ----------
    walls : Walls
        The walls of the class map (``walls.find_walls``).

    Returns
    -------
    float
        In (0, 1]; 0 without walls or without neighbouring skeleton cells.

    Examples
    --------
    >>> from rewardscope.walls import find_walls
    >>> curvature(find_walls(np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)))
    1.0
    """
    if not walls.mask.any():
        return 0.0
    skeleton = wall_skeleton(walls.mask)
    _, theta = _structure_tensor(walls.mask, 2.0)
    points = np.argwhere(skeleton)
    turns = []
    for offset in ((0, 1), (1, 0), (1, 1), (1, -1)):  # each pair of 8-neighbours once
        other = points + offset
        inside = np.all((other >= 0) & (other < skeleton.shape), axis=1)
        p, q = points[inside], other[inside]
        linked = skeleton[q[:, 0], q[:, 1]]
        p, q = p[linked], q[linked]
        turn = theta[q[:, 0], q[:, 1]] - theta[p[:, 0], p[:, 1]]
        # Directions are mod pi.
        turns.append(np.abs((turn + np.pi / 2) % np.pi - np.pi / 2) / np.hypot(*offset))
    steps = np.concatenate(turns)
    if len(steps) == 0:
        return 0.0
    return float(1 / (1 + steps.mean() * min(walls.mask.shape) / 2))


def model_weight(criterion: np.ndarray, k: int) -> float:
    """Posterior probability of k classes from an information criterion for 1..k_max classes.

    ``exp(-X_k / 2) / sum_j exp(-X_j / 2)``.

    Parameters
    ----------
    criterion : (k_max,) array_like
        BIC or ICL of the mixtures of 1..k_max classes.
    k : int
        The number of classes of the map.

    Returns
    -------
    float
        In [0, 1]; 0 for a k outside 1..k_max.

    Examples
    --------
    >>> round(model_weight(np.array([10.0, 0.0, 4.0]), 2), 4)
    0.8756
    """
    criterion = np.asarray(criterion, float)
    if not 1 <= k <= len(criterion):
        return 0.0
    weight = np.exp(-(criterion - criterion.min()) / 2)
    return float(weight[k - 1] / weight.sum())


def bgmm_agreement(k_effective: int, k: int) -> float:
    """``min(k, k_eff) / max(k, k_eff)``: 1 when the Bayesian mixture keeps as many classes as the map has.

    Parameters
    ----------
    k_effective : int
        The components the Bayesian mixture keeps (``learn.ClassEvidence.k_effective``).
    k : int
        The number of classes of the map.

    Returns
    -------
    float

    Examples
    --------
    >>> round(bgmm_agreement(3, 2), 6)
    0.666667
    """
    return float(min(k, k_effective) / max(k, k_effective, 1))


def with_defaults(weights: dict | None) -> dict:
    """The default weights with those in ``weights`` changed (0 drops a component), checked.

    The reward's weights as ``--reward-weights`` and ``weights=`` mean them.

    Parameters
    ----------
    weights : dict or None
        Component name to weight.

    Returns
    -------
    dict
        ``DEFAULT_WEIGHTS`` updated with ``weights``.

    Raises
    ------
    RewardscopeError
        If a name is not a component, a weight is negative, or all are zero.

    Examples
    --------
    >>> with_defaults({"separation": 1.0, "potts": 2.0})["potts"]
    2.0
    """
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    combine(dict.fromkeys(COMPONENTS, 1.0), weights)  # names and values
    return weights


def combine(components: dict, weights: dict | None = None) -> float:
    """Weighted geometric mean of the components named in ``weights``.

    Parameters
    ----------
    components : dict
        Component name to value (negative values count as 0).
    weights : dict, optional
        Component name to weight (default ``DEFAULT_WEIGHTS``); zero weights are skipped.

    Returns
    -------
    float

    Raises
    ------
    RewardscopeError
        If a name is not a component, a weight is negative, or all are zero.

    Examples
    --------
    >>> combine({"continuity": 1.0, "straightness": 0.25}, {"continuity": 1.0, "straightness": 1.0})
    0.5
    """
    weights = DEFAULT_WEIGHTS if weights is None else weights
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown:
        raise RewardscopeError(
            f"unknown reward component {unknown[0]!r}; choose from {', '.join(COMPONENTS)}"
        )
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise RewardscopeError(f"reward weights must be >= 0 and not all zero, got {weights}")
    total = sum(weights.values())
    value = 1.0
    for name, weight in weights.items():
        if weight:
            value *= max(components[name], 0.0) ** (weight / total)
    return float(value)


def gates(
    labels: np.ndarray,
    n_classes: int,
    edge: np.ndarray | None = None,
    split: float | None = None,
    label_grid: np.ndarray | None = None,
) -> dict:
    """The figures of the gates for a map.

    Parameters
    ----------
    labels : (n,) int array
        The classes of the classified cells.
    n_classes : int
        The number of classes of the map.
    edge : (n,) bool array, optional
        True for the cells within half a window of the frame's border.
    split : float, optional
        The split evidence of the map's descriptors.
    label_grid : (rows, cols) int array, optional
        The map on the cell grid, for the coherence.

    Returns
    -------
    dict
        ``split_evidence``, ``edge_share``, ``smallest_class``, ``cells`` and ``coherence`` (NaN for
        the split evidence and coherence without ``split`` or ``label_grid``).

    Examples
    --------
    >>> grid = np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)
    >>> figures = gates(grid.ravel(), 2, label_grid=grid)
    >>> figures["smallest_class"], figures["cells"], round(figures["coherence"], 6)
    (18, 36, 0.8)
    """
    counts = (
        np.bincount(labels[labels >= 0], minlength=n_classes) if len(labels) else np.zeros(n_classes, int)
    )
    edge_share = 0.0
    if edge is not None and len(labels):
        edge_share = max(
            (float(edge[labels == k].mean()) for k in range(n_classes) if counts[k]), default=0.0
        )
    return {
        "split_evidence": float("nan") if split is None else float(split),
        "edge_share": edge_share,
        "smallest_class": int(counts.min()) if len(counts) else 0,
        "cells": int(counts.sum()),
        "coherence": coherence(label_grid) if label_grid is not None else float("nan"),
    }


def refusal(components: dict) -> str | None:
    """Why a map scores 0 whatever its components, or None when it passes the gates.

    Parameters
    ----------
    components : dict
        The gates' figures (``gates``), with or without the components.

    Returns
    -------
    str or None
        One line: the kind of failure, a colon, the figures.

    Examples
    --------
    >>> refusal({"split_evidence": 0.1})
    'no evidence of more than one class: split evidence 0.10 < 0.2'
    >>> refusal({"cells": 100, "smallest_class": 50, "coherence": 0.9}) is None
    True
    """
    split, cells = components.get("split_evidence", float("nan")), components.get("cells", 0)
    if np.isfinite(split) and split < SPLIT_EVIDENCE_MIN:
        return f"no evidence of more than one class: split evidence {split:.2f} < {SPLIT_EVIDENCE_MIN}"
    if components.get("edge_share", 0.0) >= EDGE_SHARE_MAX:
        return (
            f"a frame-edge class: {components['edge_share']:.0%} of its cells "
            "within half a window of the border"
        )
    least = max(MIN_CLASS_CELLS, MIN_SHARE * cells)
    if cells and components.get("smallest_class", cells) < least:
        return (
            f"too small a class: {components['smallest_class']} cells, "
            f"fewer than max({MIN_CLASS_CELLS}, {MIN_SHARE:.0%}) = {least:.0f}"
        )
    if components.get("coherence", 1.0) < COHERENCE_MIN:
        return (
            f"scattered classes, not domains: neighbouring cells agree {components['coherence']:.2f} "
            f"of the way from chance to certainty (< {COHERENCE_MIN})"
        )
    return None


def evaluate(
    walls: Walls,
    labels: np.ndarray,
    scores: np.ndarray,
    n_classes: int,
    weights: dict | None = None,
    label_grid: np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    evidence=None,
    edge: np.ndarray | None = None,
    split: float | None = None,
) -> tuple[float, dict]:
    """All components and the combined reward for one class map.

    Degenerate maps (one class present, no walls) and maps that fail a gate (``gates``: the class size
    always, coherence with ``label_grid``, the frame edge with ``edge``, the split evidence with
    ``split``) score 0.

    Parameters
    ----------
    walls : Walls
        The map's walls.
    labels : (n,) int array
        The classes of the classified cells.
    scores : (n, d) array
        Their descriptors (PCA scores), for the separation.
    n_classes : int
        The number of classes of the map.
    weights : dict, optional
        The components' weights (default ``DEFAULT_WEIGHTS``).
    label_grid : (rows, cols) int array, optional
        The map on the cell grid (potts, coherence).
    probabilities : (n, k) array, optional
        The cells' responsibilities (confidence).
    evidence : learn.ClassEvidence, optional
        Gives the bic, icl and bgmm components.
    edge : (n,) bool array, optional
        The cells within half a window of the frame's border.
    split : float, optional
        The split evidence of the descriptors.

    Returns
    -------
    reward : float
    components : dict
        Every component and gate figure; NaN for those whose inputs were not given.

    Raises
    ------
    RewardscopeError
        If ``weights`` names an unknown component or is negative or all zero.
    """
    present = len(np.unique(labels[labels >= 0]))
    components = _components(walls, labels, scores, n_classes, label_grid, probabilities, evidence)
    components.update(gates(labels, n_classes, edge, split, label_grid))
    if present < 2 or not walls.mask.any() or refusal(components):
        return 0.0, components
    return combine(components, weights), components


def _components(walls, labels, scores, n_classes, label_grid, probabilities, evidence) -> dict:
    """Every component of ``evaluate``'s map, NaN for those whose input is None."""
    nan = float("nan")
    return {
        "continuity": continuity(walls),
        "straightness": straightness(walls),
        "economy": economy(walls),
        "separation": separation(scores, labels),
        "balance": balance(labels, n_classes),
        "chord_straightness": chord_straightness(walls),
        "orientation": orientation(walls),
        "potts": potts(label_grid) if label_grid is not None else nan,
        "confidence": confidence(probabilities) if probabilities is not None else nan,
        "line_fit": line_fit(walls),
        "curvature": curvature(walls),
        "bic": model_weight(evidence.bic, n_classes) if evidence is not None else nan,
        "icl": model_weight(evidence.icl, n_classes) if evidence is not None else nan,
        "bgmm": bgmm_agreement(evidence.k_effective, n_classes) if evidence is not None else nan,
    }
