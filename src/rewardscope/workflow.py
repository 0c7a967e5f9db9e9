"""The workflow: the one place that knows the order of the stages.

``Pipeline`` runs the stages on one image and caches each on the config fields
it reads, so an optimizer trial that changes only the number of classes reuses
the columns, the lattice and the patches. ``analyze`` optimizes the
hyperparameters by reward and returns the best result.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, fields, replace

import numpy as np

from . import outputs, rewards
from .atoms import Columns, find_columns
from .config import (
    MAX_B_DISPLACEMENT,
    MAX_B_FITS_FAILED,
    MIN_DETECTION_QUALITY,
    Config,
    is_vae,
    stage_key,
    uses_patches,
)
from .descriptors import balanced, frame_edge, patches, physical, pooled, within_frame
from .errors import RewardscopeError
from .io import Image, as_image
from .lattice import CellGeometry, Lattice, cell_geometry, index_columns, to_grid
from .learn import (
    ClassEvidence,
    PatchVAE,
    PCAGaussianMixture,
    VAEClassifier,
    class_evidence,
    potts_mean_field,
    split_evidence,
)
from .learn.vae import cpu_threads, require_torch, torch_device
from .optimize import (
    STUDY_NAME,
    SearchSpace,
    best_params,
    gp_sampler,
    open_storage,
    open_study,
    optimize,
    startup_trials,
    trial_records,
)
from .plan import SHARED_THREADS, AnalysisPlan
from .walls import Walls, find_walls

logger = logging.getLogger(__name__)
# The class-evidence rewards compare k with every count from 1 to this (k beyond it scores 0).
EVIDENCE_K_MAX = 8
# A VAE in the search trains on at most this many cells (every cell is encoded) and stops once the held-out
# tenth's loss has not fallen for this many epochs (``learn.vae.PatchVAE``): see docs/vae.md for the times.
VAE_TRAINING = {"max_train": 3000, "patience": 5}


@dataclass(frozen=True)
class Result:
    """Everything one configuration produced, per column and per cell."""

    config: Config
    columns: Columns
    lattice: Lattice
    labels: np.ndarray  # (n columns,) class of each B column; -1 for A and unclassified
    label_grid: np.ndarray  # (rows, cols) class per cell, -1 where unclassified
    walls: Walls
    reward: float
    components: dict
    unsmoothed_grid: np.ndarray | None = (
        None  # the learner's own classes per cell, where a Potts prior then smoothed them
    )


class Pipeline:
    """The stages of the workflow on one image, each cached on the config fields it reads."""

    def __init__(
        self,
        image: Image,
        *,
        weights: dict | None = None,
        objectives=None,
        all_components: bool = False,
        columns: Columns | None = None,
        device: str = "auto",
        threads: int | None = None,
    ):
        self.image = image
        self.device = device  # where a VAE trains (``learn.vae.torch_device``), resolved when one does
        self.threads = (
            threads  # CPU threads of each scored trial (``learn.vae.cpu_threads``; None: untouched)
        )
        # Columns brought from elsewhere (positions): used as they are, whatever the detector settings.
        self.given = columns
        self.weights = weights
        # The class-evidence components fit mixtures of every k: only when weighted, optimized, or asked for.
        needed = {name for name, w in (weights or {}).items() if w > 0} | set(objectives or ())
        self.with_evidence = all_components or bool(needed & set(rewards.EVIDENCE))
        self.timings: dict[str, float] = defaultdict(float)
        self.calls: Counter = Counter()
        self._cache: dict[tuple, object] = {}

    def _cached(self, stage: str, config: Config, compute, name: str | None = None):
        """``compute()``, once per value of the config fields ``stage`` depends on; kept (and timed) as
        ``name``."""
        name = name or stage
        key = (name, stage_key(config, stage))
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = compute()
            self.timings[name] += time.perf_counter() - start
            self.calls[name] += 1
        return self._cache[key]

    def columns(self, config: Config) -> Columns:
        if self.given is not None:
            return self.given
        return self._cached(
            "atoms",
            config,
            lambda: find_columns(
                self.image.data,
                column_sigma=config.column_sigma,
                threshold=config.threshold,
                refine=config.refine,
                contrast=config.contrast,
                a_site=config.a_site,
            ),
        )

    def lattice(self, config: Config) -> Lattice:
        return self._cached("lattice", config, lambda: index_columns(self.columns(config)))

    def window(self, config: Config) -> int:
        """Patch side in px: the config's, or 1.5 lattice periods rounded to an even number."""
        if config.window is not None:
            return int(config.window)
        return int(2 * round(0.75 * self.columns(config).period))

    def geometry(self, config: Config) -> CellGeometry:
        return self._cached(
            "geometry", config, lambda: cell_geometry(self.columns(config), self.lattice(config))
        )

    def classified_rows(self, config: Config) -> np.ndarray:
        """Rows of the columns that get a class: the indexed B columns whose fit converged (with a measured
        polarization, or a whole cell, where the descriptor needs them)."""
        columns, lattice = self.columns(config), self.lattice(config)
        rows = (columns.sublattice == "B") & (lattice.ij[:, 0] >= 0) & columns.usable
        if (
            "polarization" in config.descriptor
        ):  # measured from four A corners, or three (a cell the frame cuts)
            rows &= np.all(np.isfinite(lattice.polarization), axis=1)
        if (
            "lattice" in config.descriptor
        ):  # the cell's shape needs its four corners, the antipolar order a neighbouring cell along a
            geometry = self.geometry(config)
            rows &= np.isfinite(geometry.a) & np.isfinite(geometry.antipolar)
        rows = np.flatnonzero(rows)
        if len(rows) < 4:
            raise RewardscopeError(
                f"only {len(rows)} B columns could be indexed; too few unit cells to classify"
            )
        return rows

    def descriptor_blocks(self, config: Config) -> list[np.ndarray]:
        """The descriptor's blocks of the classified cells (patches, P, lattice), before balancing and
        pooling."""

        def compute():
            rows = self.classified_rows(config)
            columns = self.columns(config)
            blocks = []
            if uses_patches(config.descriptor):
                blocks.append(patches(self.image.data, columns.xy[rows], self.window(config)))
            for kind in ("polarization", "lattice"):
                if kind in config.descriptor:
                    geometry = {k: v[rows] for k, v in self.geometry(config).as_dict().items()}
                    blocks.append(
                        physical(kind, self.lattice(config).polarization[rows], geometry, columns.period)
                    )
            return blocks

        return self._cached("descriptors", config, compute)

    def descriptors(self, config: Config) -> np.ndarray:
        def compute():
            blocks = self.descriptor_blocks(config)
            X = blocks[0] if len(blocks) == 1 else balanced(*blocks)
            return pooled(X, self.lattice(config).ij[self.classified_rows(config)], config.pooling)

        return self._cached("descriptors", config, compute, name="pooling")

    def autoencoder(self, config: Config) -> PatchVAE | None:
        """The VAE of the patches for the vae and rvae learners (trained once for every number of classes)."""
        if config.learner not in ("vae", "rvae"):
            return None
        return self._cached(
            "embedding",
            config,
            lambda: PatchVAE(
                config.learner,
                latent_dim=config.latent_dim,
                beta=config.beta,
                epochs=config.epochs,
                symmetry=config.symmetry,
                random_state=config.seed,
                device=torch_device(self.device),
                threads=self.threads,
                **VAE_TRAINING,
            ).fit(self.descriptors(config)),
        )

    def whole_patches(self, config: Config) -> np.ndarray:
        """For each classified cell, whether its patch lies wholly inside the frame."""
        return within_frame(
            self.columns(config).xy[self.classified_rows(config)], self.window(config), self.image.shape
        )

    def reference(self, config: Config) -> np.ndarray:
        """The classified cells a learner is fitted on (the others are assigned): those whose patch lies
        wholly in the frame, for descriptors with patches; every cell for the physical ones."""
        if uses_patches(config.descriptor):
            return self.whole_patches(config)
        return np.ones(len(self.classified_rows(config)), bool)

    def split(self, config: Config) -> float:
        """Evidence that the cells form more than one class: ``learn.split_evidence`` of the best two-class
        split of the same descriptors (and learner), on the cells the learner was fitted on."""
        model = self.learner(replace(config, n_classes=2))
        reference = self.reference(config)
        ij = self.lattice(config).ij[self.classified_rows(config)]
        return self._cached(
            "evidence",
            config,
            lambda: split_evidence(model.scores_[reference], model.labels_[reference], ij[reference]),
            name="split",
        )

    def embedding(self, config: Config) -> np.ndarray:
        """What the classes are found in: the descriptors, or the VAE's embedding of the patches."""
        vae = self.autoencoder(config)
        return (
            self.descriptors(config)
            if vae is None
            else vae.embedding(self.descriptors(config), reference=self.whole_patches(config))
        )

    def evidence(self, config: Config) -> ClassEvidence:
        """BIC and ICL for 1..8 classes and the Bayesian mixture's effective number of classes."""
        return self._cached(
            "evidence",
            config,
            lambda: class_evidence(
                self.embedding(config),
                k_max=EVIDENCE_K_MAX,
                pca_dim=config.pca_dim,
                random_state=config.seed,
            ),
        )

    def learner(self, config: Config) -> PCAGaussianMixture | VAEClassifier:
        return self._cached(
            "learn",
            config,
            lambda: fit_learner(
                config,
                self.descriptors(config),
                self.reference(config),
                self.whole_patches(config),
                self.autoencoder(config),
                device=self.device,
                threads=self.threads,
            ),
        )

    def edge_cells(self, config: Config) -> np.ndarray:
        """For each classified cell, whether it lies within half a window of the frame's border (its patch,
        or its pooled neighbours', cut by the frame)."""
        rows, columns, lattice = self.classified_rows(config), self.columns(config), self.lattice(config)
        # Half a window from the border: the patch's, or without patches the default 1.5 periods (whatever the
        # trial's moot window).
        margin = self.window(config if uses_patches(config.descriptor) else replace(config, window=None))
        return frame_edge(columns.xy[rows], lattice.ij[rows], margin, self.image.shape, config.pooling)

    def score(self, config: Config) -> tuple[float, dict]:
        """The reward of ``config`` and its components: what the optimizer maximizes (on ``threads``
        CPU threads, where they are set)."""
        with cpu_threads(self.threads):
            result = self.run(config)
        return result.reward, result.components

    def run(self, config: Config) -> Result:
        """Every stage for ``config``; walls and rewards are cheap and not cached."""
        # Stage by stage, so that each is computed (and timed) on its own, not inside the next.
        columns, lattice = self.columns(config), self.lattice(config)
        rows = self.classified_rows(config)
        self.descriptor_blocks(config)
        self.descriptors(config)
        self.autoencoder(config)
        model = self.learner(config)
        cell_labels, probabilities = model.labels_, model.probabilities_
        if config.smoothing > 0:  # a Potts prior on the cell grid: neighbours vote
            start = time.perf_counter()
            probabilities = potts_mean_field(model.probabilities_, lattice.ij[rows], config.smoothing)
            cell_labels = np.argmax(probabilities, axis=1)
            self.timings["smoothing"] += time.perf_counter() - start
        labels = np.full(len(columns), -1)
        labels[rows] = cell_labels
        grid = to_grid(lattice.ij[rows], cell_labels, lattice.grid_shape)
        start = time.perf_counter()
        walls = find_walls(grid)
        self.timings["walls"] += time.perf_counter() - start
        evidence = self.evidence(config) if self.with_evidence else None  # timed as its own stage
        split = self.split(config) if config.n_classes >= 2 else None
        start = time.perf_counter()
        edge = self.edge_cells(config)
        reward, components = rewards.evaluate(
            walls,
            cell_labels,
            model.scores_,
            config.n_classes,
            self.weights,
            label_grid=grid,
            probabilities=probabilities,
            evidence=evidence,
            edge=edge,
            split=split,
        )
        self.timings["rewards"] += time.perf_counter() - start
        unsmoothed = (
            to_grid(lattice.ij[rows], model.labels_, lattice.grid_shape) if config.smoothing > 0 else None
        )
        return Result(config, columns, lattice, labels, grid, walls, reward, components, unsmoothed)


def fit_learner(
    config: Config,
    X: np.ndarray,
    reference: np.ndarray,
    whole: np.ndarray,
    vae: PatchVAE | None = None,
    device: str = "auto",
    threads: int | None = None,
) -> PCAGaussianMixture | VAEClassifier:
    """The config's learner fitted on descriptors ``X``.

    Parameters
    ----------
    config : Config
        Gives the learner, the number of classes and their settings.
    X : (n, d) array
        The cells' descriptors.
    reference : (n,) bool array
        The cells a Gaussian mixture is fitted on (the others are assigned).
    whole : (n,) bool array
        The cells whose patch the frame does not cut (a VAE's mixture is fitted on them).
    vae : PatchVAE, optional
        A trained VAE of the patches to reuse.
    device : str, default "auto"
        Where a VAE trains (``learn.vae.torch_device``).
    threads : int, optional
        Torch's CPU threads while it trains (default torch's own).

    Returns
    -------
    PCAGaussianMixture or VAEClassifier
        Fitted: ``labels_``, ``probabilities_`` and ``scores_`` of every row of ``X``.

    Raises
    ------
    RewardscopeError
        If there are fewer cells than classes.
    """
    if config.n_classes > len(X):
        raise RewardscopeError(f"`n_classes`={config.n_classes} exceeds the {len(X)} classified cells")
    if not is_vae(config.learner):
        return PCAGaussianMixture(config.n_classes, pca_dim=config.pca_dim, random_state=config.seed).fit(
            X, reference
        )
    return VAEClassifier(
        config.n_classes,
        kind=config.learner,
        vae=vae,
        random_state=config.seed,
        latent_dim=config.latent_dim,
        beta=config.beta,
        epochs=config.epochs,
        symmetry=config.symmetry,
        device=torch_device(device),
        threads=threads,
        **VAE_TRAINING,
    ).fit(X, whole)


@dataclass(frozen=True)
class Analysis:
    """The outcome of ``analyze``: the best result, every trial, and the provenance."""

    result: Result
    trials: list
    space: object
    timings: dict
    seed: int
    n_trials: int
    image: Image
    seconds: float
    detector: dict  # LoG* detection quality, and the Pareto front when the detector was tuned
    geometry: CellGeometry  # per-column cell physics of the best result
    weights: dict  # the reward's component weights
    classes: list  # explain.explain_classes of the best result
    objectives: tuple | None = (
        None  # the components optimized jointly (Pareto front), None for the combined reward
    )
    model: object = None  # the fitted learner of the best result (PCAGaussianMixture or VAEClassifier)
    warnings: tuple = ()  # what the result must be read with (a failed gate let through by force=True)
    phases: dict | None = None  # how many phases, and the evidence: see ``phase_count``
    reference: dict | None = None  # what P is measured from, where a reference was given: see ``relative_to``
    plan: AnalysisPlan | None = None  # what was asked (its base with the tuned detector settings)

    @property
    def config(self) -> Config:
        return self.result.config

    @property
    def plot(self):
        """The report's figures as methods returning matplotlib Figures (``analysis.plot.classes()``,
        ``.walls()``, ``.polarization()``, ...: ``figures.AnalysisPlots``)."""
        from .figures import AnalysisPlots

        return AnalysisPlots(self)

    def to_hyperspy(self) -> dict:
        """The image with its columns as markers, the class map and P as HyperSpy signals
        (``signals.to_hyperspy``; needs the ``hyperspy`` extra)."""
        from .signals import to_hyperspy

        return to_hyperspy(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the answer, the setting, the classes and the class map
        (``report.notebook_html``)."""
        from .report import notebook_html

        return notebook_html(self)


def analyze(
    image: Image | np.ndarray | None,
    plan: AnalysisPlan | None = None,
    *,
    columns: Columns | None = None,
    out=None,
    storage: str | None = None,
    study_name: str | None = None,
    overwrite: bool = False,
    restart: bool = False,
    progress: bool = True,
    **options,
) -> Analysis:
    """Find the columns, then choose descriptor, window and number of classes by maximizing the reward.

    Parameters
    ----------
    image : Image, array, hyperspy.signals.Signal2D or None
        The frame (``io.read_image``, an array, or a HyperSpy signal with its calibration). None with
        ``columns``: positions alone.
    plan : AnalysisPlan, optional
        What to search and how (budget, reward, ranges, learners, spatial priors, reference). Its fields
        may instead be given as keywords (``n_trials=12, n_classes_range=(2, 4)``, ...), not both.
    columns : Columns, optional
        Positions (``Columns.from_positions``) used instead of finding them; the physical descriptors
        are then searched. Without an image, ``canvas(columns, pixel_size)`` as the image calibrates them.
    out : path, optional
        Folder for atoms.csv, summary.json, report.html and its figures. They are built in
        ``out.partial``, which also keeps the optimizer's journal: a run that stops early leaves only
        ``out.partial`` and the next run with the same ``out`` and plan resumes there (``restart``
        starts afresh). ``out`` must be new or hold an earlier rewardscope result (replaced only with
        ``overwrite``; see ``outputs``).
    storage, study_name : str, optional
        A PostgreSQL URL where the study ``study_name`` lives instead, shared with ``work``
        (``rewardscope worker``) on any machine that can read the image file at the same path.
    progress : bool
        Progress bars on the terminal or in the notebook.

    Returns
    -------
    Analysis
        The best result, every trial, the classes explained, and the provenance.

    Raises
    ------
    RewardscopeError
        On a bad plan or output folder (before any work), data without a lattice, or a failed gate
        (low detection quality, B sublattice not resolved) unless the plan's ``force``.

    Examples
    --------
    >>> from rewardscope.synthetic import synthesize
    >>> scene = synthesize("stripes", seed=0, size=160)
    >>> analysis = analyze(scene.image, n_trials=3, descriptors=("polarization",), progress=False)
    >>> analysis.config.descriptor, analysis.plan.n_trials
    ('polarization', 3)
    """
    start = time.perf_counter()
    plan = _plan_from(plan, options)
    image, plan = _frame(image, columns, plan)
    if out is not None:
        given = (columns.decisions or {}).get("given") if columns is not None else None
        inputs = image.files + ((given,) if given else ())
        out = outputs.check_output_folder(out, overwrite=overwrite, inputs=inputs, command="analyze")
    shared = _shared_storage(storage, image, columns)
    plan = plan if shared is None else plan.shared()
    pipeline, plan, detector, warnings = find_and_judge(image, plan, columns, progress)
    space = search_space(plan, pipeline.columns(plan.base).period, min(image.shape))
    spec = study_spec(image, plan, columns)
    study = None if shared is None else shared_study(shared, spec, plan, study_name or STUDY_NAME)
    staging = None if out is None else resume_folder(out, spec, restart)
    journal = None if staging is None else staging / "study.journal"
    study = optimize(
        pipeline.score,
        plan.base,
        space,
        n_trials=plan.n_trials,
        storage=journal,
        seed=plan.seed,
        progress=progress,
        objectives=plan.objectives,
        study=study,
    )
    analysis = conclude(pipeline, study, plan, space, detector=detector, warnings=warnings, start=start)
    if staging is not None:
        from . import report  # (matplotlib: imported only where a report is written)

        report.write(analysis, staging)
        outputs.move_into_place(staging, out, "analyze")
        logger.info("results written to %s", out)
    return analysis


def _plan_from(plan: AnalysisPlan | None, options: dict) -> AnalysisPlan:
    """The plan given, or the one its fields as keywords make; an unknown keyword in one line."""
    known = {f.name for f in fields(AnalysisPlan)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise RewardscopeError(
            f"analyze() got an unknown option {unknown[0]!r}; the plan's are {', '.join(known)}"
        )
    if plan is not None and options:
        raise RewardscopeError(f"give a plan or its options ({', '.join(options)}), not both")
    return plan if plan is not None else AnalysisPlan(**options)


def _frame(image, columns: Columns | None, plan: AnalysisPlan) -> tuple[Image, AnalysisPlan]:
    """The image to analyze (a blank canvas under given positions without one) and the plan for it, checked
    against the frame; torch imported now when a VAE is searched (a missing torch said before any work)."""
    if image is None:
        if columns is None:
            raise RewardscopeError("give an image, or columns (Columns.from_positions) to analyze")
        image = canvas(columns)
    image = as_image(image)
    plan = plan.resolved(blank=bool(image.meta.get("blank")))
    plan.check_image(image.shape)
    if plan.uses_vae:
        require_torch()
        torch_device(plan.device)  # --device cuda without CUDA: said before any work
    if columns is not None and plan.tune_detector:
        raise RewardscopeError("the columns are given: there is no detector to tune")
    return image, plan


def _shared_storage(storage: str | None, image: Image, columns: Columns | None):
    """The shared study's storage, opened now (an unreachable database fails before any work), or None."""
    if storage is None:
        return None
    shared = open_storage(storage)
    if not image.meta.get("read"):
        raise RewardscopeError(
            "a shared study needs the image as a file that its workers can read: pass read_image(path), not"
            " an array"
        )
    if columns is not None:
        raise RewardscopeError(
            "a shared study finds its columns in the image: its workers cannot share given positions"
        )
    return shared


def shared_study(storage, spec: dict, plan: AnalysisPlan, name: str):
    """The shared study ``name``, holding ``spec`` (recorded when new; refused when it was begun
    otherwise)."""
    study = open_study(
        storage,
        seed=plan.seed,
        n_startup=startup_trials(plan.n_trials),
        n_objectives=len(plan.objectives or (None,)),
        study_name=name,
    )
    known = study.user_attrs.get("rewardscope")
    if known is None:
        study.set_user_attr("rewardscope", spec)
    elif changed := spec_differences(known, spec):
        message = f"study {study.study_name!r} was begun with another {changed}; give another"
        raise RewardscopeError(f"{message} study name", cli=f"{message} --study name")
    return study


def find_and_judge(
    image: Image, plan: AnalysisPlan, columns: Columns | None = None, progress: bool = True
) -> tuple[Pipeline, AnalysisPlan, dict, tuple]:
    """Tune the detector (where the plan asks), find the columns and judge them.

    Returns
    -------
    pipeline : Pipeline
        The stages on ``image``, with the columns found (cached).
    plan : AnalysisPlan
        The plan, its base holding the tuned detector settings.
    detector : dict
        Tuning trials and Pareto front, the detector's decisions, the detection quality and the B
        sublattice's figures.
    warnings : tuple of str
        The gates that failed and were let through by the plan's ``force``.
    """
    from .detection import tune_detector

    detector: dict = {"tuned_trials": plan.tune_detector, "pareto_front": None}
    if plan.tune_detector:
        base = plan.base
        params, _, front = tune_detector(
            image.data,
            n_trials=plan.tune_detector,
            seed=plan.seed,
            refine=base.refine,
            progress=progress,
            contrast=base.contrast,
            a_site=base.a_site,
        )
        plan = replace(plan, base=replace(base, **params))
        detector["pareto_front"] = front
    pipeline = Pipeline(
        image,
        weights=plan.weights,
        objectives=plan.objectives,
        columns=columns,
        device=plan.device,
        threads=plan.threads,
    )
    message = (
        "finding atom columns in a %d x %d image" if columns is None else "columns given; a %d x %d frame"
    )
    logger.info(message, *image.shape)
    found = pipeline.columns(plan.base)  # fails early, before anything is written, on data without a lattice
    logger.info("%(A)d A and %(B)d B columns", found.counts)
    logger.info("lattice period %.2f px", found.period)
    detector["decisions"] = found.decisions
    detector["quality"], warnings = judge_detection(found, image.shape, plan.force)
    detector["b_sublattice"], unresolved = judge_b_sublattice(found, pipeline.lattice(plan.base), plan.force)
    pipeline.classified_rows(plan.base)  # too few cells to classify: said now
    return pipeline, plan, detector, warnings + unresolved


def search_space(plan: AnalysisPlan, period: float, image_side: int) -> SearchSpace:
    """The search space of ``plan`` on a lattice of ``period`` px in a frame of ``image_side`` px."""
    assert plan.descriptors is not None  # resolved for the frame (AnalysisPlan.resolved)
    return SearchSpace.for_period(
        period,
        image_side,
        n_classes_range=plan.n_classes_range,
        descriptors=plan.descriptors,
        window_range=plan.window_range,
        learners=plan.learners,
        latent_dim_range=plan.latent_dim_range,
        betas=plan.betas,
        poolings=plan.poolings,
        smoothings=plan.smoothings,
    )


def conclude(
    pipeline: Pipeline,
    study,
    plan: AnalysisPlan,
    space: SearchSpace,
    *,
    detector: dict,
    warnings: tuple,
    start: float,
) -> Analysis:
    """The analysis of a finished study: the best setting rerun (one phase where no map passed its gates),
    measured from the plan's reference, its classes explained."""
    from .explain import explain_classes

    chosen = space.applied(best_params(study))
    if not uses_patches(chosen.get("descriptor", space.descriptors[0])):
        chosen["window"] = None  # moot without patches: say so rather than report the trial's number
    best = pipeline.run(replace(plan.base, **chosen))
    trials = trial_records(study)
    for trial in trials:
        trial["params"] = space.applied(trial["params"])  # as it was run (a VAE named with P: gmm)
        refused = rewards.refusal(trial["components"]) or "one class present or no wall"
        trial["refused"] = refused if trial["reward"] <= 0 else None
    phases = phase_count(best, trials)
    if (
        best.reward <= 0
    ):  # no map of two or more classes passed its gates: one phase (the first setting tried)
        best = pipeline.run(replace(plan.base, **{**trials[0]["params"], "n_classes": 1}))
    image, referenced = pipeline.image, None
    if plan.reference is not None:
        best, referenced = relative_to(best, plan.reference, image.pixel_size)
    geometry = (
        pipeline.geometry(best.config) if referenced is None else cell_geometry(best.columns, best.lattice)
    )
    window = pipeline.window(best.config)
    return Analysis(
        result=best,
        trials=trials,
        space=space,
        timings=dict(pipeline.timings),
        seed=plan.seed,
        n_trials=plan.n_trials,
        image=image,
        seconds=time.perf_counter() - start,
        detector=detector,
        geometry=geometry,
        weights=rewards.with_defaults(plan.weights),  # (the plan's, already whole: typed as a dict)
        classes=explain_classes(
            best, geometry, image.data, window, image.pixel_size, referenced=bool(referenced)
        ),
        objectives=plan.objectives,
        model=pipeline.learner(best.config),
        warnings=warnings,
        phases=phases,
        reference=referenced,
        plan=plan,
    )


def relative_to(result: Result, reference, pixel_size: float | None) -> tuple[Result, dict]:
    """The result with every B's polarization measured from the mean of the reference's cells (a class of
    the map, or the cells in a region), and what was subtracted."""
    columns, lattice = result.columns, result.lattice
    p = lattice.polarization
    measured = (columns.sublattice == "B") & np.all(np.isfinite(p), axis=1)
    if isinstance(reference, (int, np.integer)):
        if reference >= result.config.n_classes:
            k = result.config.n_classes
            has = (
                f"the chosen map has {k} class{'es' if k != 1 else ''}"
                f" ({'only 0' if k == 1 else f'0 to {k - 1}'})"
            )
            raise RewardscopeError(
                f"`reference` class {reference}: {has}",
                cli=f"--reference {reference}: {has}; the study is kept: rerun with another --reference",
            )
        rows, what = measured & (result.labels == reference), f"class {reference}"
    else:
        x0, x1, y0, y1 = (float(v) for v in reference)
        x, y = columns.xy.T
        rows, what = (
            measured & (x >= x0) & (x < x1) & (y >= y0) & (y < y1),
            f"the region x {x0:g}:{x1:g}, y {y0:g}:{y1:g} px",
        )
    if rows.sum() < 3:
        raise RewardscopeError(
            f"the reference, {what}, holds {int(rows.sum())} measured cells: at least 3 are needed"
        )
    offset = p[rows].mean(axis=0)
    shifted = np.where((columns.sublattice == "B")[:, None], p - offset, p)
    entry = {
        "reference": what,
        "cells": int(rows.sum()),
        "offset_px": offset.tolist(),
        "offset_pm": (offset * pixel_size).tolist() if pixel_size else None,
    }
    return replace(result, lattice=replace(lattice, polarization=shifted)), entry


def phase_count(best: Result, trials: list[dict]) -> dict:
    """How many classes the image holds, in words and figures: the chosen map's, or one phase when no
    map of two or more classes scored above 0 (each trial's ``refused`` says why: ``rewards.refusal``, or
    a degenerate map), with the strongest evidence for a split that was seen and why it was not enough."""
    if best.reward > 0:
        k = best.config.n_classes
        return {
            "count": k,
            "one_phase": False,
            "split_evidence": best.components.get("split_evidence"),
            "coherence": best.components.get("coherence"),
            "statement": (
                f"{k} classes, {best.walls.n_segments} wall"
                f" segment{'s' if best.walls.n_segments != 1 else ''}"
            ),
        }
    refused = [t for t in trials if t["params"].get("n_classes", 2) >= 2 and t["reward"] <= 0]
    kinds = Counter(t["refused"].split(":")[0] for t in refused)
    strongest = max(
        refused, key=lambda t: np.nan_to_num(t["components"].get("split_evidence", 0.0)), default=None
    )
    why = (
        "; ".join(f"{kind}: {n}" for kind, n in kinds.most_common())
        or "no map of two or more classes was tried"
    )
    return {
        "count": 1,
        "one_phase": True,
        "refusals": dict(kinds),
        "split_evidence": strongest["components"].get("split_evidence") if strongest else None,
        "coherence": max((t["components"].get("coherence", 0.0) for t in refused), default=None),
        "statement": (
            f"one phase, no domain walls: none of the {len(refused)} maps of two or more classes passed the"
            f" gates ({why})"
        ),
    }


def canvas(columns: Columns, pixel_size: float | None = None) -> Image:
    """A blank frame that holds the given columns, for their figures when no image comes with them
    (``pixel_size`` in pm)."""
    shape = tuple(int(np.ceil(v)) + 1 for v in columns.xy[:, ::-1].max(axis=0) + 0.5 * columns.period)
    source = (columns.decisions or {}).get("given", "positions")
    return Image(
        np.zeros(shape),
        pixel_size=pixel_size,
        unit="pm" if pixel_size else "px",
        meta={"source": source, "blank": True},
    )


def judge_detection(columns: Columns, shape, force: bool) -> tuple[dict, tuple]:
    """The LoG* detection quality, logged; below ``MIN_DETECTION_QUALITY`` an error, or with ``force`` a
    warning."""
    from .detection import OBJECTIVES, detection_quality

    decided = columns.decisions or {}
    if decided.get("contrast_asked") == "auto":
        logger.info(
            "%s-column contrast (detection quality %s)",
            decided["contrast"],
            ", ".join(f"{kind} {q:.2f}" for kind, q in decided["quality_by_contrast"].items()),
        )
    quality = detection_quality(columns, shape)
    terms = ", ".join(f"{name} {quality[name]:.2f}" for name in OBJECTIVES)
    logger.info("detection quality %.2f (%s)", quality["quality"], terms)
    if quality["quality"] >= MIN_DETECTION_QUALITY:
        return quality, ()
    message = (
        f"detection quality {quality['quality']:.2f} is below {MIN_DETECTION_QUALITY} ({terms}): the columns"
        " found do not"
        " form a clean lattice (dark-column contrast such as ABF, unresolved or very noisy data, or no"
        " crystal)"
    )
    return quality, (
        forced(
            message,
            force,
            f"low detection quality: {quality['quality']:.2f} < {MIN_DETECTION_QUALITY} ({terms})",
        ),
    )


def forced(message: str, force: bool, warning: str) -> str:
    """A gate's failure: an error naming ``message``, or with ``force`` a logged warning; returns the
    ``warning``
    that marks the result."""
    if not force:
        raise RewardscopeError(
            f"{message}; force=True goes on anyway", cli=f"{message}; --force goes on anyway"
        )
    logger.warning("warning: %s; going on (forced)", message)
    return warning


def judge_b_sublattice(columns: Columns, lattice: Lattice, force: bool) -> tuple[dict, tuple]:
    """Whether the B sublattice is resolved: the median B displacement (in periods) and the share of failed B
    fits against ``MAX_B_DISPLACEMENT`` and ``MAX_B_FITS_FAILED``; an error when not, or with ``force`` a
    warning."""
    b = columns.sublattice == "B"
    p = lattice.polarization[b]
    p = p[np.all(np.isfinite(p), axis=1)]
    displacement = float(np.median(np.hypot(*p.T)) / columns.period) if len(p) else float("nan")
    failed = float(np.mean(~columns.usable[b])) if b.any() else 1.0
    resolved = bool(displacement <= MAX_B_DISPLACEMENT and failed <= MAX_B_FITS_FAILED)
    figures = {"median_displacement_periods": displacement, "fits_failed_share": failed, "resolved": resolved}
    logger.info(
        "B sublattice: median displacement %.1f%% of the period, %.0f%% of the fits failed",
        100 * displacement,
        100 * failed,
    )
    if resolved:
        return figures, ()
    shift = (
        f"the median B displacement is {100 * displacement:.1f}% of the period"
        if np.isfinite(displacement)
        else "no B displacement could be measured (no B with four measured A corners)"
    )
    message = (
        f"the B sublattice is not resolved: {shift} (at most {100 * MAX_B_DISPLACEMENT:.0f}%: no"
        " perovskite's B is displaced"
        f" that far) and {100 * failed:.0f}% of the B fits failed (at most {100 * MAX_B_FITS_FAILED:.0f}%)"
    )
    return figures, (
        forced(
            message, force, f"B sublattice not resolved: {shift}, {100 * failed:.0f}% of the B fits failed"
        ),
    )


def image_digest(image: Image, columns: Columns | None = None) -> str:
    """sha256 of the pixels and the calibration (and of given columns' positions and sublattices): the same
    data however it was read."""
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(image.data).tobytes())
    digest.update(repr((image.shape, image.pixel_size)).encode())
    if columns is not None:
        digest.update(np.ascontiguousarray(columns.xy).tobytes())
        digest.update("".join(columns.sublattice).encode())
    return digest.hexdigest()


def study_spec(image: Image, plan: AnalysisPlan, columns: Columns | None = None) -> dict:
    """What defines a study, in JSON's terms: the data's digest and the plan (``AnalysisPlan.to_dict``,
    its base holding the tuned detector), and how a worker reads the image again (``read``, not compared)."""
    return {"image": image_digest(image, columns), "read": image.meta.get("read"), "plan": plan.to_dict()}


def _flat(values: dict, prefix: str = "") -> dict:
    """Nested dicts as one level of dotted names: {'plan.base.threshold': 0.3, ...}."""
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict) and name != "weights":
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def spec_differences(known: dict, spec: dict) -> str:
    """What differs between two study specs, in words ('' when nothing).

    Examples
    --------
    >>> spec = study_spec(as_image(np.eye(32)), AnalysisPlan())
    >>> spec_differences(spec, {**spec, "plan": {**spec["plan"], "n_trials": 12}})
    'plan.n_trials 30 (now 12)'
    """
    if "plan" not in known:
        return "plan (it was begun by an older rewardscope)"
    known, spec = _flat(known), _flat(spec)
    changed = []
    for key, value in spec.items():
        if key == "read" or key.startswith("read.") or known.get(key) == value:
            continue
        changed.append("image" if key == "image" else f"{key} {known.get(key)!r} (now {value!r})")
    return ", ".join(changed)


def resume_folder(out, spec: dict, restart: bool, command: str = "analyze"):
    """The staging folder of ``out``, holding the study to resume when it is the same study (``spec``).

    A study begun with another image or other options is refused in one line
    that names what differs; with ``restart`` it is removed and begun afresh.
    """
    import json

    staging = outputs.staging_folder(out, command, keep=not restart)
    journal, recorded = staging / "study.journal", staging / "study.json"
    if journal.exists():
        try:
            changed = spec_differences(json.loads(recorded.read_text()), spec)
        except (OSError, ValueError):  # missing, or cut short: nothing says what the journal holds
            changed = "unrecorded options"
        if changed:
            message = (
                f"{str(staging)!r} holds an interrupted run with another {changed};"
                " rerun with the same options to resume it"
            )
            raise RewardscopeError(
                f"{message}, or pass restart=True to start afresh",
                cli=f"{message}, or add --restart to start afresh",
            )
    partial = recorded.with_name(recorded.name + ".partial")
    partial.write_text(json.dumps(spec, indent=1))
    partial.replace(recorded)  # whole or not at all
    return staging


def work(
    storage: str,
    study_name: str,
    *,
    progress: bool = True,
    device: str = "auto",
    threads: int | None = SHARED_THREADS,
) -> int:
    """Join the shared study ``study_name`` in ``storage`` and run its trials until its budget is spent.

    The image is read again from the path the study names, and must have the same sha256; the plan is
    the one the study stores. A series study (``rewardscope series --storage``) is worked by
    ``series.work_series``.

    Parameters
    ----------
    storage : str
        The study's PostgreSQL URL.
    study_name : str
        The study, begun by ``analyze(..., storage=...)`` (``rewardscope analyze --storage``).
    progress : bool
        A progress bar of the study's trials.
    device : str, default "auto"
        Where this worker's VAEs train (``learn.vae.torch_device``).
    threads : int, optional
        CPU threads of each trial (default 1: workers may share a machine's cores; None: the libraries'
        own).

    Returns
    -------
    int
        The number of settings this worker scored.

    Raises
    ------
    RewardscopeError
        When the study does not exist or was not begun by rewardscope, or its image cannot be read
        here or has changed.
    """
    study = open_study(open_storage(storage), seed=0, n_startup=3, study_name=study_name, create=False)
    spec = study.user_attrs.get("rewardscope")
    if spec is not None and "series" in spec:
        from .series import work_series

        return work_series(study, spec, progress=progress, device=device, threads=threads)
    if spec is None:
        raise RewardscopeError(
            f"study {study_name!r} was not made by rewardscope analyze --storage (it has no rewardscope"
            " settings)"
        )
    if not spec.get("read") or "plan" not in spec:
        raise RewardscopeError(f"study {study_name!r} was begun by an older rewardscope; begin it again")
    image = image_of(spec, study_name)
    plan = replace(AnalysisPlan.from_dict(spec["plan"]), device=device, threads=threads)
    if plan.uses_vae:
        require_torch()
        torch_device(plan.device)  # --device cuda without CUDA: said before any trial
    pipeline = Pipeline(
        image, weights=plan.weights, objectives=plan.objectives, device=plan.device, threads=plan.threads
    )
    space = search_space(plan, pipeline.columns(plan.base).period, min(image.shape))
    return score_shared(study, plan, space, pipeline.score, progress)


def score_shared(study, plan: AnalysisPlan, space: SearchSpace, score, progress: bool = True) -> int:
    """Run a shared study's trials in this worker until its budget is spent; the settings it scored.

    Parameters
    ----------
    study : optuna.Study
        The shared study (its sampler is replaced by this worker's own, seeded apart from the others', so
        that two idle workers do not propose alike).
    plan : AnalysisPlan
        The plan the study stores.
    space : SearchSpace
        Its search space.
    score : callable
        ``score(config) -> (reward, components)``.
    progress : bool
        A progress bar of the study's trials.

    Returns
    -------
    int
        The number of settings this worker scored.
    """
    study.sampler = gp_sampler(plan.seed + 1 + os.getpid(), startup_trials(plan.n_trials))
    count = 0

    def counted(config):
        nonlocal count
        count += 1
        return score(config)

    optimize(
        counted,
        plan.base,
        space,
        n_trials=plan.n_trials,
        seed=plan.seed,
        progress=progress,
        objectives=plan.objectives,
        study=study,
    )
    return count


def image_of(spec: dict, study_name: str) -> Image:
    """The image a study analyzes (``spec``'s ``read`` and ``image`` digest), read again as it was read, and
    checked against its digest."""
    from pathlib import Path

    from .io import read_image

    read = spec["read"]
    path = Path(read["path"])
    if not path.is_file():
        raise RewardscopeError(f"study {study_name!r} analyzes {str(path)!r}, which this machine cannot read")
    image = read_image(path, **{name: value for name, value in read.items() if name != "path"})
    if image_digest(image) != spec["image"]:
        raise RewardscopeError(f"{str(path)!r} has changed since study {study_name!r} began (sha256 differs)")
    return image


@dataclass(frozen=True)
class Located:
    """The outcome of ``locate``: columns, their cells, and a JSON-ready summary."""

    columns: Columns
    lattice: Lattice
    summary: dict


def locate(
    image: Image | np.ndarray,
    *,
    out=None,
    tune: int = 0,
    seed: int = 0,
    refine: str = "gaussian",
    contrast: str = "auto",
    a_site: str = "bright",
    overwrite: bool = False,
    force: bool = False,
    progress: bool = True,
) -> Located:
    """Find, classify and index the atom columns only; with ``tune`` > 0, tune the detector by LoG* first.

    The summary holds the detector parameters, the detection quality, the
    Pareto front when tuned, the lattice and the time taken. With ``out``,
    writes atoms.csv, columns.png and summary.json there (``out`` and
    ``overwrite`` as for ``analyze``; so is ``force``, for a low detection quality).
    ``contrast`` and ``a_site`` as for ``atoms.find_columns``.
    """
    from . import report
    from .detection import tune_detector

    start = time.perf_counter()
    image = as_image(image)
    if tune < 0:
        raise RewardscopeError(
            f"`tune` must be >= 0, got tune={tune}", cli=f"--tune-detector must be >= 0, got {tune}"
        )
    if out is not None:
        out = outputs.check_output_folder(out, overwrite=overwrite, inputs=image.files, command="atoms")
    params = {"column_sigma": Config.column_sigma, "threshold": Config.threshold}
    front = None
    if tune:
        params, _, front = tune_detector(
            image.data,
            n_trials=tune,
            seed=seed,
            refine=refine,
            progress=progress,
            contrast=contrast,
            a_site=a_site,
        )
    logger.info("finding atom columns in a %d x %d image", *image.shape)
    columns = find_columns(image.data, refine=refine, contrast=contrast, a_site=a_site, **params)
    quality, warnings = judge_detection(columns, image.shape, force)
    lattice = index_columns(columns)
    summary = {
        "detector": {**params, "refine": refine, "tuned_trials": tune, "a_site": a_site},
        "decisions": columns.decisions,
        "quality": quality,
        "warnings": list(warnings),
        "pareto_front": front,
        "lattice": _lattice_summary(columns, lattice),
        "image": image.summary(),
        "seconds": time.perf_counter() - start,
        "seed": seed,
    }
    if out is not None:
        staging = outputs.staging_folder(out, "atoms")
        report.write_columns(image, columns, lattice, summary, staging)
        outputs.move_into_place(staging, out, "atoms")
    return Located(columns, lattice, summary)


def _lattice_summary(columns: Columns, lattice: Lattice) -> dict:
    """The lattice found, for summary.json: basis, period, column counts and failed fits."""
    from .report import fits_failed

    return {
        "basis_px": lattice.basis.tolist(),
        "period_px": columns.period,
        "columns": columns.counts,
        "fits_failed": fits_failed(columns),
    }
