"""Column detection on odd data and the LoG* detection quality."""

import json

import numpy as np
import pytest
from scipy import ndimage

from rewardscope.atoms import Columns, find_columns
from rewardscope.cli import main
from rewardscope.detection import detection_quality, tune_detector
from rewardscope.metrics import interior, match
from rewardscope.synthetic import synthesize


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


def test_quality_sees_duplicates_and_gaps(stripes_columns, stripes):
    shape = stripes.image.shape
    good = detection_quality(stripes_columns, shape)
    assert good["quality"] > 0.95
    c = stripes_columns
    doubled = Columns(
        np.vstack([c.xy, c.xy[:50] + 1.0]),
        np.concatenate([c.sublattice, c.sublattice[:50]]),
        np.ones(len(c) + 50),
        np.ones(len(c) + 50),
        np.ones(len(c) + 50),
        c.basis,
    )
    assert detection_quality(doubled, shape)["no_short_pairs"] < 0.9
    a_rows = np.flatnonzero(c.sublattice == "A")
    keep = np.ones(len(c), bool)
    keep[a_rows[::5]] = False  # lose every fifth A column
    holes = Columns(
        c.xy[keep], c.sublattice[keep], c.amplitude[keep], c.sigma[keep], c.uncertainty[keep], c.basis
    )
    worse = detection_quality(holes, shape)
    assert worse["coverage"] < 0.6 and worse["count"] < 0.9


def test_tuning_returns_a_pareto_front(stripes):
    params, quality, front = tune_detector(stripes.image.data, n_trials=6, seed=0)
    assert set(params) == {"column_sigma", "threshold"}
    assert 0 < quality <= 1
    assert front and all(
        set(p["objectives"]) == {"count", "spacing", "no_short_pairs", "coverage"} for p in front
    )


def test_atoms_command(tmp_path, stripes):
    image = tmp_path / "image.npy"
    np.save(image, stripes.image.data)
    out = tmp_path / "atoms"
    assert main(["atoms", str(image), "--out", str(out), "--tune", "4", "--quiet"]) == 0
    lines = (out / "atoms.csv").read_text().splitlines()
    assert lines[0] == "x,y,sublattice,i,j,amplitude,sigma,uncertainty,residual,fit_ok"
    assert all(len(line.split(",")) == 10 for line in lines[1:])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detector"]["tuned_trials"] == 4
    assert summary["decisions"]["contrast"] == "bright" and summary["decisions"]["b_site"] == [0.5, 0.5]
    assert summary["pareto_front"]
    assert summary["quality"]["quality"] > 0.9
    assert (out / "columns.png").exists()
    assert not (tmp_path / "atoms.partial").exists()


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
