"""Unit cells: the (i, j) index of every column and the polar displacement of every B.

A columns sit on cell corners (i, j); the B column of cell (i, j) sits near
(i, j) + ``b_site``: the cell centre (1/2, 1/2) in a [001] projection, an edge
midpoint such as (1/2, 0) in [110]. The polar displacement of a B column is its
position minus that ideal site interpolated (bilinearly) from the four A
corners (i, j), (i+1, j), (i, j+1), (i+1, j+1): for the centre, their centroid;
for an edge midpoint, the midpoint of the two A columns on that edge. Where one
corner is missing (beyond the frame's edge, or its fit failed), it is completed
from the other three as a parallelogram: for the centre, the midpoint of the
diagonal the three corners keep; where the frame cuts a cell's two corners on
one edge, they are the other edge's corners moved on by the local lattice step
(from the A columns one and two cells further in, so that a staggered antipolar
A displacement carries over). ``Lattice.corners`` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .atoms import Columns
from .geometry import affine_lattice, fractional, walk_indices

NOT_INDEXED = -1


@dataclass(frozen=True)
class Lattice:
    """Cell indices ``ij`` (n, 2) of every column (-1 where not indexed) and the B-site geometry.

    ``neighbours`` (n, 4) holds the row numbers of the four A corners of each B
    column (-1 where missing, and for A rows); ``polarization`` (n, 2) is the
    polar displacement in px (NaN where it could not be measured; 0 for A rows); ``corners`` (n,) how
    many of a B's four A corners were measured (4; 3 or 2 where the others were completed).
    """

    ij: np.ndarray
    neighbours: np.ndarray
    polarization: np.ndarray
    origin: np.ndarray
    basis: np.ndarray
    corners: np.ndarray | None = None

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the cell grid: rows follow j, columns follow i.

        Returns
        -------
        tuple of int
            One more than the largest j and the largest i of the indexed columns.
        """
        indexed = self.ij[self.ij[:, 0] >= 0]
        return int(indexed[:, 1].max()) + 1, int(indexed[:, 0].max()) + 1


def index_columns(columns: Columns) -> Lattice:
    """Assign every column to a unit cell and measure the B-site polar displacements.

    A columns are indexed by walking from neighbour to neighbour (``geometry.walk_indices``),
    so the indices follow a bent lattice; each B takes the cell of its nearest A
    column plus the rounded local step from it, never a global rounding.

    Parameters
    ----------
    columns : Columns
        The columns found in one image, with their sublattice and lattice basis.

    Returns
    -------
    Lattice
        The cell index of every column, the four A corners and the polar displacement of every B.

    Examples
    --------
    A square lattice of period 10 px whose B columns sit 1 px right of the cell centres:

    >>> import numpy as np
    >>> from rewardscope.atoms import Columns
    >>> a = [(x, y) for y in range(0, 50, 10) for x in range(0, 50, 10)]
    >>> b = [(x + 6.0, y + 5.0) for y in range(0, 40, 10) for x in range(0, 40, 10)]
    >>> columns = Columns.from_positions(np.array(a + b, float), ["A"] * 25 + ["B"] * 16)
    >>> lattice = index_columns(columns)
    >>> lattice.ij[-1].tolist(), lattice.polarization[-1].round(6).tolist(), lattice.grid_shape
    ([3, 3], [1.0, 0.0], (5, 5))
    """
    ij, valid, origin, basis = _cell_indices(columns)
    is_a = columns.sublattice == "A"
    # Row of the A column at each corner (i, j), looked up on a grid; -1 where none.
    a_rows = np.flatnonzero(is_a & valid)
    corner_row = np.full((ij[valid, 1].max() + 2, ij[valid, 0].max() + 2), -1)
    corner_row[ij[a_rows, 1], ij[a_rows, 0]] = a_rows

    neighbours = np.full((len(columns), 4), -1)
    b_rows = np.flatnonzero(columns.sublattice == "B")
    indexed_b = b_rows[valid[b_rows]]
    for corner, (di, dj) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        neighbours[indexed_b, corner] = _a_row(corner_row, ij[indexed_b, 0] + di, ij[indexed_b, 1] + dj)
    polarization, count = _polarization(columns, ij, neighbours, indexed_b, corner_row)
    corners_measured = np.zeros(len(columns), int)
    corners_measured[indexed_b] = count[indexed_b]
    return Lattice(
        ij=ij,
        neighbours=neighbours,
        polarization=polarization,
        origin=origin,
        basis=basis,
        corners=corners_measured,
    )


def _cell_indices(columns: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cell index (i, j) of every column, which columns are indexed, and the lattice's origin and basis."""
    is_a = columns.sublattice == "A"
    a_xy = columns.xy[is_a]
    a_index = walk_indices(a_xy, columns.basis)
    # The best affine lattice for the walked indices: the origin and basis reported, and each column's misfit.
    origin, basis = affine_lattice(a_xy, a_index)

    ij = np.zeros((len(columns), 2), int)
    ij[is_a] = a_index
    b_rows = np.flatnonzero(columns.sublattice == "B")  # O columns (ABF) are kept, not indexed
    site = np.asarray(columns.b_site, float)
    _, nearest = cKDTree(a_xy).query(columns.xy[b_rows])
    local = fractional(columns.xy[b_rows] - a_xy[nearest], np.zeros(2), basis)
    ij[b_rows] = a_index[nearest] + np.rint(local - site).astype(int)
    # Distance of each column from its ideal site (locally, from its nearest A for a B), to resolve two
    # columns claiming one site.
    error = np.zeros(len(columns))
    error[is_a] = np.hypot(*(fractional(a_xy, origin, basis) - a_index).T)
    error[b_rows] = np.hypot(*(local - np.rint(local - site) - site).T)
    valid = _unique_sites(ij, columns.sublattice, error) & np.isin(columns.sublattice, ("A", "B"))
    # Shift so that indices start at 0; until now they were relative to the central A column.
    shift = ij[valid].min(axis=0)
    ij = np.where(valid[:, None], ij - shift, NOT_INDEXED)
    return ij, valid, origin + shift @ basis, basis


def _a_row(corner_row: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Rows of the A columns at corners (i, j); -1 where none (or beyond the grid)."""
    inside = (j >= 0) & (j < corner_row.shape[0]) & (i >= 0) & (i < corner_row.shape[1])
    return np.where(
        inside,
        corner_row[np.clip(j, 0, corner_row.shape[0] - 1), np.clip(i, 0, corner_row.shape[1] - 1)],
        -1,
    )


def _polarization(
    columns: Columns, ij: np.ndarray, neighbours: np.ndarray, indexed_b: np.ndarray, corner_row: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Polar displacement of every column (NaN where not measured) and the measured corners of each."""
    polarization = np.zeros((len(columns), 2))
    polarization[columns.sublattice != "A"] = np.nan  # B rows until measured; O rows have none
    # A polarization needs the B and its four A corners measured (failed fits are not measurements). One
    # missing corner completes the parallelogram, x_missing = x_u + x_v - x_opposite; two on one edge (the
    # frame cuts the cell) are the edge's corners moved on by the local lattice step, measured from the A
    # columns one and two cells further in.
    usable = columns.usable
    measured = (neighbours >= 0) & usable[np.maximum(neighbours, 0)]
    count = measured.sum(axis=1)
    cells = indexed_b[usable[indexed_b] & (count[indexed_b] >= 2)]
    corners = np.where(measured[cells][..., None], columns.xy[np.maximum(neighbours[cells], 0)], np.nan)
    for missing, (u, v, opposite) in enumerate(((1, 2, 3), (0, 3, 2), (0, 3, 1), (1, 2, 0))):
        gap = (count[cells] == 3) & ~measured[cells, missing]
        corners[gap, missing] = corners[gap, u] + corners[gap, v] - corners[gap, opposite]
    _complete_cut_edges(columns, ij[cells], measured[cells], count[cells], corners, corner_row)
    (fx, fy) = np.asarray(columns.b_site, float)
    weights = np.array([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])  # corner order above
    # NaN where a corner stayed unknown.
    polarization[cells] = columns.xy[cells] - np.einsum("k,nkd->nd", weights, corners)
    return polarization, count


def _complete_cut_edges(
    columns: Columns,
    cell_ij: np.ndarray,
    measured: np.ndarray,
    count: np.ndarray,
    corners: np.ndarray,
    corner_row: np.ndarray,
) -> None:
    """Fill in place the two corners of cells cut on one edge, from the lattice step beside them."""
    usable = columns.usable

    def a_at(i, j):
        """Positions of the usable A columns at corners (i, j) (NaN where none)."""
        row = _a_row(corner_row, i, j)
        ok = (row >= 0) & usable[np.maximum(row, 0)]
        return np.where(ok[:, None], columns.xy[np.maximum(row, 0)], np.nan)

    ci, cj = cell_ij[:, 0], cell_ij[:, 1]
    # Per cut edge: the missing corners, the present ones beside them, and the step inward (di, dj).
    for lost, kept, (di, dj) in (
        ((2, 3), (0, 1), (0, -1)),
        ((0, 1), (2, 3), (0, 1)),
        ((1, 3), (0, 2), (-1, 0)),
        ((0, 2), (1, 3), (1, 0)),
    ):
        cut = (count == 2) & ~measured[:, lost].any(axis=1) & measured[:, kept].all(axis=1)
        for m, k in zip(lost, kept):
            # Corner k of cell (i, j): (i + k % 2, j + k // 2).
            corner_i, corner_j = ci + (k & 1), cj + (k >> 1)
            # x(p + s) = x(p) + x(p - s) - x(p - 2s): one lattice step, taken between columns of the same
            # parity, so that a staggered (antipolar) A displacement carries over instead of doubling.
            one, two = a_at(corner_i + di, corner_j + dj), a_at(corner_i + 2 * di, corner_j + 2 * dj)
            corners[cut, m] = corners[cut, k] + one[cut] - two[cut]


def _unique_sites(ij: np.ndarray, sublattice: np.ndarray, error: np.ndarray) -> np.ndarray:
    """True for the column closest to its ideal site among those of its sublattice that share one site."""
    site = np.unique(sublattice, return_inverse=True)[1]
    order = np.lexsort((error, ij[:, 1], ij[:, 0], site))
    keys = np.column_stack([site, ij])[order]
    first = np.ones(len(order), bool)
    first[order[1:]] = np.any(keys[1:] != keys[:-1], axis=1)
    return first


def to_grid(ij: np.ndarray, values: np.ndarray, shape: tuple[int, int], fill=-1) -> np.ndarray:
    """Scatter per-cell ``values`` onto a (rows=j, cols=i) grid; cells without a value get ``fill``.

    Parameters
    ----------
    ij : numpy.ndarray
        (n, 2) cell index (i, j) per row; rows with i < 0 are not indexed and left out.
    values : array_like
        (n, ...) one value (or vector) per row.
    shape : tuple of int
        (rows, cols) of the grid, e.g. ``Lattice.grid_shape``.
    fill : scalar, optional
        The value of cells no row lands on.

    Returns
    -------
    numpy.ndarray
        The grid, of shape ``shape + values.shape[1:]``.

    Examples
    --------
    >>> import numpy as np
    >>> to_grid(np.array([[0, 0], [1, 0], [-1, -1]]), [5, 6, 7], (1, 3)).tolist()
    [[5, 6, -1]]
    """
    values = np.asarray(values)
    grid = np.full(shape + values.shape[1:], fill, dtype=np.result_type(values, fill))
    ok = ij[:, 0] >= 0
    grid[ij[ok, 1], ij[ok, 0]] = values[ok]
    return grid


@dataclass(frozen=True)
class CellGeometry:
    """Per-column physics of the unit cell a B column sits in (NaN for A rows and incomplete cells).

    ``a``, ``b`` cell edge lengths (px) along a1, a2, averaged over the two
    opposite edges; ``angle`` between them (degrees); ``area`` (px^2);
    ``tetragonality`` a / b; ``strain_a``, ``strain_b`` relative to the
    image's median cell; ``antipolar`` the staggered A-site displacement along
    a (px): ``(-1)^i (a(i) - (a(i-1) + a(i+1)) / 2) / 4``, which is ``±u``
    in a phase whose A columns shift ``+u / -u`` alternately along a, and 0 in
    a uniform lattice; ``p_magnitude`` (px) and ``p_angle`` (degrees, image
    axes) of the polar displacement.
    """

    a: np.ndarray
    b: np.ndarray
    angle: np.ndarray
    area: np.ndarray
    tetragonality: np.ndarray
    strain_a: np.ndarray
    strain_b: np.ndarray
    antipolar: np.ndarray
    p_magnitude: np.ndarray
    p_angle: np.ndarray

    def as_dict(self) -> dict:
        """The fields by name.

        Returns
        -------
        dict
            Field name -> per-column array.
        """
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def cell_geometry(columns: Columns, lattice: Lattice) -> CellGeometry:
    """Lattice parameters, strain, antipolar order and polarization of every complete B cell.

    Parameters
    ----------
    columns : Columns
        The columns, as indexed by ``lattice``.
    lattice : Lattice
        The cell indices and A corners from `index_columns`.

    Returns
    -------
    CellGeometry
        Per column; NaN for A rows and for cells without four measured corners.
    """
    n = len(columns)
    nan = np.full(n, np.nan)
    corners = np.all(lattice.neighbours >= 0, axis=1)
    rows = np.flatnonzero(corners & columns.usable)
    rows = rows[np.all(columns.usable[lattice.neighbours[rows]], axis=1)]  # measured corners only
    if len(rows) == 0:
        return CellGeometry(*(nan.copy() for _ in range(10)))
    corner = columns.xy[lattice.neighbours[rows]]  # (m, 4, 2): corners (0,0), (1,0), (0,1), (1,1)
    a_vec = ((corner[:, 1] - corner[:, 0]) + (corner[:, 3] - corner[:, 2])) / 2
    b_vec = ((corner[:, 2] - corner[:, 0]) + (corner[:, 3] - corner[:, 1])) / 2
    a_len, b_len = np.hypot(*a_vec.T), np.hypot(*b_vec.T)
    cross = a_vec[:, 0] * b_vec[:, 1] - a_vec[:, 1] * b_vec[:, 0]
    cosine = np.sum(a_vec * b_vec, axis=1) / (a_len * b_len)

    def per_column(values):
        out = nan.copy()
        out[rows] = values
        return out

    # Staggered part of the cell width along a: neighbours in i looked up on the cell grid.
    width = to_grid(lattice.ij[rows], a_len, lattice.grid_shape, fill=np.nan)
    padded = np.pad(width, ((0, 0), (1, 1)), constant_values=np.nan)
    i, j = lattice.ij[rows, 0], lattice.ij[rows, 1]
    sides = np.stack([padded[j, i], padded[j, i + 2]])
    counted = np.isfinite(sides).sum(axis=0)  # cells at the edge of the crystal have one side
    around = np.where(counted > 0, np.nansum(sides, axis=0) / np.maximum(counted, 1), np.nan)
    stagger = np.where(i % 2 == 0, 1.0, -1.0) * (a_len - around) / 4

    p = lattice.polarization[rows]
    return CellGeometry(
        a=per_column(a_len),
        b=per_column(b_len),
        angle=per_column(np.rad2deg(np.arccos(np.clip(cosine, -1, 1)))),
        area=per_column(np.abs(cross)),
        tetragonality=per_column(a_len / b_len),
        strain_a=per_column(a_len / np.median(a_len) - 1),
        strain_b=per_column(b_len / np.median(b_len) - 1),
        antipolar=per_column(stagger),
        p_magnitude=per_column(np.hypot(*p.T)),
        p_angle=per_column(np.rad2deg(np.arctan2(p[:, 1], p[:, 0]))),
    )
