"""Bayesian optimization of the workflow's hyperparameters by reward, driving an Optuna study.

The study maximizes the reward over the search space (patch window, number
of classes, descriptor, learner) with Optuna's Gaussian-process sampler; with
several ``objectives`` (reward components) it is a multi-objective study whose
answer is a Pareto front, of which the member with the highest combined reward
is chosen. It lives in a journal file by default, so an interrupted run
resumes where it stopped; in a database (``postgresql://...``) any number of
worker processes, on any machines, share it. Optuna's ``Study.optimize`` runs
the loop, with its heartbeats on a database.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..errors import RewardscopeError
from .space import DEFAULT_DESCRIPTORS, SearchSpace
from .storage import STUDY_NAME, check_storage_url, gp_sampler, masked, open_storage, open_study

__all__ = [
    "DEFAULT_DESCRIPTORS",
    "SPATIAL_TOLERANCE",
    "STUDY_NAME",
    "SearchSpace",
    "best_params",
    "check_objectives",
    "check_storage_url",
    "combined_reward",
    "finished_settings",
    "gp_sampler",
    "masked",
    "open_storage",
    "open_study",
    "optimize",
    "startup_trials",
    "trial_records",
]

logger = logging.getLogger(__name__)
SPATIAL_TOLERANCE = (
    0.02  # rewards this close to the best are a tie: settings a noise apart differ by about 1%
)


def optimize(
    evaluate: Callable[[Config], tuple[float, dict]],
    base: Config,
    space: SearchSpace,
    *,
    n_trials: int,
    storage: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    objectives: tuple[str, ...] | None = None,
    opening: bool = True,
    study: Any = None,
) -> Any:
    """Run trials until the study holds ``n_trials`` distinct finished settings; return the study.

    A new study opens with ``space.opening``; a setting scored before is told back from its trial (one
    running elsewhere is pruned) and an unseen one queued instead; the trial of a dead worker, or one
    interrupted in a resumed journal, is tried again.

    Parameters
    ----------
    evaluate, base, space : callable, Config, SearchSpace
        ``evaluate(config) -> (reward, components)`` scores a setting applied to ``base``, of ``space``.
    n_trials, seed : int
        The budget of distinct settings (at most the space's size); the seed of sampler and draws.
    storage : str, Path or None
        Where a new study lives (see ``open_storage``), when ``study`` is not given.
    progress, opening : bool
        Show a progress bar; enqueue ``space.opening`` on a new study (False: the sampler starts).
    objectives : tuple of str, optional
        Reward components maximized jointly (a Pareto front); user attribute "reward" keeps the combined.
    study : optuna.Study, optional
        An opened study, taken as shared (its running trials are other workers').

    Returns
    -------
    optuna.Study
        The study, its trials scored.

    Raises
    ------
    RewardscopeError
        For a budget below 1 or bad objectives.

    Examples
    --------
    >>> space = SearchSpace((8, 10), (2, 3), ("patch",))
    >>> score = lambda c: (c.n_classes / 10 - c.window / 100, {})
    >>> best_params(optimize(score, Config(), space, n_trials=4, progress=False))
    {'window': 8, 'n_classes': 3}
    """
    if n_trials < 1:
        raise RewardscopeError(f"`trials` must be >= 1, got trials={n_trials}")
    objectives = check_objectives(objectives)
    local = study is None and (storage is None or isinstance(storage, Path))  # no other worker's trials
    n_startup, n_objectives = startup_trials(n_trials), len(objectives or (None,))
    study = study or open_study(storage, seed=seed, n_startup=n_startup, n_objectives=n_objectives)
    _prepare(study, space, n_trials, opening=opening, local=local)
    _run(study, _Objective(evaluate, base, space, seed, objectives), min(n_trials, space.size), progress)
    return study


def _run(study, objective: _Objective, budget: int, progress: bool) -> None:
    """Optuna's loop until the study holds ``budget`` distinct finished settings (or none is left to try)."""
    from ..progress import load_optuna, progress_bar

    optuna = load_optuna()

    space = objective.space
    done = len(finished_settings(study, space))
    with progress_bar(
        total=budget, initial=min(done, budget), desc="trials", unit="trial", disable=not progress
    ) as bar:
        while done < budget and not objective.exhausted:
            try:
                with warnings.catch_warnings():  # heartbeats are 'experimental': used on purpose
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    study.optimize(objective, n_trials=None, callbacks=[_Budget(bar, space, budget)])
                return
            except Exception:
                if objective.lost is None:
                    raise
                objective.lost = None  # another worker failed this one's trial: go on with the next
            done = len(finished_settings(study, space))


class _Objective:
    """One trial: the sampler's setting scored; told back when it was scored before, pruned when it is
    being scored elsewhere."""

    def __init__(self, evaluate, base: Config, space: SearchSpace, seed: int, objectives) -> None:
        self.evaluate, self.base, self.space, self.seed, self.objectives = (
            evaluate,
            base,
            space,
            seed,
            objectives,
        )
        self.distributions = space.distributions()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.exhausted = False  # every setting is finished or running: nothing left for this worker
        self.lost: int | None = None  # the trial another worker failed while this one ran it

    def __call__(self, trial) -> float | list[float]:
        import optuna

        for name, distribution in self.distributions.items():
            if isinstance(distribution, optuna.distributions.CategoricalDistribution):
                trial.suggest_categorical(name, distribution.choices)
            else:
                trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step)
        key = self.space.key(trial.params)
        # Read after this trial's parameters are stored: of two workers given one setting at once, at least
        # one sees the other's, so it is never scored twice. Running trials are read before finished ones:
        # a trial that finishes between the two reads is then in the second (read the other way round, it
        # was in neither, and CI caught a setting scored twice).
        running = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        finished = finished_settings(trial.study, self.space)
        seen = set(finished) | {
            self.space.key(t.params)
            for t in running
            if t.number != trial.number and "n_classes" in t.params  # (a newer trial may have none yet)
        }
        if key in seen:
            unseen = self.space.random_unseen(seen, np.random.default_rng([self.seed, trial.number]))
            if unseen is None:
                self.exhausted = True
                trial.study.stop()
            else:
                trial.study.enqueue_trial(unseen)
            if key in finished:  # the reward is deterministic: told back at no cost, so the sampler learns it
                return self._repeat(trial, finished[key])
            raise optuna.TrialPruned(f"setting {key} is being scored by another worker")
        trial.set_user_attr("worker", self.worker)
        start = time.perf_counter()
        reward, components = self.evaluate(replace(self.base, **self.space.applied(trial.params)))
        try:
            trial.set_user_attr("components", components)
            trial.set_user_attr("seconds", time.perf_counter() - start)
            trial.set_user_attr("reward", reward)
        except optuna.exceptions.UpdateFinishedTrialError:
            # This process was silent past the grace period (suspended, or starved of CPU) and another worker
            # failed the trial as dead and queued its setting again: drop the result.
            self.lost = trial.number
            logger.warning(
                "trial %d was failed by another worker while this one ran it (silent past the grace period);"
                " its result is dropped",
                trial.number,
            )
            raise
        return [components[name] for name in self.objectives] if self.objectives else reward

    def _repeat(self, trial, known) -> float | list[float]:
        """A setting scored before: its values and components, marked as a repeat (not a new setting)."""
        for name in ("components", "reward"):
            trial.set_user_attr(name, known.user_attrs.get(name))
        trial.set_user_attr("seconds", 0.0)
        trial.set_user_attr("repeat_of", known.number)
        return list(known.values) if self.objectives else known.values[0]


class _Budget:
    """After each trial: the progress bar (distinct finished settings, the best reward so far), and the
    study stopped once the budget of distinct settings is spent (a repeat of a known setting, told back,
    counts as a finished trial to Optuna's MaxTrialsCallback, not as a setting)."""

    def __init__(self, bar, space: SearchSpace, budget: int) -> None:
        self.bar, self.space, self.budget = bar, space, budget

    def __call__(self, study, trial) -> None:
        finished = finished_settings(study, self.space)
        self.bar.update(min(len(finished), self.budget) - self.bar.n)
        if finished:
            self.bar.set_postfix(best=f"{max(map(combined_reward, finished.values())):.3f}")
        if len(finished) >= self.budget:
            study.stop()


def _prepare(study, space: SearchSpace, n_trials: int, *, opening: bool, local: bool) -> None:
    """Open a new study with ``space.opening``; on resume, put the interrupted settings back in the queue.

    On a shared study Optuna fails the trials of dead workers (no heartbeat for the grace period) and
    queues their settings again; in one process, a trial left running by an interrupted run never reports.
    """
    import optuna

    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    if not trials:
        for params in space.opening(n_trials) if opening else ():
            study.enqueue_trial(params)
        return
    logger.info(
        "resuming the study: %d of %d settings already scored", len(finished_settings(study, space)), n_trials
    )
    if not local:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        return
    for trial in trials:
        if trial.state == state.RUNNING:
            study.tell(trial.number, state=state.FAIL)
    # Interrupted trials, failed here or by Optuna's loop when an interrupt (Ctrl-C) ended it, are tried again
    # once per resume: each not finished, nor queued again already.
    done, names = set(finished_settings(study, space)), set(space.distributions())
    queued = {t.user_attrs.get("retry_of") for t in study.get_trials(deepcopy=False)}
    again: dict[tuple, tuple[int, dict]] = {}
    for trial in study.get_trials(deepcopy=False, states=(state.FAIL,)):
        if names <= set(trial.params) and space.key(trial.params) not in done and trial.number not in queued:
            again[space.key(trial.params)] = (trial.number, dict(trial.params))
    for number, params in again.values():
        study.enqueue_trial(params, user_attrs={"retry_of": number})


def check_objectives(objectives) -> tuple[str, ...] | None:
    """None for the combined reward, or two or more known component names.

    Parameters
    ----------
    objectives : sequence of str or None
        Reward components to maximize jointly.

    Returns
    -------
    tuple of str or None
        The names; None for the combined reward.

    Raises
    ------
    RewardscopeError
        For an unknown name, or fewer than two different ones.

    Examples
    --------
    >>> check_objectives(["separation", "straightness"])
    ('separation', 'straightness')
    """
    from ..rewards import COMPONENTS

    if not objectives:
        return None
    objectives = tuple(objectives)
    unknown = [name for name in objectives if name not in COMPONENTS]
    if unknown:
        raise RewardscopeError(f"unknown objective {unknown[0]!r}; choose from {', '.join(COMPONENTS)}")
    if len(set(objectives)) < 2:
        raise RewardscopeError(
            f"give two or more different objectives for a Pareto front, got {','.join(objectives)};"
            " for one, weight it alone with --reward-weights NAME=1"
        )
    return objectives


def startup_trials(n_trials: int) -> int:
    """Random trials before the GP takes over: a third of the budget, 3 to 8.

    Parameters
    ----------
    n_trials : int
        The budget.

    Returns
    -------
    int
        The number of startup trials.

    Examples
    --------
    >>> startup_trials(30)
    8
    """
    return max(3, min(8, n_trials // 3))


def finished_settings(study, space: SearchSpace) -> dict:
    """Setting key -> the first finished trial that scored it.

    Parameters
    ----------
    study : optuna.Study
        The study.
    space : SearchSpace
        Its space, whose ``key`` says which settings are the same.

    Returns
    -------
    dict
        One finished trial per distinct setting.
    """
    import optuna

    finished: dict[tuple, Any] = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if "repeat_of" not in trial.user_attrs:
            finished.setdefault(space.key(trial.params), trial)
    return finished


def best_params(study) -> dict:
    """The best setting: the study's best, or, for several objectives, the Pareto-front member with the
    highest combined reward (ties to the earlier trial).

    Of the settings within ``SPATIAL_TOLERANCE`` of the best reward, the one with the least spatial prior
    (pooling radius, then Potts strength) is taken: a prior is used only where the data need it, not where
    it merely ties (a superlattice's 4-cell layers at 6 e/px: pooled over 3 x 3 cells 0.654, unpooled 0.644
    with the layers' true edges).

    Parameters
    ----------
    study : optuna.Study
        A study with finished trials.

    Returns
    -------
    dict
        The chosen trial's parameters.
    """
    if len(study.directions) > 1:
        return dict(max(study.best_trials, key=lambda t: (combined_reward(t), -t.number)).params)
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    best = max(t.value for t in done)
    near = [t for t in done if t.value >= best - SPATIAL_TOLERANCE * abs(best)]
    return dict(
        min(
            near,
            key=lambda t: (t.params.get("pooling", 0), t.params.get("smoothing", 0.0), -t.value, t.number),
        ).params
    )


def combined_reward(trial) -> float:
    """The combined reward of a finished trial (its value, when the study has one objective).

    Parameters
    ----------
    trial : optuna.trial.FrozenTrial
        A finished trial.

    Returns
    -------
    float
        Its user attribute "reward", else its first value.
    """
    return trial.user_attrs.get("reward", trial.values[0])


def trial_records(study) -> list[dict]:
    """Every distinct scored setting as a plain dict.

    Parameters
    ----------
    study : optuna.Study
        The study.

    Returns
    -------
    list of dict
        Number, params, reward, components, seconds, and ``pareto`` (on the front; with one objective,
        the best trial), one per distinct setting (its first finished trial), in trial order.
    """
    import optuna

    front = {t.number for t in study.best_trials}
    seen: set = set()
    records = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        # (Repeats of known settings, told back to the sampler, are listed once.)
        if "repeat_of" in t.user_attrs or tuple(sorted(t.params.items())) in seen:
            continue
        seen.add(tuple(sorted(t.params.items())))
        records.append(
            {
                "number": t.number,
                "params": dict(t.params),
                "reward": combined_reward(t),
                "components": t.user_attrs.get("components", {}),
                "seconds": t.user_attrs.get("seconds"),
                "pareto": t.number in front,
            }
        )
    return records
