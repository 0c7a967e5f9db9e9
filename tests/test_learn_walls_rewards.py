import numpy as np
import pytest

from rewardscope import RewardscopeError, rewards
from rewardscope.descriptors import patches
from rewardscope.learn import PCAGaussianMixture, class_evidence
from rewardscope.walls import find_walls


def stripes_grid(n=24, width=6, k=2):
    return np.tile((np.arange(n) // width) % k, (n, 1))


def test_walls_of_one_straight_boundary():
    grid = np.zeros((10, 10), int)
    grid[:, 5:] = 1
    walls = find_walls(grid)
    assert walls.n_segments == 1
    assert walls.mask.sum() == 20  # both sides of the boundary, 10 rows each
    assert walls.mask[:, 4].all() and walls.mask[:, 5].all()


def test_unclassified_cells_make_no_walls():
    grid = np.zeros((8, 8), int)
    grid[:, :2] = -1
    assert not find_walls(grid).mask.any()


def test_straight_continuous_walls_score_high():
    walls = find_walls(stripes_grid())
    assert rewards.continuity(walls) == pytest.approx(1.0)
    assert rewards.straightness(walls) > 0.95


def test_salt_and_pepper_scores_low(rng):
    walls = find_walls(rng.integers(0, 2, (24, 24)))
    assert rewards.continuity(walls) > 0.9  # it is all one connected wall ...
    assert rewards.economy(walls) < 0.2  # ... that is everywhere
    assert rewards.straightness(walls) < 0.6


def test_fragments_score_low_continuity():
    grid = np.zeros((24, 24), int)
    for r, c in [(3, 3), (10, 15), (18, 6), (20, 20)]:
        grid[r, c] = 1  # isolated single-cell "domains"
    walls = find_walls(grid)
    assert walls.n_segments == 4
    assert rewards.continuity(walls) < 0.5


def test_curved_wall_less_straight_than_straight_wall():
    y, x = np.mgrid[:32, :32]
    circle = ((x - 16) ** 2 + (y - 16) ** 2 < 6**2).astype(int)
    straight = (x >= 16).astype(int)
    assert rewards.straightness(find_walls(circle)) < rewards.straightness(find_walls(straight))


def test_degenerate_single_class_scores_zero():
    grid = np.zeros((12, 12), int)
    reward, components = rewards.evaluate(find_walls(grid), grid.ravel(), np.zeros((144, 2)), 1)
    assert reward == 0.0
    assert components["continuity"] == 0.0


def test_tiny_class_is_penalized(rng):
    labels = np.zeros(1000, int)
    labels[:5] = 1
    assert rewards.balance(labels, 2) < 0.2
    assert rewards.balance(np.repeat([0, 1], 500), 2) == 1.0
    assert rewards.balance(np.zeros(10, int), 2) == 0.0  # an empty class


def test_true_labels_beat_split_labels_in_separation(rng):
    scores = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    truth = np.repeat([0, 1], 200)
    split = truth.copy()
    split[:100] = 2  # split one real cluster in two
    assert rewards.separation(scores, truth) > rewards.separation(scores, split) + 0.2


@pytest.mark.parametrize(
    "weights, match",
    [
        ({"wiggle": 1}, "unknown reward component 'wiggle'"),
        ({"continuity": -1}, "weights"),
        ({"continuity": 0}, "not all zero"),
    ],
)
def test_bad_weights_rejected(weights, match):
    with pytest.raises(RewardscopeError, match=match):
        rewards.combine(dict.fromkeys(rewards.COMPONENTS, 0.5), weights)


def test_combine_is_weighted_geometric_mean():
    components = {"continuity": 0.25, "straightness": 1.0, "economy": 1.0, "separation": 1.0, "balance": 1.0}
    assert rewards.combine(components, {"continuity": 1, "straightness": 1}) == pytest.approx(0.5)


def test_patches_are_standardised_and_centred():
    image = np.zeros((40, 40))
    image[20, 20] = 1.0
    X = patches(image, np.array([[20.0, 20.0], [10.0, 10.0]]), 9)
    assert X.shape == (2, 81)
    np.testing.assert_allclose(X[0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(X[0].std(), 1)
    assert np.argmax(X[0]) == 40  # the centre pixel of a 9 x 9 patch
    with pytest.raises(RewardscopeError, match="window"):
        patches(image, np.array([[20.0, 20.0]]), 64)


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


def test_patches_within_the_frame():
    from rewardscope.descriptors import within_frame

    centres = np.array([[5.5, 5.5], [5.4, 20.0], [20.0, 33.5], [20.0, 33.6]])
    # A 12 px patch spans centre +- 5.5 px: inside a 40 x 50 (rows x columns) image up to column 49 and
    # row 39.
    assert within_frame(centres, 12, (40, 50)).tolist() == [True, False, True, False]


def test_chord_straightness_straight_against_loop():
    y, x = np.mgrid[:40, :40]
    straight = find_walls((x >= 20).astype(int))
    loop = find_walls(((x - 20) ** 2 + (y - 20) ** 2 < 10**2).astype(int))
    assert rewards.chord_straightness(straight) > 0.95
    assert rewards.chord_straightness(loop) < 0.5


def test_orientation_prefers_lattice_directions():
    y, x = np.mgrid[:48, :48]
    along_axis = find_walls((x >= 24).astype(int))
    diagonal = find_walls((x + y >= 48).astype(int))
    oblique = find_walls((x + 0.45 * y >= 30).astype(int))  # about 24 deg off the axis
    assert rewards.orientation(along_axis) > 0.9
    assert rewards.orientation(diagonal) > 0.9
    assert rewards.orientation(oblique) < 0.3


def test_potts_counts_unlike_neighbours():
    assert rewards.potts(np.zeros((5, 5), int)) == 1.0
    checker = np.indices((6, 6)).sum(axis=0) % 2
    assert rewards.potts(checker) == 0.0
    half = np.zeros((4, 4), int)
    half[:, 2:] = 1
    assert rewards.potts(half) == pytest.approx(1 - 4 / 24)  # 4 unlike of 24 neighbour pairs
    assert rewards.potts(np.full((3, 3), -1)) == 0.0


def test_extra_components_weigh_nothing_by_default():
    components = dict.fromkeys(rewards.COMPONENTS, 0.5)
    components.update(chord_straightness=0.0, orientation=0.0, potts=0.0)
    assert rewards.combine(components) == pytest.approx(0.5)
    assert rewards.combine(components, {"continuity": 1, "potts": 1}) == 0.0


def test_confidence_is_the_bounded_icl_entropy(rng):
    certain = np.eye(3)[rng.integers(0, 3, 50)]
    assert rewards.confidence(certain) == pytest.approx(1.0)
    assert rewards.confidence(np.full((50, 3), 1 / 3)) == pytest.approx(0.0)
    X = np.vstack([rng.normal(0, 1, (100, 4)), rng.normal(6, 1, (100, 4))])
    apart = PCAGaussianMixture(2, random_state=0).fit(X)
    overlapping = PCAGaussianMixture(2, random_state=0).fit(rng.normal(0, 1, (200, 4)))
    assert rewards.confidence(apart.probabilities_) > rewards.confidence(overlapping.probabilities_) + 0.3
    # ICL = BIC + 2 x the responsibilities' entropy: no penalty where the classes are apart, a large one
    # (here over a fifth of the most, 2 x 200 ln 2) where the mixture splits one cloud.
    assert apart.icl_ == pytest.approx(apart.bic_, abs=1e-6)
    assert overlapping.icl_ - overlapping.bic_ > 0.2 * 2 * 200 * np.log(2)


def test_diagonal_walls_keep_their_skeleton():
    # A diagonal wall is a one-cell staircase: thinning keeps it, so it is as straight as an axial one.
    y, x = np.mgrid[:40, :40]
    diagonal = find_walls((x > y).astype(int))
    assert rewards.chord_straightness(diagonal) > 0.95
    assert rewards.line_fit(diagonal) > 0.95


def test_line_fit_and_curvature_rank_straight_rough_and_closed_walls():
    y, x = np.mgrid[:40, :40]
    straight = find_walls((x > 20).astype(int))
    rough = find_walls((x > 20 + np.round(3 * np.sin(y / 2))).astype(int))
    loop = find_walls(((x - 20) ** 2 + (y - 20) ** 2 < 10**2).astype(int))
    assert rewards.line_fit(straight) == pytest.approx(1.0)
    assert rewards.curvature(straight) == pytest.approx(1.0)
    assert rewards.line_fit(rough) < 0.5 and rewards.line_fit(loop) < 0.2
    assert rewards.curvature(rough) < 0.5 and rewards.curvature(loop) < 0.5
    nothing = find_walls(np.zeros((10, 10), int))
    assert rewards.line_fit(nothing) == 0.0 and rewards.curvature(nothing) == 0.0


def test_model_weight_is_the_posterior_of_k():
    assert rewards.model_weight(np.array([100.0, 50.0, 60.0]), 2) == pytest.approx(
        1 / (1 + np.exp(-5) + np.exp(-25))
    )
    assert rewards.model_weight(np.array([10.0, 10.0]), 1) == pytest.approx(0.5)
    assert rewards.model_weight(np.array([10.0, 10.0]), 3) == 0.0  # k beyond the evidence
    assert rewards.bgmm_agreement(2, 2) == 1.0 and rewards.bgmm_agreement(4, 2) == 0.5


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


def test_coherence_of_domains_and_of_scattered_cells(rng):
    assert rewards.coherence(stripes_grid()) > 0.8
    assert rewards.coherence(rng.integers(0, 2, (24, 24))) < 0.1
    assert rewards.coherence(np.zeros((5, 5), int)) == 0.0  # one class: nothing to agree beyond chance


def frame_ring_map(n=24):
    grid = np.zeros((n, n), int)
    grid[:2, :] = grid[-2:, :] = grid[:, :2] = grid[:, -2:] = 1
    return grid


@pytest.mark.parametrize("case", ["frame edge", "eight cells"])
def test_artefact_classes_score_zero(case):
    if case == "frame edge":
        grid = frame_ring_map()
        edge = (grid == 1).ravel()  # the ring's cells are the cells whose patches the frame cuts
    else:
        grid = np.zeros((24, 24), int)
        grid[10:12, 10:14] = 1  # 8 cells
        edge = np.zeros(grid.size, bool)
    labels = grid.ravel()
    scores = np.column_stack([labels * 10.0, np.zeros(len(labels))])  # perfectly separated
    reward, components = rewards.evaluate(
        find_walls(grid), labels, scores, 2, label_grid=grid, edge=edge, split=1.0
    )
    assert reward == 0.0
    assert rewards.refusal(components).startswith(
        "a frame-edge class" if case == "frame edge" else "too small a class"
    )
    # The same map without the flaw scores.
    good = stripes_grid()
    reward, components = rewards.evaluate(
        find_walls(good),
        good.ravel(),
        np.column_stack([good.ravel() * 10.0, np.zeros(good.size)]),
        2,
        label_grid=good,
        edge=np.zeros(good.size, bool),
        split=1.0,
    )
    assert reward > 0 and rewards.refusal(components) is None


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


def test_pooled_descriptors_average_each_cells_neighbourhood():
    from rewardscope.descriptors import pooled

    ij = np.array([[i, j] for j in range(4) for i in range(5)])
    X = np.column_stack([ij[:, 0].astype(float), np.ones(len(ij))])
    out = pooled(X, ij, 1)
    centre = np.flatnonzero((ij[:, 0] == 2) & (ij[:, 1] == 1))[0]
    corner = np.flatnonzero((ij[:, 0] == 0) & (ij[:, 1] == 0))[0]
    assert out[centre, 0] == pytest.approx(2.0) and out[corner, 0] == pytest.approx(
        0.5
    )  # (0 + 1) / 2 over the cells present
    np.testing.assert_allclose(out[:, 1], 1.0)
    assert pooled(X, ij, 0) is X


def test_pooled_along_a_line_of_cells():
    from rewardscope.descriptors import pooled

    ij = np.array([[i, j] for j in range(4) for i in range(5)])
    X = np.column_stack([ij[:, 0].astype(float), ij[:, 1].astype(float)])
    along_j = pooled(X, ij, (0, 1))  # each cell with the cells above and below it
    np.testing.assert_allclose(along_j[:, 0], X[:, 0])  # i unchanged: nothing mixed across i
    centre = np.flatnonzero((ij[:, 0] == 2) & (ij[:, 1] == 1))[0]
    top = np.flatnonzero((ij[:, 0] == 2) & (ij[:, 1] == 0))[0]
    assert along_j[centre, 1] == pytest.approx(1.0) and along_j[top, 1] == pytest.approx(0.5)


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


def test_frame_edge_grows_with_the_pooling():
    """A cell pooled with a cell whose patch the frame cuts inherits the cut: the frame-edge gate must
    see it, or pooling dilutes an edge class below the gate (a 3-row edge class in SrTiO3, 38%)."""
    from rewardscope.descriptors import frame_edge

    ij = np.indices((10, 10)).reshape(2, -1).T
    centres = 10.0 * ij + 5.0  # cells 10 px apart in a 100 x 100 frame
    alone = frame_edge(centres, ij, 12, (100, 100))
    assert alone.sum() == 36  # the outer ring: a 12 px patch about a centre 5 px from the border is cut
    two = frame_edge(centres, ij, 12, (100, 100), pooling=2)
    assert two.sum() == 100 - 4 * 4 and np.all(two[alone])  # two more rings
