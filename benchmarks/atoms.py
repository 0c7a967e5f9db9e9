"""Column finding and refinement against synthetic truth: ours, centre of mass, and atomap.

On scenes at three doses: recall and precision at 0.25 cell per sublattice,
RMSE per sublattice in px, and refinement speed in columns per second, for
(a) rewardscope's batched 2-D Gaussian refinement, (b) centre of mass, and
(c) atomap's ``refine_atom_positions_using_2d_gaussian`` started from the same
detected columns (B refined on the image with atomap's own A fits removed, as
atomap's documentation does). atomap is GPL and used here only:
``pip install atomap`` (or ``pip install -e '.[bench]'``) to include it.
Also times ``find_columns`` on a 2048 x 2048 frame.

    python benchmarks/atoms.py [--size 256] [--seeds 2] [--no-big]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rewardscope.atoms import detect_columns, find_columns, refine_columns
from rewardscope.metrics import column_accuracy
from rewardscope.synthetic import synthesize

DOSES = {"high": 2000.0, "normal": 400.0, "low": 60.0}


def score(xy, sublattice, scene, period):
    recall, precision, rmse, _ = column_accuracy(xy, sublattice, scene.truth, scene.image.shape, period)
    return {
        f"{name}_{site}": value[site]
        for name, value in (("recall", recall), ("precision", precision), ("rmse", rmse))
        for site in "AB"
    }


def atomap_refine(image, xy, sublattice):
    """atomap's 2-D Gaussian refinement from the given start positions; returns (xy, seconds)."""
    import atomap.api as am
    from atomap.tools import remove_atoms_from_image_using_2d_gaussian

    start = time.perf_counter()
    a = am.Sublattice(xy[sublattice == "A"], image=image)
    a.find_nearest_neighbors()
    a.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    without_a = remove_atoms_from_image_using_2d_gaussian(a.image, a, show_progressbar=False)
    b = am.Sublattice(xy[sublattice == "B"], image=without_a)
    b.find_nearest_neighbors()
    b.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    seconds = time.perf_counter() - start
    refined = np.vstack([np.asarray(a.atom_positions), np.asarray(b.atom_positions)])
    return refined, np.array(["A"] * len(a.atom_list) + ["B"] * len(b.atom_list)), seconds


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--no-big", action="store_true", help="skip the 2048 x 2048 timing")
    args = parser.parse_args()
    try:
        import atomap  # noqa: F401

        have_atomap = True
    except ImportError:
        have_atomap = False
        print("atomap not installed (pip install atomap): its column is left out\n")

    rows = []
    for dose_name, dose in DOSES.items():
        for seed in range(args.seeds):
            scene = synthesize("rough", seed=200 + seed, size=args.size, dose=dose)
            period = scene.spec.lattice_pm / scene.spec.pixel_size_pm
            image = scene.image.data
            detection = detect_columns(image)
            detected = refine_columns(image, detection, "none")
            n = len(detected)
            methods = {}
            for name, method in (("rewardscope gaussian", "gaussian"), ("centre of mass", "com")):
                columns, seconds = timed(refine_columns, image, detection, method)
                methods[name] = (score(columns.xy, columns.sublattice, scene, period), n / seconds)
            if have_atomap:
                # atomap refuses negative pixels (read noise): shift, which moves no column.
                xy, sub, seconds = atomap_refine(image - image.min(), detected.xy, detected.sublattice)
                methods["atomap gaussian"] = (score(xy, sub, scene, period), n / seconds)
            for method, (metrics, speed) in methods.items():
                rows.append((dose_name, seed, method, metrics, speed))
            print(f"{dose_name} seed {seed}: {n} columns", flush=True)

    keys = ("recall_A", "precision_A", "recall_B", "precision_B", "rmse_A", "rmse_B")
    print("\n| dose | method | " + " | ".join(keys) + " | refinement columns/s |")
    print("|" + "---|" * (3 + len(keys)))
    for dose_name in DOSES:
        for method in dict.fromkeys(r[2] for r in rows):
            sel = [r for r in rows if r[0] == dose_name and r[2] == method]
            means = [np.mean([r[3][k] for r in sel]) for k in keys]
            speed = np.median([r[4] for r in sel])
            print(
                f"| {dose_name} | {method} | " + " | ".join(f"{m:.3f}" for m in means) + f" | {speed:,.0f} |"
            )
    if have_atomap:
        for dose_name in DOSES:
            ours = np.median([r[4] for r in rows if r[0] == dose_name and r[2] == "rewardscope gaussian"])
            theirs = np.median([r[4] for r in rows if r[0] == dose_name and r[2] == "atomap gaussian"])
            print(
                f"{dose_name}: rewardscope refines {ours / theirs:,.0f}x as many columns per second as atomap"
            )

    if not args.no_big:
        scene = synthesize("quadrants", seed=0, size=2048)
        columns, seconds = timed(find_columns, scene.image.data)
        print(f"\n2048 x 2048 frame: {len(columns)} columns found and refined in {seconds:.1f} s")


if __name__ == "__main__":
    main()
