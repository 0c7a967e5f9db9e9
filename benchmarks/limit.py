"""Column positions against the physical limit: the position RMSE of rewardscope's columns over the
Cramer-Rao bound computed from the generator's expected counts (``metrics.cramer_rao_bound``), per
sublattice, on synthetic scenes made unlike the defaults (periods, doses, probe widths, rotations,
jitter, contrast, layouts). A ratio of 1 is the limit; scan jitter and drift are errors the bound does
not hold, so the scenes are run with them and without. Baseline beside: centre of mass from the same
detected columns (``refine="com"``).

    python benchmarks/limit.py [--seeds 2]
"""

from __future__ import annotations

import argparse

import numpy as np

from rewardscope.atoms import find_columns
from rewardscope.metrics import limit_ratios
from rewardscope.synthetic import synthesize

STILL = {"jitter_px": 0.0, "drift_px": (0.0, 0.0)}
CASES = {
    "default (period 15.8 px, 400 e/px)": {},
    "default, no jitter or drift": STILL,
    "period 8 px (49.5 pm pixels)": {"pixel_size_pm": 49.5, **STILL},
    "period 26 px, rotated 23 deg": {"pixel_size_pm": 15.0, "rotation_deg": 23.0, "size": 512, **STILL},
    "dose 20 e/px": {"dose": 20.0, **STILL},
    "dose 2000 e/px": {"dose": 2000.0, **STILL},
    "broad probe (80 pm)": {"probe_sigma_pm": 80.0, **STILL},
    "ABF contrast": {"contrast": "abf", **STILL},
    "superlattice": {"layout": "superlattice", **STILL},
    "bent by 1.5 periods": {"bend_periods": 1.5, "size": 512, **STILL},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    print(
        "| scene | A RMSE (px) | A bound (px) | A ratio | A ratio, centre of mass "
        "| B RMSE (px) | B bound (px) | B ratio | B ratio, centre of mass |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, overrides in CASES.items():
        overrides = dict(overrides)
        layout, size = overrides.pop("layout", "stripes"), overrides.pop("size", 256)
        ours, com = [], []
        for seed in range(args.seeds):
            scene = synthesize(layout, seed=10 + seed, size=size, **overrides)
            for refine, rows in (("gaussian", ours), ("com", com)):
                columns = find_columns(scene.image.data, refine=refine)
                rows.append(limit_ratios(columns.xy, columns.sublattice, scene))
        mean = lambda rows, site, key: float(np.mean([r[site][key] for r in rows]))  # noqa: E731
        cells = [
            f"{mean(ours, s, 'rmse_px'):.3f} | {mean(ours, s, 'bound_px'):.3f} | "
            f"{mean(ours, s, 'ratio'):.2f} | {mean(com, s, 'ratio'):.2f}"
            for s in "AB"
        ]
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
