"""Column finding speed and memory on large frames, independent of the scene: `rewardscope atoms`'s work
(find, split, refine, index) on synthetic 2048 x 2048 frames at lattice periods from 8 to 40 px, and one
4096 x 4096 frame at period 16 (about 130,000 columns), each in a fresh process (peak memory is the
process's). The period is set by the pixel size (a lower magnification), so the probe is 0.14 periods wide
in every frame.

Targets (issue 12): a 2048 x 2048 frame in <= 10 s on 2 cores at any period from 8 to 40 px; a 4096 x 4096
frame under 8 GiB. Baseline printed beside: the same run with the package as it was at ``--baseline REF``
(a git revision, exported to a temporary folder; default: before the speed work of issue 12).

    python benchmarks/speed.py [--quick] [--baseline REF]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "7451309"  # main before the fit, render and contrast-sampling work of issue 12

SCENE = """
import sys
import numpy as np
from rewardscope.synthetic import synthesize
size, period, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
# A lower magnification, not a smaller crystal: the pixel grows, so the probe (55 pm) stays 0.14 periods
# wide.
scene = synthesize(
    "stripes", seed=3, size=size, pixel_size_pm=396.0 / period, jitter_px=0.3, rotation_deg=7.0
)
np.save(path, scene.image.data)
"""
CHILD = """
import json, resource, sys, time
import numpy as np
from rewardscope import atoms
from rewardscope.lattice import index_columns
path = sys.argv[1]
image = np.load(path)
size, period = image.shape[0], float(path.rsplit("_", 1)[1][:-4])
start = time.perf_counter()
columns = atoms.find_columns(image)
index_columns(columns)
seconds = time.perf_counter() - start
peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"size": size, "period": period, "columns": len(columns), "seconds": seconds,
                  "package": atoms.__file__, "peak_gib": peak_gib}))
"""


def run(path: str, source: Path | None = None) -> dict:
    """Find and index the columns of the scene in ``path`` in a fresh process (with the package in ``source``,
    or the installed one): its time and peak memory."""
    env = dict(os.environ, PYTHONPATH=str(source)) if source else None
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def export(ref: str, folder: str) -> Path | None:
    """The package's source at git revision ``ref``, in ``folder``; None (with a note) where git cannot
    give it."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True)
    if archive.returncode:
        print(f"(no baseline: git cannot export {ref!r}: {archive.stderr.decode().strip()})")
        return None
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
    return Path(folder) / "src"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one period, no 4096 x 4096 frame")
    parser.add_argument(
        "--baseline", default=BASELINE, help=f"git revision to run beside (default {BASELINE})"
    )
    args = parser.parse_args()
    cases = [(2048, 22.0)] if args.quick else [(2048, 8.0), (2048, 22.0), (2048, 40.0), (4096, 16.0)]
    print(
        f"| frame | period (px) | columns | seconds | seconds at {args.baseline} | ratio "
        "| peak memory (GiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        source = export(args.baseline, folder)
        for size, period in cases:
            # Made in a process of its own: its memory is not counted.
            path = f"{folder}/scene_{size}_{period:g}.npy"
            subprocess.run([sys.executable, "-c", SCENE, str(size), str(period), path], check=True)
            now = run(path)
            report(size, period, now, run(path, source) if source else None)


def report(size: int, period: float, now: dict, before: dict | None) -> None:
    then = f"{before['seconds']:.1f} | {before['seconds'] / now['seconds']:.2f}x" if before else "n/a | n/a"
    print(
        f"| {size} x {size} | {period:g} | {now['columns']:,} | {now['seconds']:.1f} | {then} "
        f"| {now['peak_gib']:.2f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
