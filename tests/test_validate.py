"""Validation of the rewards (rewardscope.validate): regret, correlation, trials to reach."""

import numpy as np

from rewardscope.optimize import SearchSpace
from rewardscope.validate import regret_and_correlation, trials_to_reach


def fake_points():
    """A hand-made space of 6 settings whose reward and ARI are known."""
    space = SearchSpace(window_range=(12, 16), n_classes_range=(2, 3), descriptors=("patch",))
    points = []
    for params, reward, ari in zip(
        space.settings(), [0.2, 0.9, 0.5, 0.4, 0.3, 0.1], [0.1, 0.8, 0.9, 0.4, 0.3, 0.0]
    ):
        components = {"continuity": reward, "separation": ari}
        points.append(
            {
                "params": params,
                "key": list(space.key(params)),
                "components": components,
                "reward": reward,
                "ari": ari,
            }
        )
    return space, points


def test_regret_and_correlation_on_a_known_space():
    _, points = fake_points()
    regret, rho = regret_and_correlation(points, "default")
    assert regret == 0.9 - 0.8  # the reward's best setting has ARI 0.8; the space's best is 0.9
    assert 0.5 < rho < 1.0
    regret, rho = regret_and_correlation(points, "separation")  # a component equal to ARI
    assert regret == 0.0 and rho == 1.0


def test_trials_to_reach_counts_distinct_settings():
    space, points = fake_points()
    reached, random_mean = trials_to_reach(points, space, budget=6)
    assert reached is not None and 1 <= reached <= 6
    assert 1 <= random_mean <= 6
    assert np.isfinite(random_mean)


def test_the_one_phase_answer_is_within_reach():
    _, points = fake_points()
    silent = [{**p, "reward": 0.0} for p in points]  # no setting passes its gates: the tool answers one phase
    regret, _ = regret_and_correlation(silent, "default", one_phase_ari=1.0)  # and the truth is one phase
    assert regret == 0.0
    regret, _ = regret_and_correlation(
        points, "default", one_phase_ari=1.0
    )  # a split chosen on a one-phase scene
    assert regret == 1.0 - 0.8


def test_the_command_line_names_every_level():
    from rewardscope.cli import VALIDATE_LEVELS
    from rewardscope.validate import LEVELS, SPATIAL

    assert VALIDATE_LEVELS == tuple(LEVELS)
    assert set(SPATIAL) <= set(LEVELS)
