"""The optimizer (rewardscope.optimize): search space, studies, resuming and Pareto fronts."""

import subprocess
import sys
from dataclasses import replace

import pytest
from helpers import scored, setting, wait_for

from rewardscope.config import Config
from rewardscope.optimize import SearchSpace, best_params, optimize, trial_records
from rewardscope.workflow import Pipeline

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
        try:
            study = optuna.load_study(
                study_name="rewardscope", storage=JournalStorage(JournalFileBackend(str(journal)))
            )
        except KeyError:  # the journal exists before the study is written into it
            return []
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


def test_interrupted_study_resumes(stripes, tmp_path):
    pipeline = Pipeline(stripes.image)
    space = SearchSpace.for_period(pipeline.columns(Config()).period, 256)
    storage = tmp_path / "study.journal"
    calls = []

    def flaky(config):
        calls.append(config)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the fourth trial
        result = pipeline.run(config)
        return result.reward, result.components

    with pytest.raises(KeyboardInterrupt):
        optimize(flaky, Config(), space, n_trials=6, storage=storage, seed=0, progress=False)
    study = optimize(flaky, Config(), space, n_trials=6, storage=storage, seed=0, progress=False)
    states = [t.state.name for t in study.trials]
    assert len(trial_records(study)) == 6
    assert states.count("FAIL") == 1  # the interrupted trial, closed on resume
    assert len(calls) == 4 + 3  # three finished trials were not redone
    assert len(calls) == len({(c.descriptor, c.window, c.n_classes) for c in calls}) + 1
    assert calls.count(calls[3]) == 2  # only the interrupted one twice: it is tried again on resume


def test_budget_buys_distinct_settings(stripes):
    pipeline = Pipeline(stripes.image)
    # 6 settings in all
    space = SearchSpace(window_range=(12, 16), n_classes_range=(2, 3), descriptors=("patch",))
    seen = []

    def score(config):
        seen.append((config.window, config.n_classes))
        result = pipeline.run(config)
        return result.reward, result.components

    study = optimize(score, Config(), space, n_trials=50, storage=None, seed=1, progress=False)
    assert sorted(seen) == sorted({(w, k) for w in (12, 14, 16) for k in (2, 3)})
    assert study.best_value == max(t["reward"] for t in trial_records(study))


def test_window_is_moot_without_patches():
    space = SearchSpace(window_range=(12, 16), n_classes_range=(2, 3), descriptors=("patch", "polarization"))
    assert space.size == 3 * 2 + 2
    assert space.key({"window": 12, "n_classes": 2, "descriptor": "polarization"}) == space.key(
        {"window": 16, "n_classes": 2, "descriptor": "polarization"}
    )
    assert space.key({"window": 12, "n_classes": 2, "descriptor": "patch"}) != space.key(
        {"window": 16, "n_classes": 2, "descriptor": "patch"}
    )


def test_search_space_scales_with_period():
    space = SearchSpace.for_period(16.0, 400)
    assert space.window_range == (12, 40)
    small = SearchSpace.for_period(16.0, 60)
    assert small.window_range == (12, 20)
    odd = SearchSpace.for_period(16.0, 81)  # a third of the side is 27 px: the top window stays even
    assert odd.window_range == (12, 26)
    assert replace(space, n_classes_range=(2, 3)).distributions()["n_classes"].high == 3


def test_opening_scores_every_physical_setting_first():
    space = SearchSpace(window_range=(12, 40), n_classes_range=(2, 6), descriptors=("patch", "polarization"))
    opening = space.opening(20)
    assert opening[0] == {"window": 26, "n_classes": 2, "descriptor": "patch"}
    assert sorted(p["n_classes"] for p in opening if p["descriptor"] == "polarization") == [2, 3, 4, 5, 6]
    assert SearchSpace(window_range=(12, 40), descriptors=("patch",)).opening(20) == [
        {"window": 26, "n_classes": 2}
    ]
    assert len(space.opening(3)) == 3


def test_several_objectives_give_a_pareto_front():
    # A made-up trade-off on a grid, so the front is known: objective a grows with k, b falls with it,
    # and the combined reward peaks at k = 4.
    space = SearchSpace(window_range=(8, 12), n_classes_range=(2, 6), descriptors=("patch",))

    def evaluate(config):
        k, w = config.n_classes, config.window
        components = {"separation": k / 6 - (w - 8) / 100, "straightness": 1 - k / 6 - (w - 8) / 100}
        return 1 - abs(k - 4) / 4 - (w - 8) / 100, components

    study = optimize(
        evaluate,
        Config(),
        space,
        n_trials=space.size,
        storage=None,
        seed=0,
        progress=False,
        objectives=("separation", "straightness"),
    )
    records = trial_records(study)
    front = sorted(r["params"]["n_classes"] for r in records if r["pareto"])
    assert front == [2, 3, 4, 5, 6]  # the window-8 setting of every k, nothing else
    assert all(r["params"]["window"] == 8 for r in records if r["pareto"])
    assert best_params(study) == {"window": 8, "n_classes": 4}


@pytest.mark.parametrize("unpooled, chosen", [(0.69, 0), (0.60, 1)])
def test_a_spatial_prior_that_only_ties_is_not_chosen(unpooled, chosen):
    """Within 2% of the best reward the least pooling wins; a clearly better pooled map is kept."""
    space = SearchSpace(window_range=(8, 8), n_classes_range=(2, 2), descriptors=("patch",), poolings=(0, 1))

    def evaluate(config):
        return (0.70 if config.pooling else unpooled), {}

    study = optimize(evaluate, Config(), space, n_trials=space.size, storage=None, seed=0, progress=False)
    assert best_params(study)["pooling"] == chosen


def test_naming_a_vae_keeps_the_cheap_descriptors_with_the_gmm_learner():
    from rewardscope import RewardscopeError
    from rewardscope.optimize import SearchSpace

    space = SearchSpace((12, 14), (2, 3), ("patch", "polarization"), learners=("rvae",), betas=(1.0, 2.0))
    settings = [space.applied(p) for p in space.settings()]
    physical = [p for p in settings if p["descriptor"] == "polarization"]
    # The polarization's trials: the gmm learner, once per number of classes (beta and latent moot).
    assert len(physical) == 2 and {p["learner"] for p in physical} == {"gmm"}
    assert all("beta" not in p for p in physical)
    assert {p.get("learner", "rvae") for p in settings if p["descriptor"] == "patch"} == {"rvae"}
    assert len(settings) == 2 * 2 * 2 + 2  # patch: 2 windows x 2 classes x 2 betas; polarization: 2
    rvae = {"descriptor": "polarization", "learner": "rvae", "beta": 2.0, "window": 12, "n_classes": 2}
    assert space.key(rvae) == space.key({**rvae, "learner": "gmm", "beta": 1.0})
    with pytest.raises(RewardscopeError, match="search them with the patch descriptor"):
        SearchSpace((12, 14), (2, 3), ("polarization",), learners=("rvae",))


def test_a_vae_searched_analysis_tries_the_polarization_with_the_gmm_learner(stripes):
    from rewardscope.workflow import analyze

    analysis = analyze(stripes.image, n_trials=4, learners=("rvae",), epochs=2, progress=False)
    tried = {(t["params"]["descriptor"], t["params"].get("learner", "rvae")) for t in analysis.trials}
    assert ("polarization", "gmm") in tried and ("patch", "rvae") in tried
    assert analysis.config.learner == ("rvae" if analysis.config.descriptor == "patch" else "gmm")
