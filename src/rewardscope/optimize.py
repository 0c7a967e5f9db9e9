"""Bayesian optimization of the workflow's hyperparameters by reward, driving an Optuna study.

The study maximizes the reward over the patch window and the number of
classes with Optuna's Gaussian-process sampler; with several ``objectives``
(reward components) it is a multi-objective study whose answer is a Pareto
front, of which the member with the highest combined reward is chosen. It lives in a journal file by
default, so an interrupted run resumes where it stopped; any Optuna storage URL
works the same way.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .config import Config
from .errors import RewardscopeError

logger = logging.getLogger(__name__)
STUDY_NAME = "rewardscope"
# Searched unless the user says otherwise; see the README's benchmark for why both.
DEFAULT_DESCRIPTORS = ("patch", "polarization")


@dataclass(frozen=True)
class SearchSpace:
    """What is searched: patch window in px (even steps), number of classes, the descriptors, and the
    learners (gmm or VAEs) with the VAEs' latent sizes and KL weights. A dimension with one value is fixed."""

    window: tuple[int, int]
    n_classes: tuple[int, int] = (2, 6)
    descriptors: tuple[str, ...] = DEFAULT_DESCRIPTORS
    learners: tuple[str, ...] = ("gmm",)
    latent_dim: tuple[int, int] = (2, 2)
    betas: tuple[float, ...] = (1.0,)

    def __post_init__(self):
        if any(learner != "gmm" for learner in self.learners) and any(d != "patch" for d in self.descriptors):
            raise RewardscopeError(f"the VAE learners encode image patches: search them with the patch descriptor only,"
                                   f" not {','.join(self.descriptors)}")

    @classmethod
    def for_period(cls, period: float, image_side: int, n_classes=(2, 6), descriptors=DEFAULT_DESCRIPTORS, **learning) -> "SearchSpace":
        """Windows from 0.75 to 2.5 lattice periods, never beyond a third of the image."""
        low = max(6, int(2 * round(0.375 * period)))
        high = max(low + 2, 2 * (min(int(2 * round(1.25 * period)), image_side // 3) // 2))
        return cls(window=(low, high), n_classes=tuple(n_classes), descriptors=tuple(descriptors), **learning)

    @property
    def windows(self) -> np.ndarray:
        return np.arange(self.window[0], self.window[1] + 1, 2)

    @property
    def searched(self) -> dict:
        """The dimensions beyond window and classes that have more than one value."""
        return {"descriptor": len(self.descriptors) > 1, "learner": len(self.learners) > 1,
                "latent_dim": self.latent_dim[1] > self.latent_dim[0], "beta": len(self.betas) > 1}

    def settings(self) -> list[dict]:
        """Every distinct setting; the window only counts for descriptors made of patches, latent size and
        beta only for the VAE learners."""
        from itertools import product

        choices = {"descriptor": self.descriptors, "window": [int(w) for w in self.windows],
                   "n_classes": range(self.n_classes[0], self.n_classes[1] + 1), "learner": self.learners,
                   "latent_dim": range(self.latent_dim[0], self.latent_dim[1] + 1), "beta": self.betas}
        searched = {"window": True, "n_classes": True, **self.searched}
        names = [name for name in choices if searched[name]]
        unique = {}
        for values in product(*(choices[name] for name in names)):
            params = dict(zip(names, values))
            unique.setdefault(self.key(params), params)
        return list(unique.values())

    @property
    def size(self) -> int:
        return len(self.settings())

    def key(self, params: dict) -> tuple:
        """Settings that give the same result share a key: without patches the window is moot, and so
        are the VAE's settings for the gmm learner."""
        descriptor = params.get("descriptor", self.descriptors[0])
        learner = params.get("learner", self.learners[0])
        vae = learner != "gmm"
        return (descriptor, params["window"] if "patch" in descriptor else None, params["n_classes"], learner,
                params.get("latent_dim", self.latent_dim[0]) if vae else None, params.get("beta", self.betas[0]) if vae else None)

    def opening(self, n_trials: int) -> list[dict]:
        """The first settings to score: the default patch setting (1.5 periods, fewest classes) of each
        learner, then every setting of the descriptors without patches, which are few and cost
        milliseconds; the budget of ``n_trials`` caps the list."""
        middle = int(np.clip(2 * round(np.mean(self.window) / 2), *self.window))
        first = {"window": middle, "n_classes": self.n_classes[0], "learner": self.learners[0],
                 "latent_dim": self.latent_dim[0], "beta": self.betas[0]}
        opening = []
        for descriptor in self.descriptors:
            if "patch" in descriptor:
                opening += [{**first, "descriptor": descriptor, "learner": learner} for learner in self.learners]
            else:
                opening += [{**first, "descriptor": descriptor, "n_classes": k} for k in range(self.n_classes[0], self.n_classes[1] + 1)]
        searched = {"window": True, "n_classes": True, **self.searched}
        return [{k: v for k, v in p.items() if searched[k]} for p in opening][:n_trials]

    def random_unseen(self, scored: dict, rng: np.random.Generator) -> dict:
        """A setting whose key is not in ``scored``, uniformly at random."""
        settings = [p for p in self.settings() if self.key(p) not in scored]
        return settings[rng.integers(len(settings))]

    def distributions(self) -> dict:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        distributions = {
            "window": IntDistribution(self.window[0], self.window[1], step=2),
            "n_classes": IntDistribution(self.n_classes[0], self.n_classes[1]),
            "descriptor": CategoricalDistribution(list(self.descriptors)),
            "learner": CategoricalDistribution(list(self.learners)),
            "latent_dim": IntDistribution(*self.latent_dim),
            "beta": CategoricalDistribution(list(self.betas)),
        }
        return {name: d for name, d in distributions.items() if name in ("window", "n_classes") or self.searched[name]}


def open_study(storage: str | Path | None, *, seed: int, n_startup: int, n_objectives: int = 1):
    """Create or load the study in ``storage``: a journal file path, an Optuna storage URL, or None (in memory)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is not None and (isinstance(storage, Path) or "://" not in str(storage)):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(storage)))
    with warnings.catch_warnings():  # deterministic_objective is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup, deterministic_objective=True)
    return optuna.create_study(storage=storage, study_name=STUDY_NAME, directions=["maximize"] * n_objectives, sampler=sampler,
                               load_if_exists=True)


def check_objectives(objectives) -> tuple[str, ...] | None:
    """None for the combined reward, or two or more known component names."""
    from .rewards import COMPONENTS

    if not objectives:
        return None
    objectives = tuple(objectives)
    unknown = [name for name in objectives if name not in COMPONENTS]
    if unknown:
        raise RewardscopeError(f"unknown objective {unknown[0]!r}; choose from {', '.join(COMPONENTS)}")
    if len(set(objectives)) < 2:
        raise RewardscopeError(f"give two or more different objectives for a Pareto front, got {','.join(objectives)};"
                               " for one, weight it alone with --reward-weights NAME=1")
    return objectives


def optimize(evaluate, base: Config, space: SearchSpace, *, n_trials: int, storage, seed: int = 0, progress: bool = True,
             objectives: tuple[str, ...] | None = None, opening: bool = True):
    """Run trials until the study holds ``n_trials`` distinct finished settings; return the study.

    ``evaluate(config) -> (reward, components)`` scores one configuration. The
    study opens with ``space.opening``: the default patch setting and every
    setting of the cheap physical descriptors. The reward is deterministic,
    so when the sampler proposes a setting it has already scored, the known
    reward is told back at no cost and an unseen setting, drawn at random, is
    queued next: the budget buys distinct settings only. ``opening=False``
    leaves the start to the sampler (random startup trials; for benchmarks of
    the sampler itself). With ``objectives``
    (see ``check_objectives``) the study maximizes those components jointly;
    every trial keeps the combined reward in its user attribute "reward".
    """
    import optuna
    from tqdm.auto import tqdm

    if n_trials < 1:
        raise RewardscopeError(f"`trials` must be >= 1, got trials={n_trials}")
    objectives = check_objectives(objectives)
    rng = np.random.default_rng(seed)
    study = open_study(storage, seed=seed, n_startup=max(3, min(8, n_trials // 3)), n_objectives=len(objectives or (None,)))
    # A trial left running by an interrupted run will never report: close it as failed.
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    scored = {space.key(t.params): t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))}
    if not scored and opening:
        for params in space.opening(n_trials):
            study.enqueue_trial(params)
    elif len(scored) < n_trials:
        logger.info("resuming the study: %d of %d settings already scored", len(scored), n_trials)
    distributions = space.distributions()
    budget = min(n_trials, space.size)
    with tqdm(total=budget, initial=min(len(scored), budget), desc="trials", unit="trial", disable=not progress) as bar:
        while len(scored) < budget:
            trial = study.ask(distributions)
            key = space.key(trial.params)
            if key in scored:
                known = scored[key]
                trial.set_user_attr("components", known.user_attrs.get("components", {}))
                trial.set_user_attr("seconds", 0.0)
                trial.set_user_attr("repeat_of", known.number)
                trial.set_user_attr("reward", known.user_attrs.get("reward"))
                study.tell(trial, known.values)
                study.enqueue_trial(space.random_unseen(scored, rng))
                continue
            config = replace(base, **trial.params)
            start = time.perf_counter()
            reward, components = evaluate(config)
            trial.set_user_attr("components", components)
            trial.set_user_attr("seconds", time.perf_counter() - start)
            trial.set_user_attr("reward", reward)
            study.tell(trial, [components[name] for name in objectives] if objectives else reward)
            scored[key] = study.trials[trial.number]
            bar.update()
            bar.set_postfix(best=f"{max(combined_reward(t) for t in scored.values()):.3f}")
    return study


def best_params(study) -> dict:
    """The best setting: the study's best, or, for several objectives, the Pareto-front member with the
    highest combined reward (ties to the earlier trial)."""
    if len(study.directions) == 1:
        return dict(study.best_params)
    return dict(max(study.best_trials, key=lambda t: (combined_reward(t), -t.number)).params)


def combined_reward(trial) -> float:
    """The combined reward of a finished trial (its value, when the study has one objective)."""
    return trial.user_attrs.get("reward", trial.values[0])


def trial_records(study) -> list[dict]:
    """Every distinct scored setting as a plain dict: number, params, reward, components, seconds, and
    ``pareto`` (on the front; with one objective, the best trial)."""
    import optuna

    front = {t.number for t in study.best_trials}
    return [
        {
            "number": t.number,
            "params": dict(t.params),
            "reward": combined_reward(t),
            "components": t.user_attrs.get("components", {}),
            "seconds": t.user_attrs.get("seconds"),
            "pareto": t.number in front,
        }
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if "repeat_of" not in t.user_attrs
    ]
