"""Unit cells (rewardscope.lattice): cell indices and the polar displacement of every B."""

import numpy as np
import pytest
from helpers import matched

from rewardscope.atoms import Columns, find_columns
from rewardscope.lattice import index_columns
from rewardscope.metrics import accuracy, match
from rewardscope.synthetic import synthesize


def test_polarization_angle_within_few_degrees(stripes, stripes_columns):
    lattice = index_columns(stripes_columns)
    acc = accuracy(
        stripes_columns.xy,
        stripes_columns.sublattice,
        np.full(len(stripes_columns), -1),
        lattice.polarization,
        stripes.truth,
        stripes.image.shape,
        stripes_columns.period,
    )
    assert acc.polarization_angle_error_deg <= 5.0


def test_cell_indices_consistent_with_truth(stripes, stripes_columns):
    lattice = index_columns(stripes_columns)
    b = np.flatnonzero(stripes.truth.sublattice == "B")
    index, _ = match(stripes_columns.xy, stripes.truth.xy[b], 4)
    ok = index >= 0
    found = lattice.ij[index[ok]]
    truth = np.column_stack([stripes.truth.i[b[ok]], stripes.truth.j[b[ok]]])
    # Indices agree up to one constant offset.
    offsets = np.unique(found - truth, axis=0)
    assert len(offsets) == 1
    # Every B with four A corners has a finite displacement close to the truth (1.4 px).
    p = lattice.polarization[index[ok]]
    finite = np.all(np.isfinite(p), axis=1)
    assert finite.mean() > 0.85
    np.testing.assert_allclose(np.median(np.hypot(*p[finite].T)), 35 / 25, rtol=0.1)


@pytest.mark.parametrize("layout, bend, size", [("stripes", 1.5, 512), ("quadrants", 2.0, 640)])
def test_indices_follow_a_bent_lattice(layout, bend, size):
    scene = synthesize(layout, seed=3, size=size, bend_periods=bend, rotation_deg=-7.0)
    columns = find_columns(scene.image.data)
    lattice = index_columns(columns)
    keep, index = matched(columns, scene.truth, columns.period)
    found = (index >= 0) & (lattice.ij[np.maximum(index, 0), 0] >= 0)
    offsets = lattice.ij[index[found]] - np.column_stack([scene.truth.i, scene.truth.j])[keep][found]
    # One offset for every column: no index slips (global rounding gave 348 and 728 here).
    assert len(np.unique(offsets, axis=0)) == 1
    assert np.mean(found) >= 0.97


def test_failed_fits_are_flagged_and_never_measured():
    from dataclasses import replace

    from rewardscope.lattice import cell_geometry

    scene = synthesize("quadrants", seed=1, size=384, dose=8)  # a low dose: some B fits run away
    columns = find_columns(scene.image.data)
    assert columns.fit_ok is not None and 0 < np.sum(~columns.fit_ok) < 0.3 * len(columns)
    lattice = index_columns(columns)
    b = columns.sublattice == "B"
    assert np.all(np.isnan(lattice.polarization[b & ~columns.fit_ok]))
    geometry = cell_geometry(columns, lattice)
    assert np.all(np.isnan(geometry.a[b & ~columns.fit_ok]))
    # Flag one A by hand: the (up to four) cells it is a corner of are measured without it, from their other
    # three corners (where those were fitted), so its position does not matter; their cell shape is not
    # measured.
    complete = np.flatnonzero(
        b & columns.fit_ok & np.all(np.isfinite(lattice.polarization), axis=1) & (lattice.corners == 4)
    )
    corner = lattice.neighbours[complete[0], 0]
    fit_ok = columns.fit_ok.copy()
    fit_ok[corner] = False
    flagged = replace(columns, fit_ok=fit_ok)
    after = index_columns(flagged)
    uses = b & np.any(after.neighbours == corner, axis=1)
    assert 1 <= uses.sum() <= 4
    assert after.corners[complete[0]] == 3 and np.all(np.isnan(cell_geometry(flagged, after).a[uses]))
    xy = flagged.xy.copy()
    xy[corner] += 5.0
    moved = index_columns(replace(flagged, xy=xy))
    np.testing.assert_array_equal(moved.polarization[uses], after.polarization[uses])


@pytest.mark.parametrize("lost", ["one corner", "an edge", "an antipolar edge"])
def test_cells_the_frame_cuts_are_measured_from_the_corners_left(lost):
    """A cell with one A corner beyond the frame is measured from the other three (the parallelogram's
    fourth corner), one with an edge beyond it from the other edge and the lattice step beside it: as
    exactly as from four on an undistorted lattice, and with a staggered (antipolar) A shift, whose corners at
    i
    and i + 1 cancel in the centroid."""
    from rewardscope.atoms import Columns

    rng = np.random.default_rng(2)
    a = np.array([[i, j] for i in range(6) for j in range(6)], float) * 20.0 + 30.0
    shift = rng.normal(0, 1.5, (25, 2))
    b = np.array([[i + 0.5, j + 0.5] for i in range(5) for j in range(5)]) * 20.0 + 30.0 + shift
    if lost == "one corner":
        keep = ~np.all(
            a == a.max(axis=0), axis=1
        )  # drop the corner (5, 5): its cell (4, 4) keeps three corners
    elif lost == "an edge":
        keep = (
            a[:, 1] < a[:, 1].max()
        )  # drop the top row of A: the five cells below it keep their bottom edge
    else:
        # A columns shifted +-2 px along a, alternating from one column of cells to the next; drop the last.
        column = np.rint((a[:, 0] - 30.0) / 20.0).astype(int)
        a = a + np.column_stack([np.where(column % 2 == 0, 2.0, -2.0), np.zeros(len(a))])
        keep = column < 5
    columns = Columns.from_positions(np.vstack([a[keep], b]), np.array(["A"] * keep.sum() + ["B"] * 25))
    lattice = index_columns(columns)
    rows = columns.sublattice == "B"
    assert np.sum(lattice.corners[rows] < 4) == (1 if lost == "one corner" else 5)
    np.testing.assert_allclose(lattice.polarization[rows], shift, atol=1e-9)


@pytest.fixture(scope="module")
def scene():
    """A rotated stripes scene whose truth is the positions table (not conftest's scene)."""
    return synthesize("stripes", seed=1, size=320, rotation_deg=9.0)


def test_polarization_from_given_positions_is_b_minus_the_mean_of_its_four_a(scene):
    t = scene.truth
    columns = Columns.from_positions(t.xy, t.sublattice)
    period = scene.spec.lattice_pm / scene.spec.pixel_size_pm
    np.testing.assert_allclose(np.linalg.norm(columns.basis, axis=1), period, rtol=0.01)
    assert columns.b_site == (0.5, 0.5)
    lattice = index_columns(columns)
    # Independently, from the truth's own cell indices: B of cell (i, j) minus the mean of A (i, j), (i+1, j),
    # (i, j+1), (i+1, j+1).
    a = {(i, j): xy for xy, s, i, j in zip(t.xy, t.sublattice, t.i, t.j) if s == "A"}
    checked = 0
    for row in np.flatnonzero(t.sublattice == "B"):
        i, j = t.i[row], t.j[row]
        corners = [a.get((i + di, j + dj)) for di in (0, 1) for dj in (0, 1)]
        if any(c is None for c in corners):
            continue
        expected = t.xy[row] - np.mean(corners, axis=0)
        np.testing.assert_allclose(lattice.polarization[row], expected, atol=1e-9)
        checked += 1
    assert checked > 300


def test_a_110_table_gets_the_edge_site(scene):
    # Rectangular cell, B at the midpoint of the a edge (a perovskite [110] projection).
    i, j = np.meshgrid(np.arange(12), np.arange(9))
    a = np.column_stack([30 * i.ravel(), 21 * j.ravel()]) + 5.0
    b = a + [15.0, 0.4]
    columns = Columns.from_positions(np.vstack([a, b]), ["A"] * len(a) + ["B"] * len(b))
    assert columns.b_site == (0.5, 0.0)
    p = index_columns(columns).polarization[len(a) :]
    np.testing.assert_allclose(
        p[np.all(np.isfinite(p), axis=1)], [[0.0, 0.4]] * int(np.all(np.isfinite(p), axis=1).sum()), atol=1e-9
    )
