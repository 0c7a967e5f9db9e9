"""Public example data: downloaded on first use, checked against a known hash, cached.

* ``sm_bfo_composition_series()``: the Sm-doped BiFeO3 composition series of
  Ziatdinov et al., npj Comput Mater 6, 127 (2020), Zenodo record 4876786,
  ``composition_series_dict_full.npy`` (about 2 GB; a pickled dict keyed like
  ``Sm_7_0``). Its checksum is Zenodo's own (md5, read from the record's API
  before the download), so a corrupt or changed file is refused.
* ``srtio3_110("ADF" | "ABF")``: the SrTiO3 [110] ADF and ABF test images that
  ship inside the ``atomap==0.2.1`` wheel on PyPI (GPL-3.0, used as data only);
  the wheel's sha256 is pinned here and the HDF5 file is unpacked from it.

Files are cached in ``$REWARDSCOPE_DATA`` or the user cache folder
(``pooch.os_cache("rewardscope")``); a second call reads the cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pooch

from .errors import RewardscopeError


@dataclass(frozen=True)
class Remote:
    """A file on the web: its URL and the hash it must have ("sha256:..." or "md5:...")."""

    url: str
    known_hash: str | None


SM_BFO_DOI = "10.5281/zenodo.4876786"
SM_BFO_FILE = "composition_series_dict_full.npy"
ATOMAP_WHEEL = Remote(
    url="https://files.pythonhosted.org/packages/32/f4/2e83b8d623e5450c9f8c18c1d218637b5af933e7aa6a3b0deb09007d9a35/"
    "atomap-0.2.1-py3-none-any.whl",  # the sha256 below is the one PyPI lists for this file
    known_hash="sha256:4d528d948cfa569397c2ebaa8d0888917d366de1c2d0c91062c5066440062b81",
)
SRTIO3_MEMBERS = {
    "ADF": "atomap/tests/datasets/test_ADF_cropped.hdf5",
    "ABF": "atomap/tests/datasets/test_ABF_cropped.hdf5",
}
NAMES = ("sm-bfo", "srtio3-adf", "srtio3-abf")


def cache_dir() -> Path:
    """Where downloads are kept: ``$REWARDSCOPE_DATA`` or the user cache folder.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> isinstance(cache_dir(), Path)
    True
    """
    return Path(os.environ.get("REWARDSCOPE_DATA") or pooch.os_cache("rewardscope"))


def srtio3_110(kind: str = "ADF", *, progress: bool = True) -> Path:
    """Path of the SrTiO3 [110] ``ADF`` or ``ABF`` image (HyperSpy HDF5, 520 x 599, 9.326 pm/px).

    Downloaded once (atomap 0.2.1's wheel, sha256-pinned) into `cache_dir`.

    Parameters
    ----------
    kind : str, optional
        ``"ADF"`` or ``"ABF"`` (either case).
    progress : bool, optional
        Show the download's progress bar.

    Returns
    -------
    pathlib.Path
        The HDF5 file.

    Raises
    ------
    RewardscopeError
        For another kind, or where the download fails.
    """
    if kind.upper() not in SRTIO3_MEMBERS:
        raise RewardscopeError(f"unknown SrTiO3 image kind {kind!r}; choose ADF or ABF")
    member = SRTIO3_MEMBERS[kind.upper()]
    unpacked = _download(
        ATOMAP_WHEEL, "atomap-0.2.1-py3-none-any.whl", pooch.Unzip(members=[member]), progress
    )
    return Path(next(p for p in unpacked if Path(p).as_posix().endswith(member)))


def sm_bfo_composition_series(*, progress: bool = True) -> Path:
    """Path of the Sm-doped BiFeO3 composition series (Zenodo 4876786, about 2 GB).

    Read it with ``read_image(path, entry=..., allow_pickle=True)``.

    Parameters
    ----------
    progress : bool, optional
        Show the download's progress bar.

    Returns
    -------
    pathlib.Path
        The pickled .npy file.

    Raises
    ------
    RewardscopeError
        Where the Zenodo record cannot be read or the file fetched.
    """
    store = pooch.create(path=cache_dir(), base_url=f"doi:{SM_BFO_DOI}/", registry=None)
    try:
        store.load_registry_from_doi()  # the md5 Zenodo lists for each file of the record
    except Exception as error:  # noqa: BLE001 - any network or API failure, said in one line
        raise RewardscopeError(f"could not read the Zenodo record {SM_BFO_DOI}: {_reason(error)}") from None
    if SM_BFO_FILE not in store.registry:
        raise RewardscopeError(f"Zenodo record {SM_BFO_DOI} has no file {SM_BFO_FILE}")
    try:
        return Path(store.fetch(SM_BFO_FILE, progressbar=progress))
    except Exception as error:  # noqa: BLE001
        raise RewardscopeError(
            f"could not fetch {SM_BFO_FILE} from doi:{SM_BFO_DOI}: {_reason(error)}"
        ) from None


def fetch(name: str, *, progress: bool = True) -> Path:
    """Fetch a dataset by its command-line name (one of ``NAMES``) and return its path.

    Parameters
    ----------
    name : str
        ``"sm-bfo"``, ``"srtio3-adf"`` or ``"srtio3-abf"``.
    progress : bool, optional
        Show the download's progress bar.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    RewardscopeError
        For an unknown name, or where the download fails.

    Examples
    --------
    >>> try:
    ...     fetch("unknown")
    ... except RewardscopeError as error:
    ...     print(error)
    unknown dataset 'unknown'; choose one of sm-bfo, srtio3-adf, srtio3-abf
    """
    if name == "sm-bfo":
        return sm_bfo_composition_series(progress=progress)
    if name in ("srtio3-adf", "srtio3-abf"):
        return srtio3_110(name.split("-")[1].upper(), progress=progress)
    raise RewardscopeError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")


def _download(remote: Remote, fname: str, processor, progress: bool):
    try:
        return pooch.retrieve(
            remote.url,
            known_hash=remote.known_hash,
            fname=fname,
            path=cache_dir(),
            processor=processor,
            progressbar=progress,
        )
    except Exception as error:  # noqa: BLE001
        raise RewardscopeError(f"could not fetch {remote.url}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__
