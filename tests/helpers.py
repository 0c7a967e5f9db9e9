"""Helpers shared by several test files (plain functions; the shared fixtures are in conftest.py)."""

import hashlib
import re
import time
from pathlib import Path

from rewardscope.cli import main
from rewardscope.metrics import match


def matched(columns, truth, period):
    """For each truth column (O columns left out) the found row within 0.25 periods, -1 where none."""
    keep = truth.sublattice != "O"
    index, _ = match(columns.xy, truth.xy[keep], 0.25 * period)
    return keep, index


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` by its hash: taken before and after a refusal, which must leave
    everything outside the output folder (the input and its folder) as it was."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def refused(capsys, argv, pattern) -> str:
    """Run the CLI in this process; it must exit 1 with one error line matching ``pattern``."""
    assert main(list(map(str, argv))) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("rewardscope: error: ") and "internal error" not in lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def wait_for(condition, timeout=300.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def scored(study):
    """The finished trials that scored a setting (a repeat of a known setting is told back: repeat_of)."""
    return [t for t in study.trials if t.state.name == "COMPLETE" and "repeat_of" not in t.user_attrs]


def setting(trial):
    """What makes a setting distinct: its parameters, less the window where there are no patches."""
    params = dict(trial.params)
    if params.get("descriptor", "patch") != "patch":
        params.pop("window")
    return tuple(sorted(params.items()))
