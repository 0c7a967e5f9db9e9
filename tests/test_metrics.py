"""Accuracy against the truth (rewardscope.metrics): Cramer-Rao bound, ideal and true polarization."""

import numpy as np
import pytest

from rewardscope.synthetic import synthesize


def test_the_bound_grows_as_the_dose_falls():
    from rewardscope.metrics import cramer_rao_bound

    bounds = [
        np.median(cramer_rao_bound(synthesize("single", seed=0, size=128, dose=dose)))
        for dose in (25.0, 400.0)
    ]
    assert bounds[0] / bounds[1] == pytest.approx(4.0, rel=0.15)  # sqrt(400 / 25): shot noise


def test_the_ideal_estimator_gets_every_cell_at_normal_dose_and_fewer_at_low_dose():
    from rewardscope.metrics import ideal_polarization

    normal = ideal_polarization(synthesize("stripes", seed=1, size=256))
    low = ideal_polarization(synthesize("stripes", seed=1, size=256, dose=6.0, polarization_pm=15.0))
    assert normal["cell_accuracy"] > 0.99 and normal["angle_error_deg"] < 4.0
    assert (
        0.6 < low["cell_accuracy"] < 0.95 and low["angle_error_deg"] > 15.0
    )  # one cell cannot tell, at 6 e/px


def test_true_polarization_is_the_offset_from_the_corners_centroid():
    from rewardscope.metrics import true_polarization

    scene = synthesize("rough", seed=3, size=256)
    truth = scene.truth
    polarization = true_polarization(truth)
    b = np.flatnonzero(truth.sublattice == "B")
    known = b[np.all(np.isfinite(polarization[b]), axis=1)]
    assert len(known) > 0.8 * len(b) and np.all(np.isnan(polarization[truth.sublattice == "A"]))
    # One cell by hand: its B's position less the mean of its four A corners, less the same on the ideal
    # lattice.
    row = known[len(known) // 2]
    i, j = truth.i[row], truth.j[row]
    a = truth.sublattice == "A"
    corners = [
        np.flatnonzero(a & (truth.i == i + di) & (truth.j == j + dj))[0] for di in (0, 1) for dj in (0, 1)
    ]
    np.testing.assert_allclose(
        polarization[row], truth.dxy[row] - truth.dxy[corners].mean(axis=0), atol=1e-12
    )
    # Far from any antipolar cell the corners sit on the lattice: P is the B's own displacement.
    polar = known[truth.variant[known] == 0]
    unshifted = [r for r in polar if np.allclose(polarization[r], truth.dxy[r])]
    assert len(unshifted) > 0.5 * len(polar)
    # Beside an antipolar region some corners shift: there the two differ.
    assert not np.allclose(polarization[known], truth.dxy[known])
