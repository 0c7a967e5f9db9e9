"""Reading and writing images: ``Image`` is the unit every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RewardscopeError

SUPPORTED_SUFFIXES = (".npy", ".tif", ".tiff")
MIN_SIDE_PX = 32


@dataclass(frozen=True)
class Image:
    """A 2-D image with its calibration.

    ``data`` is float64 of shape (rows, cols); ``pixel_size`` is in ``unit`` per
    pixel (pm when calibrated) or None when the file carries no calibration.
    """

    data: np.ndarray
    pixel_size: float | None = None
    unit: str = "px"
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape


def validate_image_data(data, *, source: str = "image") -> np.ndarray:
    """Return ``data`` as a float64 2-D array or raise a one-line error naming the problem."""
    array = np.asarray(data)
    if array.ndim == 3 and 1 in array.shape:
        array = np.squeeze(array)
    if array.ndim != 2:
        raise RewardscopeError(
            f"{source}: expected a 2-D image, got an array of shape {array.shape}"
            " (stacks and spectrum images are not supported)"
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise RewardscopeError(f"{source}: expected numeric pixels, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise RewardscopeError(f"{source}: expected real pixels, got complex dtype {array.dtype}")
    array = array.astype(np.float64)
    if min(array.shape) < MIN_SIDE_PX:
        raise RewardscopeError(
            f"{source}: image of shape {array.shape} is too small for a lattice"
            f" (need at least {MIN_SIDE_PX} px on each side)"
        )
    bad = ~np.isfinite(array)
    if bad.any():
        raise RewardscopeError(
            f"{source}: image has {int(bad.sum())} non-finite pixels (NaN or inf)"
        )
    if np.ptp(array) == 0:
        raise RewardscopeError(f"{source}: image is constant (every pixel is {array.flat[0]:g})")
    return array


def as_image(image) -> Image:
    """An ``Image`` as it is, or an array validated and wrapped (uncalibrated)."""
    if isinstance(image, Image):
        return image
    return Image(validate_image_data(image, source="array"))


def read_image(path: str | Path) -> Image:
    """Read a .npy or .tif image; calibration is taken from TIFF resolution tags when present."""
    path = Path(path)
    if not path.exists():
        raise RewardscopeError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise RewardscopeError(f"expected an image file, got a directory: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise RewardscopeError(f"cannot read {str(path)!r} as a .npy array: {exc}") from None
        return Image(validate_image_data(data, source=path.name), meta={"source": str(path)})
    if suffix in (".tif", ".tiff"):
        return _read_tiff(path)
    raise RewardscopeError(
        f"unsupported file type {suffix!r} for {str(path)!r};"
        f" supported: {', '.join(SUPPORTED_SUFFIXES)}"
    )


def _read_tiff(path: Path) -> Image:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            data = tif.asarray()
            pixel_size, unit = _tiff_calibration(tif)
    except (tifffile.TiffFileError, ValueError, OSError, KeyError) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as a TIFF image: {exc}") from None
    return Image(
        validate_image_data(data, source=path.name),
        pixel_size=pixel_size,
        unit=unit,
        meta={"source": str(path)},
    )


_TO_PM = {"pm": 1.0, "nm": 1e3, "Å": 1e2, "A": 1e2, "angstrom": 1e2, "um": 1e6, "µm": 1e6, "micron": 1e6}


def _tiff_calibration(tif) -> tuple[float | None, str]:
    """Pixel size in pm from ImageJ unit + XResolution tags, else (None, 'px')."""
    page = tif.pages[0]
    unit = (tif.imagej_metadata or {}).get("unit") if tif.is_imagej else None
    tag = page.tags.get("XResolution")
    if unit is None or tag is None:
        return None, "px"
    numerator, denominator = tag.value
    if numerator <= 0 or denominator <= 0:
        return None, "px"
    size = denominator / numerator  # resolution is pixels per unit
    factor = _TO_PM.get(str(unit).replace("\\u00B5", "µ"))
    if factor is None:
        return None, "px"
    return size * factor, "pm"


def write_image(path: str | Path, data: np.ndarray, *, pixel_size_pm: float | None = None) -> None:
    """Write a float32 .tif (ImageJ-calibrated in nm when ``pixel_size_pm`` is given) or .npy."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        np.save(path, np.asarray(data))
        return
    import tifffile

    kwargs = {}
    if pixel_size_pm:
        per_nm = 1e3 / pixel_size_pm
        kwargs = {"resolution": (per_nm, per_nm), "metadata": {"unit": "nm"}}
    tifffile.imwrite(path, np.asarray(data, dtype=np.float32), imagej=True, **kwargs)
