"""The analysis plan: every choice checked when the plan is made, before any work; its dict form
round-trips."""

import json

import pytest

from rewardscope import RewardscopeError
from rewardscope.config import Config
from rewardscope.plan import AnalysisPlan
from rewardscope.synthetic import synthesize
from rewardscope.workflow import analyze, spec_differences, study_spec


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"weights": {"wiggle": 1}}, "unknown reward component 'wiggle'"),
        ({"weights": {"continuity": -1}}, "reward weights must be >= 0"),
        ({"n_trials": 0}, "`n_trials` must be >= 1, got n_trials=0"),
        ({"n_classes_range": (4, 2)}, "`n_classes_range` must be two whole numbers LOW <= HIGH"),
        ({"n_classes_range": (0, 2)}, "LOW >= 1"),
        ({"window_range": (2, 8)}, "`window_range` must be two whole numbers"),
        ({"latent_dim_range": (2,)}, "`latent_dim_range` must be two whole numbers"),
        ({"descriptors": ("edges",)}, "unknown descriptor 'edges'"),
        ({"learners": ("svm",)}, "unknown learner 'svm'"),
        ({"learners": ("rvae",), "descriptors": ("polarization",)}, "image patches"),
        ({"poolings": (1.5,)}, "whole numbers of cells"),
        ({"smoothings": (-1.0,)}, "`smoothing` must be >= 0"),
        ({"betas": (-1.0,)}, "`beta` must be >= 0"),
        ({"objectives": ("continuity",)}, "two or more different objectives"),
        ({"objectives": ("continuity", "nope")}, "unknown objective 'nope'"),
        ({"reference": 6}, "`reference` class 6 is not among the classes searched (0 to 5)"),
        ({"tune_detector": -1}, "`tune_detector` must be >= 0"),
        ({"poolings": ()}, "`poolings` must hold one value or more"),
        ({"learners": ()}, "`learners` must hold one value or more"),
        ({"threads": 0}, "`threads` must be >= 1, got threads=0"),
        ({"device": "tpu"}, "`device` must be one of auto, cpu, cuda, got device='tpu'"),
    ],
)
def test_a_bad_plan_is_refused_in_one_line_when_made(options, message):
    with pytest.raises(RewardscopeError) as refused:
        AnalysisPlan(**options)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_analyze_refuses_a_bad_plan_before_anything_is_written(stripes, tmp_path):
    from rewardscope.workflow import analyze

    out = tmp_path / "out"
    for options in ({"weights": {"wiggle": 1}}, {"reference": (0, 9000, 0, 10)}, {"n_trails": 3}):
        with pytest.raises(RewardscopeError):
            analyze(stripes.image, out=out, progress=False, **options)
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(RewardscopeError, match="not both"):
        analyze(stripes.image, AnalysisPlan(), n_trials=3, progress=False)


def test_the_plan_decides_descriptors_for_the_data():
    assert AnalysisPlan().descriptors_for(blank=False) == ("patch", "polarization")
    # Naming a VAE keeps the cheap descriptor in the search (its trials take the gmm learner).
    assert AnalysisPlan(learners=("rvae",)).descriptors_for(blank=False) == ("patch", "polarization")
    assert AnalysisPlan().resolved(blank=True).descriptors == ("polarization", "lattice")
    with pytest.raises(RewardscopeError, match="need the image"):
        AnalysisPlan(descriptors=("patch",)).resolved(blank=True)


def test_single_values_of_searched_dimensions_are_the_base_settings():
    plan = AnalysisPlan(
        base=Config(threshold=0.4), learners=("rvae",), poolings=(2,), smoothings=(1,), seed=7
    )
    assert plan.base.threshold == 0.4 and plan.base.learner == "rvae"
    assert (plan.base.pooling, plan.base.smoothing, plan.base.seed) == (2, 1.0, 7)


def test_the_plan_round_trips_through_json_and_a_changed_plan_is_named():
    plan = AnalysisPlan(
        n_trials=7, poolings=(0, 1), reference=(0, 10, 0, 12), objectives=("continuity", "straightness")
    )
    again = AnalysisPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    import numpy as np

    from rewardscope.io import as_image

    image = as_image(np.eye(32))
    spec = study_spec(image, plan)
    assert spec_differences(spec, spec) == ""
    other = study_spec(image, AnalysisPlan.from_dict({**plan.to_dict(), "n_classes_range": [2, 3]}))
    assert spec_differences(spec, other) == "plan.n_classes_range [2, 6] (now [2, 3])"
    tuned = study_spec(
        image, AnalysisPlan.from_dict({**plan.to_dict(), "base": Config(threshold=0.5).to_dict()})
    )
    assert "plan.base.threshold 0.3 (now 0.5)" in spec_differences(spec, tuned)
    assert spec_differences({"image": spec["image"], "base": {}}, spec).startswith(
        "plan (it was begun by an older"
    )


def test_where_a_study_runs_is_each_workers_own_and_not_stored():
    plan = AnalysisPlan(learners=("rvae",), device="cpu", threads=3)
    assert "device" not in plan.to_dict() and "threads" not in plan.to_dict()
    assert AnalysisPlan.from_dict(plan.to_dict()) == AnalysisPlan(learners=("rvae",))
    # A shared study's workers may share a machine's cores: one torch thread each unless told.
    assert AnalysisPlan().shared().threads == 1 and plan.shared().threads == 3


def test_a_single_descriptor_searched_is_the_one_every_trial_runs():
    """A dimension with one value is not among a trial's parameters: the base must hold it (before the plan,
    `--descriptors polarization` alone ran every trial on patches, the Config default)."""
    assert AnalysisPlan(descriptors=("polarization",)).base.descriptor == "polarization"
    assert AnalysisPlan().resolved(blank=True).base.descriptor == "polarization"
    assert AnalysisPlan(descriptors=("lattice", "patch")).base.descriptor == "lattice"


def test_vae_learners_refuse_physical_descriptors(stripes, tmp_path):
    with pytest.raises(RewardscopeError, match="patch descriptor"):
        analyze(
            stripes.image,
            out=tmp_path / "out",
            learners=("rvae",),
            descriptors=("polarization",),
            progress=False,
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "objectives, match",
    [(("separation",), "two or more"), (("separation", "nope"), "unknown objective 'nope'")],
)
def test_bad_objectives_are_refused_before_any_work(stripes, objectives, match, tmp_path):
    with pytest.raises(RewardscopeError, match=match):
        analyze(stripes.image, out=tmp_path / "out", objectives=objectives, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "reference, message",
    [
        (7, "`reference` class 7 is not among the classes searched"),
        ((0, 900, 0, 10), "is not a region of the 256 x 256 px frame"),
    ],
)
def test_a_bad_reference_is_refused_before_any_work(reference, message, tmp_path):
    scene = synthesize("paraelectric", seed=2, size=256)
    with pytest.raises(RewardscopeError, match=message):
        analyze(scene.image, out=tmp_path / "out", n_trials=4, progress=False, reference=reference)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
