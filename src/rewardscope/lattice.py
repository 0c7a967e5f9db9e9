"""Unit cells: the (i, j) index of every column and the polar displacement of every B.

A columns sit on cell corners (i, j); the B column of cell (i, j) sits near
(i + 1/2, j + 1/2). The polar displacement of a B column is its position minus
the centroid of its four A neighbours, the corners (i, j), (i+1, j), (i, j+1),
(i+1, j+1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .atoms import Columns
from .geometry import fit_lattice, fractional

NOT_INDEXED = -1


@dataclass(frozen=True)
class Lattice:
    """Cell indices ``ij`` (n, 2) of every column (-1 where not indexed) and the B-site geometry.

    ``neighbours`` (n, 4) holds the row numbers of the four A corners of each B
    column (-1 where missing, and for A rows); ``polarization`` (n, 2) is the
    polar displacement in px (NaN where not all four corners exist; 0 for A rows).
    """

    ij: np.ndarray
    neighbours: np.ndarray
    polarization: np.ndarray
    origin: np.ndarray
    basis: np.ndarray

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the cell grid: rows follow j, columns follow i."""
        indexed = self.ij[self.ij[:, 0] >= 0]
        return int(indexed[:, 1].max()) + 1, int(indexed[:, 0].max()) + 1


def index_columns(columns: Columns) -> Lattice:
    """Assign every column to a unit cell and measure the B-site polar displacements."""
    is_a = columns.sublattice == "A"
    a_xy = columns.xy[is_a]
    centre = np.mean(a_xy, axis=0)
    seed = a_xy[np.argmin(np.hypot(*(a_xy - centre).T))]
    origin, basis, a_index = fit_lattice(a_xy, seed, columns.basis)

    ij = np.zeros((len(columns), 2), int)
    ij[is_a] = a_index
    b_rows = np.flatnonzero(~is_a)
    b_frac = fractional(columns.xy[b_rows], origin, basis)
    ij[b_rows] = np.floor(b_frac).astype(int)
    # Distance of each column from its ideal site, to resolve two columns claiming one site.
    ideal = np.where(is_a[:, None], ij, ij + 0.5)
    error = np.hypot(*(fractional(columns.xy, origin, basis) - ideal).T)
    valid = _unique_sites(ij, columns.sublattice, error)
    # Shift so that indices start at 0; until now they were relative to the central A column.
    shift = ij[valid].min(axis=0)
    ij = np.where(valid[:, None], ij - shift, NOT_INDEXED)
    origin = origin + shift @ basis

    # Row of the A column at each corner (i, j), looked up on a grid; -1 where none.
    a_rows = np.flatnonzero(is_a & valid)
    corner_row = np.full((ij[valid, 1].max() + 2, ij[valid, 0].max() + 2), -1)
    corner_row[ij[a_rows, 1], ij[a_rows, 0]] = a_rows
    neighbours = np.full((len(columns), 4), -1)
    indexed_b = b_rows[valid[b_rows]]
    for corner, (di, dj) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        neighbours[indexed_b, corner] = corner_row[ij[indexed_b, 1] + dj, ij[indexed_b, 0] + di]
    polarization = np.zeros((len(columns), 2))
    polarization[b_rows] = np.nan
    complete = indexed_b[np.all(neighbours[indexed_b] >= 0, axis=1)]
    polarization[complete] = columns.xy[complete] - columns.xy[neighbours[complete]].mean(axis=1)
    return Lattice(ij=ij, neighbours=neighbours, polarization=polarization, origin=origin, basis=basis)


def _unique_sites(ij: np.ndarray, sublattice: np.ndarray, error: np.ndarray) -> np.ndarray:
    """True for the column closest to its ideal site among those that share one site."""
    site = sublattice == "A"
    order = np.lexsort((error, ij[:, 1], ij[:, 0], site))
    keys = np.column_stack([site, ij])[order]
    first = np.ones(len(order), bool)
    first[order[1:]] = np.any(keys[1:] != keys[:-1], axis=1)
    return first


def to_grid(ij: np.ndarray, values: np.ndarray, shape: tuple[int, int], fill=-1) -> np.ndarray:
    """Scatter per-cell ``values`` onto a (rows=j, cols=i) grid; cells without a value get ``fill``."""
    values = np.asarray(values)
    grid = np.full(shape + values.shape[1:], fill, dtype=np.result_type(values.dtype, np.min_scalar_type(fill) if isinstance(fill, int) else float))
    ok = ij[:, 0] >= 0
    grid[ij[ok, 1], ij[ok, 0]] = values[ok]
    return grid
