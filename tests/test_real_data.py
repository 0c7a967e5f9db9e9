"""Real experimental images (../shared/data/real, GPL-3.0 sources): the workflow survives real
contrast, noise and calibration. Skipped where the folder is absent (a user's fresh clone)."""

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from rewardscope.io import read_image
from rewardscope.lattice import index_columns
from rewardscope.workflow import analyze, locate

REAL = Path(os.environ.get("REWARDSCOPE_REAL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"))
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"no real data at {REAL}")


def nearest_spacing(xy):
    distance, _ = cKDTree(xy).query(xy, k=2)
    return float(np.median(distance[:, 1]))


@pytest.mark.parametrize("name, spacing", [
    ("nsmo110_cryo_haadf_registered.tif", 15.0),  # README: lattice period ~15 px
    ("pmn_idpc_singleorigin.tif", 17.7 / np.sqrt(2)),  # period ~17.7 px; A-B spacing is period / sqrt 2
])
def test_columns_and_lattice_of_real_images(name, spacing):
    located = locate(read_image(REAL / name), progress=False, force=True)
    a = located.columns.xy[located.columns.sublattice == "A"]
    assert len(a) > 200
    # The nearest-column spacing matches the lattice the data README states.
    assert nearest_spacing(located.columns.xy) == pytest.approx(spacing, rel=0.15)


def test_lattice_period_of_the_low_dose_image():
    # Very noisy, and its two column types are about equally bright: the period is found
    # (README: ~25.5 px), the A/B split by brightness is not reliable here.
    located = locate(read_image(REAL / "sto_lowdose_hrstem_tkrem.npy"), progress=False)
    assert located.columns.period == pytest.approx(25.5, rel=0.05)


@pytest.mark.parametrize("name", ["nsmo110_cryo_haadf_registered.tif", "sto_lowdose_hrstem_tkrem.npy"])
def test_analyze_runs_end_to_end_on_real_images(name, tmp_path):
    analysis = analyze(read_image(REAL / name), out=tmp_path / "out", n_trials=4, progress=False)
    assert (tmp_path / "out" / "report.html").exists()
    assert analysis.result.reward >= 0
    assert np.sum(analysis.result.labels >= 0) > 100


def test_hyperspy_file_reads_with_its_shape():
    image = read_image(REAL / "sto110_adf_atomap.hdf5")
    assert image.shape == (520, 599)
    located = locate(image, progress=False)
    # SrTiO3 [110]: SrO columns on a rectangular a x a/sqrt(2) lattice (0.3905 x 0.276 nm at 9.33 pm/px),
    # the dimmer Ti columns at the midpoints of the a edges.
    lengths = sorted(np.linalg.norm(located.columns.basis, axis=1))
    assert lengths[0] == pytest.approx(276.1 / 9.326, rel=0.05)
    assert lengths[1] == pytest.approx(390.5 / 9.326, rel=0.05)
    assert located.columns.b_site == (0.5, 0.0)


def test_paraelectric_srtio3_has_no_polarization():
    # The null test: median |P| <= 2% of the lattice period on the SrTiO3 [110] ADF image.
    columns = locate(read_image(REAL / "sto110_adf_atomap.hdf5"), progress=False).columns
    lattice = index_columns(columns)
    p = lattice.polarization[columns.sublattice == "B"]
    p = p[np.all(np.isfinite(p), axis=1)]
    assert len(p) > 150
    assert np.median(np.hypot(*p.T)) <= 0.02 * columns.period
