"""The synthetic composition series: one shared setting against each frame's own, at two doses.

The embedded series (``synthetic.synthesize_series``: 0, 7, 10, 13 and 20% Sm,
two 256 px frames each) is analyzed twice in the same run: as one series
(``series.analyze_series``: one setting, one learner on every frame's cells)
and frame by frame (``workflow.analyze`` on each, its own setting and classes).
For each frame the ARI of its classes against the true variants; for each
composition the largest error of the polar, antipolar and paraelectric shares
(the frames' mean, against the truth's), in percentage points; and the seconds
each way took (both in this process, one after the other).

    python benchmarks/series.py [--doses 400,60] [--trials 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rewardscope.metrics import result_accuracy
from rewardscope.plan import AnalysisPlan
from rewardscope.series import PHASES, SeriesRun, analyze_series, demo_inputs, phase_of
from rewardscope.synthetic import synthesize_series
from rewardscope.workflow import analyze


def own_phase_shares(analysis) -> dict:
    """A frame's own analysis: the share of each phase, its classes named by their physics."""
    shares = dict.fromkeys(PHASES, 0.0)
    for entry in analysis.classes:
        phase = phase_of(entry["name"])
        if phase in shares:
            shares[phase] += entry["share"]
    return shares


def run_dose(dose: float, trials: int, seed: int) -> list[dict]:
    """Every frame's ARI and phase shares, shared and own, at ``dose``; the seconds each way."""
    frames = synthesize_series(seed=seed, dose=dose)
    inputs = demo_inputs(seed=seed, dose=dose)
    plan = AnalysisPlan(n_trials=trials, seed=seed)
    start = time.perf_counter()
    shared = analyze_series(inputs, plan, run=SeriesRun(per_frame=False), progress=False)
    shared_seconds = time.perf_counter() - start
    rows, own_seconds = [], 0.0
    for frame, result, measured in zip(frames, shared.results, shared.frames):
        start = time.perf_counter()
        own = analyze(frame.scene.image, plan, progress=False)
        own_seconds += time.perf_counter() - start
        truth = frame.truth_row()
        rows.append(
            {
                "composition": frame.composition,
                "frame": frame.name,
                "ari_shared": result_accuracy(result, frame.scene).ari,
                "ari_own": result_accuracy(own.result, frame.scene).ari,
                "k_own": own.config.n_classes,
                "shared": {phase: measured[f"{phase}_share"] for phase in PHASES},
                "own": own_phase_shares(own),
                "truth": {phase: truth.get(f"{phase}_share", 0.0) for phase in PHASES},
            }
        )
    config = shared.config
    print(
        f"dose {dose:g} e/px: shared setting {config.descriptor}, {config.n_classes} classes"
        f" ({shared_seconds:.0f} s); own settings ({own_seconds:.0f} s);"
        f" drops at {[d['composition'] for d in shared.drops]}"
    )
    return rows


def fraction_errors(rows: list[dict], which: str) -> dict:
    """Per composition, the largest |mean share - true share| over the phases, in percentage points."""
    errors = {}
    for composition in sorted({r["composition"] for r in rows}):
        group = [r for r in rows if r["composition"] == composition]
        errors[composition] = max(
            abs(np.mean([r[which][p] for r in group]) - np.mean([r["truth"][p] for r in group])) * 100
            for p in PHASES
        )
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doses", default="400,60", help="mean electrons per pixel, comma-separated")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        "| dose e/px | % Sm | ARI shared (per frame) | ARI own | own k | share error shared, pp | own, pp |"
    )
    print("|---|---|---|---|---|---|---|")
    for dose in (float(d) for d in args.doses.split(",")):
        rows = run_dose(dose, args.trials, args.seed)
        shared, own = fraction_errors(rows, "shared"), fraction_errors(rows, "own")
        for composition in shared:
            group = [r for r in rows if r["composition"] == composition]
            ari_shared = " / ".join(f"{r['ari_shared']:.3f}" for r in group)
            ari_own = " / ".join(f"{r['ari_own']:.3f}" for r in group)
            k_own = "/".join(str(r["k_own"]) for r in group)
            print(
                f"| {dose:g} | {composition:g} | {ari_shared} | {ari_own} | {k_own} |"
                f" {shared[composition]:.1f} | {own[composition]:.1f} |"
            )


if __name__ == "__main__":
    main()
