"""Output folders: written whole or not at all, and replaced only where rewardscope wrote all in them.

Every folder rewardscope writes carries a marker file, ``.rewardscope``, that
names the command and lists the files it wrote. Results are built in
``OUT.partial`` (marked too) and moved into place in one rename, so a reader
never sees half a result. ``overwrite`` replaces ``OUT`` only when its
marker lists every file in it (a subfolder with a marker of its own is judged
by that marker): never a file, never a folder with anything else in it,
never the current or home folder or a filesystem root, never the input or a
folder that holds it.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from .errors import RewardscopeError

MARKER = ".rewardscope"


def read_marker(folder: Path) -> dict | None:
    """The marker of ``folder``, or None where it has none, or one rewardscope did not write.

    (unreadable, or without the fields it writes: a files list, or None only for a staging folder
    ``*.partial``)

    Parameters
    ----------
    folder : pathlib.Path

    Returns
    -------
    dict or None
        ``written_by``, ``command``, ``time`` and ``files``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as name:
    ...     write_marker(Path(name), "atoms", ["atoms.csv"])
    ...     read_marker(Path(name))["files"]
    ['atoms.csv']
    """
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(marker, dict)
        or not str(marker.get("written_by", "")).startswith("rewardscope")
        or "command" not in marker
    ):
        return None
    files = marker.get("files", ())
    listed = isinstance(files, list) and all(isinstance(name, str) for name in files)
    return marker if listed or (files is None and folder.name.endswith(".partial")) else None


def write_marker(folder: Path, command: str, files: list[str] | None) -> None:
    """Mark ``folder`` as written by ``command``.

    Parameters
    ----------
    folder : pathlib.Path
        The folder, which must exist.
    command : str
        The command that wrote it (``analyze``, ``atoms``, ...).
    files : list of str or None
        The files written, relative POSIX paths; None marks work in progress (a staging folder).
    """
    from . import __version__

    marker = {
        "written_by": f"rewardscope {__version__}",
        "command": command,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": files,
    }
    (folder / MARKER).write_text(json.dumps(marker, indent=1))


def written_files(folder: Path) -> list[str]:
    """Every file under ``folder`` as a relative POSIX path, the marker excepted.

    Parameters
    ----------
    folder : pathlib.Path

    Returns
    -------
    list of str
        Sorted.
    """
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir() and p.name != MARKER
    )


def foreign_files(folder: Path) -> list[str]:
    """The files under a folder that its marker does not account for (everything, without a marker).

    Parameters
    ----------
    folder : pathlib.Path

    Returns
    -------
    list of str
        Sorted relative POSIX paths (names of the entries where there is no marker).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as name:
    ...     folder = Path(name)
    ...     write_marker(folder, "atoms", ["atoms.csv"])
    ...     _ = (folder / "atoms.csv").write_text("x,y")
    ...     _ = (folder / "notes.txt").write_text("mine")
    ...     foreign_files(folder)
    ['notes.txt']
    """
    marker = read_marker(folder)
    if marker is None:
        return sorted(p.name for p in folder.iterdir())
    if marker.get("files") is None:  # a staging folder: all of it is rewardscope's work in progress
        return []
    return sorted(_unlisted(folder, folder, set(marker["files"])))


def _unlisted(folder: Path, root: Path, known: set):
    for entry in folder.iterdir():
        name = entry.relative_to(root).as_posix()
        if entry.is_dir() and not entry.is_symlink():
            if (entry / MARKER).is_file():
                yield from (f"{name}/{inner}" for inner in foreign_files(entry))
            else:
                yield from _unlisted(entry, root, known)
        elif name != MARKER and name not in known:
            yield name


def _listing(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_output_folder(
    out, *, overwrite: bool = False, inputs=(), resumable: str | None = None, command: str | None = None
) -> Path:
    """Refuse, in one line, an ``out`` that writing or replacing could lose data; return it as a Path.

    ``inputs`` are the files the run reads: ``out`` may be neither one of them
    nor a folder that holds one. With ``resumable`` (a command's name: batch),
    an earlier result of that command in ``out`` is taken up again rather than
    refused. A staging folder ``OUT.partial`` left by another command is
    refused unless ``overwrite`` (which discards it).

    Parameters
    ----------
    out : str or pathlib.Path
        The output folder.
    overwrite : bool, optional
        Allow replacing an earlier rewardscope result (and discarding another command's staging).
    inputs : iterable of path, optional
        The files the run reads.
    resumable : str, optional
        The command whose earlier result is taken up again.
    command : str, optional
        The command about to write.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    RewardscopeError
        One line saying why ``out`` is refused.
    """
    out = Path(out)
    _refuse_unsafe_place(out, inputs)
    _refuse_foreign_staging(out, overwrite, command)
    if out.is_dir() and any(out.iterdir()):
        _refuse_occupied(out, overwrite, resumable)
    return out


def _refuse_unsafe_place(out: Path, inputs) -> None:
    """Refuse the current or home folder, a filesystem root, the input or its folder, a file or link."""
    where = out.resolve()
    if (
        str(out) in ("", ".")
        or where == Path.cwd().resolve()
        or where == Path.home().resolve()
        or where == Path(where.anchor)
    ):
        raise RewardscopeError(
            f"refusing to write results into {str(out) or '.'!r} ({where}) itself: "
            "name a new folder for them, e.g. results"
        )
    for path in map(Path, inputs):
        path = path.resolve()
        if where == path or where in path.parents:
            raise RewardscopeError(
                f"output folder {str(out)!r} {'is' if where == path else 'holds'} the input {str(path)!r};"
                " choose another folder for the results"
            )
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise RewardscopeError(
            f"output folder {str(out)!r} is an existing {'link' if out.is_symlink() else 'file'}, "
            "not a folder; rewardscope never replaces it: choose another folder"
        )


def _refuse_foreign_staging(out: Path, overwrite: bool, command: str | None) -> None:
    """Refuse a staging folder rewardscope did not make, or another command's unless ``overwrite``."""
    staging = staging_path(out)
    if staging.exists() and (
        staging.is_symlink()
        or not staging.is_dir()
        or (any(staging.iterdir()) and read_marker(staging) is None)
    ):
        raise RewardscopeError(
            f"{str(staging)!r} exists and was not made by rewardscope; move it away or choose another folder"
        )
    left = read_marker(staging) if staging.is_dir() else None
    if left and command and left["command"] != command and not overwrite:
        message = f"{str(staging)!r} holds an interrupted `{left['command']}` run"
        raise RewardscopeError(
            f"{message}; pass overwrite=True to discard it", cli=f"{message}; add --overwrite to discard it"
        )


def _refuse_occupied(out: Path, overwrite: bool, resumable: str | None) -> None:
    """Refuse a non-empty ``out`` that is not wholly an earlier result, or is one and may not be replaced."""
    foreign = foreign_files(out)
    marker = read_marker(out)
    if marker is None:
        raise RewardscopeError(
            f"output folder {str(out)!r} already exists and is not a rewardscope result (it holds"
            f" {_listing(foreign)}); rewardscope replaces only folders it wrote: choose another folder"
        )
    if foreign:
        raise RewardscopeError(
            f"output folder {str(out)!r} holds files rewardscope did not write ({_listing(foreign)});"
            " it will not replace them: move them away or choose another folder"
        )
    if not overwrite and not (resumable and marker["command"] == resumable):
        message = f"output folder {str(out)!r} holds an earlier rewardscope result"
        raise RewardscopeError(
            f"{message}; pass overwrite=True to replace it",
            cli=f"{message}; add --overwrite to replace it",
        )


def staging_path(out: Path) -> Path:
    """``OUT.partial``: where a result is built before it is moved into place.

    Parameters
    ----------
    out : pathlib.Path
        The output folder.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> staging_path(Path("results")).as_posix()
    'results.partial'
    """
    out = Path(out)
    return out.with_name(out.name + ".partial")


def staging_folder(out: Path, command: str, *, keep: bool = False) -> Path:
    """``OUT.partial``, made and marked as work in progress.

    With ``keep`` an earlier one of the same command is kept (it holds a study to resume); anything
    else left there is discarded (``check_output_folder`` vetted it: rewardscope's own work in
    progress).

    Parameters
    ----------
    out : pathlib.Path
        The output folder.
    command : str
        The command about to write.
    keep : bool, optional
        Keep an earlier staging folder of the same command.

    Returns
    -------
    pathlib.Path
        The staging folder.
    """
    staging = staging_path(out)
    left = read_marker(staging) if staging.is_dir() else None
    if staging.is_dir() and not (keep and left and left["command"] == command):
        remove_result(staging)
    staging.mkdir(parents=True, exist_ok=True)
    if read_marker(staging) is None:
        write_marker(staging, command, None)
    return staging


def move_into_place(staging: Path, out: Path, command: str) -> None:
    """List what ``staging`` holds in its marker and replace ``out`` by it in one rename.

    ``out`` is checked again first (it may have changed while the run worked):
    only a folder that ``check_output_folder`` would let be replaced is removed.

    Parameters
    ----------
    staging : pathlib.Path
        The finished staging folder.
    out : pathlib.Path
        The output folder.
    command : str
        The command that wrote it.

    Raises
    ------
    RewardscopeError
        Where ``out`` may no longer be replaced.
    """
    write_marker(staging, command, written_files(staging))
    if out.is_dir() and any(out.iterdir()):
        check_output_folder(out, overwrite=True)
        shutil.rmtree(out)
    elif out.is_dir():
        out.rmdir()
    staging.rename(out)


def remove_result(folder: Path) -> None:
    """Remove a folder that ``check_output_folder`` accepted for replacing, or a staging folder.

    Parameters
    ----------
    folder : pathlib.Path
        Removed with all it holds; a link or a missing folder is left alone.
    """
    folder = Path(folder)
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
