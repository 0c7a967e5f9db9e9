"""Unsupervised learners with the scikit-learn estimator contract (``fit(X)`` returns self)."""

from .gmm import ClassEvidence, PCAGaussianMixture, class_evidence

__all__ = ["ClassEvidence", "PCAGaussianMixture", "class_evidence"]
