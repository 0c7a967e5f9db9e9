"""The learners (rewardscope.learn: gmm, potts): the mixture, its evidence and the Potts prior."""

import numpy as np
import pytest

from rewardscope import RewardscopeError, rewards
from rewardscope.learn import PCAGaussianMixture, class_evidence


def test_gmm_is_deterministic_and_finds_clusters(rng):
    X = np.vstack([rng.normal(0, 1, (150, 10)), rng.normal(5, 1, (100, 10))])
    a = PCAGaussianMixture(2, random_state=3).fit(X)
    b = PCAGaussianMixture(2, random_state=3).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert np.bincount(a.labels_).tolist() == [150, 100]  # label 0 is the larger class
    assert a.means_.shape == (2, 10)
    with pytest.raises(RewardscopeError, match="n_classes"):
        PCAGaussianMixture(0).fit(X)
    with pytest.raises(RewardscopeError, match="NaN"):
        PCAGaussianMixture(2).fit(np.full((5, 3), np.nan))
    # New points get the fitted labels: the fitted data predicted again, and a point near each centre.
    np.testing.assert_array_equal(a.predict(X), a.labels_)
    assert a.predict(np.array([np.zeros(10), np.full(10, 5.0)])).tolist() == [0, 1]
    with pytest.raises(RewardscopeError, match="not fitted"):
        PCAGaussianMixture(2).predict(X)


def test_class_evidence_finds_the_number_of_clusters(rng):
    centres = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0]], float)
    X = np.vstack([rng.normal(c, 1, (120, 3)) for c in centres])
    evidence = class_evidence(X, k_max=6, random_state=0)
    assert int(np.argmin(evidence.bic)) + 1 == 3
    assert int(np.argmin(evidence.icl)) + 1 == 3
    assert evidence.k_effective == 3
    assert rewards.model_weight(evidence.bic, 3) > 0.9 > rewards.model_weight(evidence.bic, 2)


def test_split_evidence_sees_two_clouds_not_one_of_any_shape(rng):
    from rewardscope.learn import split_evidence

    def evidence(X):
        model = PCAGaussianMixture(2, random_state=0).fit(X)
        return split_evidence(model.scores_, model.labels_)

    n = 1500
    assert (
        evidence(rng.normal(size=(n, 6))) < rewards.SPLIT_EVIDENCE_MIN
    )  # a Gaussian cloud, split in two by the mixture
    assert evidence(rng.uniform(size=(n, 6))) < rewards.SPLIT_EVIDENCE_MIN  # a flat one (a gradient)
    assert evidence(rng.exponential(size=(n, 6))) < rewards.SPLIT_EVIDENCE_MIN  # a skewed one
    two = rng.normal(size=(n, 6))
    two[: n // 3, 0] += 6.0
    assert evidence(two) > 0.8


def test_split_evidence_pools_neighbouring_cells_where_single_cells_cannot_tell(rng):
    from rewardscope.learn import split_evidence

    ij = np.indices((40, 40)).reshape(2, -1).T
    truth = (ij[:, 0] // 10) % 2  # stripes 10 cells wide
    scores = rng.normal(size=(len(ij), 2))
    scores[:, 0] += 1.5 * truth  # 1.5 sigma apart: one cloud, cell by cell
    labels = (scores[:, 0] > 0.75).astype(int)
    assert split_evidence(scores, labels) < rewards.SPLIT_EVIDENCE_MIN
    assert split_evidence(scores, labels, ij) > rewards.SPLIT_EVIDENCE_MIN  # 3 x 3 cells: 4.5 sigma apart


def test_potts_prior_restores_domains_that_single_cells_cannot_tell(rng):
    from rewardscope.learn import potts_mean_field

    ij = np.indices((30, 30)).reshape(2, -1).T
    truth = (ij[:, 0] // 10) % 2
    right = 0.7  # each cell's own evidence: 70% for its true class
    p = np.where(rng.random(len(ij)) < 0.75, right, 1 - right)  # and a quarter of the cells mislead
    probabilities = np.column_stack([np.where(truth == 0, p, 1 - p), np.where(truth == 0, 1 - p, p)])
    alone = np.mean(np.argmax(probabilities, axis=1) == truth)
    smoothed = np.mean(np.argmax(potts_mean_field(probabilities, ij, 1.0), axis=1) == truth)
    assert alone < 0.8 and smoothed > 0.97
    np.testing.assert_array_equal(
        potts_mean_field(probabilities, ij, 0.0), probabilities
    )  # strength 0: as they were
    with pytest.raises(RewardscopeError, match="must be >= 0"):
        potts_mean_field(probabilities, ij, -1.0)


def test_split_evidence_reads_weak_stripes_along_their_walls(rng):
    """Stripes 8 cells wide, 1.5 sigma apart cell by cell: a 3 x 3 square mixes the cells next to each
    wall into the valley, a line of 9 cells along the wall does not; white noise has no valley either way."""
    from rewardscope.descriptors import pooled
    from rewardscope.learn import split_evidence
    from rewardscope.learn.gmm import LINE_WEIGHT, _valley

    ij = np.indices((40, 40)).reshape(2, -1).T
    truth = (ij[:, 0] // 8) % 2  # walls at constant i, running along j
    noise = rng.normal(size=(len(ij), 2))
    stripes = noise + np.column_stack([1.5 * truth, np.zeros(len(ij))])
    square = _valley(pooled(stripes[:, :1], ij, 1)[:, 0], truth)
    along = _valley(pooled(stripes[:, :1], ij, (0, 4))[:, 0], truth)
    assert along > square + 0.1
    assert split_evidence(stripes, truth, ij) == pytest.approx(max(square, LINE_WEIGHT * along), abs=0.05)
    assert split_evidence(stripes, truth, ij) > rewards.SPLIT_EVIDENCE_MIN
    halves = (noise[:, 0] > 0).astype(int)  # the best split of one cloud
    assert split_evidence(noise, halves, ij) < 0.1
