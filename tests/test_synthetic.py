"""Synthetic scenes (rewardscope.synthetic): layouts, variants, contrast and truth."""

import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.io import read_image
from rewardscope.synthetic import ANTIPOLAR, LAYOUTS, synthesize, write_scene


def test_same_seed_same_scene():
    a = synthesize("bubble", seed=5, size=128)
    b = synthesize("bubble", seed=5, size=128)
    c = synthesize("bubble", seed=6, size=128)
    np.testing.assert_array_equal(a.image.data, b.image.data)
    assert not np.array_equal(a.image.data, c.image.data)


LAYOUT_VARIANTS = [
    ("stripes", 2),
    ("quadrants", 4),
    ("bubble", 2),
    ("rough", 2),
    ("single", 1),
    ("superlattice", 2),
    ("paraelectric", 1),
    ("mixed", 2),
]


@pytest.mark.parametrize("layout, n_variants", LAYOUT_VARIANTS)
def test_layouts_have_their_variants(layout, n_variants):
    scene = synthesize(layout, seed=0, size=256)
    assert scene.n_variants == n_variants
    if layout == "rough":
        assert ANTIPOLAR in scene.truth.variant


def test_polar_displacement_matches_spec():
    scene = synthesize("single", seed=0, size=192, polarization_pm=40, pixel_size_pm=20, rotation_deg=0)
    b = scene.truth.sublattice == "B"
    magnitude = np.hypot(*scene.truth.dxy[b].T)
    np.testing.assert_allclose(magnitude, 2.0, atol=1e-9)  # 40 pm / 20 pm per px
    # Variant 0 points along +a+b: down-right in image coordinates for an unrotated lattice.
    np.testing.assert_allclose(scene.truth.dxy[b][0], [np.sqrt(2), np.sqrt(2)], atol=1e-9)


def test_antipolar_a_sites_alternate():
    scene = synthesize("rough", seed=1, size=256)
    a = (scene.truth.sublattice == "A") & (scene.truth.variant == ANTIPOLAR)
    dx = scene.truth.dxy[a, 0]
    parity = scene.truth.i[a] % 2
    assert np.all(np.sign(dx[parity == 0]) == -np.sign(dx[parity == 1][0]))
    b = (scene.truth.sublattice == "B") & (scene.truth.variant == ANTIPOLAR)
    assert np.allclose(scene.truth.dxy[b], 0)


def test_dose_sets_mean_counts():
    scene = synthesize("single", seed=0, size=128, dose=50, read_noise=0)
    assert scene.image.data.mean() == pytest.approx(50, rel=0.05)


def test_a_columns_brighter_than_b():
    scene = synthesize("single", seed=0, size=192, dose=5000, sm_fraction=0.0)
    data = scene.image.data
    xy = np.rint(scene.truth.xy).astype(int)
    a = data[xy[scene.truth.sublattice == "A", 1], xy[scene.truth.sublattice == "A", 0]].mean()
    b = data[xy[scene.truth.sublattice == "B", 1], xy[scene.truth.sublattice == "B", 0]].mean()
    assert a > 2 * b


def test_write_scene_round_trips(tmp_path):
    scene = synthesize("stripes", seed=0, size=128)
    write_scene(scene, tmp_path)
    tif = read_image(tmp_path / "image.tif")
    npy = read_image(tmp_path / "image.npy")
    np.testing.assert_allclose(tif.data, scene.image.data.astype(np.float32))
    np.testing.assert_allclose(npy.data, tif.data)
    assert tif.pixel_size == pytest.approx(25.0, rel=1e-4)
    header = (tmp_path / "truth.csv").read_text().splitlines()[0]
    assert header == "x,y,sublattice,i,j,variant,dx,dy"
    assert len((tmp_path / "truth.csv").read_text().splitlines()) == len(scene.truth.xy) + 1


@pytest.mark.parametrize(
    "overrides, name",
    [({"layout": "spiral"}, "layout"), ({"dose": 0}, "dose"), ({"z_exponent": 2.5}, "z_exponent")],
)
def test_bad_spec_names_the_value(overrides, name):
    layout = overrides.pop("layout", "stripes")
    with pytest.raises(RewardscopeError, match=name):
        synthesize(layout, **overrides)


def test_every_layout_listed_is_made_and_has_its_variants_tested():
    for layout in LAYOUTS:
        scene = synthesize(layout, seed=0, size=64)
        assert scene.spec.layout == layout and scene.image.data.shape == (64, 64)
    assert [layout for layout, _ in LAYOUT_VARIANTS] == list(LAYOUTS)


def test_mixed_scenes_hold_an_antipolar_share_and_rough_walls():
    half = synthesize("mixed", seed=0, size=256, antipolar_share=0.5)
    variant = half.truth.variant[half.truth.sublattice == "B"]
    assert set(variant) == {0, 1, ANTIPOLAR} and abs(np.mean(variant == ANTIPOLAR) - 0.5) < 0.1
    # Straight walls lie along j: every row of cells has its walls at the same i; rough ones wander.
    for roughness, straight in ((0.0, True), (1.5, False)):
        t = synthesize("mixed", seed=0, size=256, wall_roughness=roughness).truth
        b = t.sublattice == "B"
        first_wall = [t.i[b & (t.j == j) & (t.variant == 1)].min() for j in np.unique(t.j[b])[1:-1]]
        assert (len(set(first_wall)) == 1) == straight


def test_superlattice_layers_differ_in_contrast_and_cell():
    from rewardscope.synthetic import PARAELECTRIC

    scene = synthesize(
        "superlattice", seed=0, size=256, layer_cells=3, layer_strain=0.05, rotation_deg=0, drift_px=(0, 0)
    )
    t = scene.truth
    layered = t.variant == PARAELECTRIC
    assert layered.any() and (~layered).any()
    # The non-polar layers have no polar displacement, the polar ones 35 pm.
    np.testing.assert_allclose(np.hypot(*t.dxy[layered & (t.sublattice == "B")].T), 0, atol=1e-9)
    # Cells are 5% longer along b in the non-polar layers: A rows of one layer are 1.05 periods apart.
    period = scene.spec.lattice_pm / scene.spec.pixel_size_pm
    a = t.sublattice == "A"
    row_y = {j: t.xy[a & (t.j == j), 1].mean() for j in np.unique(t.j[a])}
    gaps = {j: row_y[j + 1] - row_y[j] for j in row_y if j + 1 in row_y}
    lengths = {round(g / period, 3) for g in gaps.values()}
    assert lengths == {1.0, 1.05}


def test_bent_abf_and_offset_scenes():
    bent = synthesize("single", seed=0, size=256, bend_periods=1.5, rotation_deg=0, drift_px=(0, 0))
    period = bent.spec.lattice_pm / bent.spec.pixel_size_pm
    t = bent.truth
    a = t.sublattice == "A"
    # Along one row of cells, the columns at the frame's sides sit about 1.5 periods above those at its
    # centre.
    j = np.bincount(t.j[a]).argmax()
    row = a & (t.j == j)
    x, y = t.xy[row, 0], t.xy[row, 1]
    rise = y[np.argmin(np.abs(x - 128))] - y[np.argmax(np.abs(x - 128))]
    assert 1.0 * period < rise < 1.6 * period
    abf = synthesize("paraelectric", seed=0, size=256, contrast="abf")
    assert set(np.unique(abf.truth.sublattice)) == {"A", "B", "O"}
    # Dark columns: the image is darker at the columns than between them.
    xy = np.rint(abf.truth.xy[abf.truth.sublattice == "A"]).astype(int)
    assert abf.image.data[xy[:, 1], xy[:, 0]].mean() < np.median(abf.image.data)
    offset = synthesize("paraelectric", seed=0, size=256, b_offset_pm=(10.0, 0.0), rotation_deg=0)
    b = offset.truth.sublattice == "B"
    np.testing.assert_allclose(
        offset.truth.dxy[b], [[10.0 / offset.spec.pixel_size_pm, 0.0]] * int(b.sum()), atol=1e-9
    )
