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

    Parameters
    ----------
    n_classes : int, default 2
        The number of classes (the mixture's components).
    pca_dim : int, default 8
        The number of PCA dimensions the mixture is fitted in (capped by the features and samples).
    n_init : int, default 4
        The mixture's restarts; the best is kept.
    covariance_type : str, default "full"
        The mixture's covariance type (scikit-learn's ``GaussianMixture``).
    random_state : int, numpy Generator or None
        Seed of the PCA and the mixture.

    Attributes
    ----------
    labels_ : (n,) int array
        The class of each row, ordered by class size (0 is the largest), so the same data and
        ``random_state`` always give the same labels.
    means_ : (n_classes, d) array
        The mean descriptor of each class (NaN for an empty class).
    scores_ : (n, pca_dim) array
        The PCA scores.
    probabilities_ : (n, n_classes) array
        The mixture's responsibilities, in label order.
    bic_, entropy_, icl_ : float
        The mixture's BIC, the entropy of its responsibilities and ICL = BIC + 2 entropy.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (30, 3)), rng.normal(5, 0.1, (20, 3))])
    >>> PCAGaussianMixture(2, pca_dim=2, random_state=0).fit(X).labels_[[0, 49]].tolist()
    [0, 1]
    """

    def __init__(
        self,
        n_classes: int = 2,
        *,
        pca_dim: int = 8,
        n_init: int = 4,
        covariance_type: str = "full",
        random_state=None,
    ):
        self.n_classes = n_classes
        self.pca_dim = pca_dim
        self.n_init = n_init
        self.covariance_type = covariance_type
        self.random_state = random_state

    def fit(self, X, reference=None) -> PCAGaussianMixture:
        """Fit on the rows of ``X`` where ``reference`` is true and label every row.

        Cells whose patch the frame cuts are assigned by the mixture, not allowed to shape it.

        Parameters
        ----------
        X : (n, d) array_like
            The descriptors, one row a cell.
        reference : (n,) bool array_like, optional
            The rows the PCA and the mixture are fitted on (default all; all too where fewer than
            2 x ``n_classes`` are true).

        Returns
        -------
        PCAGaussianMixture
            self, fitted.

        Raises
        ------
        RewardscopeError
            If ``X`` is not 2-D, holds NaN or inf, or has fewer rows than ``n_classes``.
        """
        X = self._checked(X)
        fitted = np.ones(len(X), bool) if reference is None else np.asarray(reference, bool)
        if fitted.sum() < max(2 * self.n_classes, 2):
            fitted = np.ones(len(X), bool)  # too few whole cells to stand for the rest
        components = max(1, min(self.pca_dim, X.shape[1], int(fitted.sum()) - 1))
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

    def _checked(self, X) -> np.ndarray:
        """``X`` as a float array, or a RewardscopeError saying why it cannot be fitted."""
        X = np.asarray(X, float)
        if X.ndim != 2:
            raise RewardscopeError(
                f"descriptors must be a 2-D array (samples, features), got shape {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise RewardscopeError("descriptors contain NaN or inf")
        if not 1 <= self.n_classes <= len(X):
            raise RewardscopeError(
                f"`n_classes` must be in [1, {len(X)}] (the number of samples), "
                f"got n_classes={self.n_classes}"
            )
        return X

    def fit_predict(self, X) -> np.ndarray:
        """Fit on all rows of ``X`` and return their labels.

        Parameters
        ----------
        X : (n, d) array_like
            The descriptors.

        Returns
        -------
        (n,) int array
            ``labels_``.

        Raises
        ------
        RewardscopeError
            As :meth:`fit`.
        """
        return self.fit(X).labels_

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of new descriptors, in the fitted label order.

        Parameters
        ----------
        X : (m, d) array_like
            Descriptors of the fitted width.

        Returns
        -------
        (m, n_classes) array

        Raises
        ------
        RewardscopeError
            If the model is not fitted.
        """
        if not hasattr(self, "mixture_"):
            raise RewardscopeError("this PCAGaussianMixture is not fitted yet: call fit(X) first")
        return self.mixture_.predict_proba(self.pca_.transform(np.asarray(X, float)))[:, self.order_]

    def predict(self, X) -> np.ndarray:
        """The most probable class of new descriptors.

        Parameters
        ----------
        X : (m, d) array_like
            Descriptors of the fitted width.

        Returns
        -------
        (m,) int array

        Raises
        ------
        RewardscopeError
            If the model is not fitted.
        """
        return np.argmax(self.predict_proba(X), axis=1)


# The split evidence's averagings: 3 x 3 cells; 9 along i, 9 along j.
SPLIT_SQUARE, SPLIT_LINES = 1, ((4, 0), (0, 4))
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

    Parameters
    ----------
    scores : (n, d) array_like
        The cells' scores (a learner's PCA scores).
    labels : (n,) int array_like
        The cells' classes; only classes 0 and 1 are compared.
    ij : (n, 2) int array_like, optional
        The cells' lattice indices, for the averaged readings.

    Returns
    -------
    float
        The evidence in [0, 1]; 0 where either class has fewer than 3 cells.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> two = np.concatenate([rng.normal(-3, 1, 200), rng.normal(3, 1, 200)])[:, None]
    >>> round(split_evidence(two, np.repeat([0, 1], 200)), 2)
    0.83
    >>> one = rng.normal(0, 1, 400)[:, None]
    >>> split_evidence(one, (one[:, 0] > 0).astype(int))
    0.0
    """
    scores, labels = np.asarray(scores, float), np.asarray(labels)
    groups = [scores[labels == k] for k in (0, 1)]
    if min(len(g) for g in groups) < 3:
        return 0.0
    projection = scores @ _fisher_direction(groups)
    kept = (labels == 0) | (labels == 1)
    evidence = _valley(projection[kept], labels[kept])
    if ij is None:
        return evidence
    square = _valley(pooled(projection[:, None], ij, SPLIT_SQUARE)[kept, 0], labels[kept])
    lines = max(
        _valley(pooled(projection[:, None], ij, radius)[kept, 0], labels[kept]) for radius in SPLIT_LINES
    )
    return max(evidence, square, LINE_WEIGHT * lines)


def _fisher_direction(groups: list[np.ndarray]) -> np.ndarray:
    """The within-class covariance of two groups of scores applied to the difference of their means."""
    d = groups[0].shape[1]
    within = sum(np.cov(g.T, bias=True).reshape(d, d) * len(g) for g in groups) / sum(len(g) for g in groups)
    within += 1e-9 * (np.trace(within) / d + 1e-300) * np.eye(d)
    return np.linalg.solve(within, groups[1].mean(axis=0) - groups[0].mean(axis=0))


def _valley(projection: np.ndarray, labels: np.ndarray) -> float:
    """1 - the least kernel density between the medians of classes 0 and 1 over the lesser one at them."""
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

    Parameters
    ----------
    bic, icl : (k_max,) array
        BIC and ICL of the mixtures of k = 1..k_max classes (lower is better).
    k_effective : int
        The number of components of a Dirichlet-process Bayesian Gaussian mixture with k_max
        components that hold at least ``min_share`` of the cells.
    """

    bic: np.ndarray
    icl: np.ndarray
    k_effective: int


def class_evidence(
    X, *, k_max: int = 8, pca_dim: int = 8, min_share: float = 0.03, random_state=None
) -> ClassEvidence:
    """BIC and ICL for 1..k_max classes and the effective number of classes of a Bayesian mixture.

    Parameters
    ----------
    X : (n, d) array_like
        The descriptors.
    k_max : int, default 8
        The most classes tried (capped by the rows).
    pca_dim : int, default 8
        The PCA dimensions the mixtures are fitted in (capped by the features and rows).
    min_share : float, default 0.03
        The least share of the cells a Bayesian component must hold to count.
    random_state : int or None
        Seed of the PCA and the mixtures.

    Returns
    -------
    ClassEvidence

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 0.1, (40, 2)), rng.normal(5, 0.1, (40, 2))])
    >>> int(np.argmin(class_evidence(X, k_max=3, random_state=0).bic)) + 1
    2
    """
    X = np.asarray(X, float)
    k_max = max(1, min(k_max, len(X)))
    scores = PCA(
        n_components=max(1, min(pca_dim, X.shape[1], len(X) - 1)), random_state=random_state
    ).fit_transform(X)
    bic, icl = np.empty(k_max), np.empty(k_max)
    for k in range(1, k_max + 1):
        mixture = GaussianMixture(k, reg_covar=1e-4, n_init=2, random_state=random_state).fit(scores)
        p = np.clip(mixture.predict_proba(scores), 1e-300, 1.0)
        bic[k - 1] = mixture.bic(scores)
        icl[k - 1] = bic[k - 1] - 2 * np.sum(p * np.log(p))
    # A small weight concentration prior lets the Dirichlet process switch off the components it need not use.
    bayesian = BayesianGaussianMixture(
        n_components=k_max,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=1e-2,
        reg_covar=1e-4,
        max_iter=300,
        random_state=random_state,
    ).fit(scores)
    return ClassEvidence(bic=bic, icl=icl, k_effective=int(np.sum(bayesian.weights_ >= min_share)))
