"""Physical measurements against synthetic truth: polarization angle and magnitude, lattice
parameters and antipolar order, rewardscope beside the plain baseline; and the SrTiO3 null test.

Baseline: the hand-written measurement (peak_local_max, Otsu split of A/B, centre
of mass, B minus the mean of its four nearest A), as in benchmarks/accuracy.py.

    python benchmarks/physics.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # the baseline lives beside this file
from accuracy import baseline as plain_baseline  # noqa: E402

from rewardscope.atoms import find_columns
from rewardscope.lattice import cell_geometry, index_columns
from rewardscope.metrics import match, true_polarization
from rewardscope.synthetic import ANTIPOLAR, synthesize

LEVELS = {"normal": {"dose": 400.0, "polarization_pm": 35.0}, "low": {"dose": 60.0, "polarization_pm": 20.0}}
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def polar_errors(xy, polarization, scene, period):
    """Median angle error (deg) and median relative magnitude error on polar B cells."""
    b = np.flatnonzero((scene.truth.sublattice == "B") & (scene.truth.variant != ANTIPOLAR))
    index, _ = match(xy, scene.truth.xy[b], 0.25 * period)
    ok = index >= 0
    measured, truth = polarization[index[ok]], true_polarization(scene.truth)[b[ok]]
    finite = np.all(np.isfinite(measured), axis=1) & np.all(np.isfinite(truth), axis=1)
    measured, truth = measured[finite], truth[finite]
    angle = np.rad2deg(
        np.abs(
            np.angle(
                np.exp(
                    1j * (np.arctan2(measured[:, 1], measured[:, 0]) - np.arctan2(truth[:, 1], truth[:, 0]))
                )
            )
        )
    )
    magnitude = np.abs(np.hypot(*measured.T) / np.hypot(*truth.T) - 1)
    return float(np.median(angle)), float(np.median(magnitude))


def ours(scene):
    columns = find_columns(scene.image.data)
    lattice = index_columns(columns)
    return columns, lattice, cell_geometry(columns, lattice)


def baseline(scene, period):
    xy, _, _, polarization = plain_baseline(scene.image.data, period, 1, 0)
    return xy, polarization


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for level, settings in LEVELS.items():
        for layout in ("stripes", "quadrants", "rough"):
            for seed in range(args.seeds):
                scene = synthesize(layout, seed=300 + seed, **settings)
                period = scene.spec.lattice_pm / scene.spec.pixel_size_pm
                columns, lattice, geometry = ours(scene)
                angle, magnitude = polar_errors(columns.xy, lattice.polarization, scene, period)
                xy, polarization = baseline(scene, period)
                base_angle, base_magnitude = polar_errors(xy, polarization, scene, period)
                a_error = float(np.nanmedian(np.abs(np.concatenate([geometry.a, geometry.b]) / period - 1)))
                row = {
                    "level": level,
                    "layout": layout,
                    "seed": seed,
                    "angle": angle,
                    "base_angle": base_angle,
                    "magnitude": magnitude,
                    "base_magnitude": base_magnitude,
                    "lattice": a_error,
                }
                if layout == "rough":
                    b = np.flatnonzero((scene.truth.sublattice == "B") & (scene.truth.variant == ANTIPOLAR))
                    index, _ = match(columns.xy, scene.truth.xy[b], 0.25 * period)
                    u = np.abs(geometry.antipolar[index[index >= 0]])
                    row["antipolar"] = float(
                        np.nanmedian(u) / (scene.spec.antipolar_pm / scene.spec.pixel_size_pm) - 1
                    )
                rows.append(row)
                print(
                    f"{level:6s} {layout:9s} seed {seed}: angle {angle:.2f} deg (baseline {base_angle:.2f}), "
                    f"|P| error {100 * magnitude:.1f}% (baseline {100 * base_magnitude:.1f}%)",
                    flush=True,
                )

    print(
        "\n| dose | median angle error, deg (ours / baseline) | median abs |P| error (ours / baseline) "
        "| median abs lattice-parameter error | median antipolar u error |"
    )
    print("|---|---|---|---|---|")
    for level in LEVELS:
        sel = [r for r in rows if r["level"] == level]
        med = lambda key, sel=sel: float(np.median([r[key] for r in sel if key in r]))  # noqa: E731
        print(
            f"| {level} | {med('angle'):.2f} / {med('base_angle'):.2f} "
            f"| {100 * med('magnitude'):.1f}% / {100 * med('base_magnitude'):.1f}%"
            f" | {100 * med('lattice'):.2f}% | {100 * med('antipolar'):+.1f}% |"
        )

    sto = REAL / "sto110_adf_atomap.hdf5"
    if sto.exists():
        from rewardscope.io import read_image

        image = read_image(sto).data.astype(float)
        columns = find_columns(image)
        lattice = index_columns(columns)
        p = lattice.polarization[columns.sublattice == "B"]
        share = median_share(p, columns.period)
        # The baseline's [001] model (B minus its four nearest A), given the longer cell edge as its period.
        _, _, _, base_p = plain_baseline(image, float(np.linalg.norm(columns.basis, axis=1).max()), 1, 0)
        base_share = median_share(base_p[np.any(base_p != 0, axis=1)], columns.period)
        verdict = "passes" if share <= 0.02 else "FAILS"
        print(
            f"\nSrTiO3 [110] ADF null test (B site {columns.b_site} of the A cell): "
            f"median |P| = {100 * share:.2f}% of the period, {share * columns.period:.2f} px "
            f"(baseline {100 * base_share:.1f}%; target <= 2%): {verdict}"
        )


def median_share(p, period):
    p = p[np.all(np.isfinite(p), axis=1)]
    return float(np.median(np.hypot(*p.T)) / period) if len(p) else float("nan")


if __name__ == "__main__":
    main()
