"""Where a study lives: in memory, in a journal file (one machine), or in PostgreSQL (many workers).

On PostgreSQL the storage has Optuna's heartbeats: a worker silent for the
grace period is taken for dead, its trial failed and its setting queued again
(``RetryFailedTrialCallback``). The heartbeat interval and grace period are
read from REWARDSCOPE_HEARTBEAT_S and REWARDSCOPE_GRACE_S (seconds, defaults
5 and 20) when a storage is opened.
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from pathlib import Path
from typing import Any

from ..errors import RewardscopeError
from ..progress import load_optuna

STUDY_NAME = "rewardscope"
HEARTBEAT_S = 5  # defaults of REWARDSCOPE_HEARTBEAT_S and REWARDSCOPE_GRACE_S
GRACE_S = 20
MAX_RETRY = 3  # times the setting of a dead worker's trial is queued again
# PostgreSQL ends a worker's session that sits inside a transaction this long (its machine died or was
# suspended mid-commit), so that the rows it locked are not held from the other workers until TCP gives up,
# hours later.
IDLE_IN_TRANSACTION_S = 60


def heartbeat_settings() -> tuple[int, int]:
    """The heartbeat interval and grace period in seconds, from the environment.

    Returns
    -------
    tuple of int
        REWARDSCOPE_HEARTBEAT_S (default 5) and REWARDSCOPE_GRACE_S (default 20).

    Examples
    --------
    >>> all(seconds > 0 for seconds in heartbeat_settings())
    True
    """
    return (
        int(os.environ.get("REWARDSCOPE_HEARTBEAT_S", HEARTBEAT_S)),
        int(os.environ.get("REWARDSCOPE_GRACE_S", GRACE_S)),
    )


def check_storage_url(url: str) -> str:
    """A shared study's storage URL, refused in one line unless it is PostgreSQL's.

    Checked before anything is opened or made.

    Parameters
    ----------
    url : str
        The URL, ``postgresql://user:password@host:port/db``.

    Returns
    -------
    str
        The URL.

    Raises
    ------
    RewardscopeError
        When the URL is not PostgreSQL's (its password masked in the message).

    Examples
    --------
    >>> check_storage_url("postgresql://me:secret@db:5432/studies")
    'postgresql://me:secret@db:5432/studies'
    """
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


def _retry_callback(max_retry: int) -> dict[str, Any]:
    """The RDBStorage argument that queues a dead worker's setting again, by the name this Optuna knows."""
    import optuna

    if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters:
        # Optuna >= 4.9 renamed it; the old name warns that it is deprecated.
        return {
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=max_retry
            )
        }
    return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=max_retry)}


def open_storage(storage: str | Path | None) -> Any:
    """An Optuna storage: None (in memory), a journal file, or a PostgreSQL URL that many workers share.

    A ``Path`` is a journal file (one machine). A URL
    (``postgresql://user:password@host:port/db``) gets Optuna's heartbeats, so
    that the trial of a worker that died is failed and its setting queued
    again.

    Parameters
    ----------
    storage : str, Path or None
        Where the study lives.

    Returns
    -------
    optuna.storages.BaseStorage or None
        The opened storage; None for a study in memory.

    Raises
    ------
    RewardscopeError
        For a URL that is not PostgreSQL's, a missing database driver, or a database that cannot be
        opened (in one line, the password masked).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     type(open_storage(Path(folder) / "study.journal")).__name__
    'JournalStorage'
    """
    load_optuna()  # (Optuna's first import, where a notebook would warn about its tqdm.auto)
    if storage is None:
        return None
    if isinstance(storage, Path):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(str(storage)))
    return _open_database(check_storage_url(storage))


def _open_database(url: str) -> Any:
    """Optuna's RDBStorage on ``url``: heartbeats, the retry callback, the idle-in-transaction limit."""
    import optuna

    heartbeat, grace = heartbeat_settings()
    engine = {
        "pool_pre_ping": True,
        "connect_args": {
            "options": f"-c idle_in_transaction_session_timeout={int(IDLE_IN_TRANSACTION_S * 1000)}"
        },
    }
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeats and their retry callback are 'experimental'
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=heartbeat,
                    grace_period=grace,
                    engine_kwargs=engine,
                    **_retry_callback(MAX_RETRY),
                )
        except ImportError:
            raise RewardscopeError(
                f"the storage {masked(url)} needs its database driver; for PostgreSQL:"
                " pip install 'rewardscope[postgres]'"
            ) from None
        except Exception as error:  # noqa: BLE001 - the driver's error, said in one line
            # Workers that start together on a new database race to create Optuna's tables: losers try again.
            if attempt < 2 and type(error).__name__ in ("IntegrityError", "ProgrammingError"):
                time.sleep(0.5 + attempt)
                continue
            reason = next(
                (line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__
            )
            raise RewardscopeError(f"could not open the study storage {masked(url)}: {reason}") from None
    raise AssertionError("unreachable: the last attempt returns or raises")


def masked(url: str) -> str:
    """The URL with its password replaced by ``***``, fit to print.

    Parameters
    ----------
    url : str
        A database URL.

    Returns
    -------
    str
        The URL, its password masked.

    Examples
    --------
    >>> masked("postgresql://me:secret@db:5432/studies")
    'postgresql://me:***@db:5432/studies'
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def gp_sampler(seed: int, n_startup: int) -> Any:
    """Optuna's Gaussian-process sampler; it counts the trials other workers are running when it proposes.

    Parameters
    ----------
    seed : int
        The sampler's seed.
    n_startup : int
        Random trials before the Gaussian process takes over.

    Returns
    -------
    optuna.samplers.GPSampler
        The sampler.

    Examples
    --------
    >>> type(gp_sampler(0, 3)).__name__
    'GPSampler'
    """
    import optuna

    with warnings.catch_warnings():  # deterministic_objective is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup, deterministic_objective=True)


def open_study(
    storage: Any,
    *,
    seed: int,
    n_startup: int,
    n_objectives: int = 1,
    study_name: str = STUDY_NAME,
    create: bool = True,
) -> Any:
    """Create (or load) the study ``study_name`` in ``storage``.

    Parameters
    ----------
    storage : str, Path, None or optuna.storages.BaseStorage
        As for ``open_storage``; an opened storage object is used as it is.
    seed : int
        The sampler's seed.
    n_startup : int
        The sampler's random trials before the Gaussian process.
    n_objectives : int
        Objectives maximized jointly.
    study_name : str
        The study's name.
    create : bool
        False: the study must exist.

    Returns
    -------
    optuna.Study
        The study, with a ``gp_sampler``.

    Raises
    ------
    RewardscopeError
        With ``create=False``, when there is no such study (the message lists the studies there).

    Examples
    --------
    >>> open_study(None, seed=0, n_startup=3).directions
    [<StudyDirection.MAXIMIZE: 2>]
    """
    optuna = load_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None or isinstance(storage, (str, Path)):
        storage = open_storage(storage)
    sampler = gp_sampler(seed, n_startup)
    if not create:
        return _load_study(storage, study_name, sampler)
    return optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=["maximize"] * n_objectives,
        sampler=sampler,
        load_if_exists=True,
    )


def _load_study(storage: Any, study_name: str, sampler: Any) -> Any:
    """The existing study ``study_name``; refused in one line naming the studies there when there is none."""
    import optuna

    try:
        return optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage))
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""  # one readable line
        listed = ", ".join(names[:10]) + more
        raise RewardscopeError(
            f"no study {study_name!r} in this storage; studies there: {listed or 'none'}"
        ) from None
