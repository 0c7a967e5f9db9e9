"""Reading files (rewardscope.io): formats, calibration, entries, frames, position tables, errors."""

import csv
import json
import re

import h5py
import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.cli import main
from rewardscope.io import read_image, read_positions, write_image
from rewardscope.synthetic import synthesize


@pytest.fixture
def lattice_image():
    y, x = np.mgrid[:64, :64]
    return 10 + np.cos(2 * np.pi * x / 8) * np.cos(2 * np.pi * y / 8)


def test_npz_single_and_entries(tmp_path, lattice_image):
    single = tmp_path / "one.npz"
    np.savez(single, image=lattice_image)
    np.testing.assert_allclose(read_image(single).data, lattice_image)
    many = tmp_path / "many.npz"
    np.savez(many, haadf=lattice_image, abf=-lattice_image)
    with pytest.raises(RewardscopeError, match="choose one with --entry: haadf, abf"):
        read_image(many)
    np.testing.assert_allclose(read_image(many, entry="abf").data, -lattice_image)
    with pytest.raises(RewardscopeError, match="no array 'df'"):
        read_image(many, entry="df")


def test_png_grey_and_rgb(tmp_path, lattice_image):
    import imageio.v3 as iio

    grey = (lattice_image - lattice_image.min()) / np.ptp(lattice_image) * 255
    iio.imwrite(tmp_path / "grey.png", grey.astype(np.uint8))
    iio.imwrite(tmp_path / "rgb.png", np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2))
    np.testing.assert_allclose(read_image(tmp_path / "grey.png").data, read_image(tmp_path / "rgb.png").data)


def test_colour_images_are_made_grey_with_one_warning(tmp_path, lattice_image, caplog):
    import imageio.v3 as iio
    from matplotlib import colormaps

    grey = (lattice_image - lattice_image.min()) / np.ptp(lattice_image)
    rgba = (colormaps["jet"](grey) * 255).astype(np.uint8)  # a false-colour rendering, alpha 255
    iio.imwrite(tmp_path / "jet.png", rgba)
    iio.imwrite(tmp_path / "grey_rgb.png", np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2))
    with caplog.at_level("WARNING"):
        image = read_image(tmp_path / "jet.png")
    assert image.shape == grey.shape
    np.testing.assert_allclose(image.data, rgba[..., :3].mean(axis=2))
    assert [r.getMessage() for r in caplog.records if "jet.png" in r.getMessage()] == [
        "jet.png is a colour (RGBA) image: converted to grey by the mean of R, G and B; a false-colour"
        " rendering does not"
        " map back to intensity: give the raw data, or pick one channel with --channel"
    ]
    caplog.clear()
    with caplog.at_level("WARNING"):
        green = read_image(tmp_path / "jet.png", channel="g")
        read_image(tmp_path / "grey_rgb.png")
    np.testing.assert_array_equal(green.data, rgba[..., 1])
    assert any("analysing its G channel alone" in r.getMessage() for r in caplog.records)
    assert any(
        "grey_rgb.png is an RGB image with three equal channels: read as grey" in r.getMessage()
        for r in caplog.records
    )
    with pytest.raises(RewardscopeError, match="has no channel 'a'"):
        read_image(tmp_path / "grey_rgb.png", channel="a")
    with pytest.raises(RewardscopeError, match="not a colour image"):
        read_image(write_npy(tmp_path, grey), channel="r")


def write_npy(tmp_path, data):
    path = tmp_path / "plain.npy"
    np.save(path, data)
    return path


def test_boolean_huge_and_negative_frames_are_refused(tmp_path, lattice_image):
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "mask.png", lattice_image > lattice_image.mean())
    with pytest.raises(RewardscopeError, match=r"mask.png: a boolean \(mask\) image holds no intensities"):
        read_image(tmp_path / "mask.png")
    with pytest.raises(
        RewardscopeError, match=r"pixel values reach 1e\+300, beyond what the fits can square"
    ):
        read_image(write_npy(tmp_path, lattice_image * 1e300 / lattice_image.max()))
    stack = tmp_path / "stack.npy"
    np.save(stack, np.stack([lattice_image] * 3))
    with pytest.raises(RewardscopeError, match=r"frame must be >= 0 \(frames are numbered from 0\), got -1"):
        read_image(stack, frame=-1)


def hyperspy_file(path, data, scale, units):
    with h5py.File(path, "w") as handle:
        group = handle.create_group("Experiments/frame")
        group.create_dataset("data", data=data)
        for index in range(data.ndim):
            axis = group.create_group(f"axis-{index}")
            axis.attrs.update(
                {
                    "scale": scale,
                    "units": units,
                    "navigate": index < data.ndim - 2,
                    "offset": 0.0,
                    "size": data.shape[index],
                }
            )


def test_hyperspy_hdf5_with_calibration(tmp_path, lattice_image):
    path = tmp_path / "frame.hspy"
    hyperspy_file(path, lattice_image, 0.0125, "nm")
    image = read_image(path)
    assert image.pixel_size == pytest.approx(12.5)
    assert image.unit == "pm"
    assert read_image(path, pixel_size=20).pixel_size == 20


def test_hdf5_without_units_is_uncalibrated(tmp_path, lattice_image):
    path = tmp_path / "frame.hdf5"
    hyperspy_file(path, lattice_image, 0.0125, "")
    assert read_image(path).pixel_size is None


def test_hdf5_main_image_and_entry(tmp_path, lattice_image):
    path = tmp_path / "Sm_7_0_HAADF.h5"
    with h5py.File(path, "w") as handle:
        handle["MainImage"] = lattice_image
        handle["other/overlay"] = lattice_image * 2
    np.testing.assert_allclose(read_image(path).data, lattice_image)
    np.testing.assert_allclose(read_image(path, entry="other/overlay").data, lattice_image * 2)
    with pytest.raises(RewardscopeError, match="no image dataset 'nope'"):
        read_image(path, entry="nope")


def test_stack_needs_a_frame(tmp_path, lattice_image):
    path = tmp_path / "stack.npy"
    np.save(path, np.stack([lattice_image, 2 * lattice_image, 3 * lattice_image]))
    with pytest.raises(RewardscopeError, match="pick a frame with --frame"):
        read_image(path)
    np.testing.assert_allclose(read_image(path, frame=1).data, 2 * lattice_image)
    with pytest.raises(RewardscopeError, match="frame 3 does not exist; the stack has 3 frames"):
        read_image(path, frame=3)


@pytest.mark.parametrize("size", [0.0, -1.0, float("nan")])
def test_nonsense_pixel_size_rejected(tmp_path, lattice_image, size):
    path = tmp_path / "image.npy"
    np.save(path, lattice_image)
    with pytest.raises(RewardscopeError, match="pixel size must be > 0"):
        read_image(path, pixel_size=size)


def test_nonsense_calibration_in_file_rejected(tmp_path, lattice_image):
    path = tmp_path / "bad.hspy"
    hyperspy_file(path, lattice_image, -0.01, "nm")
    with pytest.raises(RewardscopeError, match="the file's pixel size is -10"):
        read_image(path)


@pytest.fixture
def composition_series(tmp_path, lattice_image):
    """A small local fake of the Sm-BFO composition-series dict (same structure, tiny images)."""
    path = tmp_path / "composition_series.npy"
    series = {
        "Sm_0_0": {"main_image": lattice_image, "xy_COM": np.zeros((4, 2)), "Pxy": np.zeros((4, 2))},
        "Sm_7_0": {"main_image": 2 * lattice_image, "xy_COM": np.zeros((4, 2)), "Pxy": np.zeros((4, 2))},
    }
    np.save(path, np.array(series, dtype=object), allow_pickle=True)
    return path


def test_pickled_dict_needs_allow_pickle(composition_series):
    with pytest.raises(RewardscopeError, match="pickled Python objects.*--allow-pickle"):
        read_image(composition_series)


def test_composition_series_entry(composition_series, lattice_image):
    np.testing.assert_allclose(
        read_image(composition_series, entry="Sm_7_0", allow_pickle=True).data, 2 * lattice_image
    )
    with pytest.raises(RewardscopeError, match="choose one with --entry: Sm_0_0, Sm_7_0"):
        read_image(composition_series, allow_pickle=True)
    with pytest.raises(RewardscopeError, match="no entry 'Sm_20_0'"):
        read_image(composition_series, entry="Sm_20_0", allow_pickle=True)


def test_tiff_calibration_round_trip(tmp_path, lattice_image):
    write_image(tmp_path / "image.tif", lattice_image, pixel_size_pm=31.5)
    assert read_image(tmp_path / "image.tif").pixel_size == pytest.approx(31.5, rel=1e-4)


def test_optional_reader_names_its_extra(tmp_path):
    path = tmp_path / "image.dm4"
    path.write_bytes(b"not a dm4 file")
    try:
        import rsciio  # noqa: F401
    except ImportError:
        with pytest.raises(RewardscopeError, match=r"pip install 'rewardscope\[io\]'"):
            read_image(path)
    else:
        with pytest.raises(RewardscopeError, match="cannot read"):
            read_image(path)


def test_an_image_says_where_it_came_from(tmp_path):
    import numpy as np

    from rewardscope.io import Image, read_image
    from rewardscope.synthetic import synthesize

    assert (
        Image(np.random.default_rng(0).random((64, 64))).summary()["source"] == "an array passed from Python"
    )
    assert synthesize("bubble", seed=3, size=128).image.source == "synthetic scene (bubble, seed 3)"
    np.save(tmp_path / "frame.npy", np.random.default_rng(0).random((64, 64)))
    assert read_image(tmp_path / "frame.npy").source == str(tmp_path / "frame.npy")


@pytest.fixture(scope="module")
def scene():
    """A rotated stripes scene whose truth is the positions table (not conftest's scene)."""
    return synthesize("stripes", seed=1, size=320, rotation_deg=9.0)


def write_table(path, rows, header=("x", "y", "sublattice", "intensity", "source")):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def truth_table(tmp_path, scene):
    t = scene.truth
    return write_table(
        tmp_path / "positions.csv",
        [(x, y, s, k, "atomap") for (x, y), s, k in zip(t.xy, t.sublattice, range(len(t.xy)))],
    )


def test_analyze_a_table_from_the_command_line(tmp_path, scene):
    table = truth_table(tmp_path, scene)
    out = tmp_path / "out"
    assert main(["analyze", str(table), "--out", str(out), "--trials", "6", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["config"]["descriptor"] in ("polarization", "lattice") and summary["config"]["n_classes"] == 2
    )
    header, *rows = (out / "atoms.csv").read_text().splitlines()
    assert header.endswith(",fit_ok,intensity,source") and len(rows) == len(scene.truth.xy)
    # With the image, patches are searched too; the table is an input: the output folder may not hold it.
    image = tmp_path / "image.npy"
    np.save(image, scene.image.data)
    assert (
        main(
            [
                "analyze",
                str(table),
                "--image",
                str(image),
                "--out",
                str(tmp_path / "with_image"),
                "--trials",
                "4",
                "--descriptors",
                "patch",
                "--quiet",
            ]
        )
        == 0
    )
    assert (
        main(["analyze", str(table), "--out", str(tmp_path / "no"), "--descriptors", "patch", "--quiet"]) == 1
    )
    assert main(["analyze", str(table), "--out", str(tmp_path), "--overwrite", "--quiet"]) == 1


@pytest.mark.parametrize(
    "rows, header, message",
    [
        ([(1, 2, "A")], ("x", "y"), "needs the columns x, y, sublattice; missing sublattice"),
        ([(1, "nan?", "A")], ("x", "y", "sublattice"), r"row 2 has x='1', y='nan\?', not numbers"),
        (
            [(float("nan"), 2, "A")] + [(k, k, "B") for k in range(40)],
            ("x", "y", "sublattice"),
            "not finite numbers",
        ),
        (
            [(k, 2 * k, "A") for k in range(40)],
            ("x", "y", "sublattice"),
            "at least 16 columns of each sublattice, got 40 A and 0 B",
        ),
        (
            [(k % 7, k // 7, "A" if k % 2 else "C") for k in range(40)],
            ("x", "y", "sublattice"),
            "sublattice must be A, B or O .*, got 'C'",
        ),
    ],
)
def test_bad_tables_are_one_line(tmp_path, capsys, rows, header, message):
    table = write_table(tmp_path / "bad.csv", rows, header)
    assert main(["analyze", str(table), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rewardscope: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()


def test_read_positions_keeps_the_other_columns(tmp_path, scene):
    xy, sublattice, extra = read_positions(truth_table(tmp_path, scene))
    assert xy.shape == (len(scene.truth.xy), 2) and set(sublattice) == {"A", "B"}
    assert extra["intensity"].dtype == float and set(extra["source"]) == {"atomap"}
    with pytest.raises(RewardscopeError, match="no such file"):
        read_positions(tmp_path / "missing.csv")
    # A spreadsheet's "CSV UTF-8" starts with a byte-order mark; a header alone is no table.
    bom = tmp_path / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbfx,y,sublattice\n1,2,A\n")
    assert read_positions(bom)[0].tolist() == [[1.0, 2.0]]
    (tmp_path / "empty.csv").write_text("x,y,sublattice\n")
    with pytest.raises(RewardscopeError, match="a header but no rows"):
        read_positions(tmp_path / "empty.csv")
