"""The physics-based rewards (rewardscope.rewards): components, weights and gates."""

import numpy as np
import pytest

from rewardscope import RewardscopeError, rewards
from rewardscope.learn import PCAGaussianMixture
from rewardscope.walls import find_walls


def stripes_grid(n=24, width=6, k=2):
    return np.tile((np.arange(n) // width) % k, (n, 1))


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
