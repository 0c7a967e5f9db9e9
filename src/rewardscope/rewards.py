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

The reward is the weighted geometric mean ``R = prod_c c^(w_c / sum w)``: a
zero in any component zeroes the reward. The degenerate labellings score 0:
one class or no walls (nothing to explain), no classified cells.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import silhouette_score

from .errors import RewardscopeError
from .walls import Walls

COMPONENTS = ("continuity", "straightness", "economy", "separation", "balance")
# Chosen on the synthetic layouts (stripes, quadrants, bubble, rough; see README): separation
# counts twice so that merging two true variants into one class is not the cheaper answer.
DEFAULT_WEIGHTS = {"continuity": 1.0, "straightness": 1.0, "economy": 1.0, "separation": 2.0, "balance": 1.0}
MIN_SHARE = 0.03


def continuity(walls: Walls) -> float:
    """Share of wall cells in long segments, ``sum n_s min(1, n_s/L) / sum n_s``, L = min(grid)/2."""
    total = walls.sizes.sum()
    if total == 0:
        return 0.0
    length = max(min(walls.mask.shape) / 2, 1.0)
    return float(np.sum(walls.sizes * np.minimum(1.0, walls.sizes / length)) / total)


def straightness(walls: Walls, scale: float = 2.0) -> float:
    """Mean structure-tensor coherence of the wall mask over wall cells (1 = straight)."""
    if not walls.mask.any():
        return 0.0
    mask = walls.mask.astype(float)
    gy = ndimage.gaussian_filter(mask, 1.0, order=(1, 0), mode="nearest")
    gx = ndimage.gaussian_filter(mask, 1.0, order=(0, 1), mode="nearest")
    jxx = ndimage.gaussian_filter(gx * gx, scale, mode="nearest")
    jyy = ndimage.gaussian_filter(gy * gy, scale, mode="nearest")
    jxy = ndimage.gaussian_filter(gx * gy, scale, mode="nearest")
    trace = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / np.where(trace > 1e-12, trace, np.inf)
    return float(np.median(coherence[walls.mask]))


def economy(walls: Walls) -> float:
    """``1 - wall cells / classified cells``."""
    n = walls.classified.sum()
    return float(1 - walls.mask.sum() / n) if n else 0.0


def separation(scores: np.ndarray, labels: np.ndarray, *, max_samples: int = 2000, random_state=0) -> float:
    """``max(0, silhouette)`` of the labels in descriptor space (subsampled beyond ``max_samples``)."""
    if len(np.unique(labels)) < 2:
        return 0.0
    size = min(max_samples, len(labels))
    return float(max(0.0, silhouette_score(scores, labels, sample_size=size, random_state=random_state)))


def balance(labels: np.ndarray, n_classes: int, min_share: float = MIN_SHARE) -> float:
    """``min(1, smallest class share / min_share)``; an empty class scores 0."""
    shares = np.bincount(labels[labels >= 0], minlength=n_classes) / max(np.sum(labels >= 0), 1)
    return float(min(1.0, shares.min() / min_share))


def combine(components: dict, weights: dict | None = None) -> float:
    """Weighted geometric mean of the components named in ``weights``."""
    weights = DEFAULT_WEIGHTS if weights is None else weights
    unknown = sorted(set(weights) - set(COMPONENTS))
    if unknown:
        raise RewardscopeError(f"unknown reward component {unknown[0]!r}; choose from {', '.join(COMPONENTS)}")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise RewardscopeError(f"reward weights must be >= 0 and not all zero, got {weights}")
    total = sum(weights.values())
    value = 1.0
    for name, weight in weights.items():
        if weight:
            value *= max(components[name], 0.0) ** (weight / total)
    return float(value)


def evaluate(walls: Walls, labels: np.ndarray, scores: np.ndarray, n_classes: int, weights: dict | None = None) -> tuple[float, dict]:
    """All components and the combined reward for one class map; degenerate maps score 0."""
    present = len(np.unique(labels[labels >= 0]))
    components = {
        "continuity": continuity(walls),
        "straightness": straightness(walls),
        "economy": economy(walls),
        "separation": separation(scores, labels),
        "balance": balance(labels, n_classes),
    }
    if present < 2 or not walls.mask.any():
        return 0.0, components
    return combine(components, weights), components
