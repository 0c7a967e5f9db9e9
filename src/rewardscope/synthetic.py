"""Physics-based synthetic HAADF-STEM scenes of a perovskite ABO3 film down [001], with truth.

The A sublattice (Bi, a random fraction of Sm) sits on the corners of the
pseudo-cubic cell, the B sublattice (Fe + O) at its centre. Column intensity
goes as Z**n (HAADF, 1.3 <= n <= 1.7). Each unit cell belongs to a *variant*:

* 0-3: polar, B displaced from the centre of its four A neighbours along one
  cell diagonal, ``P = p (±1, ±1) / sqrt(2)`` (BiFeO3-like projected variants);
* 4: antipolar, A displaced alternately ``+u / -u`` along a from one column of
  cells to the next (unit-cell doubling), B centred (Sm-rich orthorhombic);
* 5: paraelectric, B centred: the whole ``paraelectric`` layout (one phase, true k = 1; ``single`` is one
  polar domain), and the non-polar
  layers of the ``superlattice`` layout (SrRuO3-like: Sr on A, Ru on B, so B
  is brighter than A there, and the cell is ``layer_strain`` longer along b),
  which alternate every ``layer_cells`` cells with polar (PbTiO3-like) layers.

The ``mixed`` layout is polar stripe domains (variants 0 and 1, ``stripe_cells``
wide, their walls wandering by ``wall_roughness`` cells rms) beside an
antipolar region that covers ``antipolar_share`` of the frame, entering from its
+a side. ``composition_spec`` turns an Sm content into such a scene, and
``synthesize_series`` makes a composition series of them (0 to 20% Sm, as in
Barakati et al.'s combinatorial Sm-doped BiFeO3 library).

Options for images not like the defaults: ``bend_periods`` bends the lattice
rows (a parabola, this many periods higher at the frame's sides than at its
centre); ``contrast="abf"`` gives dark columns on a bright background with
the O columns visible (annular bright field); ``b_offset_pm`` shifts every B
column by the same vector (in the a, b frame), as a specimen mistilt or probe
tails do, without any polarization.

The microscope adds lattice rotation, probe blur, scan-line jitter, slow drift,
smooth thickness and background variation, Poisson shot noise and read noise.
Everything is deterministic from the seed; positions in the truth table are
where the columns appear in the image (drift included, jitter excluded).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from . import gaussians
from .errors import RewardscopeError
from .io import Image, write_image

LAYOUTS = ("stripes", "quadrants", "bubble", "rough", "single", "superlattice", "paraelectric", "mixed")
CONTRASTS = ("haadf", "abf")
ANTIPOLAR = 4
PARAELECTRIC = 5
# Unit polar vectors of the four diagonal variants, in lattice coordinates (a, b).
POLAR_DIRECTIONS = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) / np.sqrt(2)
Z_BI, Z_SM, Z_FE, Z_O = 83, 62, 26, 8
Z_SR, Z_RU = 38, 44  # the superlattice's non-polar layers
ABF_EXPONENT = 0.5  # ABF column contrast grows about as (column Z)**0.5: light O columns show


@dataclass(frozen=True)
class SceneSpec:
    """Everything that defines a synthetic scene; lengths in pm unless named ``_px``.

    Parameters
    ----------
    layout : str, default "stripes"
        The variant map, one of ``LAYOUTS``.
    size : int, default 384
        The square frame's side, px (>= 64).
    pixel_size_pm, lattice_pm : float
        The pixel size and the pseudo-cubic lattice period.
    rotation_deg : float, default 4.0
        The lattice's rotation in the frame.
    polarization_pm, antipolar_pm : float
        The polar B displacement and the antipolar A displacement.
    sm_fraction : float, default 0.1
        The share of A columns that are Sm rather than Bi.
    z_exponent : float, default 1.7
        HAADF intensity goes as Z**z_exponent (1.3 to 1.7).
    probe_sigma_pm : float, default 55.0
        The probe's Gaussian width.
    wall_angle_deg, stripe_cells : float, int
        Stripes: the wall normal's angle to the a axis and the domain width in cells.
    jitter_px : float, default 0.15
        The scan-line jitter, rms px.
    drift_px : (float, float), default (1.5, 1.0)
        The slow drift over the frame, px in x and y.
    thickness_variation, background : float
        The relative thickness variation of the column intensities and the background level.
    dose : float, default 400.0
        The mean electrons per pixel.
    read_noise : float, default 2.0
        The detector's read noise, electrons rms.
    layer_cells, layer_strain : int, float
        Superlattice: cells per layer along b, and how much longer the non-polar layers' cells are.
    bend_periods : float, default 0.0
        Lattice rows this many periods higher at the frame's sides than at its centre.
    contrast : str, default "haadf"
        ``"haadf"``, or ``"abf"``: dark columns, O visible.
    b_offset_pm : (float, float), default (0.0, 0.0)
        Every B shifted by this (along a, b): mistilt, not polarization.
    antipolar_share : float, default 0.0
        Mixed: the share of the frame's width that is antipolar, from its +a side.
    wall_roughness : float, default 0.0
        Mixed: how far the walls wander, cells rms (a smooth random field of about 2 cells' correlation).

    Examples
    --------
    >>> SceneSpec(layout="bubble", dose=60.0).validate().dose
    60.0
    """

    layout: str = "stripes"
    size: int = 384
    pixel_size_pm: float = 25.0
    lattice_pm: float = 396.0
    rotation_deg: float = 4.0
    polarization_pm: float = 35.0
    antipolar_pm: float = 18.0
    sm_fraction: float = 0.1
    z_exponent: float = 1.7
    probe_sigma_pm: float = 55.0
    wall_angle_deg: float = 0.0  # stripes: wall normal angle to the a axis
    stripe_cells: int = 8  # stripes: domain width in cells
    jitter_px: float = 0.15
    drift_px: tuple[float, float] = (1.5, 1.0)
    thickness_variation: float = 0.15
    background: float = 0.15
    dose: float = 400.0  # mean electrons per pixel
    read_noise: float = 2.0  # electrons rms
    layer_cells: int = 4  # superlattice: cells per layer along b
    layer_strain: float = 0.03  # superlattice: the non-polar layers' cells are this much longer along b
    # Lattice rows this many periods higher at the frame's sides than at its centre.
    bend_periods: float = 0.0
    contrast: str = "haadf"  # or "abf": dark columns, O visible
    # Every B shifted by this (along a, b): mistilt, not polarization.
    b_offset_pm: tuple[float, float] = (0.0, 0.0)
    antipolar_share: float = 0.0  # mixed: the antipolar share of the frame's width, from its +a side
    wall_roughness: float = 0.0  # mixed: how far the walls wander, cells rms

    def validate(self) -> SceneSpec:
        """Check every field's range.

        Returns
        -------
        SceneSpec
            self, unchanged.

        Raises
        ------
        RewardscopeError
            If the layout or contrast is unknown or a field is out of range (the message names it).

        Examples
        --------
        >>> SceneSpec(size=32).validate()
        Traceback (most recent call last):
        ...
        rewardscope.errors.RewardscopeError: `size` must be >= 64, got size=32
        """
        if self.layout not in LAYOUTS:
            raise RewardscopeError(f"unknown layout {self.layout!r}; choose one of {', '.join(LAYOUTS)}")
        if self.contrast not in CONTRASTS:
            raise RewardscopeError(
                f"unknown contrast {self.contrast!r}; choose one of {', '.join(CONTRASTS)}"
            )
        rules = (
            ("size", lambda v: v >= 64, ">= 64"),
            ("pixel_size_pm", lambda v: v > 0, "> 0"),
            ("lattice_pm", lambda v: v > 3 * self.pixel_size_pm, "more than 3 pixels"),
            ("polarization_pm", lambda v: v >= 0, ">= 0"),
            ("antipolar_pm", lambda v: v >= 0, ">= 0"),
            ("sm_fraction", lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("z_exponent", lambda v: 1.3 <= v <= 1.7, "in [1.3, 1.7]"),
            ("probe_sigma_pm", lambda v: v > 0, "> 0"),
            ("stripe_cells", lambda v: v >= 1, ">= 1"),
            ("dose", lambda v: v > 0, "> 0"),
            ("read_noise", lambda v: v >= 0, ">= 0"),
            ("jitter_px", lambda v: v >= 0, ">= 0"),
            ("layer_cells", lambda v: v >= 1, ">= 1"),
            ("layer_strain", lambda v: -0.2 < v < 0.2, "in (-0.2, 0.2)"),
            ("antipolar_share", lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("wall_roughness", lambda v: v >= 0, ">= 0"),
        )
        for name, ok, bound in rules:
            value = getattr(self, name)
            if not ok(value):
                raise RewardscopeError(f"`{name}` must be {bound}, got {name}={value}")
        return self


@dataclass(frozen=True)
class Truth:
    """Per-column ground truth of a synthetic scene.

    Parameters
    ----------
    xy : (n, 2) array
        Where each column appears in the image, px (drift included, jitter excluded).
    sublattice : (n,) str array
        ``"A"``, ``"B"`` (and ``"O"`` in ABF).
    i, j : (n,) int arrays
        The column's cell, from 0 at the frame's first cell.
    variant : (n,) int array
        The cell's variant (0-3 polar, ``ANTIPOLAR``, ``PARAELECTRIC``).
    dxy : (n, 2) array
        The column's displacement from its ideal site, px.
    peak_counts : (n,) array, optional
        The column's expected electrons per pixel at its centre above (ABF: below, negative) its
        surroundings, for the Cramer-Rao bound.
    """

    xy: np.ndarray
    sublattice: np.ndarray
    i: np.ndarray
    j: np.ndarray
    variant: np.ndarray
    dxy: np.ndarray
    peak_counts: np.ndarray | None = None

    def to_csv(self, path) -> None:
        """Write the table as CSV: x, y, sublattice, i, j, variant, dx, dy (positions to 4 decimals).

        Parameters
        ----------
        path : str or Path
            The file written.
        """
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["x", "y", "sublattice", "i", "j", "variant", "dx", "dy"])
            for row in zip(
                self.xy[:, 0],
                self.xy[:, 1],
                self.sublattice,
                self.i,
                self.j,
                self.variant,
                self.dxy[:, 0],
                self.dxy[:, 1],
            ):
                writer.writerow(
                    [
                        f"{row[0]:.4f}",
                        f"{row[1]:.4f}",
                        row[2],
                        row[3],
                        row[4],
                        row[5],
                        f"{row[6]:.4f}",
                        f"{row[7]:.4f}",
                    ]
                )


@dataclass(frozen=True)
class Scene:
    """A synthetic image with its truth and the spec and seed that made it.

    Parameters
    ----------
    image : Image
        The noisy counts.
    truth : Truth
        The columns' ground truth.
    spec : SceneSpec
        The spec it was rendered from.
    seed : int or None
        Its seed.
    expected : (size, size) array, optional
        The expected counts of every pixel (the image before shot and read noise).
    """

    image: Image
    truth: Truth
    spec: SceneSpec
    seed: int | None
    # The expected counts of every pixel (the image before shot and read noise).
    expected: np.ndarray | None = None

    @property
    def n_variants(self) -> int:
        """The number of variants among the B columns (the true number of classes).

        Returns
        -------
        int
        """
        return len(np.unique(self.truth.variant[self.truth.sublattice == "B"]))


def variant_map(spec: SceneSpec, ii: np.ndarray, jj: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The variant of each cell (i, j) for the spec's layout.

    Parameters
    ----------
    spec : SceneSpec
        The scene's layout and its parameters.
    ii, jj : (n,) int arrays
        Cell indices, centred on the scene.
    rng : numpy.random.Generator
        Draws the rough layout's boundary (not used by the others).

    Returns
    -------
    (n,) int array

    Examples
    --------
    >>> ii, jj = np.meshgrid(np.arange(-8, 8), np.arange(-2, 2), indexing="ij")
    >>> spec = SceneSpec(layout="stripes", stripe_cells=8)
    >>> variant_map(spec, ii.ravel(), jj.ravel(), np.random.default_rng(0))[::4].tolist()
    [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    """
    x, y = ii.astype(float), jj.astype(float)
    extent = max(np.abs(x).max(), np.abs(y).max(), 1.0)
    if spec.layout == "single":
        return np.zeros_like(ii)
    if spec.layout == "paraelectric":
        return np.full_like(ii, PARAELECTRIC)
    if spec.layout == "superlattice":
        return np.where(nonpolar_layer(spec, jj), PARAELECTRIC, 0)
    if spec.layout == "mixed":
        return _mixed_variants(spec, x, y, rng)
    if spec.layout == "stripes":
        angle = np.deg2rad(spec.wall_angle_deg)
        along = x * np.cos(angle) + y * np.sin(angle)
        return np.where(np.floor(along / spec.stripe_cells).astype(int) % 2 == 0, 0, 1)
    if spec.layout == "quadrants":
        # Two walls crossing near the centre, slightly off the lattice axes.
        u = x - 0.1 * y - 0.07 * extent
        v = y + 0.1 * x + 0.05 * extent
        return np.select([(u >= 0) & (v < 0), (u < 0) & (v < 0), (u < 0) & (v >= 0)], [0, 1, 2], default=3)
    if spec.layout == "bubble":
        radius = 0.55 * extent
        inside = (x / 1.15 - 0.1 * extent) ** 2 + (y + 0.05 * extent) ** 2 < radius**2
        return np.where(inside, 2, 0)
    # rough: a polar/antipolar boundary that wanders across the scene.
    n = 2 * int(extent) + 3
    steps = rng.normal(0, 0.9, n)
    wander = ndimage.gaussian_filter1d(np.cumsum(steps), 1.0)
    wander -= wander.mean()
    boundary = (
        0.25 * extent * np.sin(2 * np.pi * (y + extent) / (2.6 * extent))
        + wander[np.clip((y + extent).astype(int), 0, n - 1)]
    )
    return np.where(x > boundary, ANTIPOLAR, 0)


def _mixed_variants(spec: SceneSpec, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Polar stripes 0 / 1 with wandering walls, and an antipolar region from the frame's +a side."""
    # A smooth random field over the cells (correlation about 2 cells, rms 1) moves every wall.
    i0, j0 = int(x.min()), int(y.min())
    field = ndimage.gaussian_filter(rng.normal(size=(int(x.max()) - i0 + 1, int(y.max()) - j0 + 1)), 2.0)
    field /= max(field.std(), 1e-12)
    wander = spec.wall_roughness * field[x.astype(int) - i0, y.astype(int) - j0]
    variants = np.where(np.floor((x + wander) / spec.stripe_cells).astype(int) % 2 == 0, 0, 1)
    # The frame spans about +-half cells from the centre; the antipolar region fills its share of that.
    half = spec.size * spec.pixel_size_pm / spec.lattice_pm / 2
    if spec.antipolar_share <= 0:
        return variants
    boundary = half * (1 - 2 * spec.antipolar_share) if spec.antipolar_share < 1 else -np.inf
    return np.where(x + wander > boundary, ANTIPOLAR, variants)


def nonpolar_layer(spec: SceneSpec, jj: np.ndarray) -> np.ndarray:
    """Superlattice: whether cell row ``jj`` lies in a non-polar layer.

    Layers alternate every ``layer_cells`` rows, starting polar at row 0.

    Parameters
    ----------
    spec : SceneSpec
        Gives ``layer_cells``.
    jj : int array
        Cell rows.

    Returns
    -------
    bool array

    Examples
    --------
    >>> nonpolar_layer(SceneSpec(layer_cells=2), np.arange(6)).tolist()
    [False, False, True, True, False, False]
    """
    return np.floor_divide(jj, spec.layer_cells) % 2 == 1


def synthesize(layout: str = "stripes", *, seed: int | None = 0, **overrides) -> Scene:
    """Make a synthetic scene.

    Parameters
    ----------
    layout : str, default "stripes"
        One of ``LAYOUTS``.
    seed : int or None, default 0
        Seed of every random draw.
    **overrides
        ``SceneSpec`` fields.

    Returns
    -------
    Scene

    Raises
    ------
    RewardscopeError
        If a field is out of range or the layout unknown.

    Examples
    --------
    >>> scene = synthesize("bubble", size=96, seed=1)
    >>> scene.image.data.shape, scene.n_variants
    ((96, 96), 2)
    """
    spec = replace(SceneSpec(), layout=layout, **overrides).validate()
    return render_scene(spec, seed=seed)


def render_scene(spec: SceneSpec, *, seed: int | None = 0) -> Scene:
    """Render the scene a spec describes, with its truth.

    Parameters
    ----------
    spec : SceneSpec
        The scene (checked with ``SceneSpec.validate``).
    seed : int or None, default 0
        Seed of every random draw: the same spec and seed give the same scene.

    Returns
    -------
    Scene

    Raises
    ------
    RewardscopeError
        If the spec is out of range.

    Examples
    --------
    >>> scene = render_scene(SceneSpec(layout="single", size=64), seed=0)
    >>> scene.image.data.shape, np.unique(scene.truth.sublattice).tolist()
    ((64, 64), ['A', 'B'])
    """
    spec.validate()
    rng = np.random.default_rng(seed)
    cells = _cell_grid(spec, rng)
    columns = _columns(spec, cells, rng)
    amplitude, counts_per_unit, expected, counts = _expose(spec, columns.xy, columns.intensity, rng)
    xy = columns.xy
    size = spec.size
    keep = (xy[:, 0] >= 0) & (xy[:, 0] <= size - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= size - 1)
    offset = np.array([columns.i[keep].min(), columns.j[keep].min()])
    truth = Truth(
        xy=xy[keep],
        sublattice=columns.sublattice[keep],
        i=columns.i[keep] - offset[0],
        j=columns.j[keep] - offset[1],
        variant=columns.variant[keep],
        dxy=columns.dxy[keep],
        peak_counts=(amplitude * counts_per_unit * (-0.5 if spec.contrast == "abf" else 1.0))[keep],
    )
    image = Image(
        counts, pixel_size=spec.pixel_size_pm, unit="pm", meta={"synthetic": asdict(spec), "seed": seed}
    )
    return Scene(image=image, truth=truth, spec=spec, seed=seed, expected=expected)


@dataclass(frozen=True)
class _CellGrid:
    """The scene's unit cells before the microscope: lattice, cell indices, variants, rows along b."""

    period: float
    basis: np.ndarray  # (2, 2) rows a, b in px
    centre: np.ndarray  # (2,) px: cell (0, 0)'s A corner
    ii: np.ndarray  # (n,) cell index along a, centred on the scene
    jj: np.ndarray  # (n,) cell index along b
    variants: np.ndarray  # (n,)
    along_b: np.ndarray  # (n,) where the cell's row starts along b, in periods
    cell_b: np.ndarray  # (n,) the cell's length along b, in periods


@dataclass(frozen=True)
class _Columns:
    """Every column of the scene, drifted: position, intensity, sublattice, cell, variant, displacement."""

    xy: np.ndarray
    intensity: np.ndarray
    sublattice: np.ndarray
    i: np.ndarray
    j: np.ndarray
    variant: np.ndarray
    dxy: np.ndarray


def _cell_grid(spec: SceneSpec, rng: np.random.Generator) -> _CellGrid:
    """The rotated lattice of cells reaching past the frame, their variants and their rows along b."""
    period = spec.lattice_pm / spec.pixel_size_pm
    theta = np.deg2rad(spec.rotation_deg)
    basis = period * np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    centre = np.array([spec.size / 2 + 0.3 * period, spec.size / 2 - 0.2 * period])
    reach = int(np.ceil(spec.size * 0.75 / period)) + 2
    grid_i, grid_j = np.meshgrid(np.arange(-reach, reach + 1), np.arange(-reach, reach + 1), indexing="ij")
    ii, jj = grid_i.ravel(), grid_j.ravel()
    variants = variant_map(spec, ii, jj, rng)
    # Where each cell row sits along b, in periods: the superlattice's non-polar rows are longer.
    rows_b = np.arange(-reach, reach + 2)
    lengths = (
        1 + spec.layer_strain * nonpolar_layer(spec, rows_b)
        if spec.layout == "superlattice"
        else np.ones(len(rows_b))
    )
    row_start = np.concatenate([[0.0], np.cumsum(lengths)])[: len(rows_b)]
    row_start -= row_start[reach]  # row 0 at the centre
    return _CellGrid(
        period, basis, centre, ii, jj, variants, along_b=row_start[jj + reach], cell_b=lengths[jj + reach]
    )


def _columns(spec: SceneSpec, cells: _CellGrid, rng: np.random.Generator) -> _Columns:
    """The A, B (and in ABF the O) columns of the cells, bent and drifted, with their intensities."""
    period, ii, jj, variants = cells.period, cells.ii, cells.jj, cells.variants
    a_xy, b_xy, o_xy, a_shift, b_shift = _positions(spec, cells)
    n_cells = len(ii)
    is_sm = rng.random(n_cells) < spec.sm_fraction
    exponent = ABF_EXPONENT if spec.contrast == "abf" else spec.z_exponent
    layered = variants == PARAELECTRIC if spec.layout == "superlattice" else np.zeros(n_cells, bool)
    a_intensity = np.where(layered, Z_SR, np.where(is_sm, Z_SM, Z_BI)) ** exponent
    b_z = np.where(layered, Z_RU, Z_FE)
    # HAADF is incoherent: a mixed column adds its atoms' Z**n. ABF grows sublinearly with the column's
    # whole scattering.
    b_intensity = (b_z + Z_O) ** exponent if spec.contrast == "abf" else b_z**exponent + Z_O**exponent
    if spec.bend_periods:
        # Bend the rows: a parabola across the frame, the sides bend_periods periods above the centre.
        bend = spec.bend_periods * period / (spec.size / 2) ** 2

        def bent(xy):
            return xy + np.column_stack([np.zeros(len(xy)), -bend * (xy[:, 0] - spec.size / 2) ** 2])

        a_xy, b_xy, o_xy = bent(a_xy), bent(b_xy), bent(o_xy)

    # Slow drift: the frame is scanned row by row, so the apparent shift grows with y.
    drift = np.asarray(spec.drift_px, float)

    def drifted(xy):
        return xy + np.outer(xy[:, 1] / spec.size, drift)

    columns = _Columns(
        xy=drifted(np.vstack([a_xy, b_xy])),
        intensity=np.concatenate([a_intensity, b_intensity]),
        sublattice=np.array(["A"] * n_cells + ["B"] * n_cells),
        i=np.concatenate([ii, ii]),
        j=np.concatenate([jj, jj]),
        variant=np.concatenate([variants, variants]),
        dxy=np.vstack([a_shift, b_shift]),
    )
    if spec.contrast != "abf":
        return columns
    return _Columns(
        xy=np.vstack([columns.xy, drifted(o_xy)]),
        intensity=np.concatenate([columns.intensity, np.full(2 * n_cells, Z_O**exponent)]),
        sublattice=np.concatenate([columns.sublattice, ["O"] * (2 * n_cells)]),
        i=np.concatenate([columns.i, ii, ii]),
        j=np.concatenate([columns.j, jj, jj]),
        variant=np.concatenate([columns.variant, variants, variants]),
        dxy=np.vstack([columns.dxy, np.zeros((2 * n_cells, 2))]),
    )


def _positions(spec: SceneSpec, cells: _CellGrid) -> tuple[np.ndarray, ...]:
    """The A, B and O columns' positions (px) and the A and B displacements, before bend and drift."""
    period, basis, centre, ii = cells.period, cells.basis, cells.centre, cells.ii
    along_b, cell_b = cells.along_b, cells.cell_b
    # A site at cell corner (i, j); antipolar cells shift their A along a, sign alternating in i.
    u = spec.antipolar_pm / spec.pixel_size_pm
    a_shift = (
        np.where(cells.variants == ANTIPOLAR, u * np.where(ii % 2 == 0, 1.0, -1.0), 0.0)[:, None]
        * basis[0]
        / period
    )
    a_xy = centre + ii[:, None] * basis[0] + along_b[:, None] * basis[1] + a_shift
    # B site at the cell centre, displaced by its polar vector (and by the apparent offset, where asked).
    p = spec.polarization_pm / spec.pixel_size_pm
    directions = np.vstack([POLAR_DIRECTIONS, [[0.0, 0.0]], [[0.0, 0.0]]])[cells.variants]
    b_shift = p * (directions[:, :1] * basis[0] + directions[:, 1:] * basis[1]) / period
    offset = np.asarray(spec.b_offset_pm, float) / spec.pixel_size_pm
    b_shift = b_shift + (offset[0] * basis[0] + offset[1] * basis[1]) / period
    b_xy = centre + (ii[:, None] + 0.5) * basis[0] + (along_b + 0.5 * cell_b)[:, None] * basis[1] + b_shift
    # O-only columns at the cell's edge midpoints: visible in ABF only.
    o_xy = np.vstack(
        [
            a_xy + 0.5 * basis[0],
            centre + ii[:, None] * basis[0] + (along_b + 0.5 * cell_b)[:, None] * basis[1],
        ]
    )
    return a_xy, b_xy, o_xy, a_shift, b_shift


def _expose(
    spec: SceneSpec, xy: np.ndarray, intensity: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """The microscope: thickness, probe, scan jitter, background, dose, shot and read noise.

    Returns the columns' amplitudes, the counts per unit of the clean image, the expected counts and the
    noisy counts.
    """
    shape = (spec.size, spec.size)
    # Thickness: a smooth multiplicative field on column intensity.
    thickness = _smooth_field(shape, rng, scale=spec.size / 3)
    rows = np.clip(np.rint(xy[:, 1]).astype(int), 0, spec.size - 1)
    cols = np.clip(np.rint(xy[:, 0]).astype(int), 0, spec.size - 1)
    amplitude = intensity / intensity.max() * (1 + spec.thickness_variation * thickness[rows, cols])

    sigma_px = spec.probe_sigma_pm / spec.pixel_size_pm
    jitter = np.zeros((spec.size, 2))
    jitter[:, 0] = rng.normal(0, spec.jitter_px, spec.size)
    clean = gaussians.render(shape, xy, amplitude, sigma_px, row_shift=jitter)
    background = spec.background * (1 + 0.5 * _smooth_field(shape, rng, scale=spec.size / 2))
    # ABF: the columns scatter electrons out of the bright-field disc: dark dips on a bright field.
    clean = (1 + background - 0.5 * clean) if spec.contrast == "abf" else clean + background
    clean = np.clip(clean, 0, None)
    counts_per_unit = spec.dose / clean.mean()
    expected = clean * counts_per_unit
    counts = rng.poisson(expected).astype(float) + rng.normal(0, spec.read_noise, shape)
    return amplitude, counts_per_unit, expected, counts


def _smooth_field(shape, rng, *, scale: float) -> np.ndarray:
    """A smooth random field in [-1, 1] of correlation length ``scale`` px (a Gaussian filter in Fourier
    space)."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    transfer = np.exp(-2 * (np.pi * scale) ** 2 * (kx**2 + ky**2))
    field = np.fft.irfft2(np.fft.rfft2(rng.normal(size=shape)) * transfer, s=shape)
    return field / max(np.abs(field).max(), 1e-12)


SERIES_COMPOSITIONS = (0.0, 7.0, 10.0, 13.0, 20.0)  # % Sm, the compositions of the Sm-doped BiFeO3 library
SERIES_SIZE = 256  # px: a series frame's default side


def composition_spec(composition: float, **overrides) -> SceneSpec:
    """The ``mixed`` scene of an Sm-doped BiFeO3 film of ``composition`` % Sm.

    Toward the morphotropic boundary (0 to 20% Sm): the polar stripe domains narrow (10 to 4 cells) and
    their walls roughen (0 to 1.5 cells rms), an antipolar region appears above 8% and grows to 85% of the
    frame at 20%, the polarization falls by a quarter (35 to 26 pm) and the pseudo-cubic period shrinks a
    little (396 to 394 pm).

    Parameters
    ----------
    composition : float
        The Sm content, % (0 to 100; the trends are those of 0 to 20, held beyond).
    **overrides
        ``SceneSpec`` fields set instead (dose, size, ...).

    Returns
    -------
    SceneSpec

    Raises
    ------
    RewardscopeError
        If ``composition`` is outside [0, 100] or a field is out of range.

    Examples
    --------
    >>> spec = composition_spec(13.0)
    >>> spec.layout, spec.stripe_cells, round(spec.antipolar_share, 2), spec.sm_fraction
    ('mixed', 6, 0.35, 0.13)
    """
    if not 0 <= composition <= 100:
        raise RewardscopeError(f"`composition` must be a % Sm in [0, 100], got composition={composition}")
    t = min(composition / 20.0, 1.0)  # how far toward the 20% end of the series
    trends = {
        "layout": "mixed",
        "size": SERIES_SIZE,
        "sm_fraction": composition / 100.0,
        "stripe_cells": int(round(10 - 6 * t)),
        "wall_roughness": 1.5 * t**2,
        "antipolar_share": 0.85 * float(np.clip((composition - 8.0) / 12.0, 0.0, 1.0)),
        "polarization_pm": 35.0 * (1 - 0.25 * t),
        "lattice_pm": 396.0 - 0.1 * min(composition, 20.0),
    }
    return replace(SceneSpec(), **{**trends, **overrides}).validate()


@dataclass(frozen=True)
class SeriesFrame:
    """One frame of a synthetic composition series.

    Parameters
    ----------
    name : str
        ``Sm_<composition>_<index>``, as the frames of the Sm-doped BiFeO3 library are named.
    composition : float
        Its Sm content, %.
    scene : Scene
        The frame and its truth.
    """

    name: str
    composition: float
    scene: Scene

    def truth_row(self) -> dict:
        """The frame's truth in the series' terms: phase shares of its cells, ``|P|``, period, domain width.

        Returns
        -------
        dict
            ``frame``, ``composition``, ``polar_share``, ``antipolar_share``, ``paraelectric_share`` (of the
            B columns in the frame), ``mean_abs_p_pm`` (over every cell), ``polarization_pm`` (of a polar
            cell), ``lattice_pm``, ``stripe_cells``, ``wall_roughness_cells``, ``seed``.
        """
        spec, truth = self.scene.spec, self.scene.truth
        variant = truth.variant[truth.sublattice == "B"]
        polar = float(np.mean(variant < ANTIPOLAR))
        return {
            "frame": self.name,
            "composition": self.composition,
            "polar_share": polar,
            "antipolar_share": float(np.mean(variant == ANTIPOLAR)),
            "paraelectric_share": float(np.mean(variant == PARAELECTRIC)),
            "mean_abs_p_pm": spec.polarization_pm * polar,
            "polarization_pm": spec.polarization_pm,
            "lattice_pm": spec.lattice_pm,
            "stripe_cells": spec.stripe_cells,
            "wall_roughness_cells": spec.wall_roughness,
            "seed": self.scene.seed,
        }


def synthesize_series(
    compositions=SERIES_COMPOSITIONS, *, frames_per_composition: int = 2, seed: int = 0, **overrides
) -> list[SeriesFrame]:
    """A synthetic composition series: ``frames_per_composition`` frames of each composition.

    Parameters
    ----------
    compositions : sequence of float, default ``SERIES_COMPOSITIONS``
        The Sm contents, %.
    frames_per_composition : int, default 2
        Frames of each (other places in the film: other seeds).
    seed : int, default 0
        The series' seed: frame n is rendered with seed ``seed * 1000 + n``.
    **overrides
        ``SceneSpec`` fields for every frame (dose, size, ...).

    Returns
    -------
    list of SeriesFrame
        In the order of the compositions, then of the frames.

    Raises
    ------
    RewardscopeError
        On a composition or field out of range, or fewer than one frame per composition.

    Examples
    --------
    >>> frames = synthesize_series((0, 20), frames_per_composition=1, size=96)
    >>> [(f.name, f.scene.n_variants) for f in frames]
    [('Sm_0_0', 2), ('Sm_20_0', 3)]
    """
    if frames_per_composition < 1:
        raise RewardscopeError(f"`frames_per_composition` must be >= 1, got {frames_per_composition}")
    frames: list[SeriesFrame] = []
    for composition in compositions:
        spec = composition_spec(float(composition), **overrides)
        for index in range(frames_per_composition):
            scene = render_scene(spec, seed=seed * 1000 + len(frames))
            frames.append(SeriesFrame(f"Sm_{float(composition):g}_{index}", float(composition), scene))
    return frames


def write_series(frames: list[SeriesFrame], out_dir, *, overwrite: bool = False) -> Path:
    """Write a series: ``NAME.tif`` per frame, ``compositions.csv``, ``series_truth.csv``, ``truth/NAME.csv``.

    Parameters
    ----------
    frames : list of SeriesFrame
        The series (``synthesize_series``).
    out_dir : str or Path
        The folder made (replaced, if an earlier rewardscope output, only with ``overwrite``).
    overwrite : bool, default False
        Replace an earlier rewardscope output in ``out_dir``.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    RewardscopeError
        If ``out_dir`` exists and may not be replaced.
    """
    from . import outputs

    out = outputs.check_output_folder(out_dir, overwrite=overwrite, command="synth")
    staging = outputs.staging_folder(out, "synth")
    (staging / "truth").mkdir()
    for frame in frames:
        image = frame.scene.image
        write_image(staging / f"{frame.name}.tif", image.data, pixel_size_pm=frame.scene.spec.pixel_size_pm)
        frame.scene.truth.to_csv(staging / "truth" / f"{frame.name}.csv")
    rows = [frame.truth_row() for frame in frames]
    with open(staging / "compositions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "composition"])
        writer.writerows([row["frame"], f"{row['composition']:g}"] for row in rows)
    with open(staging / "series_truth.csv", "w", newline="") as handle:
        table = csv.DictWriter(handle, fieldnames=list(rows[0]))
        table.writeheader()
        table.writerows(rows)
    outputs.move_into_place(staging, out, "synth")
    return out


def write_scene(scene: Scene, out_dir, *, overwrite: bool = False) -> Path:
    """Write ``image.tif``, ``image.npy`` and ``truth.csv`` into a new folder.

    Parameters
    ----------
    scene : Scene
        The scene written.
    out_dir : str or Path
        The folder made; an earlier rewardscope output there is replaced only with ``overwrite``
        (see ``outputs``).
    overwrite : bool, default False
        Replace an earlier rewardscope output in ``out_dir``.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    RewardscopeError
        If ``out_dir`` exists and may not be replaced.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_scene(synthesize("single", size=64), pathlib.Path(tmp) / "scene")
    ...     sorted(p.name for p in out.iterdir())
    ['.rewardscope', 'image.npy', 'image.tif', 'truth.csv']
    """
    from . import outputs

    out = outputs.check_output_folder(out_dir, overwrite=overwrite, command="synth")
    staging = outputs.staging_folder(out, "synth")
    write_image(staging / "image.tif", scene.image.data, pixel_size_pm=scene.spec.pixel_size_pm)
    write_image(staging / "image.npy", scene.image.data.astype(np.float32))
    scene.truth.to_csv(staging / "truth.csv")
    outputs.move_into_place(staging, out, "synth")
    return out
