"""Atom columns (rewardscope.atoms): finding, sorting into sublattices and refining them."""

import numpy as np
import pytest
from helpers import matched
from scipy import ndimage

from rewardscope import RewardscopeError, gaussians
from rewardscope.atoms import Columns, find_columns
from rewardscope.lattice import index_columns
from rewardscope.metrics import accuracy, interior, match
from rewardscope.synthetic import synthesize


# RMSE bounds in px (lattice period 15.8 px; 35 pm polarization = 1.4 px): what issue 2 reaches.
@pytest.mark.parametrize(
    "dose, recall_min, rmse_a_max, rmse_b_max", [(400, 0.99, 0.12, 0.2), (60, 0.98, 0.15, 0.5)]
)
def test_columns_found_and_located(dose, recall_min, rmse_a_max, rmse_b_max):
    scene = synthesize("stripes", seed=1, size=256, dose=dose)
    columns = find_columns(scene.image.data)
    period = columns.period
    for site in "AB":
        truth = (scene.truth.sublattice == site) & interior(scene.truth, scene.image.shape, 0.3 * period)
        index, distance = match(columns.xy[columns.sublattice == site], scene.truth.xy[truth], 0.25 * period)
        assert (index >= 0).mean() >= recall_min, site
        rmse = np.sqrt(np.mean(distance[index >= 0] ** 2))
        assert rmse <= (rmse_b_max if site == "B" else rmse_a_max), (site, rmse)
        back, _ = match(
            scene.truth.xy[scene.truth.sublattice == site],
            columns.xy[columns.sublattice == site],
            0.25 * period,
        )
        assert (back >= 0).mean() >= 0.99  # precision: nothing invented


def test_gaussian_refinement_beats_centre_of_mass_on_b():
    scene = synthesize("stripes", seed=2, size=256)
    errors = {}
    for method in ("gaussian", "com"):
        columns = find_columns(scene.image.data, refine=method)
        b = scene.truth.sublattice == "B"
        index, distance = match(columns.xy[columns.sublattice == "B"], scene.truth.xy[b], 4)
        errors[method] = np.sqrt(np.mean(distance[index >= 0] ** 2))
    assert errors["gaussian"] < errors["com"]


def test_sm_substitution_does_not_make_b_columns():
    scene = synthesize("single", seed=0, size=256, sm_fraction=0.5)
    columns = find_columns(scene.image.data)
    n_a, n_b = np.sum(columns.sublattice == "A"), np.sum(columns.sublattice == "B")
    assert abs(n_a - n_b) <= 0.1 * n_a
    acc = accuracy(
        columns.xy,
        columns.sublattice,
        np.full(len(columns), -1),
        np.zeros((len(columns), 2)),
        scene.truth,
        scene.image.shape,
        columns.period,
    )
    assert acc.recall["A"] >= 0.99 and acc.recall["B"] >= 0.99


def test_noise_only_image_has_no_lattice(rng):
    with pytest.raises(RewardscopeError, match="no (crystal lattice|atom columns)"):
        find_columns(rng.normal(100, 10, (128, 128)))


def test_scan_line_correction_undoes_line_jitter(rng):
    from rewardscope import gaussians
    from rewardscope.atoms import correct_scan_lines

    xy = np.array([[x, y] for x in range(8, 120, 16) for y in range(8, 120, 16)], float)
    shape = (128, 128)
    shift = np.zeros((128, 2))
    shift[:, 0] = rng.normal(0, 0.3, 128)
    clean = gaussians.render(shape, xy, 100.0, 2.2)
    jittered = gaussians.render(shape, xy, 100.0, 2.2, row_shift=shift)
    corrected = correct_scan_lines(jittered, clean)
    before = np.sqrt(np.mean((jittered - clean) ** 2))
    after = np.sqrt(np.mean((corrected - clean) ** 2))
    assert after < 0.2 * before


def test_b_site_rmse_target_at_normal_dose():
    # Issue 3's target: B-site RMSE <= 0.10 px at normal dose (0.15 px scan-line jitter included).
    errors = []
    for seed in (200, 201):
        scene = synthesize("rough", seed=seed, size=256)
        columns = find_columns(scene.image.data)
        b = (scene.truth.sublattice == "B") & interior(scene.truth, scene.image.shape, 5)
        index, distance = match(columns.xy[columns.sublattice == "B"], scene.truth.xy[b], 4)
        errors.append(np.sqrt(np.mean(distance[index >= 0] ** 2)))
    assert np.mean(errors) <= 0.10


def perovskite_110(rng, shift_px=(0.0, 0.0), size=240):
    """A [110]-like projection: bright AO columns on a rectangular a x a/sqrt(2) lattice (a = 24 px),
    dim B columns at the midpoints of the a edges, displaced by ``shift_px``; Poisson noise."""
    a, b = 24.0, 24.0 / np.sqrt(2)
    ii, jj = np.meshgrid(np.arange(-1, size // a + 2), np.arange(-1, size // b + 2))
    corners = np.column_stack([ii.ravel() * a + 5, jj.ravel() * b + 4])
    mids = corners + [a / 2, 0] + np.asarray(shift_px)
    xy = np.vstack([corners, mids])
    amplitude = np.concatenate([np.full(len(corners), 1.0), np.full(len(mids), 0.45)])
    image = gaussians.render((size, size), xy, amplitude, np.full(len(xy), 2.2)) + 0.1
    return rng.poisson(image * 300).astype(float), corners, mids


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.8, -0.5)])
def test_110_projection_recognised_by_contrast(rng, shift):
    image, corners, mids = perovskite_110(rng, shift)
    columns = find_columns(image)
    assert columns.b_site == (0.5, 0.0)
    np.testing.assert_allclose(
        sorted(np.linalg.norm(columns.basis, axis=1)), [24 / np.sqrt(2), 24], rtol=0.01
    )
    for site, truth in (("A", corners), ("B", mids)):
        inside = np.all((truth > 10) & (truth < 230), axis=1)
        _, distance = match(columns.xy[columns.sublattice == site], truth[inside], 3.0)
        assert np.mean(np.isfinite(distance)) > 0.98
    p = index_columns(columns).polarization[columns.sublattice == "B"]
    p = p[np.all(np.isfinite(p), axis=1)]
    # The B offset from the midpoint of its edge is the displacement put in: zero for the paraelectric
    # lattice.
    np.testing.assert_allclose(np.median(p, axis=0), shift, atol=0.1)


def test_001_projection_keeps_the_b_site_at_the_cell_centre(stripes_columns):
    assert stripes_columns.b_site == (0.5, 0.5)


@pytest.mark.parametrize(
    "seed, overrides",
    [
        (0, {}),
        (5, {"rotation_deg": 12.0, "lattice_pm": 430.0}),
        (2, {"layer_cells": 3, "layer_strain": -0.03, "dose": 100.0}),
    ],
)
def test_sublattices_by_geometry_on_a_superlattice(seed, overrides):
    # In the non-polar layers B (Ru + O) is brighter than A (Sr): the brightest columns there are B.
    scene = synthesize("superlattice", seed=seed, **overrides)
    columns = find_columns(scene.image.data)
    keep, index = matched(columns, scene.truth, columns.period)
    inside = interior(scene.truth, scene.image.shape, 0.6 * columns.period)[keep]
    found = index >= 0
    assert np.mean(found[inside]) >= 0.99
    assert np.all(columns.sublattice[index[found]] == scene.truth.sublattice[keep][found])  # every one: 100%


def test_a_site_dim_swaps_the_sublattices():
    scene = synthesize("stripes", seed=1, size=256)
    bright, dim = find_columns(scene.image.data), find_columns(scene.image.data, a_site="dim")
    index, distance = match(dim.xy[dim.sublattice == "A"], bright.xy[bright.sublattice == "B"], 1.0)
    assert np.all(index >= 0)  # the dim sublattice's columns are A now
    assert bright.counts == {"A": dim.counts["B"], "B": dim.counts["A"]}
    with pytest.raises(RewardscopeError, match="`a_site` must be one of bright, dim"):
        find_columns(scene.image.data, a_site="heavy")


def test_unfitted_columns_count_as_measured():
    scene = synthesize("stripes", seed=1, size=256)
    columns = find_columns(scene.image.data, refine="com")
    assert columns.fit_ok is None and columns.usable.all()


@pytest.mark.parametrize("layout", ["paraelectric", "stripes"])
def test_dark_column_abf_scenes_are_read_inverted_and_their_o_columns_left_out(layout):
    scene = synthesize(layout, seed=4, contrast="abf")
    columns = find_columns(scene.image.data)
    assert columns.decisions["contrast"] == "dark"
    keep, index = matched(columns, scene.truth, columns.period)
    inside = interior(scene.truth, scene.image.shape, 0.6 * columns.period)[keep]
    assert np.mean(index[inside] >= 0) >= 0.99
    found = index >= 0
    assert np.all(columns.sublattice[index[found]] == scene.truth.sublattice[keep][found])
    # No A or B column is reported on an O column (the weakest of the three sites searched); O columns, where
    # kept, are on O columns and out of every measurement.
    cations = np.isin(columns.sublattice, ("A", "B"))
    o_truth = scene.truth.xy[scene.truth.sublattice == "O"]
    o_index, _ = match(columns.xy[cations], o_truth, 0.2 * columns.period)
    assert np.all(o_index < 0)
    kept_o = columns.sublattice == "O"
    if kept_o.any():
        assert columns.decisions["o_columns"] == kept_o.sum()
        back, _ = match(o_truth, columns.xy[kept_o], 0.25 * columns.period)
        assert np.mean(back >= 0) >= 0.95
        lattice = index_columns(columns)
        assert np.all(lattice.ij[kept_o] == -1) and np.all(np.isnan(lattice.polarization[kept_o]))
    sites = columns.decisions[
        "sites"
    ]  # B at the cell centre: found as such, or split from A by contrast (paraelectric)
    assert "split_by_contrast" in sites or (
        sites["(0.5, 0.5)"]["b"] and sites["(0.5, 0)"]["relative_response"] < 0.8
    )


@pytest.mark.parametrize(
    "overrides, limit",
    [
        ({}, {"A": 1.3, "B": 1.3}),
        ({"dose": 20.0}, {"A": 1.3, "B": 1.3}),
        ({"pixel_size_pm": 49.5, "rotation_deg": 11.0}, {"A": 1.3, "B": 1.3}),  # period 8 px
        (
            {"contrast": "abf"},
            {"A": 1.3, "B": 1.9},
        ),  # B: the O columns beside it are not modelled (1.5-1.8 measured)
    ],
)
def test_column_positions_near_the_cramer_rao_bound(overrides, limit):
    """Without scan jitter or drift (errors the bound does not hold), the refined positions are near the
    physical limit: no estimator beats the bound by much (else the bound is wrong), and ours is within
    ``limit`` of it."""
    from rewardscope.metrics import limit_ratios

    scene = synthesize("stripes", seed=5, size=256, jitter_px=0.0, drift_px=(0.0, 0.0), **overrides)
    columns = find_columns(scene.image.data)
    for site, measured in limit_ratios(columns.xy, columns.sublattice, scene).items():
        assert 0.9 <= measured["ratio"] <= limit[site], (site, measured)


def test_a_wide_frames_contrast_is_judged_on_its_centre():
    scene = synthesize("paraelectric", seed=1, size=1100, contrast="abf")
    columns = find_columns(scene.image.data)
    assert columns.decisions["contrast"] == "dark"
    assert columns.decisions["contrast_judged_on"] == "the central 1024 x 1024 px"
    keep, index = matched(columns, scene.truth, columns.period)
    assert np.mean(index[interior(scene.truth, scene.image.shape, 0.6 * columns.period)[keep]] >= 0) >= 0.99


def recall_precision(columns, scene, site, region=None):
    period = columns.period
    truth = (scene.truth.sublattice == site) & interior(scene.truth, scene.image.shape, 0.3 * period)
    if region is not None:
        truth &= region(scene.truth.xy)
    found = columns.xy[columns.sublattice == site]
    index, _ = match(found, scene.truth.xy[truth], 0.25 * period)
    back, _ = match(scene.truth.xy[scene.truth.sublattice == site], found, 0.25 * period)
    return (index >= 0).mean(), (back >= 0).mean()


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("period 60 px", {"pixel_size_pm": 6.6, "size": 640}),
        ("rotated 30 deg", {"rotation_deg": 30.0}),
        ("rotated 45 deg", {"rotation_deg": 45.0}),
    ],
)
def test_other_scales_and_rotations(name, overrides):
    scene = synthesize("stripes", seed=0, **{"size": 256, **overrides})
    columns = find_columns(scene.image.data)
    for site in "AB":
        recall, precision = recall_precision(columns, scene, site)
        assert recall >= 0.99 and precision >= 0.99, (name, site, recall, precision)


def test_period_6_px_finds_the_a_lattice():
    scene = synthesize("stripes", seed=0, pixel_size_pm=66, probe_sigma_pm=90, size=192)
    columns = find_columns(scene.image.data)
    assert columns.period == pytest.approx(6.0, rel=0.03)
    recall, precision = recall_precision(columns, scene, "A")
    assert recall >= 0.99 and precision >= 0.99


@pytest.mark.parametrize("region_kind", ["vacuum", "amorphous"])
def test_no_columns_invented_outside_the_crystal(region_kind):
    scene = synthesize("stripes", seed=0, size=320)
    data = scene.image.data.copy()
    rng = np.random.default_rng(1)
    if region_kind == "vacuum":
        data[:, 200:] = rng.poisson(60, data[:, 200:].shape)
    else:
        blobs = ndimage.gaussian_filter(rng.random(data.shape), 2.5)
        blobs = (blobs - blobs.mean()) / blobs.std() * 0.5 * data.std() + data.mean()
        data[:, 200:] = rng.poisson(np.clip(blobs[:, 200:], 1, None))
    columns = find_columns(data)
    # Nothing beyond the crystal edge (x = 200) by more than half a cell ...
    assert np.all(columns.xy[:, 0] < 200 + 0.5 * columns.period)
    # ... and the crystal itself is still found.
    for site in "AB":
        recall, _ = recall_precision(columns, scene, site, region=lambda xy: xy[:, 0] < 195)
        assert recall >= 0.99


def test_dim_a_columns_missed_by_the_threshold_are_found_on_the_lattice():
    # 40% Sm columns have 61% of the Bi response: a 0.7 threshold misses them all at first.
    scene = synthesize("single", seed=0, size=256, sm_fraction=0.4)
    columns = find_columns(scene.image.data, threshold=0.7)
    recall, precision = recall_precision(columns, scene, "A")
    assert recall >= 0.99 and precision >= 0.99


def test_non_square_pixels():
    scene = synthesize("stripes", seed=0, size=256)
    stretched = ndimage.zoom(scene.image.data, (1.0, 1.15), order=1)  # pixels 15% narrower in x
    columns = find_columns(stretched)
    lengths = np.linalg.norm(columns.basis, axis=1)
    assert lengths.max() / lengths.min() == pytest.approx(1.15, rel=0.03)
    n_a = np.sum(columns.sublattice == "A")
    expected = stretched.size / abs(np.linalg.det(columns.basis))
    assert 0.9 * expected <= n_a <= 1.02 * expected
    assert abs(n_a - np.sum(columns.sublattice == "B")) <= 0.05 * n_a


@pytest.mark.parametrize("rotation", [0.0, 45.0, 90.0])
def test_the_basis_of_an_unrotated_or_turned_table(rotation):
    rng = np.random.default_rng(0)
    turn = np.deg2rad(rotation)
    rotate = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    i, j = np.meshgrid(np.arange(12), np.arange(12))
    a = np.column_stack([i.ravel(), j.ravel()]) * 15.0 @ rotate.T + rng.normal(0, 0.3, (144, 2)) + 200
    b = a + np.array([7.5, 7.5]) @ rotate.T
    columns = Columns.from_positions(np.vstack([a, b]), ["A"] * 144 + ["B"] * 144)
    np.testing.assert_allclose(np.linalg.norm(columns.basis, axis=1), 15.0, rtol=0.02)
    assert columns.b_site == (0.5, 0.5)
