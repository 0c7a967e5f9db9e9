"""Lattice geometry (rewardscope.geometry): the basis from the image."""

import numpy as np
import pytest

from rewardscope.geometry import estimate_basis
from rewardscope.synthetic import synthesize


@pytest.mark.parametrize("rotation", [0.0, 4.0, 17.0])
def test_basis_from_autocorrelation(rotation):
    scene = synthesize("single", seed=0, size=256, rotation_deg=rotation)
    basis = estimate_basis(scene.image.data)
    period = 396 / 25
    np.testing.assert_allclose(np.linalg.norm(basis, axis=1), period, rtol=0.02)
    angle = np.rad2deg(np.arctan2(basis[0, 1], basis[0, 0]))
    assert angle == pytest.approx(rotation, abs=1.0)
