"""Bayesian optimization of the workflow's hyperparameters by reward, driving an Optuna study.

The study maximizes the reward over the search space (patch window, number
of classes, descriptor, learner) with Optuna's Gaussian-process sampler; with
several ``objectives`` (reward components) it is a multi-objective study whose
answer is a Pareto front, of which the member with the highest combined reward
is chosen. It lives in a journal file by default, so an interrupted run
resumes where it stopped; in a database (``postgresql://...``) any number of
worker processes, on any machines, share it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .config import Config
from .errors import RewardscopeError

logger = logging.getLogger(__name__)
STUDY_NAME = "rewardscope"
# A worker silent for GRACE_S seconds is taken for dead and its trial failed (tests shorten it).
HEARTBEAT_S = int(os.environ.get("REWARDSCOPE_HEARTBEAT_S", 5))
GRACE_S = int(os.environ.get("REWARDSCOPE_GRACE_S", 20))
POLL_S = 1.0  # how often a worker waiting for others' last trials looks again
# PostgreSQL ends a worker's session that sits inside a transaction this long (its machine died or was suspended
# mid-commit), so that the rows it locked are not held from the other workers until TCP gives up, hours later.
IDLE_IN_TRANSACTION_S = 60
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
    poolings: tuple[int, ...] = (0,)  # radii (cells) of the descriptors' averaging over neighbouring cells
    smoothings: tuple[float, ...] = (0.0,)  # strengths of the Potts prior on the cell grid (learn.potts)

    def __post_init__(self):
        if any(learner != "gmm" for learner in self.learners) and any(d != "patch" for d in self.descriptors):
            raise RewardscopeError(
                f"the VAE learners encode image patches: search them with the patch descriptor only,"
                f" not {','.join(self.descriptors)}"
            )

    @classmethod
    def for_period(
        cls,
        period: float,
        image_side: int,
        n_classes=(2, 6),
        descriptors=DEFAULT_DESCRIPTORS,
        window=None,
        **learning,
    ) -> SearchSpace:
        """Windows from 0.75 to 2.5 lattice periods, never beyond a third of the image, unless ``window``
        (LOW, HIGH) says which (searched in steps of 2 from LOW)."""
        if window is None:
            low = max(6, int(2 * round(0.375 * period)))
            window = (low, max(low + 2, 2 * (min(int(2 * round(1.25 * period)), image_side // 3) // 2)))
        elif not 3 <= window[0] <= window[1] <= image_side:
            raise RewardscopeError(
                f"the window range {window[0]}:{window[1]} px must lie within 3 and the image side, {image_side} px"
            )
        return cls(
            window=tuple(window), n_classes=tuple(n_classes), descriptors=tuple(descriptors), **learning
        )

    @property
    def windows(self) -> np.ndarray:
        return np.arange(self.window[0], self.window[1] + 1, 2)

    @property
    def searched(self) -> dict:
        """The dimensions beyond window and classes that have more than one value."""
        return {
            "descriptor": len(self.descriptors) > 1,
            "learner": len(self.learners) > 1,
            "latent_dim": self.latent_dim[1] > self.latent_dim[0],
            "beta": len(self.betas) > 1,
            "pooling": len(self.poolings) > 1,
            "smoothing": len(self.smoothings) > 1,
        }

    def settings(self) -> list[dict]:
        """Every distinct setting; the window only counts for descriptors made of patches, latent size and
        beta only for the VAE learners."""
        from itertools import product

        choices = {
            "descriptor": self.descriptors,
            "window": [int(w) for w in self.windows],
            "n_classes": range(self.n_classes[0], self.n_classes[1] + 1),
            "learner": self.learners,
            "latent_dim": range(self.latent_dim[0], self.latent_dim[1] + 1),
            "beta": self.betas,
            "pooling": self.poolings,
            "smoothing": self.smoothings,
        }
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
        return (
            descriptor,
            params["window"] if "patch" in descriptor else None,
            params["n_classes"],
            learner,
            params.get("latent_dim", self.latent_dim[0]) if vae else None,
            params.get("beta", self.betas[0]) if vae else None,
            params.get("pooling", self.poolings[0]),
            params.get("smoothing", self.smoothings[0]),
        )

    def opening(self, n_trials: int) -> list[dict]:
        """The first settings to score: the default patch setting (1.5 periods, fewest classes) of each
        learner, then every setting of the descriptors without patches, which are few and cost
        milliseconds; the budget of ``n_trials`` caps the list."""
        middle = int(np.clip(2 * round(np.mean(self.window) / 2), *self.window))
        first = {
            "window": middle,
            "n_classes": self.n_classes[0],
            "learner": self.learners[0],
            "latent_dim": self.latent_dim[0],
            "beta": self.betas[0],
            "pooling": self.poolings[0],
            "smoothing": self.smoothings[0],
        }
        opening = []
        for descriptor in self.descriptors:
            if "patch" in descriptor:
                opening += [
                    {**first, "descriptor": descriptor, "learner": learner} for learner in self.learners
                ]
            else:
                opening += [
                    {**first, "descriptor": descriptor, "n_classes": k}
                    for k in range(self.n_classes[0], self.n_classes[1] + 1)
                ]
        searched = {"window": True, "n_classes": True, **self.searched}
        return [{k: v for k, v in p.items() if searched[k]} for p in opening][:n_trials]

    def random_unseen(self, seen, rng: np.random.Generator) -> dict | None:
        """A setting whose key is not in ``seen``, uniformly at random; None when every setting is."""
        settings = [p for p in self.settings() if self.key(p) not in seen]
        return settings[rng.integers(len(settings))] if settings else None

    def distributions(self) -> dict:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        distributions = {
            "window": IntDistribution(
                self.window[0], self.window[0] + 2 * ((self.window[1] - self.window[0]) // 2), step=2
            ),
            "n_classes": IntDistribution(self.n_classes[0], self.n_classes[1]),
            "descriptor": CategoricalDistribution(list(self.descriptors)),
            "learner": CategoricalDistribution(list(self.learners)),
            "latent_dim": IntDistribution(*self.latent_dim),
            "beta": CategoricalDistribution(list(self.betas)),
            "pooling": CategoricalDistribution([int(v) for v in self.poolings]),
            "smoothing": CategoricalDistribution(list(self.smoothings)),
        }
        return {
            name: d
            for name, d in distributions.items()
            if name in ("window", "n_classes") or self.searched[name]
        }


@contextmanager
def _heartbeats_on_purpose():
    """Heartbeats are 'experimental' in Optuna and it warns when they are used outside Study.optimize; the
    loop here uses them on purpose. The warnings are silenced within the call only (as a decorator, or a
    block), never for the user's process."""
    import optuna

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings(
            "ignore", message="Heartbeat of storage is supposed to be used with Study.optimize"
        )
        yield


def check_storage_url(url: str) -> str:
    """A shared study's storage URL, refused in one line (before anything is opened or made) unless it is PostgreSQL's."""
    scheme = str(url).partition("://")[0] if "://" in str(url) else ""
    if scheme.split("+")[0] != "postgresql":
        message = (
            f"unsupported study storage {masked(str(url))!r}: a shared study lives in PostgreSQL,"
            " postgresql://user:password@host:port/db"
        )
        raise RewardscopeError(
            f"{message} (without a storage, analyze keeps the study in a journal file in its output folder)",
            cli=f"{message} (without --storage, analyze keeps the study in a journal file in --out)",
        )
    return str(url)


def open_storage(storage: str | Path | None):
    """An Optuna storage: None (in memory), a journal file (a ``Path``: one machine), or a PostgreSQL URL
    (``postgresql://user:password@host:port/db``) that many workers share, with heartbeats so that
    the trial of a worker that died is failed and its setting offered again."""
    import optuna

    if storage is None:
        return None
    if isinstance(storage, Path):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(str(storage)))
    url = check_storage_url(storage)
    for attempt in range(3):
        try:
            engine = {"pool_pre_ping": True}
            if url.startswith("postgresql"):
                engine["connect_args"] = {
                    "options": f"-c idle_in_transaction_session_timeout={int(IDLE_IN_TRANSACTION_S * 1000)}"
                }
            with _heartbeats_on_purpose():
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, engine_kwargs=engine
                )
        except ImportError:
            raise RewardscopeError(
                f"the storage {masked(url)} needs its database driver; for PostgreSQL:"
                " pip install 'rewardscope[postgres]'"
            ) from None
        except Exception as error:  # noqa: BLE001 - the driver's error, said in one line
            # Workers that start together on a new database race to create Optuna's tables: the losers try again.
            if attempt < 2 and type(error).__name__ in ("IntegrityError", "ProgrammingError"):
                time.sleep(0.5 + attempt)
                continue
            reason = next(
                (line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__
            )
            raise RewardscopeError(f"could not open the study storage {masked(url)}: {reason}") from None


def masked(url: str) -> str:
    """The URL with its password replaced by ***, fit to print."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_study(
    storage,
    *,
    seed: int,
    n_startup: int,
    n_objectives: int = 1,
    study_name: str = STUDY_NAME,
    create: bool = True,
):
    """Create (or load) the study ``study_name`` in ``storage`` (see ``open_storage``; an opened
    storage object is used as it is). With ``create=False`` the study must exist."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None or isinstance(storage, (str, Path)):
        storage = open_storage(storage)
    sampler = gp_sampler(seed, n_startup)
    if not create:
        try:
            return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
        except KeyError:
            names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage))
            listed = ", ".join(names[:10]) + (
                f" and {len(names) - 10} more" if len(names) > 10 else ""
            )  # one readable line
            raise RewardscopeError(
                f"no study {study_name!r} in this storage; studies there: {listed or 'none'}"
            ) from None
    return optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=["maximize"] * n_objectives,
        sampler=sampler,
        load_if_exists=True,
    )


def startup_trials(n_trials: int) -> int:
    """Random trials before the GP takes over: a third of the budget, 3 to 8."""
    return max(3, min(8, n_trials // 3))


def gp_sampler(seed: int, n_startup: int):
    """Optuna's Gaussian-process sampler; it counts the trials other workers are running when it proposes."""
    import optuna

    with warnings.catch_warnings():  # deterministic_objective is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup, deterministic_objective=True)


def _shared(study) -> bool:
    """True for a study other workers may be running trials of (a database with heartbeats)."""
    return getattr(study._storage, "get_heartbeat_interval", lambda: None)() is not None


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
        raise RewardscopeError(
            f"give two or more different objectives for a Pareto front, got {','.join(objectives)};"
            " for one, weight it alone with --reward-weights NAME=1"
        )
    return objectives


@_heartbeats_on_purpose()
def optimize(
    evaluate,
    base: Config,
    space: SearchSpace,
    *,
    n_trials: int,
    storage=None,
    seed: int = 0,
    progress: bool = True,
    objectives: tuple[str, ...] | None = None,
    opening: bool = True,
    study=None,
):
    """Run trials until the study holds ``n_trials`` distinct finished settings; return the study.

    ``evaluate(config) -> (reward, components)`` scores one configuration. The
    study opens with ``space.opening``: the default patch setting and every
    setting of the cheap physical descriptors. The reward is deterministic,
    so when the sampler proposes a setting it has already scored, the known
    reward is told back at no cost and an unseen setting, drawn at random, is
    queued next: the budget buys distinct settings only. ``opening=False``
    leaves the start to the sampler (random startup trials; for benchmarks of
    the sampler itself). With ``objectives`` (see ``check_objectives``) the
    study maximizes those components jointly; every trial keeps the combined
    reward in its user attribute "reward".

    Any number of processes may run this on one shared ``study`` (a database
    storage): a setting another worker is running is not started twice, a
    worker stops when the budget is spent, and waits while the last trials
    are with others, so that if one of them dies (no heartbeat for GRACE_S
    seconds) its setting is taken over. Random draws are seeded by the trial
    number, so a study's trials do not depend on which worker ran them.
    """
    import optuna

    from .progress import progress_bar as tqdm

    if n_trials < 1:
        raise RewardscopeError(f"`trials` must be >= 1, got trials={n_trials}")
    objectives = check_objectives(objectives)
    if study is None:
        study = open_study(
            storage, seed=seed, n_startup=startup_trials(n_trials), n_objectives=len(objectives or (None,))
        )
    shared = _shared(study)
    if shared:
        optuna.storages.fail_stale_trials(study)
    else:  # one process: a trial left running by an interrupted run will never report
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    if not study.get_trials(deepcopy=False) and opening:
        for params in space.opening(n_trials):
            study.enqueue_trial(params)
    elif study.get_trials(deepcopy=False):
        logger.info(
            "resuming the study: %d of %d settings already scored",
            len(finished_settings(study, space)),
            n_trials,
        )
    distributions = space.distributions()
    budget = min(n_trials, space.size)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    finished = finished_settings(study, space)
    with tqdm(
        total=budget, initial=min(len(finished), budget), desc="trials", unit="trial", disable=not progress
    ) as bar:
        while True:
            if shared:
                optuna.storages.fail_stale_trials(study)
            finished = finished_settings(study, space)
            bar.update(min(len(finished), budget) - bar.n)
            if len(finished) >= budget:
                break
            # (Another worker's newest trial may not have its parameters yet.)
            running = {
                space.key(t.params)
                for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
                if "n_classes" in t.params
            }
            if len(finished) + len(running) >= budget:
                time.sleep(POLL_S)  # the last settings are with other workers: wait, in case one of them dies
                continue
            trial = study.ask()
            # Beat from the moment the trial exists, before the sampler runs: a worker killed at any point after
            # leaves a trial that goes stale and is failed (Optuna never fails a trial that has not beaten),
            # never one that stays running for ever and holds its share of the budget.
            with heartbeat(study, trial):
                suggest(trial, distributions)
                key = space.key(trial.params)
                if shared:  # while this worker asked, others may have taken or finished the same setting
                    running |= claimed_before(study, space, trial.number)
                    finished = finished_settings(study, space)
                rng = np.random.default_rng([seed, trial.number])
                if key in finished or key in running:
                    if key in finished:
                        known = finished[key]
                        for name in ("components", "reward"):
                            trial.set_user_attr(name, known.user_attrs.get(name))
                        trial.set_user_attr("seconds", 0.0)
                        trial.set_user_attr("repeat_of", known.number)
                        study.tell(trial, known.values)
                    else:  # another worker is scoring this setting right now
                        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    unseen = space.random_unseen({**finished, **dict.fromkeys(running)}, rng)
                    if unseen is not None:
                        study.enqueue_trial(unseen)
                    continue
                trial.set_user_attr("worker", worker)
                config = replace(base, **trial.params)
                start = time.perf_counter()
                reward, components = evaluate(config)
                try:
                    trial.set_user_attr("components", components)
                    trial.set_user_attr("seconds", time.perf_counter() - start)
                    trial.set_user_attr("reward", reward)
                    told = study.tell(
                        trial,
                        [components[name] for name in objectives] if objectives else reward,
                        skip_if_finished=True,
                    )
                except optuna.exceptions.UpdateFinishedTrialError:
                    told = None
                if told is None or told.state != optuna.trial.TrialState.COMPLETE:
                    # This process was silent past the grace period (suspended, or starved of CPU) and another worker
                    # failed the trial as dead and may have taken the setting over: drop the result, go on.
                    logger.warning(
                        "trial %d was failed by another worker while this one ran it (no heartbeat for %d s);"
                        " its result is dropped",
                        trial.number,
                        GRACE_S,
                    )
                    continue
                bar.update(1)
                bar.set_postfix(
                    best=f"{reward if not finished else max(reward, *map(combined_reward, finished.values())):.3f}"
                )
    return study


def suggest(trial, distributions: dict) -> None:
    """Have the study's sampler set every parameter of ``trial`` (what ``study.ask(distributions)`` does)."""
    from optuna.distributions import CategoricalDistribution

    for name, distribution in distributions.items():
        if isinstance(distribution, CategoricalDistribution):
            trial.suggest_categorical(name, distribution.choices)
        else:
            trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step)


def claimed_before(study, space: SearchSpace, number: int, patience: float = 5.0) -> set:
    """Keys of the settings that other workers' earlier trials, still running, are scoring.

    Two workers that ask at the same moment can be given the same setting. The
    earlier trial keeps it: this waits until every earlier running trial has
    its parameters (Optuna sets them after creating the trial, once the
    sampler has run) and returns their keys, so the later trial can step aside.
    """
    import optuna

    deadline = time.monotonic() + patience
    while True:
        earlier = [
            t
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if t.number < number
        ]
        if all("n_classes" in t.params for t in earlier) or time.monotonic() > deadline:
            return {space.key(t.params) for t in earlier if "n_classes" in t.params}
        time.sleep(0.05)


@contextmanager
def heartbeat(study, trial):
    """While the block runs, tell a shared study every HEARTBEAT_S seconds that this trial's worker is alive.
    (Optuna beats only inside Study.optimize; ask-and-tell has to do it itself.)"""
    storage = study._storage  # noqa: SLF001 - the storage that owns the trial
    if not _shared(study):
        yield
        return
    done = threading.Event()

    def beat():
        while not done.is_set():
            storage.record_heartbeat(trial._trial_id)  # noqa: SLF001
            done.wait(HEARTBEAT_S)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def finished_settings(study, space: SearchSpace) -> dict:
    """Setting key -> the finished trial that scored it (repeats of a known setting left out)."""
    import optuna

    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return {space.key(t.params): t for t in trials if "repeat_of" not in t.user_attrs}


SPATIAL_TOLERANCE = (
    0.02  # rewards this close to the best are a tie: settings a noise apart differ by about 1%
)


def best_params(study) -> dict:
    """The best setting: the study's best, or, for several objectives, the Pareto-front member with the
    highest combined reward (ties to the earlier trial). Of the settings within ``SPATIAL_TOLERANCE`` of
    the best reward, the one with the least spatial prior (pooling radius, then Potts strength) is taken:
    a prior is used only where the data need it, not where it merely ties (a superlattice's 4-cell layers
    at 6 e/px: pooled over 3 x 3 cells 0.654, unpooled 0.644 with the layers' true edges)."""
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
