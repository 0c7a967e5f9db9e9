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

LAYOUTS = ("stripes", "quadrants", "bubble", "rough", "single", "superlattice", "paraelectric")
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
    """Everything that defines a synthetic scene; lengths in pm unless named ``_px``."""

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
    bend_periods: float = 0.0  # lattice rows this many periods higher at the frame's sides than at its centre
    contrast: str = "haadf"  # or "abf": dark columns, O visible
    b_offset_pm: tuple[float, float] = (
        0.0,
        0.0,
    )  # every B shifted by this (along a, b): mistilt, not polarization

    def validate(self) -> SceneSpec:
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
        )
        for name, ok, bound in rules:
            value = getattr(self, name)
            if not ok(value):
                raise RewardscopeError(f"`{name}` must be {bound}, got {name}={value}")
        return self


@dataclass(frozen=True)
class Truth:
    """Per-column ground truth: xy (n, 2) px; sublattice 'A'/'B' ('O' in ABF); i, j; variant; dxy displacement px;
    peak_counts, the column's expected electrons per pixel at its centre above (ABF: below, negative) its
    surroundings, for the Cramer-Rao bound."""

    xy: np.ndarray
    sublattice: np.ndarray
    i: np.ndarray
    j: np.ndarray
    variant: np.ndarray
    dxy: np.ndarray
    peak_counts: np.ndarray | None = None

    def to_csv(self, path) -> None:
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
    image: Image
    truth: Truth
    spec: SceneSpec
    seed: int | None
    expected: np.ndarray | None = (
        None  # the expected counts of every pixel (the image before shot and read noise)
    )

    @property
    def n_variants(self) -> int:
        return len(np.unique(self.truth.variant[self.truth.sublattice == "B"]))


def variant_map(spec: SceneSpec, ii: np.ndarray, jj: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Variant of the cell (i, j) for the layout; ii, jj are cell indices centred on the scene."""
    x, y = ii.astype(float), jj.astype(float)
    extent = max(np.abs(x).max(), np.abs(y).max(), 1.0)
    if spec.layout == "single":
        return np.zeros_like(ii)
    if spec.layout == "paraelectric":
        return np.full_like(ii, PARAELECTRIC)
    if spec.layout == "superlattice":
        return np.where(nonpolar_layer(spec, jj), PARAELECTRIC, 0)
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


def nonpolar_layer(spec: SceneSpec, jj: np.ndarray) -> np.ndarray:
    """Superlattice: whether cell row ``jj`` lies in a non-polar layer (layers alternate every ``layer_cells`` rows)."""
    return np.floor_divide(jj, spec.layer_cells) % 2 == 1


def synthesize(layout: str = "stripes", *, seed: int | None = 0, **overrides) -> Scene:
    """Make a synthetic scene; ``overrides`` are ``SceneSpec`` fields."""
    spec = replace(SceneSpec(), layout=layout, **overrides).validate()
    return render_scene(spec, seed=seed)


def render_scene(spec: SceneSpec, *, seed: int | None = 0) -> Scene:
    spec.validate()
    rng = np.random.default_rng(seed)
    shape = (spec.size, spec.size)
    period = spec.lattice_pm / spec.pixel_size_pm
    theta = np.deg2rad(spec.rotation_deg)
    basis = period * np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    centre = np.array([spec.size / 2 + 0.3 * period, spec.size / 2 - 0.2 * period])
    reach = int(np.ceil(spec.size * 0.75 / period)) + 2
    ii, jj = np.meshgrid(np.arange(-reach, reach + 1), np.arange(-reach, reach + 1), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
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
    along_b = row_start[jj + reach]
    cell_b = lengths[jj + reach]

    # A site at cell corner (i, j); antipolar cells shift their A along a, sign alternating in i.
    u = spec.antipolar_pm / spec.pixel_size_pm
    a_shift = (
        np.where(variants == ANTIPOLAR, u * np.where(ii % 2 == 0, 1.0, -1.0), 0.0)[:, None]
        * basis[0]
        / period
    )
    a_xy = centre + ii[:, None] * basis[0] + along_b[:, None] * basis[1] + a_shift
    # B site at the cell centre, displaced by its polar vector (and by the apparent offset, where asked).
    p = spec.polarization_pm / spec.pixel_size_pm
    directions = np.vstack([POLAR_DIRECTIONS, [[0.0, 0.0]], [[0.0, 0.0]]])[variants]
    b_shift = p * (directions[:, :1] * basis[0] + directions[:, 1:] * basis[1]) / period
    offset = np.asarray(spec.b_offset_pm, float) / spec.pixel_size_pm
    b_shift = b_shift + (offset[0] * basis[0] + offset[1] * basis[1]) / period
    b_xy = centre + (ii[:, None] + 0.5) * basis[0] + (along_b + 0.5 * cell_b)[:, None] * basis[1] + b_shift

    n_cells = len(ii)
    is_sm = rng.random(n_cells) < spec.sm_fraction
    exponent = ABF_EXPONENT if spec.contrast == "abf" else spec.z_exponent
    layered = variants == PARAELECTRIC if spec.layout == "superlattice" else np.zeros(n_cells, bool)
    a_intensity = np.where(layered, Z_SR, np.where(is_sm, Z_SM, Z_BI)) ** exponent
    b_z = np.where(layered, Z_RU, Z_FE)
    # HAADF is incoherent: a mixed column adds its atoms' Z**n. ABF grows sublinearly with the column's whole scattering.
    b_intensity = (b_z + Z_O) ** exponent if spec.contrast == "abf" else b_z**exponent + Z_O**exponent
    # O-only columns at the cell's edge midpoints: visible in ABF only.
    o_xy = np.vstack(
        [
            a_xy + 0.5 * basis[0],
            centre + ii[:, None] * basis[0] + (along_b + 0.5 * cell_b)[:, None] * basis[1],
        ]
    )
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

    xy = drifted(np.vstack([a_xy, b_xy]))
    intensity = np.concatenate([a_intensity, b_intensity])
    sublattice = np.array(["A"] * n_cells + ["B"] * n_cells)
    cells_i = np.concatenate([ii, ii])
    cells_j = np.concatenate([jj, jj])
    cell_variant = np.concatenate([variants, variants])
    displacement = np.vstack([a_shift, b_shift])
    if spec.contrast == "abf":
        xy = np.vstack([xy, drifted(o_xy)])
        intensity = np.concatenate([intensity, np.full(2 * n_cells, Z_O**exponent)])
        sublattice = np.concatenate([sublattice, ["O"] * (2 * n_cells)])
        cells_i, cells_j = np.concatenate([cells_i, ii, ii]), np.concatenate([cells_j, jj, jj])
        cell_variant = np.concatenate([cell_variant, variants, variants])
        displacement = np.vstack([displacement, np.zeros((2 * n_cells, 2))])

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

    keep = (xy[:, 0] >= 0) & (xy[:, 0] <= spec.size - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= spec.size - 1)
    offset = np.array([cells_i[keep].min(), cells_j[keep].min()])
    truth = Truth(
        xy=xy[keep],
        sublattice=sublattice[keep],
        i=cells_i[keep] - offset[0],
        j=cells_j[keep] - offset[1],
        variant=cell_variant[keep],
        dxy=displacement[keep],
        peak_counts=(amplitude * counts_per_unit * (-0.5 if spec.contrast == "abf" else 1.0))[keep],
    )
    image = Image(
        counts, pixel_size=spec.pixel_size_pm, unit="pm", meta={"synthetic": asdict(spec), "seed": seed}
    )
    return Scene(image=image, truth=truth, spec=spec, seed=seed, expected=expected)


def _smooth_field(shape, rng, *, scale: float) -> np.ndarray:
    """A smooth random field in [-1, 1] with correlation length ``scale`` px (Gaussian filter in Fourier space)."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    transfer = np.exp(-2 * (np.pi * scale) ** 2 * (kx**2 + ky**2))
    field = np.fft.irfft2(np.fft.rfft2(rng.normal(size=shape)) * transfer, s=shape)
    return field / max(np.abs(field).max(), 1e-12)


def write_scene(scene: Scene, out_dir, *, overwrite: bool = False) -> Path:
    """Write ``image.tif``, ``image.npy`` and ``truth.csv`` into the new folder ``out_dir`` (or replace an
    earlier rewardscope output there with ``overwrite``; see ``outputs``)."""
    from . import outputs

    out = outputs.check_output_folder(out_dir, overwrite=overwrite, command="synth")
    staging = outputs.staging_folder(out, "synth")
    write_image(staging / "image.tif", scene.image.data, pixel_size_pm=scene.spec.pixel_size_pm)
    write_image(staging / "image.npy", scene.image.data.astype(np.float32))
    scene.truth.to_csv(staging / "truth.csv")
    outputs.move_into_place(staging, out, "synth")
    return out
