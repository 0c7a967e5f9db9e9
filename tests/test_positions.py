"""Columns found by another program: a table of positions in, the same analysis out."""

import csv
import json
import re

import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.atoms import Columns
from rewardscope.cli import main
from rewardscope.io import read_positions
from rewardscope.lattice import index_columns
from rewardscope.synthetic import synthesize


@pytest.fixture(scope="module")
def scene():
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
