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


@pytest.mark.parametrize("layout, n_variants", [("stripes", 2), ("quadrants", 4), ("bubble", 2), ("rough", 2), ("single", 1)])
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


@pytest.mark.parametrize("overrides, name", [({"layout": "spiral"}, "layout"), ({"dose": 0}, "dose"), ({"z_exponent": 2.5}, "z_exponent")])
def test_bad_spec_names_the_value(overrides, name):
    layout = overrides.pop("layout", "stripes")
    with pytest.raises(RewardscopeError, match=name):
        synthesize(layout, **overrides)


def test_every_layout_listed():
    assert set(LAYOUTS) == {"stripes", "quadrants", "bubble", "rough", "single"}
