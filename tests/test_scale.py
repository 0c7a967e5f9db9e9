"""Scale-out on PostgreSQL: studies shared by several processes, and workers that die.

The PostgreSQL tests need a database URL in REWARDSCOPE_TEST_POSTGRES (`.ci/run`
installs PostgreSQL from Debian, starts it on loopback and sets it); they skip
without one.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
import warnings

import pytest
from helpers import scored, setting, wait_for

from rewardscope.cli import main
from rewardscope.synthetic import synthesize, write_scene

POSTGRES = os.environ.get("REWARDSCOPE_TEST_POSTGRES")
needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="no PostgreSQL: set REWARDSCOPE_TEST_POSTGRES (.ci/run does)"
)
# A dead worker is noticed within 4 s instead of 20, so the kill test is short.
FAST_HEARTBEAT = {"REWARDSCOPE_HEARTBEAT_S": "1", "REWARDSCOPE_GRACE_S": "4", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory):
    return (
        write_scene(synthesize("stripes", seed=5, size=320), tmp_path_factory.mktemp("scene")) / "image.tif"
    )


def rewardscope(*args, **popen):
    env = {**os.environ, **FAST_HEARTBEAT}
    return subprocess.Popen(
        [sys.executable, "-m", "rewardscope.cli", *map(str, args), "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def load(study_name):
    import optuna

    warnings.simplefilter("ignore")
    global _storage
    _storage = _storage or optuna.storages.RDBStorage(POSTGRES)
    return optuna.load_study(study_name=study_name, storage=_storage)


_storage = None


def study_exists(name):
    try:
        load(name)
        return True
    except KeyError:
        return False


@needs_postgres
def test_two_processes_share_one_study_without_losing_or_repeating_a_trial(scene_file, tmp_path):
    name = f"test-{uuid.uuid4().hex[:8]}"
    runs = [
        rewardscope(
            "analyze",
            scene_file,
            "--storage",
            POSTGRES,
            "--study",
            name,
            "--trials",
            24,
            "--out",
            tmp_path / f"out{i}",
        )
        for i in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    trials = scored(load(name))
    settings = [setting(t) for t in trials]
    assert len(settings) == len(set(settings))  # nothing scored twice
    assert len(set(settings)) >= 24  # nothing lost: the budget was spent
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both processes worked
    assert (tmp_path / "out0" / "report.html").is_file() and (tmp_path / "out1" / "report.html").is_file()


@needs_postgres
def test_a_killed_worker_loses_no_finished_trial_and_the_study_goes_on(scene_file, tmp_path):
    import optuna

    name = f"test-{uuid.uuid4().hex[:8]}"
    # VAE trials take a second or so, so that a process can be caught in the middle of one.
    slow = (
        "--learner",
        "rvae",
        "--descriptors",
        "patch",
        "--epochs",
        20,
        "--window",
        "12:16",
        "--trials",
        10,
    )
    owner = rewardscope(
        "analyze", scene_file, "--storage", POSTGRES, "--study", name, *slow, "--out", tmp_path / "out"
    )

    def trials_of(process, state):
        return [
            t
            for t in load(name).trials
            if t.state.name == state and t.user_attrs.get("worker", "").endswith(f":{process.pid}")
        ]

    # The owner is suspended in the middle of a trial, past the grace period, and this process does what any
    # other worker would then: fail its trial as dead. The owner must survive that when it wakes; meanwhile it
    # is out of the race, so however fast or busy the machine, the budget is not spent before the worker has
    # finished a trial. (Stopped inside a transaction on its trial, the owner would hold the row locked: the
    # sweeper gives up after 5 s and the owner is caught again.)
    sweeper = optuna.storages.RDBStorage(
        POSTGRES,
        heartbeat_interval=1,
        grace_period=4,
        engine_kwargs={"connect_args": {"options": "-c lock_timeout=5000"}},
    )
    suspended = set()
    while not suspended:
        owner.send_signal(signal.SIGCONT)
        wait_for(
            lambda: study_exists(name) and trials_of(owner, "RUNNING"), what="the owner to start a trial"
        )
        owner.send_signal(signal.SIGSTOP)
        suspended = {
            t.number for t in trials_of(owner, "RUNNING")
        }  # empty if it finished between look and signal
        if suspended:
            time.sleep(4.5)
            try:
                optuna.storages.fail_stale_trials(optuna.load_study(study_name=name, storage=sweeper))
            except optuna.exceptions.StorageInternalError:
                suspended = set()
    worker = rewardscope("worker", "--storage", POSTGRES, "--study", name)

    try:
        wait_for(
            lambda: trials_of(worker, "COMPLETE") and trials_of(worker, "RUNNING"),
            what="the worker to finish a trial and start another",
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        owner.send_signal(signal.SIGCONT)
    finished_before = {t.number for t in trials_of(worker, "COMPLETE")}
    in_flight = {t.number for t in trials_of(worker, "RUNNING")}
    _, err = owner.communicate(timeout=300)
    assert owner.returncode == 0, err
    assert f"trial {min(suspended)} was failed by another worker while this one ran it" in err
    study = load(name)
    assert finished_before <= {
        t.number for t in scored(study)
    }  # the killed worker's finished trials are all there
    settings = [setting(t) for t in scored(study)]
    assert len(settings) == len(set(settings)) and len(settings) >= 10  # the study went on to its budget
    # The killed worker's trial in flight beats no more: the owner, or the next worker to join after the grace
    # period, fails it.
    time.sleep(4.5)
    late = rewardscope("worker", "--storage", POSTGRES, "--study", name)
    assert late.wait(timeout=120) == 0
    assert {t.number for t in load(name).trials if t.state.name == "FAIL"} >= in_flight | suspended


@needs_postgres
@pytest.mark.filterwarnings(
    "ignore:Heartbeat of storage is supposed to be used with Study.optimize"
)  # the test asks by hand
def test_a_worker_that_dies_inside_a_transaction_does_not_hold_up_the_others(monkeypatch):
    import threading

    import optuna
    import sqlalchemy

    from rewardscope.optimize import storage

    monkeypatch.setenv("REWARDSCOPE_HEARTBEAT_S", "1")  # read when a storage is opened
    monkeypatch.setenv("REWARDSCOPE_GRACE_S", "1")
    monkeypatch.setattr(storage, "IDLE_IN_TRANSACTION_S", 2)
    name = f"test-{uuid.uuid4().hex[:8]}"
    dying = storage.open_storage(POSTGRES)
    optuna.create_study(study_name=name, storage=dying).ask()
    with dying.engine.connect() as connection:  # (the trial's row id, without Optuna's private attributes)
        trial_id = connection.execute(
            sqlalchemy.text(
                "SELECT trial_id FROM trials JOIN studies USING (study_id) WHERE study_name = :n"
            ),
            {"n": name},
        ).scalar_one()
    dying.record_heartbeat(trial_id)
    # It locks its trial's row in a transaction and says nothing more, as a machine losing power mid-commit.
    held = dying.engine.connect()
    held.begin()
    held.execute(sqlalchemy.text("SELECT 1 FROM trials WHERE trial_id = :i FOR UPDATE"), {"i": trial_id})
    time.sleep(1.5)  # past the grace period: the trial is stale
    sweeper = storage.open_storage(POSTGRES)
    sweep = threading.Thread(
        target=optuna.storages.fail_stale_trials,
        args=(optuna.load_study(study_name=name, storage=sweeper),),
        daemon=True,
    )
    sweep.start()
    sweep.join(
        timeout=30
    )  # without the server's idle-in-transaction limit this waits as long as the connection lives
    held.invalidate()  # (the server has closed it)
    assert not sweep.is_alive()
    assert load(name).trials[0].state.name == "FAIL"


def with_password(url, password):
    from urllib.parse import urlsplit

    return url.replace(f":{urlsplit(url).password}@", f":{password}@", 1)


@needs_postgres
@pytest.mark.parametrize(
    "storage, study, message",
    [
        (lambda: POSTGRES, "no-such-study", "no study 'no-such-study' in this storage"),
        (lambda: with_password(POSTGRES, "wrong-password"), "x", "password authentication failed"),
        (
            lambda: "postgresql://nobody:secret@127.0.0.1:1/none",
            "x",
            "could not open the study storage postgresql://nobody:***@127.0.0.1:1/none",
        ),
    ],
)
def test_worker_bad_input_is_one_clear_line(storage, study, message, capsys):
    assert main(["worker", "--storage", storage(), "--study", study]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert "secret" not in err and "wrong-password" not in err  # passwords are masked


@needs_postgres
def test_a_shared_study_leaves_the_processes_warning_filters_alone():
    """Optuna's warnings about heartbeats are silenced within the optimizer's call, not for the process."""
    from rewardscope.config import Config
    from rewardscope.optimize import SearchSpace, open_study, optimize

    filters = list(warnings.filters)
    study = open_study(POSTGRES, seed=0, n_startup=2, study_name=f"test-{uuid.uuid4().hex[:8]}")
    optimize(
        lambda config: (config.n_classes / 10, {}),
        Config(),
        SearchSpace(window_range=(8, 10), n_classes_range=(2, 3), descriptors=("patch",)),
        n_trials=3,
        seed=0,
        progress=False,
        study=study,
    )
    assert warnings.filters == filters
    assert len(scored(study)) == 3


@needs_postgres
def test_a_series_study_lives_in_postgresql_and_resumes_there(capsys, tmp_path):
    from helpers import refused

    from rewardscope.synthetic import synthesize_series, write_series

    folder = write_series(synthesize_series((0, 20), frames_per_composition=1, size=160), tmp_path / "frames")
    name = f"series-{uuid.uuid4().hex[:8]}"
    argv = ["series", folder, "--storage", POSTGRES, "--study", name, "--trials", 3, "--no-own", "--quiet"]
    assert main([*map(str, argv), "--out", str(tmp_path / "one")]) == 0
    assert len(scored(load(name))) == 3
    # A second run, elsewhere, finds the study done: nothing scored again.
    assert main([*map(str, argv), "--out", str(tmp_path / "two")]) == 0
    assert len(scored(load(name))) == 3
    assert (tmp_path / "two" / "series.html").is_file()
    # A worker joins a series study that another process begun, reads its frames and scores its trials.
    name = f"series-{uuid.uuid4().hex[:8]}"
    owner = rewardscope(
        "series",
        folder,
        "--storage",
        POSTGRES,
        "--study",
        name,
        "--trials",
        12,
        "--no-own",
        "--out",
        tmp_path / "3",
    )
    wait_for(lambda: study_exists(name) and "rewardscope" in load(name).user_attrs, what="the series study")
    worker = rewardscope("worker", "--storage", POSTGRES, "--study", name)
    for process in (owner, worker):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    trials = scored(load(name))
    assert len({setting(t) for t in trials}) == len(trials) >= 12  # nothing scored twice, the budget spent
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    assert (tmp_path / "3" / "series.html").is_file()
    # The demo's frames are made in memory: a worker could not read them.
    refused(
        capsys,
        ["series", "--demo", "--storage", POSTGRES, "--out", tmp_path / "4"],
        "needs its frames as files",
    )
