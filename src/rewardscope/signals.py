"""An analysis in HyperSpy's terms (the ``hyperspy`` extra; GPL, imported only here, when asked for).

``to_hyperspy`` gives the image as a calibrated ``Signal2D`` with the columns as point markers (B coloured
by class), the class map and the polarization on the cell grid as signals.
"""

from __future__ import annotations

import numpy as np

from .errors import RewardscopeError
from .figures import class_colours


def _hyperspy():
    try:
        import hyperspy.api as hs
    except ImportError:
        raise RewardscopeError(
            "to_hyperspy needs HyperSpy: pip install 'rewardscope[hyperspy]' (GPL, an optional extra)"
        ) from None
    return hs


def _calibrate(signal, scale: float | None, unit: str, names=("x", "y")) -> None:
    for axis, name in zip(signal.axes_manager.signal_axes, names):
        axis.name = name
        if scale:
            axis.scale, axis.units = scale, unit


def to_hyperspy(analysis) -> dict:
    """The analysis as HyperSpy signals.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis.

    Returns
    -------
    dict
        ``image``: the frame as a ``Signal2D`` (nm where calibrated) with permanent point markers of the
        A columns (orange) and the B columns (their class's colour); ``classes``: the class per cell on the
        (i, j) grid (NaN where unclassified); ``polarization``: P per cell, a stack of two ``Signal2D``
        (navigation axis ``component``: along x, along y), in pm where calibrated, else px.

    Raises
    ------
    RewardscopeError
        Without HyperSpy installed.
    """
    from .lattice import to_grid

    hs = _hyperspy()
    result, image = analysis.result, analysis.image
    columns, lattice = result.columns, result.lattice
    nm = image.pixel_size / 1000 if image.pixel_size else None
    frame = hs.signals.Signal2D(image.data.copy())
    frame.metadata.General.title = image.source
    _calibrate(frame, nm, "nm")
    scale = nm or 1.0
    colours = class_colours(max(result.config.n_classes, 1))
    a = columns.sublattice == "A"
    b = result.labels >= 0
    frame.add_marker(
        hs.plot.markers.Points(offsets=columns.xy[a] * scale, color="orange", sizes=4), permanent=True
    )
    frame.add_marker(
        hs.plot.markers.Points(offsets=columns.xy[b] * scale, color=colours[result.labels[b]], sizes=6),
        permanent=True,
    )
    rows = np.flatnonzero(b)
    grid = to_grid(lattice.ij[rows], result.labels[rows].astype(float), lattice.grid_shape, fill=np.nan)
    classes = hs.signals.Signal2D(grid)
    classes.metadata.General.title = f"classes of {image.source}"
    _calibrate(classes, 1.0, "cell", ("i", "j"))
    measured = np.flatnonzero((columns.sublattice == "B") & np.all(np.isfinite(lattice.polarization), axis=1))
    p_scale, p_unit = (image.pixel_size, "pm") if image.pixel_size else (1.0, "px")
    p = to_grid(
        lattice.ij[measured], lattice.polarization[measured] * p_scale, lattice.grid_shape, fill=np.nan
    )
    polarization = hs.signals.Signal2D(np.moveaxis(p, -1, 0))
    polarization.metadata.General.title = f"P ({p_unit}) of {image.source}"
    polarization.axes_manager.navigation_axes[0].name = "component (x, y)"
    polarization.metadata.Signal.quantity = f"P ({p_unit})"
    _calibrate(polarization, 1.0, "cell", ("i", "j"))
    return {"image": frame, "classes": classes, "polarization": polarization}
