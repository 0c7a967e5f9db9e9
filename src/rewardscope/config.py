"""The workflow's hyperparameters, and which stage reads which of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import RewardscopeError

# The choices of the workflow's named settings, here so that the command line lists them without importing the
# stages.
REFINEMENTS = ("gaussian", "com", "none")
DESCRIPTORS = ("patch", "polarization", "lattice", "patch+polarization")
VAE_LEARNERS = ("vae", "rvae", "crvae", "jrvae")
LEARNERS = ("gmm", *VAE_LEARNERS)
CONTRASTS = (
    "auto",
    "bright",
    "dark",
)  # bright columns (HAADF, ADF), dark columns (ABF), or decided from the lattice
A_SITES = (
    "bright",
    "dim",
)  # which cation sublattice is A: the brighter on average (HAADF: the heavier A) or the dimmer
# The rotation orders a crystal lattice can have (crystallographic restriction).
SYMMETRIES = (1, 2, 3, 4, 6)
# Below this LoG* detection quality the columns found do not form a clean lattice (inverted contrast, noise,
# a third sublattice taken for cations): measured 0.90-1.00 on synthetic scenes and on the clean real HAADF
# images, 0.41 on the iDPC image, 0.08-0.19 on inverted-contrast images (docs/atoms.md, "Detection quality").
MIN_DETECTION_QUALITY = 0.5
# The B sublattice counts as resolved when the median B displacement stays within this fraction of the period
# (perovskite polar displacements reach about 10%: beyond, the B found are not the B sublattice; measured:
# 1-9% on the synthetic scenes down to 5 e/px and on the resolved real images, 27% low-dose SrTiO3, 35% ABF
# read as bright columns) and at most this share of the B fits failed.
MAX_B_DISPLACEMENT = 0.15
MAX_B_FITS_FAILED = 0.5


def uses_patches(descriptor: str) -> bool:
    """Whether a descriptor is made of image patches (so the patch window matters).

    Examples
    --------
    >>> uses_patches("patch+polarization"), uses_patches("lattice")
    (True, False)
    """
    return "patch" in descriptor


def is_vae(learner: str) -> bool:
    """Whether a learner is one of the VAEs (which encode patches, train on ``latent_dim`` and ``beta``).

    Examples
    --------
    >>> is_vae("rvae"), is_vae("gmm")
    (True, False)
    """
    return learner in VAE_LEARNERS


@dataclass(frozen=True)
class Config:
    """One setting of every hyperparameter of the workflow.

    ``column_sigma`` is the column width as a fraction of the lattice period,
    ``threshold`` the A-column detection threshold, ``refine`` the sub-pixel
    method, ``contrast`` bright or dark columns (or ``auto``), ``a_site`` which
    cation sublattice is A (the ``bright`` or ``dim`` one), ``window`` the patch side in px (None: 1.5 lattice
    periods),
    ``descriptor`` what the learner sees (``descriptors.KINDS``),
    ``n_classes`` the number of classes, ``pca_dim`` the number of principal components the mixture is fitted
    in,
    ``learner`` what classifies (``gmm``: PCA + Gaussian mixture; ``vae``,
    ``rvae``, ``crvae``, ``jrvae``: a VAE of the patches, see ``learn.vae``)
    with its ``latent_dim``, KL weight ``beta``, training ``epochs`` and the
    order of the lattice rotations searched by the invariant VAEs, ``symmetry``;
    ``seed`` the learner's random seed; ``pooling`` the radius in cells over which each cell's descriptor
    is averaged with its neighbours' (``descriptors.pooled``; 0: none) and ``smoothing`` the strength of
    the Potts prior on the cell grid that regularizes the classes (``learn.potts``; 0: none).
    """

    column_sigma: float = 0.12
    threshold: float = 0.3
    refine: str = "gaussian"
    contrast: str = "auto"
    a_site: str = "bright"
    window: int | None = None
    descriptor: str = "patch"
    n_classes: int = 2
    pca_dim: int = 8
    learner: str = "gmm"
    latent_dim: int = 2
    beta: float = 1.0
    epochs: int = 30
    symmetry: int = 1
    seed: int = 0
    pooling: int = 0
    smoothing: float = 0.0

    def __post_init__(self):
        if self.contrast not in CONTRASTS:
            raise RewardscopeError(
                f"`contrast` must be one of {', '.join(CONTRASTS)}, got contrast={self.contrast!r}"
            )
        if self.a_site not in A_SITES:
            raise RewardscopeError(
                f"`a_site` must be one of {', '.join(A_SITES)}, got a_site={self.a_site!r}"
            )
        if self.window is not None and self.window < 3:
            raise RewardscopeError(f"`window` must be >= 3 px, got window={self.window}")
        if self.descriptor not in DESCRIPTORS:
            raise RewardscopeError(
                f"unknown descriptor {self.descriptor!r}; choose one of {', '.join(DESCRIPTORS)}"
            )
        if self.n_classes < 1:
            raise RewardscopeError(f"`n_classes` must be >= 1, got n_classes={self.n_classes}")
        if self.pca_dim < 1:
            raise RewardscopeError(f"`pca_dim` must be >= 1, got pca_dim={self.pca_dim}")
        if self.learner not in LEARNERS:
            raise RewardscopeError(f"unknown learner {self.learner!r}; choose one of {', '.join(LEARNERS)}")
        if is_vae(self.learner) and self.descriptor != "patch":
            raise RewardscopeError(
                f"the {self.learner} learner encodes image patches: it needs the patch descriptor, not"
                f" {self.descriptor!r}"
            )
        if self.latent_dim < 1:
            raise RewardscopeError(f"`latent_dim` must be >= 1, got latent_dim={self.latent_dim}")
        if self.beta < 0:
            raise RewardscopeError(f"`beta` must be >= 0, got beta={self.beta}")
        if self.epochs < 1:
            raise RewardscopeError(f"`epochs` must be >= 1, got epochs={self.epochs}")
        if self.pooling < 0:
            raise RewardscopeError(f"`pooling` must be >= 0 cells, got pooling={self.pooling}")
        if self.smoothing < 0:
            raise RewardscopeError(f"`smoothing` must be >= 0, got smoothing={self.smoothing}")
        if self.symmetry not in SYMMETRIES:
            raise RewardscopeError(
                f"`symmetry` must be a lattice's rotation order, one of {', '.join(map(str, SYMMETRIES))},"
                f" got symmetry={self.symmetry}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


# The fields each stage reads itself; a stage's cache key adds those of the stages before it.
STAGE_FIELDS = {
    "atoms": ("column_sigma", "threshold", "refine", "contrast", "a_site"),
    "lattice": (),
    "geometry": (),
    "descriptors": ("window", "descriptor", "pooling"),
    # What the number of classes does not change: a VAE's training, mixtures of every k.
    "embedding": ("learner", "latent_dim", "beta", "epochs", "symmetry", "seed"),
    "evidence": ("pca_dim",),
    "learn": ("n_classes",),
}
STAGE_ORDER = tuple(STAGE_FIELDS)


def stage_key(config: Config, stage: str) -> tuple:
    """The config values that determine the output of ``stage`` (and every stage before it)."""
    upto = STAGE_ORDER[: STAGE_ORDER.index(stage) + 1]
    return tuple(getattr(config, name) for s in upto for name in STAGE_FIELDS[s])
