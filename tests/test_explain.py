"""Explained classes (rewardscope.explain): names, domains and polarization of each class."""

import numpy as np
import pytest

from rewardscope.config import Config
from rewardscope.explain import direction_name, explain_classes, name_class
from rewardscope.synthetic import synthesize
from rewardscope.workflow import Pipeline

SQUARE = np.array([[16.0, 0.0], [0.0, 16.0]])


@pytest.mark.parametrize(
    "p, name", [((1, 1), "+a+b"), ((-1, 1), "-a+b"), ((1, 0), "+a"), ((0, -1), "-b"), ((1, 0.2), "+a")]
)
def test_direction_names(p, name):
    assert direction_name(np.array(p, float), SQUARE) == name


def test_class_names():
    assert name_class(np.array([1.0, 1.0]), 0.0, SQUARE) == "polar, P along +a+b"
    assert name_class(np.array([0.05, 0.0]), 0.6, SQUARE) == "antipolar"
    assert name_class(np.array([0.05, 0.0]), 0.05, SQUARE) == "paraelectric"
    assert name_class(np.full(2, np.nan), float("nan"), SQUARE) == "unmeasured (incomplete cells)"


def test_rough_scene_is_explained_as_polar_and_antipolar():
    scene = synthesize("rough", seed=1, size=320)
    pipeline = Pipeline(scene.image)
    config = Config(descriptor="polarization", n_classes=2)
    result = pipeline.run(config)
    classes = explain_classes(result, pipeline.geometry(config), scene.image.data, 24, scene.image.pixel_size)
    names = sorted(c["name"] for c in classes)
    assert names == ["antipolar", "polar, P along +a+b"]
    polar = next(c for c in classes if c["name"].startswith("polar"))
    assert np.hypot(*polar["polarization_pm"]) == pytest.approx(35, rel=0.1)
    antipolar = next(c for c in classes if c["name"] == "antipolar")
    assert antipolar["antipolar_px"] == pytest.approx(18 / 25, rel=0.15)  # u = 18 pm at 25 pm/px
    assert antipolar["mean_patch"].shape == (24, 24)


def test_each_class_lists_its_domains_with_their_mean_polarization():
    scene = synthesize("stripes", seed=1, size=256)  # stripes 8 cells wide: each class holds one or two bands
    pipeline = Pipeline(scene.image)
    result = pipeline.run(Config(descriptor="polarization", n_classes=2))
    classes = explain_classes(
        result, pipeline.geometry(result.config), scene.image.data, 24, scene.image.pixel_size
    )
    for entry in classes:
        assert 1 <= len(entry["domains"]) <= 3
        assert sum(d["cells"] for d in entry["domains"]) <= entry["cells"]
        biggest = entry["domains"][0]
        assert np.hypot(*(np.array(biggest["polarization_pm"]) - entry["polarization_pm"])) < 3 * max(
            biggest["polarization_error_pm"], 1.0
        )


def test_classes_alike_in_physics_say_what_tells_them_apart():
    """Two classes of one paraelectric phase (a patch split, e.g. by thickness) get the same name and
    say that they differ in their patches, not as ferroic variants; distinct names stay as they are."""
    from rewardscope.explain import ALIKE

    scene = synthesize("paraelectric", seed=2, size=256)
    pipeline = Pipeline(scene.image)
    result = pipeline.run(Config(n_classes=2))
    classes = explain_classes(
        result, pipeline.geometry(result.config), scene.image.data, 24, scene.image.pixel_size
    )
    assert [c["name"] for c in classes] == [f"paraelectric; {ALIKE}"] * 2
    rough = synthesize("rough", seed=1, size=320)
    pipeline = Pipeline(rough.image)
    result = pipeline.run(Config(descriptor="polarization", n_classes=2))
    assert not any(
        ALIKE in c["name"]
        for c in explain_classes(result, pipeline.geometry(result.config), rough.image.data, 24)
    )


def test_a_uniform_offset_is_named_so_not_polar():
    from rewardscope.explain import explain_classes

    scene = synthesize(
        "paraelectric", seed=1, size=256, b_offset_pm=(0.0, 30.0)
    )  # 30 pm along b: 7.6% of the period
    pipeline = Pipeline(scene.image)
    result = pipeline.run(Config(descriptor="polarization", n_classes=1))
    (only,) = explain_classes(
        result, pipeline.geometry(result.config), scene.image.data, 24, scene.image.pixel_size
    )
    assert only["name"].startswith("uniform offset of B along +b")
    along_b = only["polarization_pm"] @ (result.lattice.basis[1] / np.linalg.norm(result.lattice.basis[1]))
    assert along_b == pytest.approx(30.0, abs=2.0)
    low, high = only["polarization_interval_pm"][1]
    assert low < only["polarization_pm"][1] < high and only["polarization_error_pm"] < 1.0
