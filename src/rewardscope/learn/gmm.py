"""PCA followed by a Gaussian mixture: the paper's baseline classifier of atom-centred patches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from ..descriptors import pooled
from ..errors import RewardscopeError


class PCAGaussianMixture:
    """Reduce descriptors with PCA, then cluster them with a Gaussian mixture of ``n_classes``.

    Learned attributes: ``labels_`` (n,), ``means_`` (classes, d) in descriptor
    space, ``scores_`` (n, n_components) the PCA scores, ``probabilities_``
    (n, classes), ``bic_``, ``entropy_`` of the responsibilities and ``icl_`` = BIC + 2 entropy. Labels are ordered by class size (0 is the largest),
    so the same data and ``random_state`` always give the same labels.
    """

    def __init__(
        self,
        n_classes: int = 2,
        *,
        n_components: int = 8,
        n_init: int = 4,
        covariance_type: str = "full",
        random_state=None,
    ):
        self.n_classes = n_classes
        self.n_components = n_components
        self.n_init = n_init
        self.covariance_type = covariance_type
        self.random_state = random_state

    def fit(self, X, reference=None) -> PCAGaussianMixture:
        """Fit on the rows of ``X`` where ``reference`` (bool, n) is true (default all) and label every row:
        cells whose patch the frame cuts are assigned by the mixture, not allowed to shape it."""
        X = np.asarray(X, float)
        if X.ndim != 2:
            raise RewardscopeError(
                f"descriptors must be a 2-D array (samples, features), got shape {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise RewardscopeError("descriptors contain NaN or inf")
        if not 1 <= self.n_classes <= len(X):
            raise RewardscopeError(
                f"`n_classes` must be in [1, {len(X)}] (the number of samples), got n_classes={self.n_classes}"
            )
        fitted = np.ones(len(X), bool) if reference is None else np.asarray(reference, bool)
        if fitted.sum() < max(2 * self.n_classes, 2):
            fitted = np.ones(len(X), bool)  # too few whole cells to stand for the rest
        components = max(1, min(self.n_components, X.shape[1], int(fitted.sum()) - 1))
        self.pca_ = PCA(n_components=components, random_state=self.random_state).fit(X[fitted])
        self.scores_ = self.pca_.transform(X)
        self.reference_ = fitted
        self.mixture_ = GaussianMixture(
            n_components=self.n_classes,
            covariance_type=self.covariance_type,
            n_init=self.n_init,
            reg_covar=1e-4,
            random_state=self.random_state,
        ).fit(self.scores_[fitted])
        raw = self.mixture_.predict(self.scores_)
        # Order classes by size so labels do not depend on the mixture's internal order.
        sizes = np.bincount(raw, minlength=self.n_classes)
        self.order_ = np.lexsort((np.arange(self.n_classes), -sizes))
        self.probabilities_ = self.mixture_.predict_proba(self.scores_)[:, self.order_]
        self.labels_ = np.argmax(self.probabilities_, axis=1)
        self.means_ = np.array(
            [
                X[self.labels_ == k].mean(axis=0)
                if np.any(self.labels_ == k)
                else np.full(X.shape[1], np.nan)
                for k in range(self.n_classes)
            ]
        )
        self.bic_ = float(self.mixture_.bic(self.scores_))
        # ICL = BIC + 2 x the entropy of the responsibilities (Biernacki et al. 2000): lower is better.
        p = np.clip(self.probabilities_, 1e-300, 1.0)
        self.entropy_ = float(-np.sum(p * np.log(p)))
        self.icl_ = self.bic_ + 2 * self.entropy_
        return self

    def fit_predict(self, X) -> np.ndarray:
        return self.fit(X).labels_

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, classes) of new descriptors, in the fitted label order."""
        if not hasattr(self, "mixture_"):
            raise RewardscopeError("this PCAGaussianMixture is not fitted yet: call fit(X) first")
        return self.mixture_.predict_proba(self.pca_.transform(np.asarray(X, float)))[:, self.order_]

    def predict(self, X) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1)


SPLIT_SQUARE, SPLIT_LINES = (
    1,
    ((4, 0), (0, 4)),
)  # the split evidence's averagings: 3 x 3 cells; 9 along i, 9 along j
# A line averages along one direction only, where the row-wise artefacts of a scan (frames registered,
# drift, the probe current) can line up: its valley counts at 2/3 (a one-phase real frame, Nd0.5Sr0.5MnO3,
# reaches 0.23 along j, so it needs 0.3 to pass the gate's 0.2).
LINE_WEIGHT = 2 / 3


def split_evidence(scores: np.ndarray, labels: np.ndarray, ij: np.ndarray | None = None) -> float:
    """How clearly two classes are two: 1 - the depth ratio of the density valley between them.

    The scores are projected on the direction that best separates the two classes (Fisher's: the
    within-class covariance applied to the difference of the means); the density of that projection
    (a Gaussian kernel estimate) is compared between the two classes' medians. One cloud of any
    unimodal shape, a Gaussian, a skewed or flat one (a thickness gradient), has no valley there
    (evidence 0, whatever a mixture does to it); two separated clouds have a deep one (evidence near 1).

    With the cells' ``ij`` (n, 2) the evidence is also measured on the projection averaged over each
    cell and its eight neighbours, and along lines of 9 cells in i and in j (weighed by ``LINE_WEIGHT``),
    and the largest is returned: domains many cells wide keep their two modes, sharper for the averaging
    (the evidence of a low-dose image lies in space, not in one cell); a small domain (a few cells
    across), blurred by it, keeps its evidence unaveraged; a line along a wall on a lattice plane
    averages 9 cells without mixing the two sides, where a square blurs every cell next to the wall
    into the valley. Averaged, white noise and a smooth gradient stay unimodal: one phase at 6 e/px
    (paraelectric, uniformly offset; 3 seeds, 6 settings each) scores at most 0.09 on any reading.
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels)
    groups = [scores[labels == k] for k in (0, 1)]
    if min(len(g) for g in groups) < 3:
        return 0.0
    d = scores.shape[1]
    within = sum(np.cov(g.T, bias=True).reshape(d, d) * len(g) for g in groups) / sum(len(g) for g in groups)
    within += 1e-9 * (np.trace(within) / d + 1e-300) * np.eye(d)
    direction = np.linalg.solve(within, groups[1].mean(axis=0) - groups[0].mean(axis=0))
    projection = scores @ direction
    kept = (labels == 0) | (labels == 1)
    evidence = _valley(projection[kept], labels[kept])
    if ij is None:
        return evidence
    square = _valley(pooled(projection[:, None], ij, SPLIT_SQUARE)[kept, 0], labels[kept])
    lines = max(
        _valley(pooled(projection[:, None], ij, radius)[kept, 0], labels[kept]) for radius in SPLIT_LINES
    )
    return max(evidence, square, LINE_WEIGHT * lines)


def _valley(projection: np.ndarray, labels: np.ndarray) -> float:
    """1 - the least kernel density between the medians of classes 0 and 1 over the lesser density at them."""
    from scipy.stats import gaussian_kde

    if np.ptp(projection) <= 0:
        return 0.0
    density = gaussian_kde(projection)
    ends = sorted(float(np.median(projection[labels == k])) for k in (0, 1))
    profile = density(np.linspace(ends[0], ends[1], 101))
    return float(np.clip(1 - profile.min() / max(min(profile[0], profile[-1]), 1e-300), 0.0, 1.0))


@dataclass(frozen=True)
class ClassEvidence:
    """How many classes the data support, from mixtures of 1..k_max classes on the same PCA scores.

    ``bic`` and ``icl`` (k_max,) for k = 1..k_max (lower is better); ``k_effective``
    the number of components of a Dirichlet-process Bayesian Gaussian mixture
    with k_max components that hold at least ``min_share`` of the cells.
    """

    bic: np.ndarray
    icl: np.ndarray
    k_effective: int


def class_evidence(
    X, *, k_max: int = 8, n_components: int = 8, min_share: float = 0.03, random_state=None
) -> ClassEvidence:
    """BIC and ICL for 1..k_max classes and the effective number of classes of a Bayesian mixture."""
    X = np.asarray(X, float)
    k_max = max(1, min(k_max, len(X)))
    scores = PCA(
        n_components=max(1, min(n_components, X.shape[1], len(X) - 1)), random_state=random_state
    ).fit_transform(X)
    bic, icl = np.empty(k_max), np.empty(k_max)
    for k in range(1, k_max + 1):
        mixture = GaussianMixture(k, reg_covar=1e-4, n_init=2, random_state=random_state).fit(scores)
        p = np.clip(mixture.predict_proba(scores), 1e-300, 1.0)
        bic[k - 1] = mixture.bic(scores)
        icl[k - 1] = bic[k - 1] - 2 * np.sum(p * np.log(p))
    # A small weight concentration prior lets the Dirichlet process switch off the components it does not need.
    bayesian = BayesianGaussianMixture(
        n_components=k_max,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=1e-2,
        reg_covar=1e-4,
        max_iter=300,
        random_state=random_state,
    ).fit(scores)
    return ClassEvidence(bic=bic, icl=icl, k_effective=int(np.sum(bayesian.weights_ >= min_share)))
