"""Output folders (rewardscope.outputs) as the Python API refuses them."""

import pytest

from rewardscope import RewardscopeError


def test_the_python_api_names_its_own_arguments(data_folder, tmp_path, scene):
    from rewardscope import analyze

    out = tmp_path / "results"
    analyze(scene.image, out=out, n_trials=2, progress=False)
    with pytest.raises(RewardscopeError, match="pass overwrite=True to replace it") as error:
        analyze(scene.image, out=out, n_trials=2, progress=False)
    assert "--overwrite" not in str(error.value)
    with pytest.raises(RewardscopeError, match="pass restart=True to start afresh"):
        out.rename(tmp_path / "results.partial")
        analyze(scene.image, out=out, n_trials=2, n_classes_range=(2, 3), progress=False)
