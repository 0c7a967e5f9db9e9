"""Descriptors (rewardscope.descriptors): patches, the frame's edge and pooling."""

import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.descriptors import patches


def test_patches_are_standardised_and_centred():
    image = np.zeros((40, 40))
    image[20, 20] = 1.0
    X = patches(image, np.array([[20.0, 20.0], [10.0, 10.0]]), 9)
    assert X.shape == (2, 81)
    np.testing.assert_allclose(X[0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(X[0].std(), 1)
    assert np.argmax(X[0]) == 40  # the centre pixel of a 9 x 9 patch
    with pytest.raises(RewardscopeError, match="window"):
        patches(image, np.array([[20.0, 20.0]]), 64)


def test_patches_within_the_frame():
    from rewardscope.descriptors import within_frame

    centres = np.array([[5.5, 5.5], [5.4, 20.0], [20.0, 33.5], [20.0, 33.6]])
    # A 12 px patch spans centre +- 5.5 px: inside a 40 x 50 (rows x columns) image up to column 49 and
    # row 39.
    assert within_frame(centres, 12, (40, 50)).tolist() == [True, False, True, False]


def test_pooled_descriptors_average_each_cells_neighbourhood():
    from rewardscope.descriptors import pooled

    ij = np.array([[i, j] for j in range(4) for i in range(5)])
    X = np.column_stack([ij[:, 0].astype(float), np.ones(len(ij))])
    out = pooled(X, ij, 1)
    centre = np.flatnonzero((ij[:, 0] == 2) & (ij[:, 1] == 1))[0]
    corner = np.flatnonzero((ij[:, 0] == 0) & (ij[:, 1] == 0))[0]
    assert out[centre, 0] == pytest.approx(2.0) and out[corner, 0] == pytest.approx(
        0.5
    )  # (0 + 1) / 2 over the cells present
    np.testing.assert_allclose(out[:, 1], 1.0)
    assert pooled(X, ij, 0) is X


def test_pooled_along_a_line_of_cells():
    from rewardscope.descriptors import pooled

    ij = np.array([[i, j] for j in range(4) for i in range(5)])
    X = np.column_stack([ij[:, 0].astype(float), ij[:, 1].astype(float)])
    along_j = pooled(X, ij, (0, 1))  # each cell with the cells above and below it
    np.testing.assert_allclose(along_j[:, 0], X[:, 0])  # i unchanged: nothing mixed across i
    centre = np.flatnonzero((ij[:, 0] == 2) & (ij[:, 1] == 1))[0]
    top = np.flatnonzero((ij[:, 0] == 2) & (ij[:, 1] == 0))[0]
    assert along_j[centre, 1] == pytest.approx(1.0) and along_j[top, 1] == pytest.approx(0.5)


def test_frame_edge_grows_with_the_pooling():
    """A cell pooled with a cell whose patch the frame cuts inherits the cut: the frame-edge gate must
    see it, or pooling dilutes an edge class below the gate (a 3-row edge class in SrTiO3, 38%)."""
    from rewardscope.descriptors import frame_edge

    ij = np.indices((10, 10)).reshape(2, -1).T
    centres = 10.0 * ij + 5.0  # cells 10 px apart in a 100 x 100 frame
    alone = frame_edge(centres, ij, 12, (100, 100))
    assert alone.sum() == 36  # the outer ring: a 12 px patch about a centre 5 px from the border is cut
    two = frame_edge(centres, ij, 12, (100, 100), pooling=2)
    assert two.sum() == 100 - 4 * 4 and np.all(two[alone])  # two more rings
