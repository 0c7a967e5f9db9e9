"""Unsupervised learners with the scikit-learn estimator contract (``fit(X)`` returns self).

``PCAGaussianMixture`` needs numpy and scikit-learn only; the VAEs (``learn.vae``:
``PatchVAE``, ``VAEClassifier``) need PyTorch and import it when used.
"""

from .gmm import ClassEvidence, PCAGaussianMixture, class_evidence
from .vae import KINDS as VAE_KINDS
from .vae import PatchVAE, VAEClassifier

LEARNERS = ("gmm", *VAE_KINDS)

__all__ = ["LEARNERS", "VAE_KINDS", "ClassEvidence", "PCAGaussianMixture", "PatchVAE", "VAEClassifier", "class_evidence"]
