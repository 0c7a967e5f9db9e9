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
    mask: np.ndarray  # (rows, cols) bool
    segments: np.ndarray  # (rows, cols) int, 0 outside walls, 1..n inside
    sizes: np.ndarray  # (n,) cells per segment
    classified: np.ndarray  # (rows, cols) bool

    @property
    def n_segments(self) -> int:
        return len(self.sizes)


def find_walls(label_grid: np.ndarray) -> Walls:
    """Wall cells and wall segments of a label grid (UNCLASSIFIED = -1 cells are ignored)."""
    labels = np.asarray(label_grid)
    classified = labels != UNCLASSIFIED
    mask = np.zeros(labels.shape, bool)
    # Compare each cell with its right and lower neighbour; mark both sides of a change.
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis] = slice(None, -1)
        b[axis] = slice(1, None)
        a, b = tuple(a), tuple(b)
        change = classified[a] & classified[b] & (labels[a] != labels[b])
        mask[a] |= change
        mask[b] |= change
    segments, n = ndimage.label(mask, structure=np.ones((3, 3), int))
    sizes = np.bincount(segments.ravel(), minlength=n + 1)[1:]
    return Walls(mask=mask, segments=segments, sizes=sizes, classified=classified)
