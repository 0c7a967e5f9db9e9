"""Descriptors: atom-centred image patches, the input of the unsupervised learners."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .errors import RewardscopeError


def patches(image: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """Square ``window`` x ``window`` patches centred (sub-pixel, bilinear) on ``centres`` (n, 2).

    Each patch is standardised (zero mean, unit variance) so that thickness and
    background variation across the image do not become classes. Returns (n, window**2).
    Pixels beyond the frame are mirrored in.
    """
    window = int(window)
    if window < 3:
        raise RewardscopeError(f"`window` must be >= 3 px, got {window=}")
    if window > min(image.shape):
        raise RewardscopeError(f"`window` of {window} px is larger than the image {image.shape}")
    centres = np.asarray(centres, float)
    offsets = np.arange(window) - (window - 1) / 2
    ox, oy = np.meshgrid(offsets, offsets)
    x = centres[:, 0, None] + ox.ravel()[None]
    y = centres[:, 1, None] + oy.ravel()[None]
    values = ndimage.map_coordinates(np.asarray(image, float), [y.ravel(), x.ravel()], order=1, mode="mirror")
    values = values.reshape(len(centres), window * window)
    values -= values.mean(axis=1, keepdims=True)
    scale = values.std(axis=1, keepdims=True)
    return values / np.where(scale > 0, scale, 1.0)
