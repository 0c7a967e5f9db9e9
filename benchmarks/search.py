"""The whole search with a VAE named, beside the gmm-only search: seconds, where they go, and ARI.

Each scene is analyzed three times in the same process, one after the other, with the default budget (30
trials) and the default descriptors (patch and polarization): ``--learner gmm`` (the baseline),
``gmm,rvae`` and ``rvae``, the VAE runs with ``--latent-dim 2:4 --beta 0.5,1,2`` (the command of issue
18). Printed per run: the seconds of ``analyze``, their ratio to the gmm-only run, the VAE models trained
(distinct window, learner, latent size and KL weight among the trials: a trial that changes only the
number of classes reuses its model), the seconds in VAE training ("embedding") and in the classifier and
class evidence on its output ("learn", "evidence"), the setting the reward chose, and the ARI of its
classes against the truth beside the gmm-only run's.

The scenes are made unlike the defaults (size, rotation, pixel size, dose, jitter). ``--torch-threads N``
sets torch's intra-op threads while a VAE trains (default: the workflow's, ``VAE_TRAINING["threads"]``),
to see whether they pay;
``--device cuda`` runs the VAE rows on a GPU (skipped, with a note, where torch sees none).
``--full-training`` trains every VAE on every cell for the fixed epochs (``workflow.VAE_TRAINING`` off),
as before early stopping and the train-set cap, for the times side by side.

    python benchmarks/search.py [--trials 30] [--scenes stripes-512,...] [--learners "gmm;gmm,rvae;rvae"]
        [--torch-threads N] [--device cpu|cuda] [--full-training]
"""

from __future__ import annotations

import argparse
import time

from rewardscope import workflow
from rewardscope.config import is_vae
from rewardscope.metrics import result_accuracy
from rewardscope.synthetic import synthesize

# name: (layout, overrides of the scene); each differs from the default scene in one or two ways.
SCENES = {
    "stripes-512": ("stripes", {"size": 512}),
    "quadrants-rot23": ("quadrants", {"rotation_deg": 23.0}),
    "bubble-coarse": ("bubble", {"pixel_size_pm": 32.0}),
    "stripes-60": ("stripes", {"dose": 60.0, "polarization_pm": 20.0}),
    "quadrants-60-jitter": ("quadrants", {"dose": 60.0, "polarization_pm": 20.0, "jitter_px": 0.3}),
}
LEARNER_SETS = (("gmm",), ("gmm", "rvae"), ("rvae",))
# --latent-dim 2:4 --beta 0.5,1,2
VAE_RANGES = {"latent_dim_range": (2, 4), "betas": (0.5, 1.0, 2.0)}


def vae_models(analysis) -> int:
    """The VAE models the search trained: one per distinct window, learner, latent size and KL weight."""
    keys = set()
    for trial in analysis.trials:
        params = analysis.space.applied(trial["params"])
        learner = params.get("learner", analysis.space.learners[0])
        if is_vae(learner):
            keys.add((params.get("window"), learner, params.get("latent_dim"), params.get("beta")))
    return len(keys)


def run_scene(name: str, trials: int, device: str, learner_sets=LEARNER_SETS) -> list[dict]:
    """The three searches on one scene; each row carries the gmm-only run's seconds and ARI beside."""
    layout, overrides = SCENES[name]
    scene = synthesize(layout, seed=0, **overrides)
    rows: list[dict] = []
    for learners in learner_sets:
        start = time.perf_counter()
        # The VAE rows search latent size and KL weight as the command did.
        vae_ranges = VAE_RANGES if any(is_vae(name) for name in learners) else {}
        analysis = workflow.analyze(
            scene.image, n_trials=trials, learners=learners, device=device, progress=False, **vae_ranges
        )
        seconds = time.perf_counter() - start
        config = analysis.config
        row = {
            "scene": name,
            "learners": ",".join(learners),
            "seconds": seconds,
            "models": vae_models(analysis),
            "embedding": analysis.timings.get("embedding", 0.0),
            "learn": analysis.timings.get("learn", 0.0) + analysis.timings.get("evidence", 0.0),
            "chosen": f"{config.descriptor}/{config.learner}/k={config.n_classes}",
            "ari": result_accuracy(analysis.result, scene).ari,
        }
        base = rows[0] if rows else row  # the first set (gmm) is the baseline
        row["ratio"], row["ari_gmm"] = seconds / base["seconds"], base["ari"]
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _line(row: dict) -> str:
    return (
        f"| {row['scene']} | {row['learners']} | {row['seconds']:.1f} | {row['ratio']:.2f} | {row['models']} "
        f"| {row['embedding']:.1f} | {row['learn']:.1f} | {row['chosen']} | {row['ari']:.3f} "
        f"| {row['ari_gmm']:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument(
        "--scenes", default=",".join(SCENES), help="comma-separated, of: " + ", ".join(SCENES)
    )
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--full-training", action="store_true")
    parser.add_argument(
        "--learners", default=";".join(",".join(s) for s in LEARNER_SETS), help="learner sets, ; between"
    )
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no GPU: torch sees no CUDA device here, the GPU rows are skipped")
        return
    if args.torch_threads:
        workflow.VAE_TRAINING = {**workflow.VAE_TRAINING, "threads": args.torch_threads}
    if args.full_training:
        workflow.VAE_TRAINING = {**workflow.VAE_TRAINING, "max_train": None, "patience": None}
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} intra-op threads outside the VAEs), device "
        f"{args.device}, "
        f"{args.trials} trials, VAE training {workflow.VAE_TRAINING}"
    )
    print(
        "| scene | learners | seconds | x gmm | VAE models | training s | learn s | chosen | ARI | ARI gmm |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    sets = [tuple(s.split(",")) for s in args.learners.split(";")]
    rows = [row for name in args.scenes.split(",") for row in run_scene(name, args.trials, args.device, sets)]
    worst = min(row["ari"] - row["ari_gmm"] for row in rows)
    slowest = {
        s: max(r["seconds"] for r in rows if r["learners"] == s) for s in {r["learners"] for r in rows}
    }
    print(
        "slowest: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest.items())
        + " (targets: gmm,rvae 90 s, rvae 120 s)"
    )
    print(f"worst ARI less the first learner set's: {worst:+.3f} (target >= 0)")


if __name__ == "__main__":
    main()
