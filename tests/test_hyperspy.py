"""HyperSpy in and out (the hyperspy extra): a Signal2D analyzed with its calibration, signals back."""

import numpy as np
import pytest

from rewardscope import RewardscopeError
from rewardscope.io import as_image
from rewardscope.workflow import analyze

hs = pytest.importorskip("hyperspy.api", reason="no HyperSpy: pip install -e '.[hyperspy]' (.ci/run does)")


def signal_of(scene, units="nm"):
    signal = hs.signals.Signal2D(scene.image.data.copy())
    signal.metadata.General.title = "stripes"
    for axis in signal.axes_manager.signal_axes:
        axis.scale, axis.units = scene.spec.pixel_size_pm / (1000 if units == "nm" else 100), units
    return signal


def test_a_signal_is_read_with_its_calibration_and_stacks_or_odd_pixels_refused(stripes):
    image = as_image(signal_of(stripes))
    assert image.pixel_size == pytest.approx(25.0) and image.source == "HyperSpy signal 'stripes'"
    assert as_image(signal_of(stripes, units="Å")).pixel_size == pytest.approx(25.0)
    assert np.array_equal(image.data, stripes.image.data)
    with pytest.raises(RewardscopeError, match="not one 2-D image.*inav"):
        as_image(hs.signals.Signal2D(np.zeros((3, 64, 64))))
    odd = signal_of(stripes)
    odd.axes_manager.signal_axes[1].scale *= 2
    with pytest.raises(RewardscopeError, match="non-square pixels"):
        as_image(odd)


def test_an_analysis_of_a_signal_comes_back_as_signals(stripes):
    analysis = analyze(signal_of(stripes), n_trials=3, descriptors=("polarization",), progress=False)
    assert analysis.image.pixel_size == pytest.approx(25.0)
    out = analysis.to_hyperspy()
    image, classes, polarization = out["image"], out["classes"], out["polarization"]
    assert (
        image.axes_manager.signal_axes[0].units == "nm" and image.axes_manager.signal_axes[0].scale == 0.025
    )
    markers = image.metadata.Markers
    assert len(markers) == 2  # the A and the B columns
    assert classes.data.shape == analysis.result.label_grid.shape
    grid = analysis.result.label_grid
    np.testing.assert_array_equal(np.nan_to_num(classes.data, nan=-1), grid)
    assert polarization.axes_manager.navigation_shape == (2,) and "pm" in polarization.metadata.General.title
    # |P| in pm from the signals equals the analysis's own, cell by cell.
    magnitude = np.hypot(*polarization.data)
    assert np.nanmedian(magnitude) == pytest.approx(
        np.nanmedian(analysis.geometry.p_magnitude[analysis.result.labels >= 0]) * 25.0, rel=0.05
    )
