"""Column finding speed and memory on large frames, independent of the scene: `rewardscope atoms`'s work
(find, split, refine, index) on synthetic 2048 x 2048 frames at lattice periods from 8 to 40 px, and
one 4096 x 4096 frame of about 130,000 columns, each in a fresh process (peak memory is the process's).

Targets (issue 12): a 2048 x 2048 frame in <= 10 s on 2 cores at any period from 8 to 40 px; a
4096 x 4096 frame under 8 GiB. Baseline printed beside: the same run with the disc maximum filter
of the earlier releases (skimage.feature.peak_local_max with a disc footprint).

    python benchmarks/speed.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

SCENE = """
import sys
import numpy as np
from rewardscope.synthetic import synthesize
size, period, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
np.save(path, synthesize("stripes", seed=3, size=size, lattice_pm=25.0 * period, jitter_px=0.3, rotation_deg=7.0).image.data)
"""
CHILD = """
import json, resource, sys, time
import numpy as np
from rewardscope import atoms
from rewardscope.lattice import index_columns
path, baseline = sys.argv[1], sys.argv[2] == "1"
if baseline:
    from skimage.feature import peak_local_max
    from skimage.morphology import disk
    atoms._disc_maxima = lambda r, radius, margin: peak_local_max(r, footprint=disk(radius), exclude_border=margin, threshold_abs=0.0)
image = np.load(path)
size, period = image.shape[0], float(path.rsplit("_", 1)[1][:-4])
start = time.perf_counter()
columns = atoms.find_columns(image)
index_columns(columns)
seconds = time.perf_counter() - start
print(json.dumps({"size": size, "period": period, "columns": len(columns), "seconds": seconds,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "baseline": baseline}))
"""


def run(path: str, baseline: bool) -> dict:
    """Find and index the columns of the scene in ``path`` in a fresh process: its time and peak memory."""
    out = subprocess.run([sys.executable, "-c", CHILD, path, "1" if baseline else "0"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one period, no 4096 x 4096 frame")
    args = parser.parse_args()
    cases = [(2048, 22.0)] if args.quick else [(2048, 8.0), (2048, 22.0), (2048, 40.0), (4096, 16.0)]
    print("| frame | period (px) | columns | seconds | baseline seconds | ratio | peak memory (GiB) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size, period in cases:
            path = f"{folder}/scene_{size}_{period:g}.npy"  # made in a process of its own: its memory is not counted
            subprocess.run([sys.executable, "-c", SCENE, str(size), str(period), path], check=True)
            now, before = run(path, False), run(path, True)
            report(size, period, now, before)


def report(size: int, period: float, now: dict, before: dict) -> None:
    print(f"| {size} x {size} | {period:g} | {now['columns']:,} | {now['seconds']:.1f} | {before['seconds']:.1f} |"
          f" {before['seconds'] / now['seconds']:.2f}x | {now['peak_gib']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
