"""Scale-out on real engines: studies shared on PostgreSQL by several processes, batches on a Dask cluster.

The PostgreSQL tests need a database URL in REWARDSCOPE_TEST_POSTGRES (`.ci/run`
installs PostgreSQL from Debian, starts it on loopback and sets it); they skip
without one. The Dask tests start a real LocalCluster.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest

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


def wait_for(condition, timeout=300.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def scored(study):
    """The finished trials: one per setting scored (a repeat of a setting is pruned, never finished)."""
    return [t for t in study.trials if t.state.name == "COMPLETE"]


def setting(trial):
    """What makes a setting distinct: its parameters, less the window where there are no patches."""
    params = dict(trial.params)
    if params.get("descriptor", "patch") != "patch":
        params.pop("window")
    return tuple(sorted(params.items()))


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
    slow = ("--learner", "rvae", "--epochs", 20, "--window", "12:16", "--trials", 10)
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


@pytest.fixture
def frames(tmp_path):
    folder = tmp_path / "frames"
    for seed in range(3):
        scene = synthesize("stripes", seed=seed, size=256)
        path = write_scene(scene, tmp_path / f"scene{seed}") / "image.tif"
        (folder / f"f{seed}.tif").parent.mkdir(exist_ok=True)
        path.rename(folder / f"f{seed}.tif")
    (folder / "corrupt.tif").write_text("not an image")
    return folder


def test_batch_on_a_dask_cluster_lists_a_corrupt_frame_and_goes_on(frames, tmp_path, capsys):
    import csv

    out = tmp_path / "batch"
    # The files one by one, as a shell expands an unquoted glob.
    assert (
        main(
            [
                "batch",
                *sorted(map(str, frames.glob("*.tif"))),
                "--out",
                str(out),
                "--workers",
                "2",
                "--trials",
                "6",
                "--quiet",
            ]
        )
        == 1
    )
    rows = {Path(r["file"]).name: r for r in csv.DictReader(open(out / "batch.csv"))}
    assert [rows[f"f{i}.tif"]["status"] for i in range(3)] == ["done"] * 3
    assert rows["corrupt.tif"]["status"] == "failed" and "TIFF" in rows["corrupt.tif"]["reason"]
    assert all(float(rows[f"f{i}.tif"]["reward"]) > 0 for i in range(3))
    assert all((out / rows[f"f{i}.tif"]["report"]).is_file() for i in range(3))
    assert "corrupt.tif" in (out / "index.html").read_text()
    assert "failed: " in capsys.readouterr().err


def test_a_killed_batch_restarts_with_the_unfinished_frames_only(frames, tmp_path):
    (frames / "corrupt.tif").unlink()
    out = tmp_path / "batch"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rewardscope.cli",
            "batch",
            str(frames / "*.tif"),
            "--out",
            str(out),
            "--workers",
            "1",
            "--trials",
            "12",
            "--quiet",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def finished_frames():  # a frame's folder gets its final name only when it is finished
        return {
            p.parent.name: p.stat().st_mtime_ns
            for p in out.glob("frames/*/summary.json")
            if not p.parent.name.endswith(".partial")
        }

    wait_for(lambda: finished_frames(), what="a first finished frame")
    os.killpg(run.pid, signal.SIGKILL)  # the batch and its Dask cluster
    run.wait()
    finished = finished_frames()
    assert 1 <= len(finished) < 3
    assert (
        main(
            ["batch", str(frames / "*.tif"), "--out", str(out), "--workers", "2", "--trials", "12", "--quiet"]
        )
        == 0
    )
    after = finished_frames()
    assert set(after) == {"f0", "f1", "f2"}
    assert all(after[name] == mtime for name, mtime in finished.items())  # finished frames were not redone


def test_batch_bad_input(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "none" / "*.tif"), "--out", str(tmp_path / "out")]) == 1
    assert "no files match" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


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


KILLED_RUN = """
import sys, time
from pathlib import Path
from rewardscope.config import Config
from rewardscope.optimize import SearchSpace, optimize

def evaluate(config):
    time.sleep(0.5)  # long enough to be killed in the middle of a trial
    return config.window / 100 + config.n_classes / 10, {}

space = SearchSpace(window_range=(8, 14), n_classes_range=(2, 3), descriptors=("patch",))  # 8 settings
optimize(evaluate, Config(), space, n_trials=6, storage=Path(sys.argv[1]), progress=False)
"""


def test_a_killed_single_process_study_resumes_with_the_killed_setting(tmp_path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from rewardscope.config import Config
    from rewardscope.optimize import SearchSpace, optimize

    journal = tmp_path / "study.journal"
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(journal)])

    def running():
        if not journal.exists():
            return []
        study = optuna.load_study(
            study_name="rewardscope", storage=JournalStorage(JournalFileBackend(str(journal)))
        )
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        return [t for t in study.trials if t.state.name == "RUNNING" and "n_classes" in t.params and done]

    wait_for(running, timeout=120, what="a second trial to start")
    run.kill()  # SIGKILL: the trial stays RUNNING in the journal
    run.wait()
    killed = running()[0]
    space = SearchSpace(window_range=(8, 14), n_classes_range=(2, 3), descriptors=("patch",))  # 8 settings
    study = optimize(
        lambda config: (config.window / 100 + config.n_classes / 10, {}),
        Config(),
        space,
        n_trials=6,
        storage=journal,
        progress=False,
    )
    assert study.trials[killed.number].state.name == "FAIL"
    settings = [setting(t) for t in scored(study)]
    assert len(settings) == len(set(settings)) == 6  # the budget, in distinct settings
    assert setting(killed) in settings  # the killed trial's setting was scored on resume
