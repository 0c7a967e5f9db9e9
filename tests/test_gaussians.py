"""Gaussian columns (rewardscope.gaussians): rendering."""

import numpy as np

from rewardscope import gaussians


def test_the_fast_render_equals_the_jittered_render_without_jitter(rng):
    xy = rng.uniform(-15, 140, (300, 2))  # some beyond the frame, whose tails still reach into it
    amplitude, sigma = rng.uniform(0.5, 2, 300), rng.uniform(1, 3, 300)
    fast = gaussians.render((120, 130), xy, amplitude, sigma)
    general = gaussians.render((120, 130), xy, amplitude, sigma, row_shift=np.zeros((120, 2)))
    np.testing.assert_allclose(fast, general, rtol=0, atol=1e-12)
