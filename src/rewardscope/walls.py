"""Domain walls on the (i, j) cell grid.

A *wall cell* is a classified cell with a 4-neighbour in another class; a wall
between two domains is therefore two cells thick. *Wall segments* are the
8-connected components of the wall cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

UNCLASSIFIED = -1


@dataclass(frozen=True)
class Walls:
    """The walls of a label grid (``find_walls``).

    Parameters
    ----------
    mask : (rows, cols) bool array
        True for the wall cells.
    segments : (rows, cols) int array
        0 outside walls, 1..n the wall segment of each wall cell.
    sizes : (n,) int array
        The cells of each segment.
    classified : (rows, cols) bool array
        True for the classified cells (not ``UNCLASSIFIED``).
    """

    mask: np.ndarray
    segments: np.ndarray
    sizes: np.ndarray
    classified: np.ndarray

    @property
    def n_segments(self) -> int:
        """The number of wall segments.

        Returns
        -------
        int
        """
        return len(self.sizes)


def find_walls(label_grid: np.ndarray) -> Walls:
    """Wall cells and wall segments of a label grid.

    Parameters
    ----------
    label_grid : (rows, cols) int array_like
        The class of each cell; ``UNCLASSIFIED`` (-1) cells are ignored.

    Returns
    -------
    Walls

    Examples
    --------
    Two domains side by side on a 6 x 6 grid: one straight wall, two cells thick.

    >>> grid = np.repeat([[0, 0, 0, 1, 1, 1]], 6, axis=0)
    >>> walls = find_walls(grid)
    >>> walls.n_segments, walls.sizes.tolist(), walls.mask[0].astype(int).tolist()
    (1, [12], [0, 0, 1, 1, 0, 0])
    """
    labels = np.asarray(label_grid)
    classified = labels != UNCLASSIFIED
    mask = np.zeros(labels.shape, bool)
    # Compare each cell with its right and lower neighbour; mark both sides of a change.
    for axis in (0, 1):
        a: list[slice] = [slice(None)] * 2
        b: list[slice] = [slice(None)] * 2
        a[axis] = slice(None, -1)
        b[axis] = slice(1, None)
        first, second = tuple(a), tuple(b)
        change = classified[first] & classified[second] & (labels[first] != labels[second])
        mask[first] |= change
        mask[second] |= change
    segments, n = ndimage.label(mask, structure=np.ones((3, 3), int))
    sizes = np.bincount(segments.ravel(), minlength=n + 1)[1:]
    return Walls(mask=mask, segments=segments, sizes=sizes, classified=classified)
