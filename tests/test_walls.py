"""Domain walls on the cell grid (rewardscope.walls)."""

import numpy as np

from rewardscope.walls import find_walls


def test_walls_of_one_straight_boundary():
    grid = np.zeros((10, 10), int)
    grid[:, 5:] = 1
    walls = find_walls(grid)
    assert walls.n_segments == 1
    assert walls.mask.sum() == 20  # both sides of the boundary, 10 rows each
    assert walls.mask[:, 4].all() and walls.mask[:, 5].all()


def test_unclassified_cells_make_no_walls():
    grid = np.zeros((8, 8), int)
    grid[:, :2] = -1
    assert not find_walls(grid).mask.any()
