"""The VAE learners (rewardscope.learn.vae): contract, determinism, persistence, bad input, classes."""

import sys

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from rewardscope import RewardscopeError
from rewardscope.config import Config
from rewardscope.learn import PatchVAE, VAEClassifier
from rewardscope.metrics import match
from rewardscope.workflow import Pipeline

TINY = {"epochs": 3, "hidden": 32, "batch_size": 64}


@pytest.fixture(scope="module")
def stripe_patches(stripes):
    """B-centred patches of the stripes scene and each one's true variant."""
    pipeline = Pipeline(stripes.image)
    config = Config(window=16)
    rows = pipeline.classified_rows(config)
    xy = pipeline.columns(config).xy[rows]
    b = np.flatnonzero(stripes.truth.sublattice == "B")
    index, _ = match(xy, stripes.truth.xy[b], 3.0)
    variant = np.full(len(rows), -1)
    variant[index[index >= 0]] = stripes.truth.variant[b[index >= 0]]
    return pipeline.descriptors(config), variant


@pytest.mark.parametrize("kind, width", [("vae", 2), ("rvae", 5), ("jrvae", 5)])
def test_estimator_contract_and_determinism(rng, kind, width):
    X = rng.normal(size=(80, 64)).astype(np.float32)
    model = PatchVAE(kind, random_state=3, **TINY)
    assert model.fit(X) is model
    assert model.transform(X).shape == (80, width)
    assert len(model.history_) == 3
    again = PatchVAE(kind, random_state=3, **TINY).fit(X)
    np.testing.assert_array_equal(model.transform(X), again.transform(X))  # same seed, same model on the CPU
    assert model.decode(np.zeros((4, 2))).shape == (4, 64)


def test_conditional_vae_needs_and_uses_the_classes(rng):
    X = rng.normal(size=(60, 64))
    y = np.arange(60) % 3
    with pytest.raises(RewardscopeError, match="conditioned on a class"):
        PatchVAE("crvae", **TINY).fit(X)
    model = PatchVAE("crvae", random_state=0, **TINY).fit(X, y)
    assert not np.allclose(model.transform(X, y), model.transform(X, (y + 1) % 3))


@pytest.mark.parametrize("kind", ["rvae", "crvae", "jrvae"])
def test_save_and_load_give_the_same_latents(rng, tmp_path, kind):
    X = rng.normal(size=(50, 36))
    y = np.arange(50) % 3 if kind == "crvae" else None
    model = PatchVAE(kind, random_state=0, **TINY).fit(X, y)
    model.save(tmp_path / "model.pt")
    loaded = PatchVAE.load(tmp_path / "model.pt")
    np.testing.assert_allclose(loaded.transform(X, y), model.transform(X, y), rtol=1e-6)
    assert loaded.get_params()["kind"] == kind and loaded.side_ == 6


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X: PatchVAE(latent_dim=0).fit(X), "latent_dim"),
        (lambda X: PatchVAE(symmetry=0).fit(X), "symmetry"),
        (lambda X: PatchVAE().fit(np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X)), "NaN"),
        (lambda X: PatchVAE().fit(X[:, :60]), "square"),
        (lambda X: PatchVAE("bvae").fit(X), "unknown VAE kind"),
        (
            lambda X: PatchVAE(**TINY).fit(X).transform(X[:, :49]),
            "side 7 px given to a model trained on side 8",
        ),
        (lambda X: PatchVAE().transform(X), "not fitted"),
        (lambda X: PatchVAE(threads=0).fit(X), "threads"),
    ],
)
def test_bad_input_is_one_clear_error(rng, make, match):
    with pytest.raises(RewardscopeError, match=match):
        make(rng.normal(size=(20, 64)))


def test_torch_missing_says_what_to_install(monkeypatch, rng):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(RewardscopeError, match="pip install torch"):
        PatchVAE(**TINY).fit(rng.normal(size=(20, 64)))


@pytest.mark.parametrize("kind", ["vae", "rvae"])
def test_vae_classes_find_the_variants(stripe_patches, kind):
    # Whether the rotation latent alone separates the variants is measured in benchmarks/vae.py (it does not
    # always).
    X, variant = stripe_patches
    model = VAEClassifier(2, kind=kind, random_state=0, epochs=30).fit(X)
    known = variant >= 0
    assert adjusted_rand_score(variant[known], model.labels_[known]) > 0.95
    assert model.latent_.shape == (len(X), 2 if kind == "vae" else 5)


def test_searched_lattice_turns_put_quarter_turned_motifs_a_quarter_turn_apart_in_the_angle(rng):
    # An off-centre column among four corner columns, as a polar B site among its A neighbours, in its four
    # quarter turns (the four polar variants of a square lattice).
    side = 12
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
    blob = lambda x, y: np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.2**2))  # noqa: E731
    motif = sum(blob(4 * sx - 1, 4 * sy - 1) for sx in (-1, 1) for sy in (-1, 1)) + 0.6 * blob(0, 0)
    turn = np.arange(400) % 4
    X = (np.stack([np.rot90(motif, k) for k in turn]) + 0.1 * rng.normal(size=(400, side, side))).reshape(
        400, -1
    )
    model = PatchVAE("rvae", symmetry=4, beta=4, epochs=20, random_state=0).fit((X - X.mean()) / X.std())
    angle = model.transform((X - X.mean()) / X.std())[:, model.latent_dim]
    mean_angle = np.array([np.angle(np.exp(1j * angle[turn == k]).mean()) for k in range(4)])
    steps = np.degrees(np.angle(np.exp(1j * np.diff(np.r_[mean_angle, mean_angle[0]]))))
    np.testing.assert_allclose(steps, 90, atol=10)
    assert np.all(np.abs(np.angle(np.exp(1j * (angle - mean_angle[turn])))) < np.radians(20))


def test_vae_classes_are_fitted_on_whole_patches_and_given_to_all(stripe_patches):
    X, variant = stripe_patches
    outliers = np.zeros(len(X), bool)
    outliers[:40] = True  # stand-ins for patches the frame cuts: all alike, unlike any cell
    X = np.where(outliers[:, None], np.linspace(-2, 2, X.shape[1])[None], X)
    model = VAEClassifier(2, kind="rvae", random_state=0, epochs=30).fit(X, whole=~outliers)
    known = (variant >= 0) & ~outliers
    # Fitted on all patches the mixture takes the stand-ins for a class (ARI 0.0 here); on the whole ones,
    # 0.94.
    assert adjusted_rand_score(variant[known], model.labels_[known]) > 0.9
    assert model.labels_.shape == model.probabilities_.shape[:1] == (len(X),)
    with pytest.raises(RewardscopeError, match="boolean mask of the"):
        VAEClassifier(2, kind="rvae", vae=model.vae_).fit(X, whole=np.ones(3, bool))


def test_fitting_leaves_the_users_torch_random_state_alone(rng):
    import torch

    X = rng.normal(size=(64, 16 * 16))
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    first = PatchVAE("vae", epochs=2, random_state=0).fit(X).transform(X)
    assert torch.equal(torch.rand(3), expected)  # as if no VAE had been trained in between
    torch.manual_seed(99)  # another user state: the seeded fit is the same
    np.testing.assert_allclose(PatchVAE("vae", epochs=2, random_state=0).fit(X).transform(X), first)


def test_threads_hold_only_while_the_model_fits_and_the_classes_do_not_depend_on_them(rng):
    import torch

    X = rng.normal(size=(64, 16 * 16))
    before = torch.get_num_threads()
    one = PatchVAE("rvae", epochs=2, random_state=0, threads=1).fit(X)
    assert torch.get_num_threads() == before  # the process's own setting put back
    np.testing.assert_allclose(
        one.transform(X), PatchVAE("rvae", epochs=2, random_state=0).fit(X).transform(X), atol=1e-5
    )


def test_the_device_is_chosen_where_cuda_is_and_refused_in_one_line_where_it_is_not(stripes):
    import torch

    from rewardscope import RewardscopeError
    from rewardscope.learn.vae import torch_device
    from rewardscope.plan import AnalysisPlan
    from rewardscope.workflow import analyze

    assert torch_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert torch_device("cpu") == "cpu"
    with pytest.raises(RewardscopeError, match="`device` must be one of auto, cpu, cuda"):
        AnalysisPlan(device="tpu")
    assert "device" not in AnalysisPlan(device="cpu").to_dict()  # each worker's own, not the study's
    if not torch.cuda.is_available():
        with pytest.raises(RewardscopeError, match="--device cuda: torch sees no CUDA device"):
            analyze(stripes.image, learners=("rvae",), device="cuda", progress=False)


def test_early_stopping_holds_out_a_tenth_and_keeps_the_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 64)).astype(np.float32)  # noise: nothing to learn past the first epochs
    settings = {"hidden": 32, "batch_size": 64, "epochs": 60, "patience": 3, "random_state": 0}
    model = PatchVAE("vae", **settings).fit(X)
    assert 4 <= len(model.history_) < 60 and len(model.validation_history_) == len(model.history_)
    best = int(np.argmin(model.validation_history_))
    assert len(model.history_) == best + 1 + 3  # stopped three epochs without improvement after the best
    again = PatchVAE("vae", **settings).fit(X)
    np.testing.assert_array_equal(model.transform(X), again.transform(X))  # the same seed, the same model
    capped = PatchVAE("vae", hidden=32, epochs=2, max_train=50, random_state=0).fit(X)
    assert capped.transform(X).shape == (200, 2)  # trained on 50, every patch encoded
    with pytest.raises(RewardscopeError, match="`patience` must be >= 1"):
        PatchVAE("vae", patience=0).fit(X)
