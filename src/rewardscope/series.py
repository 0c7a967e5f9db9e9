"""Composition series: many frames analyzed as one, with one setting and one set of classes.

A series is frames of one material system at several compositions (the
Sm-doped BiFeO3 library of Barakati et al.: 0 to 20% Sm). The optimizer
chooses one setting for all of them: each trial fits one learner on the cells
of every frame (``SeriesPipeline``), so that class 2 in one frame is class 2 in
every frame, and scores it by the mean of the frames' rewards. Each frame's
own optimum is searched too (one Dask task per frame, as ``batch`` does) and
set beside the shared one: a frame that prefers another setting is a finding.

What the series shows, per composition (mean and spread over its frames):
the share of each phase (the shared classes named by their physics: polar,
antipolar, paraelectric), mean ``|P|``, the lattice parameters, the antipolar
order, the walls' density, straightness and continuity, and the reward.
Where the best reward drops by more than ``REWARD_DROP`` from the series'
highest, the straight-wall prior no longer holds there, and the report says so.
"""

from __future__ import annotations

import csv
import logging
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import rewards
from .atoms import Columns
from .config import Config, stage_key, uses_patches
from .descriptors import balanced, pooled
from .errors import RewardscopeError
from .explain import finite_stat
from .io import Image
from .learn import PCAGaussianMixture, VAEClassifier
from .plan import SHARED_THREADS, AnalysisPlan
from .text import counted
from .workflow import Pipeline, Result, fit_learner

logger = logging.getLogger(__name__)
COMPOSITION_PATTERN = r"Sm_(\d+(?:\.\d+)?)_"  # the Sm-doped BiFeO3 library's names: Sm_7_0 is 7% Sm
MIXED_TOLERANCE = 0.10  # frames whose pixel sizes or periods differ more are refused (unless allow_mixed)
REWARD_DROP = 0.1  # a composition whose best reward is this far below the series' highest is marked
# What the classes are, by the physics of their cells; "offset": one displacement shared by the whole frame
# (one polar domain, or a mistilt: a frame cannot tell them apart).
PHASES = ("polar", "antipolar", "paraelectric", "offset")
TRUTH_FILE = "series_truth.csv"  # what ``synthetic.write_series`` writes beside the frames


@dataclass(frozen=True)
class SeriesFrame:
    """A frame of a series to analyze: its name, composition and image."""

    name: str
    composition: float
    image: Image


@dataclass(frozen=True)
class SeriesInputs:
    """The frames read, those that could not be (``frame``, ``file``, ``reason``), the truth where known."""

    frames: list[SeriesFrame]
    failed: list[dict] = field(default_factory=list)
    truth: dict | None = None  # frame name -> its row of series_truth.csv


def read_series(items, *, composition: str | None = None, reading: dict | None = None) -> SeriesInputs:
    """Read a series: files, folders, globs, or multi-entry files (every ``Sm_*`` entry a frame).

    Parameters
    ----------
    items : str, Path or list of them
        What ``batch.image_files`` takes, and ``.npy`` pickled dicts (with ``allow_pickle``) or ``.npz``
        archives of several frames.
    composition : str, optional
        A CSV of ``frame,composition`` rows, or a regular expression whose first group, searched in a
        frame's name, is its composition. Default: a ``compositions.csv`` beside the frames, else
        ``COMPOSITION_PATTERN``. A ``series_truth.csv`` beside them (``synthetic.write_series``) is read
        as the truth.
    reading : dict, optional
        Keyword arguments of ``io.read_image`` (``entry`` is set per frame of a multi-entry file).

    Returns
    -------
    SeriesInputs
        A frame that cannot be read is listed as failed, with the reason; the others go on.

    Raises
    ------
    RewardscopeError
        For items that name no image, a frame without a composition, a bad pattern or CSV, or no
        frame read at all.
    """
    from .batch import frame_names, image_files
    from .io import entry_names, read_image

    reading = {k: v for k, v in (reading or {}).items() if k != "entry"}
    files = image_files(items)
    sources: list[tuple[str, Path, str | None]] = []
    for path, name in zip(files, frame_names(files)):
        entries = entry_names(path, allow_pickle=bool(reading.get("allow_pickle")))
        sources += [(entry, path, entry) for entry in entries] or [(name, path, None)]
    folders = list(dict.fromkeys(path.parent for path in files))  # the tables are read beside the frames
    lookup = composition_lookup(composition, folders)
    frames, failed = [], []
    for name, path, entry in sources:
        value = lookup(name)
        try:
            image = read_image(path, entry=entry, **reading)
        except (RewardscopeError, OSError, ValueError) as error:
            failed.append({"frame": name, "file": str(path), "reason": " ".join(str(error).split())})
            continue
        frames.append(SeriesFrame(name, value, image))
    if not frames:
        raise RewardscopeError(f"no frame of the series could be read: {failed[0]['reason']}")
    truth = next((read_truth(f / TRUTH_FILE) for f in folders if (f / TRUTH_FILE).is_file()), None)
    return SeriesInputs(frames, failed, truth)


def composition_lookup(composition: str | None, folders: list[Path]):
    """A function of a frame's name giving its composition, from a CSV or a regular expression.

    Parameters
    ----------
    composition : str or None
        A CSV path (``frame,composition``), or a regular expression with one group; None: a
        ``compositions.csv`` in one of ``folders``, else ``COMPOSITION_PATTERN``.
    folders : list of Path
        The folders given as the series.

    Returns
    -------
    callable
        name -> composition (float); it raises ``RewardscopeError`` for a name without one.

    Examples
    --------
    >>> composition_lookup(None, [])("Sm_13_1")
    13.0
    >>> composition_lookup(r"x(\\d+)", [])("frame")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rewardscope.errors.RewardscopeError: no composition for frame 'frame': the pattern ... does not match it
    """
    table = next((f / "compositions.csv" for f in folders if (f / "compositions.csv").is_file()), None)
    if composition is not None and composition.lower().endswith(".csv"):
        table = Path(composition)
        if not table.is_file():
            raise RewardscopeError(f"no such composition table: {composition!r}")
    if table is not None and (composition is None or composition.lower().endswith(".csv")):
        known = _composition_table(table)

        def from_table(name: str) -> float:
            if name not in known:
                raise RewardscopeError(f"no composition for frame {name!r} in {str(table)!r}")
            return known[name]

        return from_table
    pattern = composition or COMPOSITION_PATTERN
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise RewardscopeError(f"--composition {pattern!r} is not a regular expression: {error}") from None
    if compiled.groups < 1:
        raise RewardscopeError(f"--composition {pattern!r} has no group ( ) to read the composition from")

    def from_name(name: str) -> float:
        match = compiled.search(name)
        if match is None:
            raise RewardscopeError(
                f"no composition for frame {name!r}: the pattern {pattern!r} does not match it"
            )
        try:
            return float(match.group(1))
        except ValueError:
            raise RewardscopeError(f"frame {name!r}: {match.group(1)!r} is not a composition") from None

    return from_name


def _composition_table(path: Path) -> dict[str, float]:
    """``frame,composition`` rows of a CSV, checked."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"frame", "composition"} <= set(rows[0]):
        raise RewardscopeError(f"{str(path)!r} needs the columns frame and composition")
    try:
        return {row["frame"]: float(row["composition"]) for row in rows}
    except ValueError as error:
        raise RewardscopeError(f"{str(path)!r}: a composition is not a number ({error})") from None


def read_truth(path: Path) -> dict:
    """A series' truth table (``synthetic.write_series``): frame name -> its row, numbers as floats."""
    with open(path, newline="") as handle:
        return {
            row["frame"]: {k: (v if k == "frame" else float(v)) for k, v in row.items()}
            for row in csv.DictReader(handle)
        }


def check_alike(names: list[str], pixel_sizes: list, periods: list[float], allow_mixed: bool) -> None:
    """Refuse, in one line, frames whose pixel sizes or lattice periods differ by more than
    ``MIXED_TOLERANCE``: one setting in px would mean other things in them.

    Examples
    --------
    >>> check_alike(["a", "b"], [25.0, 31.0], [15.8, 16.0], allow_mixed=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rewardscope.errors.RewardscopeError: the frames' pixel sizes differ by 24% (a 25, b 31 pm), more than ...
    """
    if allow_mixed:
        return
    for what, values, unit in (("pixel sizes", pixel_sizes, "pm"), ("lattice periods", periods, "px")):
        known = [(n, v) for n, v in zip(names, values) if v]
        if what == "pixel sizes" and 0 < len(known) < len(names):
            missing = next(n for n, v in zip(names, values) if not v)
            raise RewardscopeError(
                f"frame {missing!r} has no pixel size and others have one; give --pixel-size, or pass"
                " --allow-mixed"
            )
        if not known:
            continue
        (low_name, low), (high_name, high) = min(known, key=lambda t: t[1]), max(known, key=lambda t: t[1])
        if high / low - 1 > MIXED_TOLERANCE:
            raise RewardscopeError(
                f"the frames' {what} differ by {high / low - 1:.0%} ({low_name} {low:.3g}, {high_name}"
                f" {high:.3g} {unit}), more than {MIXED_TOLERANCE:.0%}; pass --allow-mixed to analyze them"
                " as one series"
            )


@dataclass(frozen=True)
class FrameModel:
    """One frame's rows of the series' shared learner: what ``Pipeline.run`` reads of a learner."""

    labels_: np.ndarray
    probabilities_: np.ndarray
    scores_: np.ndarray


class FramePipeline(Pipeline):
    """A frame of a series: its own columns and cells, the series' descriptors' scaling and classes."""

    def __init__(self, image: Image, columns: Columns, series: SeriesPipeline, index: int, weights=None):
        super().__init__(
            image, weights=weights, columns=columns, device=series.device, threads=series.threads
        )
        self.series = series
        self.index = index

    def window(self, config: Config) -> int:
        """The config's window, or the series' (1.5 of its median periods): patches alike in every frame."""
        return int(config.window) if config.window is not None else self.series.default_window

    def descriptors(self, config: Config) -> np.ndarray:
        return self._cached(
            "descriptors", config, lambda: self.series.frame_descriptors(config, self.index), name="pooling"
        )

    def autoencoder(self, config: Config):
        return None  # a VAE learner of the series is trained once, on every frame's patches

    def learner(self, config: Config) -> FrameModel:  # type: ignore[override]
        return self.series.frame_model(config, self.index)


class SeriesPipeline:
    """The stages on every frame of a series, with one learner fitted on all their cells.

    Parameters
    ----------
    frames : list of (Image, Columns)
        Each frame and its columns (found and judged: ``workflow.find_and_judge``).
    weights : dict, optional
        The reward's component weights.
    device : str, default "auto"
        Where a VAE learner trains (``learn.vae.torch_device``).
    threads : int, optional
        CPU threads of each trial (``learn.vae.cpu_threads``; default the libraries' own).
    """

    def __init__(
        self,
        frames: list[tuple[Image, Columns]],
        weights: dict | None = None,
        device: str = "auto",
        threads: int | None = None,
    ):
        self.weights, self.device, self.threads = weights, device, threads
        self.frames = [
            FramePipeline(image, columns, self, i, weights) for i, (image, columns) in enumerate(frames)
        ]
        self.period = float(np.median([columns.period for _, columns in frames]))
        self.default_window = int(2 * round(0.75 * self.period))
        self._cache: dict[tuple, object] = {}

    @classmethod
    def of(cls, judged: list, plan: AnalysisPlan) -> SeriesPipeline:
        """The pipeline of the judged frames ((SeriesFrame, Columns) pairs), run as ``plan`` says."""
        frames = [(frame.image, columns) for frame, columns in judged]
        return cls(frames, weights=plan.weights, device=plan.device, threads=plan.threads)

    def frame_descriptors(self, config: Config, index: int) -> np.ndarray:
        """Frame ``index``'s descriptors: its blocks balanced over the whole series, then pooled on its
        cell grid."""
        key = ("balanced", stage_key(config, "descriptors"))
        if key not in self._cache:
            blocks = [frame.descriptor_blocks(config) for frame in self.frames]
            sizes = [len(b[0]) for b in blocks]
            stacked = [np.vstack([b[n] for b in blocks]) for n in range(len(blocks[0]))]
            joint = stacked[0] if len(stacked) == 1 else balanced(*stacked)
            self._cache[key] = np.split(joint, np.cumsum(sizes)[:-1])
        frame = self.frames[index]
        ij = frame.lattice(config).ij[frame.classified_rows(config)]
        parts: list[np.ndarray] = self._cache[key]  # type: ignore[assignment]
        return pooled(parts[index], ij, config.pooling)

    def learner(self, config: Config) -> PCAGaussianMixture | VAEClassifier:
        """The config's learner fitted on the cells of every frame (cached on the config's fields)."""
        key = ("learn", stage_key(config, "learn"))
        if key not in self._cache:
            X = np.vstack([frame.descriptors(config) for frame in self.frames])
            reference = np.concatenate([frame.reference(config) for frame in self.frames])
            whole = np.concatenate([frame.whole_patches(config) for frame in self.frames])
            self._cache[key] = fit_learner(
                config, X, reference, whole, device=self.device, threads=self.threads
            )
        return self._cache[key]  # type: ignore[return-value]

    def frame_model(self, config: Config, index: int) -> FrameModel:
        """Frame ``index``'s rows of the shared learner's classes, responsibilities and scores."""
        model = self.learner(config)
        sizes = [len(frame.classified_rows(config)) for frame in self.frames]
        start = int(np.sum(sizes[:index]))
        rows = slice(start, start + sizes[index])
        return FrameModel(model.labels_[rows], model.probabilities_[rows], model.scores_[rows])

    def results(self, config: Config) -> list[Result]:
        """Every frame's result of ``config``, each rewarded as a part of the series (``series_reward``)."""
        results = [frame.run(config) for frame in self.frames]
        edges = [frame.edge_cells(config) for frame in self.frames]
        split = self.split(config) if config.n_classes >= 2 else None
        return series_reward(results, edges, self.weights, split=split)

    def split(self, config: Config) -> float:
        """The series' evidence of more than one class: ``learn.split_evidence`` of the shared two-class
        split on every frame's fitted cells (the frames side by side on one cell grid, apart)."""
        from .learn import split_evidence

        key = ("split", stage_key(config, "evidence"))
        if key not in self._cache:
            model = self.learner(replace(config, n_classes=2))
            reference = np.concatenate([frame.reference(config) for frame in self.frames])
            grids, offset = [], 0
            for frame in self.frames:
                cells = frame.lattice(config).ij[frame.classified_rows(config)] + [offset, 0]
                grids.append(cells)
                offset = int(cells[:, 0].max()) + 10  # ten empty columns between frames: no pooling across
            ij = np.vstack(grids)
            self._cache[key] = split_evidence(
                model.scores_[reference], model.labels_[reference], ij[reference]
            )
        return self._cache[key]  # type: ignore[return-value]

    def score(self, config: Config) -> tuple[float, dict]:
        """The series reward of ``config`` (the mean of its frames') and its components' means: what the
        optimizer maximizes (on ``threads`` CPU threads, where they are set)."""
        from .learn.vae import cpu_threads

        with cpu_threads(self.threads):
            results = self.results(config)
        components = {
            name: float(np.nanmean([r.components[name] for r in results]))
            if any(np.isfinite(r.components[name]) for r in results)
            else float("nan")
            for name in results[0].components
        }
        return float(np.mean([r.reward for r in results])), components


def series_reward(
    results: list[Result], edges: list[np.ndarray], weights: dict | None = None, split: float | None = None
) -> list[Result]:
    """The frames' results with each reward recomputed as a part of the series.

    A class may be absent from a frame (the antipolar class in an undoped one), or sit at its edge (the last
    polar stripe of a Sm-rich one), or be split by the series where the frame alone would show one class,
    without failing it: the balance and the gates of class size, frame edge and split evidence are read over
    the whole series; every other component and gate is the frame's own.

    Parameters
    ----------
    results : list of workflow.Result
        The frames' results of one config with the shared classes.
    edges : list of (n_f,) bool arrays
        Each frame's classified cells within half a window of its border (``Pipeline.edge_cells``).
    weights : dict, optional
        The reward's component weights.
    split : float, optional
        The series' split evidence (``SeriesPipeline.split``); None keeps each frame's.

    Returns
    -------
    list of workflow.Result
        The same, their ``reward`` and ``components`` those of the series.
    """
    k = results[0].config.n_classes
    labels = np.concatenate([r.labels[r.labels >= 0] for r in results])
    edge = np.concatenate(edges)
    counts = np.bincount(labels, minlength=k)
    pooled_gates = {
        "balance": rewards.balance(labels, k),
        "smallest_class": int(counts.min()),
        "cells": int(counts.sum()),
        "edge_share": max((float(edge[labels == c].mean()) for c in range(k) if counts[c]), default=0.0),
    }
    if split is not None:
        pooled_gates["split_evidence"] = float(split)
    rewarded = []
    for result in results:
        components = {**result.components, **pooled_gates}
        present = len(np.unique(result.labels[result.labels >= 0]))
        failed = present < 2 or not result.walls.mask.any() or rewards.refusal(components)
        reward = 0.0 if failed else rewards.combine(components, weights)
        rewarded.append(replace(result, reward=reward, components=components))
    return rewarded


@dataclass(frozen=True)
class SeriesRun:
    """Where and how a series runs: the frames' own optima on Dask, the shared study's storage.

    Parameters
    ----------
    per_frame : bool, default True
        Search each frame's own optimum too (one Dask task per frame).
    scheduler : str, optional
        A running Dask scheduler's address; default a local cluster of ``n_workers`` processes.
    n_workers : int, optional
        The local cluster's workers (default: one fewer than the cores, at least one: this process
        runs the shared study meanwhile).
    storage, study_name : str, optional
        A PostgreSQL URL for the shared study: ``rewardscope worker`` processes join it (``work_series``),
        a rerun resumes it there.
    """

    per_frame: bool = True
    scheduler: str | None = None
    n_workers: int | None = None
    storage: str | None = None
    study_name: str | None = None


@dataclass(frozen=True)
class SeriesAnalysis:
    """The outcome of ``analyze_series``.

    Parameters
    ----------
    config : Config
        The shared setting.
    reward : float
        Its series reward (the mean of its frames').
    frames : list of dict
        Per frame (``frames.csv``): what it shows with the shared classes, its own optimum, its truth.
    compositions : list of dict
        Per composition (``series.csv``): mean and spread over its frames, the truth beside.
    classes : list of dict
        The shared classes: ``label``, ``name``, ``phase``, ``cells``.
    drops : list of dict
        The compositions where the best reward drops (``REWARD_DROP``), and by how much.
    trials : list of dict
        Every trial of the shared study (``optimize.trial_records``).
    failed : list of dict
        The frames that could not be read or analyzed, with the reason.
    results : list of workflow.Result
        The frames' results of the shared setting, in the order of ``frames`` that were analyzed.
    seconds : float
        The time taken.
    """

    config: Config
    reward: float
    frames: list
    compositions: list
    classes: list
    drops: list
    trials: list
    failed: list
    results: list
    seconds: float


def analyze_series(
    inputs: SeriesInputs,
    plan: AnalysisPlan | None = None,
    *,
    out=None,
    run: SeriesRun | None = None,
    allow_mixed: bool = False,
    overwrite: bool = False,
    restart: bool = False,
    progress: bool = True,
) -> SeriesAnalysis:
    """Analyze a series as one: a shared setting and classes, each frame's own optimum, what it shows.

    Parameters
    ----------
    inputs : SeriesInputs
        The frames (``read_series``, or built from synthetic scenes).
    plan : AnalysisPlan, optional
        What to search, as for ``analyze`` (its ``objectives`` and ``reference`` are for single frames).
    out : path, optional
        Folder for series.html, series.csv, frames.csv, series.json, series.png and frames/NAME/ (each
        frame's own analysis); built in ``out.partial``, where a rerun resumes.
    run : SeriesRun, optional
        Per-frame optima, Dask scheduler and workers, shared storage.
    allow_mixed : bool, default False
        Accept frames whose pixel sizes or periods differ by more than ``MIXED_TOLERANCE``.
    overwrite, restart, progress : bool
        As for ``analyze``.

    Returns
    -------
    SeriesAnalysis

    Raises
    ------
    RewardscopeError
        On a bad plan or output folder, mixed frames, or when no frame can be analyzed.
    """
    from . import outputs
    from .optimize import best_params, open_storage, optimize, trial_records
    from .workflow import find_and_judge, resume_folder, search_space, shared_study

    start = time.perf_counter()
    plan, run = _series_plan(plan), run or SeriesRun()
    if out is not None:
        files = [file for frame in inputs.frames for file in frame.image.files]
        out = outputs.check_output_folder(out, overwrite=overwrite, inputs=files, command="series")
    shared = None if run.storage is None else open_storage(run.storage)
    judged, failed = _judge_frames(inputs, plan, find_and_judge, allow_mixed)
    plan = plan if shared is None else plan.shared()
    series = SeriesPipeline.of(judged, plan)
    space = search_space(plan, series.period, min(min(f.image.shape) for f, _ in judged))
    spec = _series_spec(judged, plan, shared=shared is not None)
    staging = None if out is None else resume_folder(out, spec, restart, command="series")
    study = (
        None if shared is None else shared_study(shared, spec, plan, run.study_name or "rewardscope-series")
    )
    own = _OwnOptima(judged, plan, staging, run)
    try:
        study = optimize(
            series.score,
            plan.base,
            space,
            n_trials=plan.n_trials,
            storage=None if staging is None else staging / "study.journal",
            seed=plan.seed,
            progress=progress,
            study=study,
        )
        config = _chosen(study, plan, space, best_params)
        results = series.results(config)
        own_rows = own.gather(progress)
    finally:
        own.close()
    analysis = summarize(
        [f for f, _ in judged], series, config, results, own_rows, inputs.truth, trials=trial_records(study)
    )
    analysis = replace(
        analysis, failed=inputs.failed + failed + own.failed, seconds=time.perf_counter() - start
    )
    if staging is not None:
        from .report import write_series_report

        write_series_report(analysis, staging)
        outputs.move_into_place(staging, out, "series")
        logger.info("series written to %s", out)
    return analysis


def _chosen(study, plan: AnalysisPlan, space, best_params) -> Config:
    """The shared setting: the study's best, or one phase (one class) where no setting scored above 0."""
    chosen = space.applied(best_params(study))
    if study.best_value is not None and study.best_value <= 0:  # no map of the series passed its gates
        chosen = {**space.applied(study.trials[0].params), "n_classes": 1}
    if not uses_patches(chosen.get("descriptor", space.descriptors[0])):
        chosen["window"] = None  # moot without patches
    return replace(plan.base, **chosen)


def _series_plan(plan: AnalysisPlan | None) -> AnalysisPlan:
    """The plan, resolved for images and checked for a series."""
    plan = (plan or AnalysisPlan()).resolved(blank=False)
    if plan.objectives:
        raise RewardscopeError("a series optimizes the combined reward: --objectives is for one frame")
    if plan.reference is not None:
        raise RewardscopeError(
            "a series measures P from each cell's own A corners: --reference is for one frame"
        )
    if plan.uses_vae:
        from .learn.vae import require_torch

        require_torch()
    return plan


def _judge_frames(
    inputs: SeriesInputs, plan: AnalysisPlan, find_and_judge, allow_mixed: bool
) -> tuple[list, list]:
    """Each frame's columns, found and judged (a frame that fails is listed with the reason); the frames
    checked alike (``check_alike``)."""
    judged, failed = [], []
    package = logging.getLogger("rewardscope")
    for frame in inputs.frames:
        level = package.level
        package.setLevel(max(level, logging.WARNING))  # one line per frame, not the detector's narrative
        try:
            pipeline, frame_plan, _, warnings = find_and_judge(frame.image, plan, progress=False)
        except RewardscopeError as error:
            failed.append({"frame": frame.name, "file": frame.image.source, "reason": error.cli_message})
            continue
        finally:
            package.setLevel(level)
        columns = pipeline.columns(frame_plan.base)
        logger.info(
            "%s (%g%% Sm): %d cells, period %.2f px",
            frame.name,
            frame.composition,
            columns.counts["B"],
            columns.period,
        )
        for warning in warnings:
            logger.warning("%s: %s", frame.name, warning)
        judged.append((frame, columns))
    if not judged:
        raise RewardscopeError(f"no frame of the series could be analyzed: {failed[0]['reason']}")
    names, sizes = [f.name for f, _ in judged], [f.image.pixel_size for f, _ in judged]
    check_alike(names, sizes, [c.period for _, c in judged], allow_mixed)
    return judged, failed


def _series_spec(judged: list, plan: AnalysisPlan, shared: bool = False) -> dict:
    """What defines a series study: each frame's digest and composition, and the plan; and how a worker
    reads the frames again (a shared study's frames must be files)."""
    from .workflow import image_digest

    if shared and not all(f.image.meta.get("read") for f, _ in judged):
        raise RewardscopeError(
            "a shared series study needs its frames as files its workers can read; write the synthetic"
            " series with `rewardscope synth series` and give its folder"
        )
    return {
        "series": {f.name: [image_digest(f.image), f.composition] for f, _ in judged},
        "plan": plan.to_dict(),
        "read": {
            f.name: f.image.meta.get("read") for f, _ in judged
        },  # how a worker reads them (not compared)
    }


def work_series(
    study, spec: dict, *, progress: bool = True, device: str = "auto", threads: int | None = SHARED_THREADS
) -> int:
    """Score trials of a shared series study until its budget is spent (``rewardscope worker`` on a study
    that ``rewardscope series --storage`` began).

    Every frame is read again from the path the study names and checked against its digest; its columns are
    found as the series found them, and the trials scored as ``SeriesPipeline.score`` scores them.

    Parameters
    ----------
    study : optuna.Study
        The shared study.
    spec : dict
        Its rewardscope attributes (``_series_spec``).
    progress : bool
        A progress bar of the study's trials.
    device, threads
        Where this worker's VAEs train, and the CPU threads of each trial (``workflow.work``).

    Returns
    -------
    int
        The number of settings this worker scored.

    Raises
    ------
    RewardscopeError
        When a frame cannot be read here, has changed, or fails its gates here.
    """
    from .workflow import find_and_judge, image_of, score_shared, search_space

    plan = replace(AnalysisPlan.from_dict(spec["plan"]), device=device, threads=threads)
    frames = []
    for name, (digest, _) in spec["series"].items():
        image = image_of({"read": spec["read"][name], "image": digest}, study.study_name)
        pipeline, frame_plan, _, _ = find_and_judge(image, plan, progress=False)
        frames.append((image, pipeline.columns(frame_plan.base)))
    series = SeriesPipeline(frames, weights=plan.weights, device=plan.device, threads=plan.threads)
    space = search_space(plan, series.period, min(min(image.shape) for image, _ in frames))
    return score_shared(study, plan, space, series.score, progress)


def own_optimum(image: Image, out: str | None, plan: AnalysisPlan) -> dict:
    """A frame's own optimum, analyzed into ``out`` as ``rewardscope analyze`` would (a Dask task).

    Returns
    -------
    dict
        ``batch.finished_row`` of the frame (without ``out``: its setting and reward), or ``status``
        failed and its ``reason``.
    """
    from .batch import finished_row
    from .workflow import analyze

    start = time.perf_counter()
    try:  # the frames share the machine's cores, one Dask worker each: one CPU thread a frame unless told
        analysis = analyze(image, plan.shared(), out=out, progress=False)
    except (RewardscopeError, OSError, ValueError) as error:
        return {"status": "failed", "reason": " ".join(str(error).split())}
    if out is not None:
        return finished_row(image.source, Path(out), time.perf_counter() - start)
    config = analysis.config
    return {
        "status": "done",
        "descriptor": config.descriptor,
        "window": config.window,
        "n_classes": config.n_classes,
        "learner": config.learner,
        "reward": analysis.result.reward,
    }


class _OwnOptima:
    """The frames' own optima: finished ones read back, the others running on Dask meanwhile."""

    def __init__(self, judged: list, plan: AnalysisPlan, staging: Path | None, run: SeriesRun):
        from .batch import finished_row

        self.rows: dict[str, dict] = {}
        self.failed: list[dict] = []
        self.futures: dict = {}
        self.client = self.cluster = None
        if not run.per_frame:
            return
        targets = {f.name: (f, None if staging is None else staging / "frames" / f.name) for f, _ in judged}
        for name, (frame, target) in targets.items():
            if target is not None and (target / "summary.json").is_file():  # resumed: done before
                self.rows[name] = finished_row(frame.image.source, target)
        todo = {name: pair for name, pair in targets.items() if name not in self.rows}
        if not todo:
            return
        import os

        from .batch import connect

        workers = run.n_workers or max(1, (os.cpu_count() or 2) - 1)
        self.client, self.cluster = connect(run.scheduler, workers)
        if staging is not None:
            (staging / "frames").mkdir(exist_ok=True)
        for name, (frame, target) in todo.items():
            where = str(target) if target is not None else None
            self.futures[name] = self.client.submit(
                own_optimum,
                frame.image,
                where,
                plan,
                pure=False,
                key=f"own-{name}",
            )

    def gather(self, progress: bool) -> dict[str, dict]:
        """Every frame's own optimum (waiting for those still running); the failed listed in ``failed``."""
        from .progress import progress_bar

        for name, future in progress_bar(
            self.futures.items(),
            total=len(self.futures),
            desc="own optima",
            unit="frame",
            disable=not progress,
        ):
            row = future.result()
            if row["status"] == "failed":
                self.failed.append({"frame": name, "file": "", "reason": f"own optimum: {row['reason']}"})
            else:
                self.rows[name] = row
        return self.rows

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def phase_of(name: str) -> str:
    """The phase a class's plain name (``explain.name_class``) says: one of ``PHASES``, or other.

    Examples
    --------
    >>> phase_of("polar, P along +a+b"), phase_of("uniform offset of B along -b (...)"), phase_of("antipolar")
    ('polar', 'offset', 'antipolar')
    """
    if name.startswith("uniform offset"):
        return "offset"
    for phase in ("polar", "antipolar", "paraelectric"):
        if name.startswith(phase):
            return phase
    return "other"


def shared_classes(explained: list[list[dict]]) -> list[dict]:
    """The shared classes named over the series: each the name most of its cells' frames give it.

    Parameters
    ----------
    explained : list of list of dict
        Per frame, ``explain.explain_classes`` of its map of the shared classes.

    Returns
    -------
    list of dict
        Per class: ``label``, ``name``, ``phase`` and ``cells`` (over all frames).
    """
    classes = []
    for k in range(len(explained[0])):
        votes: dict[str, int] = {}
        for entries in explained:
            votes[entries[k]["name"]] = votes.get(entries[k]["name"], 0) + entries[k]["cells"]
        name = max(votes, key=lambda n: votes[n]) if any(votes.values()) else "empty"
        classes.append({"label": k, "name": name, "phase": phase_of(name), "cells": sum(votes.values())})
    return classes


def frame_phases(entries: list[dict], classes: list[dict]) -> list[str]:
    """The phase of each shared class in one frame: what the frame's own cells of it say, where it holds
    ``rewards.MIN_CLASS_CELLS`` of them, else the series' name (a few stray cells are no evidence).

    A class is named by the cells of each frame because one class may hold one phase here and another there:
    a one-class series of a paraelectric frame and a frame with a uniform B offset is both.
    """
    return [
        phase_of(entry["name"]) if entry["cells"] >= rewards.MIN_CLASS_CELLS else shared["phase"]
        for entry, shared in zip(entries, classes)
    ]


def frame_row(frame: SeriesFrame, result: Result, geometry, classes: list[dict], phases: list[str]) -> dict:
    """What one frame shows with the shared classes: shares, ``|P|``, lattice, antipolar order, walls, reward.

    ``phases`` are the classes' phases in this frame (``frame_phases``). Lengths in pm where the frame is
    calibrated (NaN otherwise), and always in px.
    """
    rows = np.flatnonzero(result.labels >= 0)
    labels = result.labels[rows]
    scale = frame.image.pixel_size or float("nan")
    p = geometry.p_magnitude[rows]
    row: dict = {"frame": frame.name, "composition": frame.composition, "status": "done"}
    for entry in classes:
        row[f"class_{entry['label']}_share"] = float(np.mean(labels == entry["label"]))
    for phase in PHASES:
        members = [c["label"] for c, named in zip(classes, phases) if named == phase]
        row[f"{phase}_share"] = float(np.mean(np.isin(labels, members)))
    polar = np.isin(labels, [c["label"] for c, named in zip(classes, phases) if named == "polar"])
    measures = {
        "mean_abs_p": finite_stat(p),
        "abs_p_spread": finite_stat(p, np.nanstd),
        "polar_abs_p": finite_stat(p[polar]),
        "a": finite_stat(geometry.a[rows]),
        "b": finite_stat(geometry.b[rows]),
        "antipolar_order": finite_stat(np.abs(geometry.antipolar[rows])),
    }
    for name, value in measures.items():
        row[f"{name}_px"], row[f"{name}_pm"] = value, value * scale
    row["angle_deg"] = finite_stat(geometry.angle[rows])
    row["cell_area_px2"] = finite_stat(geometry.area[rows])
    row["cell_area_pm2"] = row["cell_area_px2"] * scale**2
    row["wall_density"] = float(result.walls.mask.sum() / max(len(rows), 1))  # wall cells per cell
    row["straightness"] = float(result.components["straightness"])
    row["continuity"] = float(result.components["continuity"])
    row["reward"] = float(result.reward)
    row["cells"] = int(len(rows))
    return row


def summarize(
    frames: list[SeriesFrame],
    series: SeriesPipeline,
    config: Config,
    results: list[Result],
    own: dict[str, dict],
    truth: dict | None,
    trials: list,
) -> SeriesAnalysis:
    """The series analysis of the shared setting's results: frame rows, composition rows, classes, drops."""
    from .explain import explain_classes

    explained, geometries = [], []
    for frame, pipeline, result in zip(frames, series.frames, results):
        geometry = pipeline.geometry(config)
        geometries.append(geometry)
        window = pipeline.window(config)
        explained.append(explain_classes(result, geometry, frame.image.data, window, frame.image.pixel_size))
    classes = shared_classes(explained)
    rows = []
    for frame, result, geometry, entries in zip(frames, results, geometries, explained):
        row = frame_row(frame, result, geometry, classes, frame_phases(entries, classes))
        present = sum(row[f"class_{c['label']}_share"] >= rewards.MIN_SHARE for c in classes)
        row.update(_own_columns(own.get(frame.name), config, present))
        row.update({f"truth_{k}": v for k, v in (truth or {}).get(frame.name, {}).items() if k != "frame"})
        rows.append(row)
    compositions = by_composition(rows)
    reward = float(np.mean([r.reward for r in results]))
    return SeriesAnalysis(
        config, reward, rows, compositions, classes, reward_drops(compositions), trials, [], results, 0.0
    )


def _own_columns(own: dict | None, config: Config, present: int) -> dict:
    """A frame's own optimum beside the shared setting, and whether it prefers another: another descriptor
    or window, or another number of classes than the ``present`` shared ones it holds (a frame at 0% Sm
    holds two of three and is content with two)."""
    if own is None:
        return {"own_reward": float("nan"), "own_setting": "", "prefers_other": False}
    window = f", window {own['window']}" if own.get("window") not in (None, "") else ""
    setting = f"{own['descriptor']}{window}, {counted(int(own['n_classes']), 'class', 'classes')}"
    other = (own["descriptor"], own["n_classes"]) != (config.descriptor, present) or (
        uses_patches(config.descriptor) and own.get("window") != config.window
    )
    return {"own_reward": float(own["reward"]), "own_setting": setting, "prefers_other": bool(other)}


def by_composition(rows: list[dict]) -> list[dict]:
    """The frames' numeric columns per composition: ``NAME_mean`` and ``NAME_sd`` over its frames.

    Examples
    --------
    >>> rows = [{"composition": 0.0, "x": 1.0}, {"composition": 0.0, "x": 3.0}]
    >>> rows.append({"composition": 7.0, "x": 2.0})
    >>> [(r["composition"], r["frames"], r["x_mean"], r["x_sd"]) for r in by_composition(rows)]
    [(0.0, 2, 2.0, 1.0), (7.0, 1, 2.0, 0.0)]
    """
    out = []
    for composition in sorted({r["composition"] for r in rows}):
        group = [r for r in rows if r["composition"] == composition]
        entry: dict = {"composition": composition, "frames": len(group)}
        numeric = [k for k, v in group[0].items() if isinstance(v, float) and k != "composition"]
        for key in numeric:
            values = np.array([r.get(key, np.nan) for r in group], float)
            entry[f"{key}_mean"] = finite_stat(values)
            entry[f"{key}_sd"] = finite_stat(values, np.nanstd)
        out.append(entry)
    return out


def reward_drops(compositions: list[dict], drop: float = REWARD_DROP) -> list[dict]:
    """The compositions whose best reward falls more than ``drop`` below the series' highest.

    The best reward of a composition is its frames' own optima's mean (the shared setting's where none was
    searched): where it drops, the straight, continuous walls the reward asks for are not there.

    Examples
    --------
    >>> rows = [{"composition": c, "own_reward_mean": r} for c, r in [(0, 0.8), (10, 0.75), (20, 0.4)]]
    >>> [(d["composition"], round(d["fall"], 2)) for d in reward_drops(rows)]
    [(20, 0.5)]
    """
    best = [
        r.get("own_reward_mean") if np.isfinite(r.get("own_reward_mean", np.nan)) else r.get("reward_mean")
        for r in compositions
    ]
    scored = [(b, r) for b, r in zip(best, compositions) if b is not None and np.isfinite(b)]
    if not scored or max(scored, key=lambda t: t[0])[0] <= 0:
        return []
    top, highest = max(scored, key=lambda t: t[0])
    return [
        {
            "composition": r["composition"],
            "reward": b,
            "highest": top,
            "highest_at": highest["composition"],
            "fall": 1 - b / top,
            "straightness": r.get("straightness_mean", float("nan")),
            "straightness_at_highest": highest.get("straightness_mean", float("nan")),
        }
        for b, r in scored
        if b < (1 - drop) * top
    ]


def demo_inputs(*, seed: int = 0, **overrides) -> SeriesInputs:
    """The embedded synthetic series (``synthetic.synthesize_series``) as a series to analyze, truth known.

    Parameters
    ----------
    seed : int, default 0
        The series' seed.
    **overrides
        Arguments of ``synthesize_series`` (``compositions``, ``frames_per_composition``) and
        ``SceneSpec`` fields (dose, size, ...).

    Returns
    -------
    SeriesInputs

    Examples
    --------
    >>> inputs = demo_inputs(compositions=(0, 20), frames_per_composition=1, size=96)
    >>> [(f.name, f.composition) for f in inputs.frames], round(inputs.truth["Sm_20_0"]["polar_share"], 2)
    ([('Sm_0_0', 0.0), ('Sm_20_0', 20.0)], 0.65)
    """
    from .synthetic import synthesize_series

    frames = synthesize_series(seed=seed, **overrides)
    truth = {f.name: {k: (v if k == "frame" else float(v)) for k, v in f.truth_row().items()} for f in frames}
    return SeriesInputs([SeriesFrame(f.name, f.composition, f.scene.image) for f in frames], truth=truth)
