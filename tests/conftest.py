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
