"""Reward landscapes (rewardscope.landscape): grids and scoring every point."""

import pytest

from rewardscope import RewardscopeError, rewards
from rewardscope.landscape import compute, parse_grid
from rewardscope.rewards import COMPONENTS


@pytest.mark.parametrize(
    "text, field, values",
    [
        ("window=8:16:4", "window", [8, 12, 16]),
        ("k=2:4", "n_classes", [2, 3, 4]),
        ("classes=2:3", "n_classes", [2, 3]),
    ],
)
def test_parse_grid(text, field, values):
    assert parse_grid(text) == (field, values)


@pytest.mark.parametrize(
    "text, message",
    [
        ("window=12:12", "has 1 point"),
        ("k=5:2", "has 0 point"),
        ("wobble=1:3", "unknown grid parameter 'wobble'"),
        ("k=a:b", "whole numbers"),
        ("window=1:9:4", "values must be >= 3"),
        ("k=2:6:0", "STEP >= 1"),
    ],
)
def test_bad_grids(text, message):
    with pytest.raises(RewardscopeError, match=message):
        parse_grid(text)


def test_landscape_scores_every_point(stripes):
    rows = compute(stripes.image, [12, 16], [2, 3], n_jobs=1)
    assert {(r["window"], r["n_classes"]) for r in rows} == {(12, 2), (12, 3), (16, 2), (16, 3)}
    for r in rows:
        assert set(COMPONENTS) <= set(r)
        # Each point's reward is the default weighting of its own components, or 0 where a gate refuses it.
        assert r["reward"] == pytest.approx(0.0 if rewards.refusal(r) else rewards.combine(r))
    assert min(r["reward"] for r in rows) > 0.5  # straight stripes: every point passes the gates
    best = max(rows, key=lambda r: r["reward"])
    assert best["n_classes"] == 2  # two stripe variants
