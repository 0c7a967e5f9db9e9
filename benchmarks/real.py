"""Real experimental images: what the column stage decides and measures on data no one here made.

One row per image in ../shared/data/real (GPL-3.0 sources; see its README): columns per
sublattice, the contrast decided (and both readings' LoG* detection quality), the B site,
the detection quality, fits flagged, the median |P| in % of the lattice period (with the
frame-wide mean offset removed beside it), whether the B sublattice counts as resolved,
what `rewardscope analyze` would do (go on, or refuse and why), and the seconds taken.
The second row per image reads it as bright columns (`--contrast bright`, the only reading
before `--contrast auto`).

    python benchmarks/real.py [--data ../shared/data/real]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from rewardscope import RewardscopeError
from rewardscope.atoms import find_columns
from rewardscope.config import MIN_DETECTION_QUALITY
from rewardscope.detection import detection_quality
from rewardscope.io import read_image
from rewardscope.lattice import index_columns
from rewardscope.workflow import judge_b_sublattice

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
WHAT = {
    "sto110_adf_atomap.hdf5": "SrTiO3 [110] ADF (paraelectric)",
    "sto110_abf_atomap.hdf5": "SrTiO3 [110] ABF (dark columns, O visible)",
    "nsmo110_cryo_haadf_registered.tif": "Nd0.5Sr0.5MnO3 [110] cryo HAADF",
    "pmn_idpc_singleorigin.tif": "PMN relaxor, iDPC (O visible)",
    "sto_lowdose_hrstem_tkrem.npy": "SrTiO3 low-dose HRSTEM",
}


def row(path: Path, contrast: str) -> dict:
    image = read_image(path)
    start = time.perf_counter()
    columns = find_columns(image.data, contrast=contrast)
    lattice = index_columns(columns)
    seconds = time.perf_counter() - start
    quality = detection_quality(columns, image.shape)["quality"]
    b = columns.sublattice == "B"
    p = lattice.polarization[b]
    p = p[np.all(np.isfinite(p), axis=1)]
    figures, _ = judge_b_sublattice(columns, lattice, force=True)
    if quality < MIN_DETECTION_QUALITY:
        verdict = f"refused: detection quality {quality:.2f}"
    elif not figures["resolved"]:
        shift = figures["median_displacement_periods"]
        verdict = (
            f"refused: B not resolved ({100 * shift:.0f}% of the period)"
            if np.isfinite(shift)
            else "refused: no B measured"
        )
    else:
        verdict = "analyzed"
    decisions = columns.decisions
    return {
        "image": path.name,
        "contrast asked": contrast,
        "decided": decisions["contrast"],
        "quality bright/dark": "/".join(
            f"{decisions['quality_by_contrast'].get(k, float('nan')):.2f}" for k in ("bright", "dark")
        ),
        "B site": tuple(columns.b_site),
        "A": columns.counts["A"],
        "B": columns.counts["B"],
        "fits flagged": int(np.sum(~columns.usable)),
        "median |P| %": 100 * np.median(np.hypot(*p.T)) / columns.period,
        "median |P - mean P| %": 100 * np.median(np.hypot(*(p - p.mean(axis=0)).T)) / columns.period,
        "verdict": verdict,
        "s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REAL)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no real data at {args.data}")
    rows = []
    for name in WHAT:
        for contrast in ("auto", "bright"):
            try:
                rows.append(row(args.data / name, contrast))
            except RewardscopeError as error:
                rows.append({"image": name, "contrast asked": contrast, "verdict": f"error: {error}"})
    names = [
        "image",
        "contrast asked",
        "decided",
        "quality bright/dark",
        "B site",
        "A",
        "B",
        "fits flagged",
        "median |P| %",
        "median |P - mean P| %",
        "verdict",
        "s",
    ]
    print("| " + " | ".join(names) + " |")
    print("|" + "---|" * len(names))
    for r in rows:
        cells = [f"{r[n]:.1f}" if isinstance(r.get(n), float) else str(r.get(n, "")) for n in names]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
