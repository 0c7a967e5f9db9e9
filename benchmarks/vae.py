"""VAE learners against PCA + GMM on synthetic scenes with truth, and VAE training throughput.

Accuracy: on each scene the same B-centred patches (window 1.5 lattice periods)
are classified into the true number of classes by PCA + GMM (the baseline)
and by each VAE learner (its mixture fitted on the patches wholly inside the
frame, as in the workflow), in the same run; ARI against the true variants. For
the invariant VAEs also: does the rotation latent alone separate the polar
variants (ARI of a Gaussian mixture on (cos, sin) of the angle, polar cells only)?
rvae-c4 is the rVAE that also searches the square lattice's quarter turns
(``symmetry=4``).

Reward-driven choice: the whole workflow (30 trials, patch descriptor) with
learners gmm and rvae searched together, beside gmm alone: which the reward
chooses and the ARI it reaches.

Throughput: 5,000 random 32 x 32 patches, 50 epochs, rVAE (symmetry 1 and 4), batch 128, in a
fresh process (for its peak memory); on the GPU as well when one is present.

    python benchmarks/vae.py [--seeds 2] [--epochs 30] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score

from rewardscope.config import Config
from rewardscope.learn import PCAGaussianMixture, VAEClassifier
from rewardscope.metrics import match
from rewardscope.synthetic import ANTIPOLAR, synthesize
from rewardscope.workflow import Pipeline

LAYOUTS = ("stripes", "quadrants", "bubble", "rough")
# Each VAE learner measured, as VAEClassifier settings; rvae-c4 also searches the square lattice's quarter
# turns (symmetry 4), with the KL weight and angle prior under which its angle carries the variant.
LEARNERS = {
    "vae": {"kind": "vae"},
    "rvae": {"kind": "rvae"},
    "rvae-c4": {"kind": "rvae", "symmetry": 4, "beta": 4.0},
    "jrvae": {"kind": "jrvae"},
}
INVARIANT = tuple(
    name for name, settings in LEARNERS.items() if settings["kind"] != "vae"
)  # with angle and shift latents


def scene_patches(layout: str, seed: int):
    scene = synthesize(layout, seed=seed)
    pipeline = Pipeline(scene.image)
    config = Config()  # window: 1.5 lattice periods
    rows = pipeline.classified_rows(config)
    xy = pipeline.columns(config).xy[rows]
    b = np.flatnonzero(scene.truth.sublattice == "B")
    index, _ = match(xy, scene.truth.xy[b], 0.25 * pipeline.columns(config).period)
    variant = np.full(len(rows), -1)
    variant[index[index >= 0]] = scene.truth.variant[b[index >= 0]]
    return pipeline.descriptors(config), variant, pipeline.window(config), pipeline.whole_patches(config)


def accuracy(seeds: int, epochs: int) -> list[dict]:
    rows = []
    for layout in LAYOUTS:
        for seed in range(seeds):
            X, variant, window, whole = scene_patches(layout, 100 + seed)
            known = variant >= 0
            k = len(np.unique(variant[known]))
            row = {"layout": layout, "seed": seed, "k": k, "window": window, "cells": len(X)}
            row["gmm"] = adjusted_rand_score(
                variant[known], PCAGaussianMixture(k, random_state=0).fit(X).labels_[known]
            )
            for name, settings in LEARNERS.items():
                start = time.perf_counter()
                model = VAEClassifier(k, random_state=0, epochs=epochs, **settings).fit(X, whole)
                row[name] = adjusted_rand_score(variant[known], model.labels_[known])
                row[f"{name}_s"] = time.perf_counter() - start
                if name in INVARIANT:
                    polar = known & (variant != ANTIPOLAR)
                    n_polar = len(np.unique(variant[polar]))
                    if n_polar >= 2:
                        angle = model.latent_[polar, model.vae_.latent_dim]
                        circle = np.column_stack([np.cos(angle), np.sin(angle)])
                        labels = PCAGaussianMixture(n_polar, random_state=0).fit(circle).labels_
                        row[f"{name}_angle"] = adjusted_rand_score(variant[polar], labels)
                        shifts = model.latent_[polar, model.vae_.latent_dim + 1 :]
                        labels = PCAGaussianMixture(n_polar, random_state=0).fit(shifts).labels_
                        row[f"{name}_shift"] = adjusted_rand_score(variant[polar], labels)
            rows.append(row)
            print(
                json.dumps({key: round(v, 3) if isinstance(v, float) else v for key, v in row.items()}),
                flush=True,
            )
    return rows


def reward_choice(seeds: int, epochs: int) -> list[dict]:
    from rewardscope.metrics import result_accuracy
    from rewardscope.workflow import analyze

    rows = []
    for layout in LAYOUTS:
        for seed in range(seeds):
            scene = synthesize(layout, seed=100 + seed)
            row = {"layout": layout, "seed": seed}
            for name, learners in (("gmm", ("gmm",)), ("gmm+rvae", ("gmm", "rvae"))):
                analysis = analyze(
                    scene.image,
                    n_trials=30,
                    learners=learners,
                    descriptors=("patch",),
                    epochs=epochs,
                    progress=False,
                )
                r = analysis.result
                score = result_accuracy(r, scene)
                row[name] = {
                    "ari": score.ari,
                    "learner": analysis.config.learner,
                    "window": analysis.config.window,
                    "k": analysis.config.n_classes,
                    "seconds": analysis.seconds,
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _train(device: str, symmetry: int, queue) -> None:
    import torch

    from rewardscope.learn import PatchVAE

    X = np.random.default_rng(0).normal(size=(5000, 32 * 32)).astype(np.float32)
    start = time.perf_counter()
    PatchVAE("rvae", epochs=50, symmetry=symmetry, random_state=0, device=device).fit(X)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    # GPU: the most memory torch held; CPU: the peak resident size of the whole process (torch included).
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    queue.put(
        {
            "device": device,
            "symmetry": symmetry,
            "seconds": seconds,
            "patches_per_s": 5000 * 50 / seconds,
            "peak_mib": peak,
            "threads": torch.get_num_threads(),
        }
    )


def throughput() -> list[dict]:
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    context = multiprocessing.get_context("spawn")
    for device, symmetry in ((d, s) for d in devices for s in (1, 4)):
        queue = context.Queue()
        process = context.Process(target=_train, args=(device, symmetry, queue))
        process.start()
        results.append(queue.get())
        process.join()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-choice", action="store_true")
    args = parser.parse_args()

    rows = accuracy(args.seeds, args.epochs)
    names = tuple(LEARNERS)
    print(
        f"\n| layout | seed | k | PCA + GMM ARI | {' | '.join(f'{k} ARI' for k in names)} "
        "| polar variants from the rotation latent alone,"
        f" ARI ({' / '.join(INVARIANT)}) | from the shift latents alone ({' / '.join(INVARIANT)}) |"
    )
    print("|---|---|---|---|" + "---|" * len(names) + "---|---|")
    for r in rows:
        angle, shift = (
            " / ".join(f"{r[f'{k}_{part}']:.3f}" if f"{k}_{part}" in r else "-" for k in INVARIANT)
            for part in ("angle", "shift")
        )
        print(
            f"| {r['layout']} | {r['seed']} | {r['k']} | {r['gmm']:.3f} | "
            + " | ".join(f"{r[k]:.3f}" for k in names)
            + f" | {angle} | {shift} |"
        )
    medians = {k: float(np.median([r[k] for r in rows])) for k in ("gmm", *names)}
    print("\nmedian ARI: " + ", ".join(f"{k} {v:.3f}" for k, v in medians.items()))
    print("mean ARI: " + ", ".join(f"{k} {np.mean([r[k] for r in rows]):.3f}" for k in ("gmm", *names)))
    print(
        "scenes where rvae >= PCA + GMM: "
        + f"{sum(r['rvae'] >= r['gmm'] - 1e-9 for r in rows)} of {len(rows)}"
    )
    print(
        "median seconds per fit: "
        + ", ".join(f"{k} {np.median([r[f'{k}_s'] for r in rows]):.1f}" for k in names)
    )
    for k in INVARIANT:
        angles = [r[f"{k}_angle"] for r in rows if f"{k}_angle" in r]
        four = [r[f"{k}_angle"] for r in rows if f"{k}_angle" in r and r["layout"] == "quadrants"]
        print(
            f"{k}: the rotation latent alone separates the polar variants (ARI >= 0.9) in "
            f"{sum(a >= 0.9 for a in angles)} of {len(angles)} scenes with two or more, "
            f"the four of quadrants in {sum(a >= 0.9 for a in four)} of {len(four)}"
        )

    if not args.skip_choice:
        choice = reward_choice(args.seeds, args.epochs)
        print(
            "\n| layout | seed | gmm only: ARI (window, k) "
            "| gmm + rvae searched: chosen learner, ARI (window, k) | seconds (gmm / both) |"
        )
        print("|---|---|---|---|---|")
        for r in choice:
            a, b = r["gmm"], r["gmm+rvae"]
            print(
                f"| {r['layout']} | {r['seed']} | {a['ari']:.3f} ({a['window']}, {a['k']}) "
                f"| {b['learner']}, {b['ari']:.3f} ({b['window']}, {b['k']}) |"
                f" {a['seconds']:.0f} / {b['seconds']:.0f} |"
            )

    if not args.skip_throughput:
        print(
            "\n| device | rVAE symmetry | threads | 5,000 x 32 x 32 patches, 50 epochs (s) | patches/s "
            "| peak memory (MiB; CPU: process RSS, GPU: torch allocations) |"
        )
        print("|---|---|---|---|---|---|")
        for t in throughput():
            print(
                f"| {t['device']} | {t['symmetry']} | {t['threads']} | {t['seconds']:.1f} "
                f"| {t['patches_per_s']:,.0f} | {t['peak_mib']:.0f} |"
            )


if __name__ == "__main__":
    main()
