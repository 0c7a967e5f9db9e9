"""What an analysis is asked to do, checked whole before any work: the ``AnalysisPlan``.

``workflow.analyze`` takes a plan (or the plan's fields as keywords). Every
choice that does not need the image is checked when the plan is made, and
the rest (a reference region inside the frame, patches on a blank frame)
by ``AnalysisPlan.check_image``, before a column is found or a file written.
A shared study stores the plan's dict form, and its workers rebuild the plan
from it (``AnalysisPlan.from_dict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from .config import Config, is_vae, uses_patches
from .errors import RewardscopeError
from .optimize.space import DEFAULT_DESCRIPTORS, SearchSpace

# Without an image (positions only) the physical descriptors are all there is to search.
BLANK_DESCRIPTORS = ("polarization", "lattice")
DEVICES = ("auto", "cpu", "cuda")


# Where and how a study runs, not what it computes: each worker of a shared study chooses its own.
RUN_OPTIONS = ("device", "threads")
# A shared study's workers may share a machine's cores: one CPU thread each unless told.
SHARED_THREADS = 1


@dataclass(frozen=True)
class AnalysisPlan:
    """Every choice of one analysis: the budget, the reward, and the search space's ranges.

    Parameters
    ----------
    n_trials : int
        Distinct settings the optimizer scores.
    seed : int
        Seed of the sampler and of the learners.
    base : Config
        The settings that are not searched (detector, contrast, A site, PCA size); the searched
        dimensions with a single value are set on it.
    weights : dict, optional
        Reward component weights changed from ``rewards.DEFAULT_WEIGHTS`` (0 drops one); the plan
        holds the full, checked set.
    n_classes_range : (int, int)
        Smallest and largest number of classes searched.
    window_range : (int, int), optional
        Patch windows searched, in px (None: from the lattice period, see ``SearchSpace.for_period``).
    descriptors : tuple of str, optional
        Descriptors searched (None: patch and polarization, with the VAE learners too; the physical ones
        without an image).
    learners, latent_dim_range, betas, epochs, symmetry
        Learners searched (``gmm`` and the VAEs of ``learn.vae``) and the VAEs' settings.
    device : str
        Where the VAEs train: ``auto`` (CUDA when torch sees it, else the CPU), ``cpu`` or ``cuda``.
        Where a study runs, not what it computes: not stored with a shared study (each worker decides).
    threads : int, optional
        CPU threads of each trial (BLAS, OpenMP and torch: ``learn.vae.cpu_threads``); default the
        libraries' own (the cores) for a study of one process, and 1 for a shared study, whose workers
        may share a machine's cores (two processes of two threads on 2 cores trained 12x slower). Like
        ``device``, not stored.
    poolings, smoothings : tuple
        Radii (cells) of the descriptors' averaging over neighbouring cells, and strengths of the Potts
        prior on the cell grid, searched (0: none).
    tune_detector : int
        Trials of the detector's tuning by detection quality before the search (0: none).
    objectives : tuple of str, optional
        Two or more reward components optimized jointly (a Pareto front) instead of the combined reward.
    reference : int or (x0, x1, y0, y1), optional
        A class of the chosen map, or a region in px, taken as non-polar.
    force : bool
        Go on past a failed gate (low detection quality, unresolved B sublattice), with a warning.

    Raises
    ------
    RewardscopeError
        On any choice that cannot be run, in one line naming it.

    Examples
    --------
    >>> plan = AnalysisPlan(n_trials=12, n_classes_range=(2, 4), learners=("gmm", "rvae"))
    >>> plan.descriptors_for(blank=False), plan.base.learner
    (('patch', 'polarization'), 'gmm')
    >>> AnalysisPlan(weights={"wiggle": 1})
    Traceback (most recent call last):
    ...
    rewardscope.errors.RewardscopeError: unknown reward component 'wiggle'; choose from ...
    """

    n_trials: int = 30
    seed: int = 0
    base: Config = field(default_factory=Config)
    weights: dict | None = None
    n_classes_range: tuple[int, int] = (2, 6)
    window_range: tuple[int, int] | None = None
    descriptors: tuple[str, ...] | None = None
    learners: tuple[str, ...] = ("gmm",)
    latent_dim_range: tuple[int, int] = (2, 2)
    betas: tuple[float, ...] = (1.0,)
    epochs: int = 30
    symmetry: int = 1
    poolings: tuple[int, ...] = (0,)
    smoothings: tuple[float, ...] = (0.0,)
    tune_detector: int = 0
    objectives: tuple[str, ...] | None = None
    reference: int | tuple[float, float, float, float] | None = None
    force: bool = False
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self):
        from . import rewards
        from .optimize import check_objectives

        if self.n_trials < 1:
            raise RewardscopeError(f"`n_trials` must be >= 1, got n_trials={self.n_trials}")
        if self.device not in DEVICES:
            raise RewardscopeError(
                f"`device` must be one of {', '.join(DEVICES)}, got device={self.device!r}"
            )
        if self.threads is not None and self.threads < 1:
            raise RewardscopeError(f"`threads` must be >= 1, got threads={self.threads}")
        if self.tune_detector < 0:
            raise RewardscopeError(f"`tune_detector` must be >= 0, got tune_detector={self.tune_detector}")
        for name in ("learners", "betas", "poolings", "smoothings", "descriptors"):
            if getattr(self, name) is not None and not len(getattr(self, name)):
                raise RewardscopeError(f"`{name}` must hold one value or more, got {name}=()")
        for radius in self.poolings:
            if radius != int(radius):
                raise RewardscopeError(
                    f"`poolings` are whole numbers of cells, got poolings={tuple(self.poolings)}"
                )
        self._set("poolings", tuple(int(v) for v in self.poolings))
        self._set("smoothings", tuple(float(v) for v in self.smoothings))
        self._set("betas", tuple(float(v) for v in self.betas))
        self._set("learners", tuple(self.learners))
        self._set("n_classes_range", _range("n_classes_range", self.n_classes_range, low=1))
        self._set("latent_dim_range", _range("latent_dim_range", self.latent_dim_range, low=1))
        if self.window_range is not None:
            self._set("window_range", _range("window_range", self.window_range, low=3))
        if self.descriptors is not None:  # None: the defaults for the data (see ``resolved``)
            self._set("descriptors", tuple(self.descriptors))
        self._set("objectives", check_objectives(self.objectives))
        self._set("weights", rewards.with_defaults(self.weights))
        if isinstance(self.reference, (list, tuple)):
            self._set("reference", tuple(float(v) for v in self.reference))
        self._set("base", replace(self.base, **self._single_values()))
        self._check_choices()

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)  # normalizing a frozen dataclass's own fields

    def _single_values(self) -> dict:
        """The first value of every searched dimension: the base's, where the dimension has one value (a
        dimension with one value is not among a trial's parameters)."""
        single = {} if self.descriptors is None else {"descriptor": self.descriptors[0]}
        return {
            **single,
            "learner": self.learners[0],
            "latent_dim": self.latent_dim_range[0],
            "beta": self.betas[0],
            "epochs": self.epochs,
            "symmetry": self.symmetry,
            "seed": self.seed,
            "pooling": self.poolings[0],
            "smoothing": self.smoothings[0],
        }

    def _check_choices(self) -> None:
        """Every value of every searched dimension, through ``Config``'s own checks."""
        for learner in self.learners:
            replace(self.base, learner=learner, descriptor="patch")
        descriptors = self.descriptors_for(blank=False)
        for descriptor in descriptors:
            replace(self.base, learner="gmm", descriptor=descriptor)
        for radius in self.poolings:
            replace(self.base, pooling=radius)
        for strength in self.smoothings:
            replace(self.base, smoothing=strength)
        for beta in self.betas:
            replace(self.base, beta=beta)
        SearchSpace(
            (6, 8),
            self.n_classes_range,
            descriptors,
            self.learners,
            self.latent_dim_range,
            self.betas,
            self.poolings,
            self.smoothings,
        )
        if (
            isinstance(self.reference, (int, np.integer))
            and not 0 <= self.reference < self.n_classes_range[1]
        ):
            top = self.n_classes_range[1] - 1
            raise RewardscopeError(
                f"`reference` class {self.reference} is not among the classes searched (0 to {top})",
                cli=f"--reference {self.reference}: not among the classes searched (0 to {top})",
            )

    @property
    def uses_vae(self) -> bool:
        """Whether any learner searched is a VAE (and torch is needed)."""
        return any(map(is_vae, self.learners))

    def descriptors_for(self, blank: bool) -> tuple[str, ...]:
        """The descriptors searched: those asked for, or the defaults for the data (patch and polarization,
        with a VAE too: its trials take the patches, the polarization's the gmm learner; the physical ones
        on a ``blank`` frame, positions alone)."""
        if self.descriptors is not None:
            return self.descriptors
        return BLANK_DESCRIPTORS if blank else DEFAULT_DESCRIPTORS

    def resolved(self, blank: bool) -> AnalysisPlan:
        """The plan with its descriptors decided for the data (``descriptors_for``).

        Raises
        ------
        RewardscopeError
            When patches or a VAE are asked for on a ``blank`` frame (positions without an image).

        Examples
        --------
        >>> AnalysisPlan().resolved(blank=True).descriptors
        ('polarization', 'lattice')
        """
        descriptors = self.descriptors_for(blank)
        if blank and (any(map(uses_patches, descriptors)) or self.uses_vae):
            raise RewardscopeError(
                "patch descriptors and VAE learners need the image: give it with the positions",
                cli="patch descriptors and VAE learners need the image: give it with --image",
            )
        return replace(self, descriptors=descriptors)

    def check_image(self, shape: tuple[int, int]) -> None:
        """What needs the frame: a reference region must lie inside it.

        Raises
        ------
        RewardscopeError
            When the region is not a region of the frame.
        """
        if self.reference is None or isinstance(self.reference, (int, np.integer)):
            return
        x0, x1, y0, y1 = self.reference
        if not (0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0]):
            region, frame = f"{x0:g}:{x1:g}, y {y0:g}:{y1:g}", f"{shape[1]} x {shape[0]} px frame"
            raise RewardscopeError(
                f"`reference` region x {region} px is not a region of the {frame}",
                cli=f"--reference-region {x0:g}:{x1:g},{y0:g}:{y1:g}: not a region of the {frame}",
            )

    def shared(self) -> AnalysisPlan:
        """The plan as a worker of a shared study runs it: one CPU thread unless ``threads`` says
        (``SHARED_THREADS``: other workers may share the machine's cores).

        Examples
        --------
        >>> AnalysisPlan().shared().threads, AnalysisPlan(threads=4).shared().threads
        (1, 4)
        """
        return self if self.threads is not None else replace(self, threads=SHARED_THREADS)

    def to_dict(self) -> dict:
        """The plan in JSON's terms (lists for tuples), as a shared study stores it."""
        import json

        values = {
            name: value for name, value in asdict(self).items() if name not in RUN_OPTIONS
        }  # each worker's own
        return json.loads(json.dumps({**values, "base": self.base.to_dict()}))

    @classmethod
    def from_dict(cls, values: dict) -> AnalysisPlan:
        """The plan ``to_dict`` gave.

        Examples
        --------
        >>> plan = AnalysisPlan(n_trials=5, poolings=(0, 1))
        >>> AnalysisPlan.from_dict(plan.to_dict()) == plan
        True
        """
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in values.items() if name in known}
        values["base"] = Config(**values.get("base", {}))
        for name, value in values.items():
            if isinstance(value, list):
                values[name] = tuple(value)
        return cls(**values)


def _range(name: str, values, *, low: int) -> tuple[int, int]:
    """A (low, high) pair of whole numbers with ``low`` <= low <= high, else one line."""
    values = tuple(values)
    if len(values) != 2 or any(v != int(v) for v in values) or not low <= values[0] <= values[1]:
        raise RewardscopeError(
            f"`{name}` must be two whole numbers LOW <= HIGH, LOW >= {low}; got {name}={values}"
        )
    return int(values[0]), int(values[1])
