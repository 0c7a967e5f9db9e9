"""Detection quality without ground truth (rewardscope.detection, LoG*) and tuning by it."""

import numpy as np

from rewardscope.atoms import Columns
from rewardscope.detection import detection_quality, tune_detector


def test_quality_sees_duplicates_and_gaps(stripes_columns, stripes):
    shape = stripes.image.shape
    good = detection_quality(stripes_columns, shape)
    assert good["quality"] > 0.95
    c = stripes_columns
    doubled = Columns(
        np.vstack([c.xy, c.xy[:50] + 1.0]),
        np.concatenate([c.sublattice, c.sublattice[:50]]),
        np.ones(len(c) + 50),
        np.ones(len(c) + 50),
        np.ones(len(c) + 50),
        c.basis,
    )
    assert detection_quality(doubled, shape)["no_short_pairs"] < 0.9
    a_rows = np.flatnonzero(c.sublattice == "A")
    keep = np.ones(len(c), bool)
    keep[a_rows[::5]] = False  # lose every fifth A column
    holes = Columns(
        c.xy[keep], c.sublattice[keep], c.amplitude[keep], c.sigma[keep], c.uncertainty[keep], c.basis
    )
    worse = detection_quality(holes, shape)
    assert worse["coverage"] < 0.6 and worse["count"] < 0.9


def test_tuning_returns_a_pareto_front(stripes):
    params, quality, front = tune_detector(stripes.image.data, n_trials=6, seed=0)
    assert set(params) == {"column_sigma", "threshold"}
    assert 0 < quality <= 1
    assert front and all(
        set(p["objectives"]) == {"count", "spacing", "no_short_pairs", "coverage"} for p in front
    )
