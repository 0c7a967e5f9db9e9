"""Bayesian optimization of the workflow's hyperparameters by reward, driving an Optuna study.

The study maximizes the reward over the patch window and the number of
classes with Optuna's Gaussian-process sampler. It lives in a journal file by
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


@dataclass(frozen=True)
class SearchSpace:
    """Integer ranges searched: patch window in px (even steps) and number of classes."""

    window: tuple[int, int]
    n_classes: tuple[int, int] = (2, 6)

    @classmethod
    def for_period(cls, period: float, image_side: int, n_classes=(2, 6)) -> "SearchSpace":
        """Windows from 0.75 to 2.5 lattice periods, never beyond a third of the image."""
        low = max(6, int(2 * round(0.375 * period)))
        high = max(low + 2, min(int(2 * round(1.25 * period)), image_side // 3))
        return cls(window=(low, high), n_classes=tuple(n_classes))

    def distributions(self) -> dict:
        from optuna.distributions import IntDistribution

        return {
            "window": IntDistribution(self.window[0], self.window[1], step=2),
            "n_classes": IntDistribution(self.n_classes[0], self.n_classes[1]),
        }


def open_study(storage: str | Path | None, *, seed: int, n_startup: int):
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
    return optuna.create_study(storage=storage, study_name=STUDY_NAME, direction="maximize", sampler=sampler, load_if_exists=True)


def optimize(evaluate, base: Config, space: SearchSpace, *, n_trials: int, storage, seed: int = 0, progress: bool = True):
    """Run trials until the study holds ``n_trials`` finished ones; return the study.

    ``evaluate(config) -> (reward, components)`` scores one configuration. The
    first trial is the default setting (1.5 lattice periods, 2 classes) so the
    search always knows one sensible point.
    """
    import optuna
    from tqdm.auto import tqdm

    if n_trials < 1:
        raise RewardscopeError(f"`trials` must be >= 1, got trials={n_trials}")
    study = open_study(storage, seed=seed, n_startup=max(3, min(8, n_trials // 3)))
    # A trial left running by an interrupted run will never report: close it as failed.
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    if done == 0:
        middle = int(np.clip(2 * round(np.mean(space.window) / 2), *space.window))
        study.enqueue_trial({"window": middle, "n_classes": space.n_classes[0]})
    elif done < n_trials:
        logger.info("resuming the study: %d of %d trials already done", done, n_trials)
    distributions = space.distributions()
    with tqdm(total=n_trials, initial=done, desc="trials", unit="trial", disable=not progress) as bar:
        for _ in range(n_trials - done):
            trial = study.ask(distributions)
            config = replace(base, **trial.params)
            start = time.perf_counter()
            reward, components = evaluate(config)
            trial.set_user_attr("components", components)
            trial.set_user_attr("seconds", time.perf_counter() - start)
            study.tell(trial, reward)
            bar.update()
            bar.set_postfix(best=f"{study.best_value:.3f}")
    return study


def trial_records(study) -> list[dict]:
    """Every finished trial as a plain dict: number, params, reward, components, seconds."""
    import optuna

    return [
        {
            "number": t.number,
            "params": dict(t.params),
            "reward": t.value,
            "components": t.user_attrs.get("components", {}),
            "seconds": t.user_attrs.get("seconds"),
        }
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    ]
