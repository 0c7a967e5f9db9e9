"""Reading and writing images: ``Image`` is the unit every later stage reads.

Formats: .npy, .npz, .tif/.tiff (ImageJ calibration), .png, HDF5 (.h5, .hdf5,
.hspy: HyperSpy's layout with its axis calibration, or a ``MainImage``
dataset), and through the optional ``rewardscope[io]`` extra (rosettasciio)
.dm3, .dm4, .emd, .ser, .mrc.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RewardscopeError

logger = logging.getLogger(__name__)

RSCIIO_READERS = {  # suffix -> rosettasciio plugin (optional extra: pip install 'rewardscope[io]')
    ".dm3": "digitalmicrograph",
    ".dm4": "digitalmicrograph",
    ".emd": "emd",
    ".ser": "tia",
    ".mrc": "mrc",
}
SUPPORTED_SUFFIXES = (".npy", ".npz", ".tif", ".tiff", ".png", ".h5", ".hdf5", ".hspy", *RSCIIO_READERS)
MIN_SIDE_PX = 32
# Beyond this magnitude squares and sums of pixel values overflow float64 in the fits: such a file is
# corrupt or mis-scaled.
MAX_ABS_VALUE = 1e100
CHANNELS = ("r", "g", "b", "a")
_TO_PM = {"pm": 1.0, "nm": 1e3, "Å": 1e2, "A": 1e2, "angstrom": 1e2, "um": 1e6, "µm": 1e6, "micron": 1e6}


@dataclass(frozen=True)
class Image:
    """A 2-D image with its calibration.

    ``data`` is float64 of shape (rows, cols); ``pixel_size`` is in ``unit`` per
    pixel (pm when calibrated) or None when the file carries no calibration.

    Examples
    --------
    >>> image = Image(np.zeros((64, 48)), pixel_size=12.5, unit="pm")
    >>> image.shape, image.source
    ((64, 48), 'an array passed from Python')
    """

    data: np.ndarray
    pixel_size: float | None = None
    unit: str = "px"
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of ``data``.

        Returns
        -------
        tuple of int
        """
        rows, cols = self.data.shape
        return rows, cols

    @property
    def files(self) -> tuple[str, ...]:
        """The file the image was read from (none for an array).

        An output folder must neither be nor hold it.

        Returns
        -------
        tuple of str
        """
        read = self.meta.get("read")
        return (read["path"],) if read else ()

    def summary(self) -> dict:
        """Shape, calibration and source, as written to summary.json.

        Returns
        -------
        dict
            ``shape``, ``pixel_size``, ``unit`` and ``source``.
        """
        return {
            "shape": list(self.shape),
            "pixel_size": self.pixel_size,
            "unit": self.unit,
            "source": self.source,
        }

    @property
    def source(self) -> str:
        """Where the image came from, in words: its file, or what made it.

        Returns
        -------
        str
        """
        if self.meta.get("source"):
            return str(self.meta["source"])
        if "synthetic" in self.meta:
            layout = self.meta["synthetic"].get("layout", "rewardscope.synthetic")
            return f"synthetic scene ({layout}, seed {self.meta.get('seed')})"
        return "an array passed from Python"


def validate_image_data(data, *, source: str = "image") -> np.ndarray:
    """Return ``data`` as a float64 2-D array or raise a one-line error naming the problem.

    Parameters
    ----------
    data : array_like
        The pixels (a 3-D array with one axis of length 1 is squeezed).
    source : str, optional
        What the data is called in the error.

    Returns
    -------
    numpy.ndarray
        float64, 2-D.

    Raises
    ------
    RewardscopeError
        For data not 2-D, boolean, non-numeric, complex, too small, non-finite, beyond 1e100 or constant.

    Examples
    --------
    >>> validate_image_data(np.ones((40, 40), np.uint8) * np.arange(40)).dtype
    dtype('float64')
    """
    array = np.asarray(data)
    if array.ndim == 3 and 1 in array.shape:
        array = np.squeeze(array)
    if array.ndim != 2:
        hint = "; pick a frame with --frame" if array.ndim == 3 else ""
        raise RewardscopeError(
            f"{source}: expected a 2-D image, got an array of shape {array.shape}"
            f" (stacks and spectrum images are not analysed whole{hint})"
        )
    if array.dtype == bool:
        raise RewardscopeError(
            f"{source}: a boolean (mask) image holds no intensities to analyse; give the micrograph itself"
        )
    if not np.issubdtype(array.dtype, np.number):
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
        raise RewardscopeError(f"{source}: image has {int(bad.sum())} non-finite pixels (NaN or inf)")
    largest = np.abs(array).max()
    if largest > MAX_ABS_VALUE:
        raise RewardscopeError(
            f"{source}: pixel values reach {largest:.3g}, beyond what the fits can square"
            f" (|value| <= {MAX_ABS_VALUE:g}); the file is corrupt or needs rescaling"
        )
    if np.ptp(array) == 0:
        raise RewardscopeError(f"{source}: image is constant (every pixel is {array.flat[0]:g})")
    return array


# Lengths a HyperSpy axis may be calibrated in, as pm.
UNITS_PM = {"pm": 1.0, "Å": 100.0, "A": 100.0, "angstrom": 100.0, "nm": 1000.0, "µm": 1e6, "um": 1e6}


def as_image(image) -> Image:
    """An ``Image`` as it is, a HyperSpy ``Signal2D`` with its calibration, or an array validated and
    wrapped (uncalibrated).

    Parameters
    ----------
    image : Image, hyperspy.signals.Signal2D or array_like
        A signal's pixel size comes from its signal axes (nm, Å or pm; square pixels).

    Returns
    -------
    Image

    Raises
    ------
    RewardscopeError
        For an array `validate_image_data` refuses, or a signal that is a stack or whose axes differ.
    """
    if isinstance(image, Image):
        return image
    if hasattr(image, "axes_manager") and hasattr(image, "data"):  # a HyperSpy signal (not imported here)
        return _from_signal(image)
    return Image(validate_image_data(image, source="array"))


def _from_signal(signal) -> Image:
    """A HyperSpy Signal2D as an Image: its data, its signal axes' pixel size in pm, its title."""
    title = str(signal.metadata.get_item("General.title", "") or "untitled")
    axes = signal.axes_manager
    if axes.navigation_dimension or len(axes.signal_axes) != 2:
        raise RewardscopeError(
            f"signal {title!r} is not one 2-D image (navigation shape {axes.navigation_shape}, signal shape"
            f" {axes.signal_shape}); pick one with signal.inav[...]"
        )
    units = [str(axis.units or "").strip() for axis in axes.signal_axes]
    pixel_size = None
    if all(unit in UNITS_PM for unit in units):  # calibrated in lengths; otherwise left in px
        x, y = (float(axis.scale) * UNITS_PM[unit] for axis, unit in zip(axes.signal_axes, units))
        if abs(x - y) > 1e-6 * x:
            raise RewardscopeError(f"signal {title!r} has non-square pixels ({x:g} x {y:g} pm)")
        pixel_size = x
    data = validate_image_data(np.asarray(signal.data), source=f"signal {title!r}")
    meta = {"source": f"HyperSpy signal {title!r}"}
    return Image(data, pixel_size=pixel_size, unit="pm" if pixel_size else "px", meta=meta)


def read_image(
    path: str | Path,
    *,
    entry: str | None = None,
    frame: int | None = None,
    pixel_size: float | None = None,
    allow_pickle: bool = False,
    channel: str | None = None,
) -> Image:
    """Read one 2-D image with its calibration (pixel size in pm where the file says).

    ``entry`` picks an array in a .npz, a dataset in an HDF5 file, or an entry
    of a pickled composition-series dict (``Sm_7_0``: its ``main_image``);
    ``frame`` a frame of a stack (0-based); ``pixel_size`` (pm per px) overrides the
    file's calibration. Pickled files run code when loaded: they are read only
    with ``allow_pickle=True``, from sources you trust. A colour image (last
    axis of 3 or 4: RGB, RGBA) is made grey with a warning, by the mean of R, G
    and B, or from the one ``channel`` (r, g, b or a) named.

    Parameters
    ----------
    path : str or pathlib.Path
        The file: any of ``SUPPORTED_SUFFIXES`` (rosettasciio's with the ``io`` extra).
    entry, frame, pixel_size, allow_pickle, channel : optional
        As above.

    Returns
    -------
    Image
        ``meta["read"]`` says how it was read, to read it again the same way.

    Raises
    ------
    RewardscopeError
        One line naming the problem (missing file, unsupported type, bad option or image).
    """
    path = Path(path)
    _check_read_options(path, pixel_size, frame, channel)
    data, size, unit = _read_raw(path, entry, allow_pickle)
    data = _pick_frame(_grey(np.asarray(data), channel, path.name), frame, path.name)
    if size is not None and not (np.isfinite(size) and size > 0):
        raise RewardscopeError(
            f"{path.name}: the file's pixel size is {size} {unit}; give a valid one with --pixel-size"
        )
    if pixel_size is not None:
        size, unit = float(pixel_size), "pm"
    # How it was read, so that a worker on another process or machine can read it again the same way.
    read = {"path": str(path.resolve()), "entry": entry, "frame": frame, "pixel_size": pixel_size}
    read.update(allow_pickle=allow_pickle, channel=channel)
    return Image(
        validate_image_data(data, source=path.name),
        pixel_size=size,
        unit=unit if size else "px",
        meta={"source": str(path), "read": read},
    )


def entry_names(path: str | Path, *, allow_pickle: bool = False) -> list[str]:
    """The frames a multi-entry file holds: the entries of a pickled dict (``.npy``, with ``allow_pickle``)
    or the arrays of an ``.npz``; [] for a file of one image.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    allow_pickle : bool, default False
        Read a pickled ``.npy`` (it can run code: files you trust only).

    Returns
    -------
    list of str
        Sorted names, each a valid ``entry`` of ``read_image``; [] where the file holds one image.

    Raises
    ------
    RewardscopeError
        If the file cannot be read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = sorted(archive.files)
            return names if len(names) > 1 else []
        if suffix == ".npy" and allow_pickle:
            content = np.load(path, allow_pickle=True)
            content = content.item() if content.dtype == object and content.shape == () else None
            return sorted(map(str, content)) if isinstance(content, dict) else []
    except (ValueError, OSError, EOFError) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r}: {exc}") from None
    return []


def _check_read_options(path: Path, pixel_size: float | None, frame: int | None, channel: str | None) -> None:
    """Refuse, in one line, a missing file, a folder, or a reading option out of range."""
    if not path.exists():
        raise RewardscopeError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise RewardscopeError(f"expected an image file, got a directory: {str(path)!r}")
    if pixel_size is not None and not (np.isfinite(pixel_size) and pixel_size > 0):
        raise RewardscopeError(f"pixel size must be > 0 pm, got {pixel_size}")
    if frame is not None and frame < 0:
        raise RewardscopeError(f"frame must be >= 0 (frames are numbered from 0), got {frame}")
    if channel is not None and channel not in CHANNELS:
        raise RewardscopeError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")


def _read_raw(path: Path, entry: str | None, allow_pickle: bool):
    """(data, pixel size or None, unit) as the file's reader gives them, by the file's suffix."""
    suffix = path.suffix.lower()
    readers = {
        ".npy": _read_npy,
        ".npz": _read_npz,
        ".tif": _read_tiff,
        ".tiff": _read_tiff,
        ".png": _read_png,
        ".h5": _read_hdf5,
        ".hdf5": _read_hdf5,
        ".hspy": _read_hdf5,
    }
    if suffix == ".npy" and allow_pickle:
        return _read_pickled_dict(path, entry)
    if suffix in readers:
        return readers[suffix](path, entry)
    if suffix in RSCIIO_READERS:
        return _read_rsciio(path, RSCIIO_READERS[suffix])
    raise RewardscopeError(
        f"unsupported file type {suffix!r} for {str(path)!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
    )


def is_colour(data: np.ndarray) -> bool:
    """A colour rendering (rows, cols, 3 or 4: RGB or RGBA), as PNG and TIFF store them.

    Not a stack of frames.

    Parameters
    ----------
    data : numpy.ndarray
        The array as read.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_colour(np.zeros((64, 64, 3))), is_colour(np.zeros((3, 64, 64)))
    (True, False)
    """
    return data.ndim in (3, 4) and data.shape[-1] in (3, 4) and min(data.shape[-3:-1]) >= MIN_SIDE_PX


def _grey(data: np.ndarray, channel: str | None, name: str) -> np.ndarray:
    """A colour image made grey, saying so: one named channel, or the mean of R, G and B (alpha dropped)."""
    if not is_colour(data):
        if channel is not None:
            raise RewardscopeError(
                f"{name}: a channel was given, but the image is not a colour image (shape {data.shape})"
            )
        return data
    kind = "RGBA" if data.shape[-1] == 4 else "RGB"
    if channel is not None:
        if CHANNELS.index(channel) >= data.shape[-1]:
            raise RewardscopeError(f"{name}: an {kind} image has no channel {channel!r}")
        logger.warning("%s is an %s image: analysing its %s channel alone", name, kind, channel.upper())
        return data[..., CHANNELS.index(channel)]
    rgb = data[..., :3].astype(float)
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        logger.warning("%s is an %s image with three equal channels: read as grey", name, kind)
        return rgb[..., 0]
    logger.warning(
        "%s is a colour (%s) image: converted to grey by the mean of R, G and B; a false-colour rendering"
        " does not map back to intensity: give the raw data, or pick one channel with --channel",
        name,
        kind,
    )
    return rgb.mean(axis=-1)


def _pick_frame(data: np.ndarray, frame: int | None, name: str) -> np.ndarray:
    if frame is None:
        return data
    if data.ndim != 3:
        raise RewardscopeError(
            f"{name}: a frame was given, but the image is not a stack (shape {data.shape})"
        )
    if not frame < len(data):
        raise RewardscopeError(
            f"{name}: frame {frame} does not exist; the stack has {len(data)} frames (0 to {len(data) - 1})"
        )
    return data[frame]


def _read_npy(path: Path, entry):
    try:
        return np.load(path, allow_pickle=False), None, "px"
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise RewardscopeError(
                f"{path.name} holds pickled Python objects, which can run code when loaded; "
                "if you trust its source, add --allow-pickle"
            ) from None
        raise RewardscopeError(f"cannot read {str(path)!r} as a .npy array: {exc}") from None
    except (OSError, EOFError) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as a .npy array: {exc}") from None


def _read_pickled_dict(path: Path, entry):
    """The Sm-doped BiFeO3 composition-series format: a pickled dict of entries like ``Sm_7_0``,
    each a dict holding ``main_image`` (and ``xy_COM``, ``Pxy``, ...)."""
    logger.warning("loading pickled data from %s: pickles can run code; load only files you trust", path.name)
    try:
        content = np.load(path, allow_pickle=True)
    except (ValueError, OSError, EOFError) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as a .npy file: {exc}") from None
    if content.dtype != object:
        return content, None, "px"
    content = content.item() if content.shape == () else content
    if not isinstance(content, dict):
        raise RewardscopeError(f"{path.name} holds a pickled {type(content).__name__}, not a dict of images")
    names = sorted(content)
    if entry is None:
        raise RewardscopeError(
            f"{path.name} holds {len(names)} entries; choose one with --entry: "
            f"{', '.join(map(str, names[:20]))}"
        )
    if entry not in content:
        raise RewardscopeError(
            f"{path.name} has no entry {entry!r}; it holds: {', '.join(map(str, names[:20]))}"
        )
    item = content[entry]
    if isinstance(item, dict):
        if "main_image" not in item:
            raise RewardscopeError(
                f"entry {entry!r} of {path.name} has no 'main_image'; it holds: {', '.join(map(str, item))}"
            )
        item = item["main_image"]
    return np.asarray(item), None, "px"


def _read_npz(path: Path, entry):
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if entry is None and len(names) != 1:
                raise RewardscopeError(
                    f"{path.name} holds {len(names)} arrays; choose one with --entry: {', '.join(names)}"
                )
            name = names[0] if entry is None else entry
            if name not in names:
                raise RewardscopeError(f"{path.name} has no array {name!r}; it holds: {', '.join(names)}")
            return archive[name], None, "px"
    except (ValueError, OSError, EOFError) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as a .npz archive: {exc}") from None


def _read_png(path: Path, entry):
    import imageio.v3 as iio

    try:
        data = np.asarray(iio.imread(path))  # as stored: a 1-bit (boolean) PNG stays boolean and is refused
    except (OSError, ValueError) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as a PNG image: {exc}") from None
    return data, None, "px"


def _read_tiff(path: Path, entry):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return (tif.asarray(), *_tiff_calibration(tif))
    except (tifffile.TiffFileError, ValueError, OSError, KeyError) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as a TIFF image: {exc}") from None


def _read_hdf5(path: Path, entry):
    """HyperSpy's layout (``Experiments/<name>/data`` with ``axis-i`` scales), a ``MainImage``
    dataset, the only image dataset, or the one ``entry`` names."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            datasets = []
            handle.visititems(
                lambda name, item: (
                    datasets.append(name) if isinstance(item, h5py.Dataset) and item.ndim >= 2 else None
                )
            )
            if entry is None:
                preferred = [n for n in datasets if n.startswith("Experiments/") and n.endswith("/data")]
                preferred = preferred or [n for n in datasets if n.split("/")[-1] == "MainImage"]
                candidates = preferred or datasets
                if len(candidates) != 1:
                    raise RewardscopeError(
                        f"{path.name} holds {len(datasets)} image datasets; choose one with --entry: "
                        f"{', '.join(datasets) or 'none'}"
                    )
                entry = candidates[0]
            if entry not in datasets:
                raise RewardscopeError(
                    f"{path.name} has no image dataset {entry!r}; it holds: {', '.join(datasets) or 'none'}"
                )
            data = handle[entry][()]
            size, unit = _hyperspy_calibration(handle[entry].parent, data.ndim)
    except OSError as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as an HDF5 file: {exc}") from None
    return data, size, unit


def _hyperspy_calibration(group, ndim: int):
    """Pixel size in pm from the signal axes of a HyperSpy group, when their units are known."""
    scales = []
    for index in range(ndim):
        axis = group.get(f"axis-{index}")
        if axis is None or bool(axis.attrs.get("navigate", False)):
            continue
        units = axis.attrs.get("units", "")
        units = units.decode() if isinstance(units, bytes) else str(units)
        scales.append((float(axis.attrs.get("scale", 1.0)), units))
    return _calibration(scales)


def _calibration(scales):
    """(pixel size in pm, 'pm') from the (scale, unit) of the two image axes, or (None, 'px')."""
    if len(scales) < 2:
        return None, "px"
    factors = [_TO_PM.get(unit.strip()) for _, unit in scales[-2:]]
    if None in factors:
        return None, "px"
    sizes = [scale * factor for (scale, _), factor in zip(scales[-2:], factors)]
    if not np.isclose(sizes[0], sizes[1], rtol=1e-3):
        logger.warning(
            "anisotropic pixels (%.4g x %.4g pm): positions are in px, physical lengths use their mean",
            *sizes,
        )
    return float(np.mean(sizes)), "pm"


def _read_rsciio(path: Path, plugin: str):
    import importlib

    try:
        module = importlib.import_module(f"rsciio.{plugin}")
    except ImportError:
        raise RewardscopeError(
            f"reading {path.suffix} files needs rosettasciio: pip install 'rewardscope[io]'"
        ) from None
    try:
        signals = module.file_reader(str(path))
    except Exception as exc:  # noqa: BLE001 - a third-party reader's errors, reported as one line
        raise RewardscopeError(f"cannot read {str(path)!r}: {exc}") from None
    images = [s for s in signals if np.asarray(s["data"]).ndim >= 2]
    if not images:
        raise RewardscopeError(f"{path.name} holds no image")
    axes = [a for a in images[0].get("axes", []) if not a.get("navigate", False)]
    size, unit = _calibration([(float(a.get("scale", 1.0)), str(a.get("units", ""))) for a in axes])
    return images[0]["data"], size, unit


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
    """Write a float32 .tif (ImageJ-calibrated in nm when ``pixel_size_pm`` is given) or .npy.

    Parameters
    ----------
    path : str or pathlib.Path
        The file; .npy writes the array as it is, any other suffix a TIFF.
    data : numpy.ndarray
        The image.
    pixel_size_pm : float, optional
        The calibration, pm per px.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_image(f"{folder}/a.tif", np.eye(40) + np.arange(40), pixel_size_pm=20.0)
    ...     read_image(f"{folder}/a.tif").pixel_size
    20.0
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        np.save(path, np.asarray(data))
        return
    import tifffile

    data32 = np.asarray(data, dtype=np.float32)
    if pixel_size_pm:
        per_nm = 1e3 / pixel_size_pm
        tifffile.imwrite(path, data32, imagej=True, resolution=(per_nm, per_nm), metadata={"unit": "nm"})
    else:
        tifffile.imwrite(path, data32, imagej=True)


POSITION_COLUMNS = ("x", "y", "sublattice")


def read_positions(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """A table of atom columns found by another program.

    A CSV with a header naming at least ``x``, ``y`` (px; x = column, y = row) and ``sublattice``
    (A or B); other columns are kept and written back.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.

    Returns
    -------
    xy : numpy.ndarray
        (n, 2) positions, px.
    sublattice : numpy.ndarray
        (n,) str.
    extra : dict
        Other column -> values (floats where all are numbers).

    Raises
    ------
    RewardscopeError
        One clear line for a bad table.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise RewardscopeError(f"no such file: {str(path)!r}")
    try:
        # (-sig: spreadsheets write a byte-order mark)
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RewardscopeError(f"cannot read {str(path)!r} as a CSV table: {exc}") from None
    missing = [name for name in POSITION_COLUMNS if name not in header]
    if missing:
        raise RewardscopeError(
            f"{path.name}: a positions table needs the columns x, y, sublattice; missing {', '.join(missing)}"
            f" (header: {', '.join(map(str, header)) or 'none'})"
        )
    if not rows:
        raise RewardscopeError(f"{path.name}: the table has a header but no rows")
    try:
        xy = np.array([[float(row["x"]), float(row["y"])] for row in rows])
    except (TypeError, ValueError):
        bad = next(i for i, row in enumerate(rows) if not _is_number(row["x"]) or not _is_number(row["y"]))
        raise RewardscopeError(
            f"{path.name}: row {bad + 2} has x={rows[bad]['x']!r}, y={rows[bad]['y']!r}, not numbers"
        ) from None
    sublattice = np.array([str(row["sublattice"]).strip() for row in rows])
    return xy, sublattice, _other_columns(header, rows)


def _other_columns(header: list, rows: list[dict]) -> dict[str, np.ndarray]:
    """The table's columns beyond x, y and sublattice: floats where every value is a number, else text."""
    extra = {}
    for name in header:
        if name in POSITION_COLUMNS or name in (None, ""):
            continue
        values = [row[name] for row in rows]
        extra[name] = (
            np.array([float(v) for v in values]) if all(_is_number(v) for v in values) else np.array(values)
        )
    return extra


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True
