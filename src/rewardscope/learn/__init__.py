"""Unsupervised learners with the scikit-learn estimator contract (``fit(X)`` returns self)."""

from .gmm import PCAGaussianMixture

__all__ = ["PCAGaussianMixture"]
