"""Real experimental images (../shared/data/real, GPL-3.0 sources): the workflow survives real
contrast, noise and calibration. Skipped where the folder is absent (a user's fresh clone)."""

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from rewardscope import RewardscopeError
from rewardscope.io import read_image
from rewardscope.lattice import index_columns
from rewardscope.workflow import analyze, locate

REAL = Path(
    os.environ.get(
        "REWARDSCOPE_REAL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
    )
)
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"no real data at {REAL}")


def nearest_spacing(xy):
    distance, _ = cKDTree(xy).query(xy, k=2)
    return float(np.median(distance[:, 1]))


@pytest.mark.parametrize(
    "name, spacing",
    [
        ("nsmo110_cryo_haadf_registered.tif", 15.0),  # README: lattice period ~15 px
        ("pmn_idpc_singleorigin.tif", 17.7 / np.sqrt(2)),  # period ~17.7 px; A-B spacing is period / sqrt 2
    ],
)
def test_columns_and_lattice_of_real_images(name, spacing):
    # iDPC shows its columns bright, as the data README says; auto would read it as dark (quality 0.75 against
    # 0.52).
    located = locate(read_image(REAL / name), progress=False, force=True, contrast="bright")
    a = located.columns.xy[located.columns.sublattice == "A"]
    assert len(a) > 200
    # The nearest-column spacing matches the lattice the data README states.
    assert nearest_spacing(located.columns.xy) == pytest.approx(spacing, rel=0.15)


def test_lattice_period_of_the_low_dose_image():
    # Very noisy, and its two column types are about equally bright: the period is found
    # (README: ~25.5 px), the A/B split by brightness is not reliable here.
    located = locate(read_image(REAL / "sto_lowdose_hrstem_tkrem.npy"), progress=False)
    assert located.columns.period == pytest.approx(25.5, rel=0.05)


def test_the_low_dose_image_is_refused_b_unresolved(tmp_path):
    # Its two cation columns are about equally bright and the B columns are not resolved: the B found sit
    # 24% of a period from their sites (noise peaks), which no polarization does. A clear refusal, no "polar"
    # map.
    with pytest.raises(
        RewardscopeError,
        match=r"the B sublattice is not resolved: the median B displacement is 2\d\.\d% of the period",
    ):
        analyze(
            read_image(REAL / "sto_lowdose_hrstem_tkrem.npy"),
            out=tmp_path / "out",
            n_trials=2,
            progress=False,
        )
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    forced = analyze(
        read_image(REAL / "sto_lowdose_hrstem_tkrem.npy"), n_trials=2, progress=False, force=True
    )
    assert any(w.startswith("B sublattice not resolved") for w in forced.warnings)


def test_abf_is_read_as_dark_columns_on_the_adf_columns():
    # The ABF and ADF images were recorded together: the same Sr columns, dark in one, bright in the other.
    adf = locate(read_image(REAL / "sto110_adf_atomap.hdf5"), progress=False).columns
    abf_located = locate(read_image(REAL / "sto110_abf_atomap.hdf5"), progress=False)
    abf = abf_located.columns
    assert abf.decisions["contrast"] == "dark" and abf.b_site == (0.5, 0.0)
    distance, _ = cKDTree(adf.xy[adf.sublattice == "A"]).query(abf.xy[abf.sublattice == "A"])
    assert np.median(distance) < 1.5 and np.mean(distance < 3) > 0.95  # px, on a 29.5 px period
    distance, _ = cKDTree(adf.xy[adf.sublattice == "B"]).query(abf.xy[abf.sublattice == "B"])
    assert (
        np.median(distance) < 2.5 and np.mean(distance < 4) > 0.9
    )  # 94%: the others lie where the ADF list has no B (edge cells)
    # Paraelectric: what is left of P after the frame-wide offset (ABF's mistilt sensitivity) is <= 2% of the
    # period.
    p = abf_located.lattice.polarization[abf.sublattice == "B"]
    p = p[np.all(np.isfinite(p), axis=1)]
    assert np.median(np.hypot(*(p - p.mean(axis=0)).T)) <= 0.02 * abf.period


@pytest.mark.parametrize("name", ["nsmo110_cryo_haadf_registered.tif"])
def test_analyze_runs_end_to_end_on_real_images(name, tmp_path):
    analysis = analyze(read_image(REAL / name), out=tmp_path / "out", n_trials=4, progress=False)
    assert (tmp_path / "out" / "report.html").exists()
    assert np.sum(analysis.result.labels >= 0) > 100
    # One phase, said with its evidence, or a map that passed every gate.
    assert analysis.phases["one_phase"] == (analysis.result.config.n_classes == 1)
    assert analysis.phases["one_phase"] or analysis.result.reward > 0


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


@pytest.mark.parametrize(
    "name, named",
    [
        ("sto110_adf_atomap.hdf5", "paraelectric"),
        (
            "sto110_abf_atomap.hdf5",
            "uniform offset of B",
        ),  # the ABF frame's shared B offset (3-7% of the period): not a polar phase
    ],
)
def test_paraelectric_srtio3_is_one_phase(name, named, tmp_path):
    analysis = analyze(read_image(REAL / name), out=tmp_path / "out", n_trials=12, progress=False)
    assert analysis.phases["one_phase"] and analysis.config.n_classes == 1
    assert analysis.result.walls.n_segments == 0
    assert [c["name"].startswith(named) for c in analysis.classes] == [True]
    assert not any(c["name"].startswith("polar") for c in analysis.classes)
    assert "one phase, no domain walls" in (tmp_path / "out" / "report.html").read_text()
