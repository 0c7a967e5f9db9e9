import numpy as np
import pytest

from rewardscope.synthetic import synthesize


@pytest.fixture(scope="session")
def stripes():
    """A small normal-dose stripes scene: two polar variants, straight walls."""
    return synthesize("stripes", seed=3, size=256, stripe_cells=5)


@pytest.fixture(scope="session")
def stripes_columns(stripes):
    from rewardscope.atoms import find_columns

    return find_columns(stripes.image.data)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def scene():
    """The output-safety tests' scene (test_lattice.py and test_io.py have their own)."""
    return synthesize("stripes", seed=2, size=256, stripe_cells=5)


@pytest.fixture
def data_folder(tmp_path, scene):
    """A user's folder of raw data: the image to analyze and a file that must survive."""
    folder = tmp_path / "mydata"
    folder.mkdir()
    np.save(folder / "copy.npy", scene.image.data)
    (folder / "raw.dat").write_bytes(b"\x00\x01 precious raw data")
    return folder
