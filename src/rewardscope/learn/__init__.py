"""Unsupervised learners with the scikit-learn estimator contract (``fit(X)`` returns self).

``PCAGaussianMixture`` needs numpy and scikit-learn only; the VAEs (``learn.vae``:
``PatchVAE``, ``VAEClassifier``) need PyTorch and import it when used.
"""

from ..config import LEARNERS
from ..config import VAE_LEARNERS as VAE_KINDS
from .gmm import ClassEvidence, PCAGaussianMixture, class_evidence, split_evidence
from .potts import potts_mean_field
from .vae import PatchVAE, VAEClassifier

__all__ = [
    "LEARNERS",
    "VAE_KINDS",
    "ClassEvidence",
    "PCAGaussianMixture",
    "PatchVAE",
    "VAEClassifier",
    "class_evidence",
    "potts_mean_field",
    "split_evidence",
]
