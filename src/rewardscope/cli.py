"""The ``rewardscope`` command line: analyze, atoms, demo, landscape, synth, validate.

Every error is one line on stderr and a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from .errors import RewardscopeError
from .text import counted

EXIT_ERROR = 1
VALIDATE_LEVELS = (
    "normal",
    "low",
    "very-low",
)  # validate.LEVELS, named here so that --help does not import the optimizer


def _whole_number(minimum: int, note: str = ""):
    """An argparse type: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}{note}, got {value}")
        return value

    return parse


_positive_int = _whole_number(1)
_count = _whole_number(0)
_index = _whole_number(0, " (numbered from 0)")


def _int_range(text: str) -> tuple[int, int]:
    """``N`` or ``LOW:HIGH`` (inclusive), whole numbers with 1 <= LOW <= HIGH."""
    try:
        low, high = (int(part) for part in text.split(":")) if ":" in text else (int(text),) * 2
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or LOW:HIGH, e.g. 2:6, got {text!r}") from None
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"expected 1 <= LOW <= HIGH, got {text!r}")
    return low, high


def _non_negative_list(what: str):
    """An argparse type: numbers >= 0 separated by commas."""

    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected numbers separated by commas, e.g. 0.5,1,2, got {text!r}"
            ) from None
        if any(not v >= 0 for v in values):
            raise argparse.ArgumentTypeError(f"{what} must be >= 0, got {text!r}")
        return values

    return parse


_beta_list = _non_negative_list("KL weights")


def _radii(text: str) -> tuple[int, ...]:
    values = _non_negative_list("pooling radii")(text)
    if any(v != int(v) for v in values):
        raise argparse.ArgumentTypeError(f"pooling radii are whole numbers of cells, got {text!r}")
    return tuple(int(v) for v in values)


def _names(what: str, choices: tuple[str, ...]):
    """An argparse type: comma-separated names, each one of ``choices``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        unknown = [name for name in names if name not in choices]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {(unknown or [text])[0]!r}; choose from {', '.join(choices)}"
            )
        return names

    return parse


def _region(text: str) -> tuple[float, float, float, float]:
    """An argparse type: ``X0:X1,Y0:Y1`` in px."""
    try:
        (x0, x1), (y0, y1) = ([float(v) for v in part.split(":")] for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a region is X0:X1,Y0:Y1 in px, such as 0:200,0:100; got {text!r}"
        ) from None
    return x0, x1, y0, y1


def _name_list(text: str) -> tuple[str, ...]:
    from .optimize import check_objectives

    try:
        return check_objectives(tuple(part.strip() for part in text.split(",") if part.strip())) or ()
    except RewardscopeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _weights(text: str) -> dict:
    from .rewards import with_defaults

    weights = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected NAME=WEIGHT, got {part!r}") from None
    try:
        with_defaults(weights)  # validates names and values
    except RewardscopeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return weights


def _int_range_step(text: str) -> list[int]:
    """``LOW:HIGH[:STEP]`` (inclusive, STEP default 2) -> the values, at least two."""
    from .landscape import parse_range

    try:
        return parse_range(text, step=2, minimum=3)
    except RewardscopeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _option(parser, name: str, *old_names: str, **kwargs):
    """Add option ``name``; ``old_names`` (earlier spellings, kept for one release) work too but are not shown
    in --help."""
    action = parser.add_argument(name, **kwargs)
    for old in old_names:
        parser.add_argument(
            old, **{**kwargs, "dest": action.dest, "default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
        )
    return action


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="no progress bars or messages")
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    parser = argparse.ArgumentParser(
        prog="rewardscope",
        description=(
            "Reward-driven, explainable unsupervised analysis of phases and ferroic variants in atomically"
            " resolved STEM images."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rewardscope {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_analyze_command(commands, common)
    _add_atoms_command(commands, common)
    _add_landscape_command(commands, common)
    _add_validate_command(commands, common)
    _add_demo_command(commands, common)
    _add_fetch_command(commands, common)
    _add_batch_command(commands, common)
    _add_series_command(commands, common)
    _add_worker_command(commands, common)
    _add_synth_command(commands, common)
    return parser


def _add_analyze_command(commands, common) -> None:
    analyze = commands.add_parser(
        "analyze",
        parents=[common],
        help="analyze an image (.npy, .tif) and write a report",
        description=(
            "Find columns, classify unit cells, and choose window and number of classes by maximizing the"
            " reward."
        ),
    )
    analyze.add_argument(
        "image",
        type=Path,
        help="image file (.npy, .npz, .tif, .png, .h5/.hdf5/.hspy; .dm3/.dm4/.emd/.ser/.mrc with"
        " rewardscope[io]), or a table of columns found elsewhere (.csv: x, y, sublattice)",
    )
    analyze.add_argument(
        "--image",
        dest="with_image",
        type=Path,
        metavar="IMAGE",
        help="with a positions table: the image they were found in (patches and figures need it)",
    )
    _add_reading_options(analyze)
    _add_output_options(analyze, "atoms.csv, summary.json, report.html")
    _add_analysis_options(analyze)
    reference = analyze.add_mutually_exclusive_group()
    reference.add_argument(
        "--reference",
        type=_index,
        metavar="CLASS",
        help=(
            "take this class of the chosen map as non-polar: its mean P is subtracted from every cell's (as"
            " with a substrate)"
        ),
    )
    reference.add_argument(
        "--reference-region",
        dest="reference",
        type=_region,
        metavar="X0:X1,Y0:Y1",
        help="take the cells in this region (px) as non-polar: their mean P is subtracted from every cell's",
    )


def _add_atoms_command(commands, common) -> None:
    from .config import REFINEMENTS

    atoms = commands.add_parser(
        "atoms",
        parents=[common],
        help="find, classify and refine the atom columns only",
        description=(
            "Find the A and B columns, refine them by 2-D Gaussian fits, index the unit cells; optionally"
            " tune the detector by the LoG* reward."
        ),
    )
    atoms.add_argument("image", type=Path, help="image file (as for analyze)")
    _add_reading_options(atoms)
    _add_output_options(atoms, "atoms.csv, columns.png, summary.json")
    _option(
        atoms,
        "--tune-detector",
        "--tune",
        type=_count,
        default=0,
        metavar="N",
        help="first tune the column detector with N LoG* trials (default 0: detector defaults)",
    )
    atoms.add_argument(
        "--refine", choices=REFINEMENTS, default="gaussian", help="sub-pixel refinement (default gaussian)"
    )
    _add_column_options(atoms)
    atoms.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_force_option(atoms)


def _add_landscape_command(commands, common) -> None:
    from .config import DESCRIPTORS

    landscape = commands.add_parser(
        "landscape",
        parents=[common],
        help="score every setting of a grid: one heat map per reward component",
        description=(
            "Evaluate the reward and its components at every (window, classes) grid point, in parallel."
        ),
    )
    landscape.add_argument("image", type=Path, help="image file (as for analyze)")
    _add_reading_options(landscape)
    _add_output_options(landscape, "landscape.csv, landscape.json, landscape.png")
    landscape.add_argument(
        "--window",
        type=_int_range_step,
        default=None,
        metavar="LOW:HIGH[:STEP]",
        help="the patch windows in px (STEP default 2), e.g. 8:48:4; needed for a patch descriptor",
    )
    landscape.add_argument(
        "--classes",
        type=_int_range,
        default=(2, 2),
        metavar="N|LOW:HIGH",
        help="numbers of classes, e.g. 2:8 (default 2)",
    )
    landscape.add_argument(
        "--grid", action="append", default=[], help=argparse.SUPPRESS
    )  # the spelling before --window and --classes
    _option(
        landscape,
        "--descriptors",
        "--descriptor",
        type=_names("descriptor", DESCRIPTORS),
        default=("patch",),
        metavar="KIND",
        help=f"the descriptor scored, one of {', '.join(DESCRIPTORS)} (default patch)",
    )
    _add_weights_option(landscape)
    landscape.add_argument("--seed", type=int, default=0, help="random seed of the learner (default 0)")


def _add_validate_command(commands, common) -> None:
    validate = commands.add_parser(
        "validate",
        parents=[common],
        help="validate the rewards against synthetic truth (a benchmark; minutes)",
        description=(
            "Score every setting on synthetic scenes with truth: regret and Spearman correlation with ARI"
            " per reward, and optimizer vs random search."
        ),
    )
    _add_output_options(validate, "validate.json, validate.md, landscapes/")
    validate.add_argument(
        "--seeds", type=_positive_int, default=2, help="seeds per layout and dose (default 2)"
    )
    validate.add_argument(
        "--budget", type=_positive_int, default=30, help="optimizer trials allowed per scene (default 30)"
    )
    validate.add_argument(
        "--levels",
        type=_names("level", VALIDATE_LEVELS),
        default=VALIDATE_LEVELS,
        metavar="LEVEL[,LEVEL...]",
        help=(
            f"doses scored, of {', '.join(VALIDATE_LEVELS)} (default all; very-low searches the spatial"
            " options)"
        ),
    )


def _add_demo_command(commands, common) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="synthesize the default scene, analyze it, and score it against the truth",
        description="Synthesize the default stripe-domain scene, analyze it as `rewardscope analyze` would,"
        " and print the adjusted Rand index of its classes against the scene's truth.",
    )
    _add_output_options(demo, "as for analyze", default=Path("rewardscope-demo"))
    _add_analysis_options(demo, trials=20)


def _add_fetch_command(commands, common) -> None:
    from .datasets import NAMES as DATASETS  # (pooch: imported only to build the parser)

    fetch = commands.add_parser(
        "fetch",
        parents=[common],
        help="download a public dataset (hash-checked, cached) and print its path",
        description=(
            "Download a public dataset once, check its hash, keep it in the cache ($REWARDSCOPE_DATA or the"
            " user cache) and print its path."
        ),
    )
    fetch.add_argument(
        "name",
        choices=DATASETS,
        help=(
            "sm-bfo: Sm-doped BiFeO3 composition series (Zenodo 4876786, ~2 GB, read with --allow-pickle"
            " --entry Sm_7_0); srtio3-adf / srtio3-abf: SrTiO3 [110] test images from the atomap 0.2.1 wheel"
        ),
    )


def _add_batch_command(commands, common) -> None:
    batch = commands.add_parser(
        "batch",
        parents=[common],
        help="analyze many images on Dask (a local cluster, or --scheduler)",
        description="Analyze every image given (files, folders of them, or globs such as 'frames/*.tif'),"
        " one Dask task per image; a summary table (batch.csv, index.html); rerun to redo only"
        " the images that did not finish.",
    )
    batch.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files, folders of them, or globs such as 'frames/*.tif'",
    )
    _add_reading_options(batch)
    _add_output_options(batch, "batch.csv, index.html, frames/NAME/")
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://host:8786 (default: a local cluster)",
    )
    batch.add_argument(
        "--workers", type=_positive_int, default=None, help="local cluster size (default: one per core)"
    )
    _add_analysis_options(batch, shared=False)


def _add_series_command(commands, common) -> None:
    series = commands.add_parser(
        "series",
        parents=[common],
        help="analyze a composition series as one: shared classes, phase fractions against composition",
        description="Analyze frames at several compositions with one setting and one set of classes (a"
        " learner fitted on every frame's cells), search each frame's own optimum on Dask beside it, and"
        " report phase shares, polarization, lattice, walls and reward against composition (series.html,"
        " series.csv); rerun to resume.",
    )
    series.add_argument(
        "frames",
        nargs="*",
        metavar="FRAME",
        help="image files, folders of them, globs, or a multi-entry file (.npz, or with --allow-pickle the"
        " Sm-BFO dict: every entry a frame)",
    )
    series.add_argument(
        "--demo",
        action="store_true",
        help="analyze the embedded synthetic series (0 to 20%% Sm, two frames each), its truth beside",
    )
    series.add_argument(
        "--composition",
        metavar="CSV|REGEX",
        help="a CSV of frame,composition rows, or a regular expression whose group is the composition"
        " (default: compositions.csv in a folder given, else 'Sm_(\\d+(?:\\.\\d+)?)_')",
    )
    series.add_argument(
        "--allow-mixed",
        action="store_true",
        help="analyze frames whose pixel sizes or lattice periods differ by more than 10%%",
    )
    series.add_argument(
        "--no-own", action="store_true", help="do not search each frame's own optimum (faster)"
    )
    _add_reading_options(series)
    _add_output_options(
        series, "series.html, series.csv, frames.csv, frames/NAME/", Path("rewardscope-series")
    )
    series.add_argument(
        "--scheduler", metavar="ADDRESS", help="a running Dask scheduler (default: a local cluster)"
    )
    series.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="local cluster size (default: cores - 1, at least 1)",
    )
    _add_analysis_options(series)


def _add_worker_command(commands, common) -> None:
    worker = commands.add_parser(
        "worker",
        parents=[common],
        help="join a shared study and run its trials until its budget is spent",
        description=(
            "Run trials of a study that `rewardscope analyze` (or `rewardscope series`) --storage URL --study"
            " NAME began, from any machine that reaches the database and reads the image (the frames) at the"
            " same path."
        ),
    )
    worker.add_argument(
        "--storage",
        required=True,
        metavar="URL",
        help="the study's database, postgresql://user:password@host:5432/db",
    )
    worker.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    _add_run_options(worker, "1")


def _add_synth_command(commands, common) -> None:
    from .synthetic import LAYOUTS

    synth = commands.add_parser(
        "synth",
        parents=[common],
        help="write a synthetic scene with ground truth (image.tif, image.npy, truth.csv)",
        description=(
            "Write a synthetic HAADF scene of a perovskite film with polar and antipolar domains, and its"
            " truth (every column's position, sublattice, cell and variant), for tests and benchmarks."
        ),
    )
    synth.add_argument(
        "layout",
        choices=(*LAYOUTS, "series"),
        help="domain layout, or series: a composition series of mixed frames (0 to 20%% Sm)",
    )
    _add_output_options(synth, "image.tif, image.npy, truth.csv")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--size", type=int, default=None, help="image side in px (default 384; 256 for a series)"
    )
    synth.add_argument(
        "--frames-per-composition",
        type=_positive_int,
        default=2,
        metavar="N",
        help="series: frames of each composition (default 2)",
    )
    synth.add_argument("--dose", type=float, default=400.0, help="mean electrons per pixel (default 400)")
    synth.add_argument(
        "--polarization-pm", type=float, default=35.0, help="B-site displacement in pm (default 35)"
    )
    synth.add_argument(
        "--antipolar-pm", type=float, default=18.0, help="antipolar A-site displacement in pm (default 18)"
    )
    _option(
        synth,
        "--pixel-size",
        "--pixel-size-pm",
        type=float,
        default=25.0,
        metavar="PM",
        help="pixel size in pm (default 25)",
    )
    synth.add_argument(
        "--rotation-deg", type=float, default=4.0, help="lattice rotation in degrees (default 4)"
    )
    synth.add_argument(
        "--sm-fraction", type=float, default=0.1, help="fraction of Sm on the A site (default 0.1)"
    )
    synth.add_argument(
        "--wall-angle-deg", type=float, default=0.0, help="stripes: wall angle to the a axis (default 0)"
    )


def _add_reading_options(parser) -> None:
    from .io import CHANNELS

    parser.add_argument(
        "--entry",
        help="array in a .npz, dataset in an HDF5 file, or entry (e.g. Sm_7_0) of a composition-series dict",
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read a pickled .npy dict (runs code from the file: trusted sources only)",
    )
    parser.add_argument("--frame", type=_index, help="frame of a stack to analyze (0-based)")
    _option(
        parser,
        "--pixel-size",
        "--pixel-size-pm",
        type=float,
        metavar="PM",
        help="pixel size in pm, overriding the file's calibration",
    )
    parser.add_argument(
        "--channel",
        choices=CHANNELS,
        help="of a colour image, the one channel to analyze (default: the mean of R, G and B)",
    )


def _reading(args) -> dict:
    """The keyword arguments of ``io.read_image`` that the reading options give."""
    return {
        "entry": args.entry,
        "frame": args.frame,
        "pixel_size": args.pixel_size,
        "allow_pickle": args.allow_pickle,
        "channel": args.channel,
    }


def _read(args):
    from .io import read_image

    return read_image(args.image, **_reading(args))


def _add_output_options(parser, contents: str, default: Path | None = None) -> None:
    if default is None:
        parser.add_argument(
            "--out",
            type=Path,
            required=True,
            metavar="DIR",
            help=f"output folder, new or an earlier result ({contents})",
        )
    else:
        parser.add_argument(
            "--out",
            type=Path,
            default=default,
            metavar="DIR",
            help=f"output folder ({contents}; default ./{default})",
        )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "replace an earlier rewardscope result in --out (never a file, nor a folder holding anything"
            " else)"
        ),
    )


def _add_column_options(parser) -> None:
    from .config import A_SITES, CONTRASTS

    parser.add_argument(
        "--contrast",
        choices=CONTRASTS,
        default="auto",
        help=(
            "bright columns (HAADF, ADF), dark columns (ABF), or auto: the one whose columns form the"
            " cleaner lattice (default auto)"
        ),
    )
    parser.add_argument(
        "--a-site",
        choices=A_SITES,
        default="bright",
        help="which cation sublattice is A: the brighter on average (default; HAADF), or the dimmer",
    )


def _add_force_option(parser) -> None:
    from .config import MIN_DETECTION_QUALITY

    parser.add_argument(
        "--force",
        action="store_true",
        help=f"go on when the detection quality is below {MIN_DETECTION_QUALITY} (the report is marked)",
    )


def _add_weights_option(parser) -> None:
    from .rewards import COMPONENTS, DEFAULT_WEIGHTS

    defaults = ",".join(f"{k}={v:g}" for k, v in DEFAULT_WEIGHTS.items())
    parser.add_argument(
        "--reward-weights",
        type=_weights,
        default=None,
        metavar="NAME=W,...",
        help=f"change the weights of these reward components ({', '.join(COMPONENTS)}); the others keep"
        f" their defaults, {defaults} (0 drops one)",
    )


def _add_analysis_options(parser, trials: int = 30, shared: bool = True) -> None:
    """The options of a search: budget, ranges, descriptors, reward, learners, priors, study, detector."""
    from .config import DESCRIPTORS

    trials_help = f"optimization trials (default {trials})"
    parser.add_argument("--trials", type=_positive_int, default=trials, help=trials_help)
    parser.add_argument("--seed", type=int, default=0, help="random seed of sampler and learner (default 0)")
    parser.add_argument(
        "--classes",
        type=_int_range,
        default=(2, 6),
        metavar="N|LOW:HIGH",
        help="number of classes, or the range searched (default 2:6)",
    )
    parser.add_argument(
        "--window",
        type=_int_range,
        default=None,
        metavar="N|LOW:HIGH",
        help="patch window in px, or the range searched in steps of 2 (default: 0.75 to 2.5 lattice periods)",
    )
    parser.add_argument(
        "--descriptors",
        type=_names("descriptor", DESCRIPTORS),
        default=None,
        metavar="KINDS",
        help=(
            "comma-separated descriptors the optimizer may choose from: patch, polarization, lattice,"
            " patch+polarization (default patch,polarization)"
        ),
    )
    _add_weights_option(parser)
    parser.add_argument(
        "--objectives",
        type=_name_list,
        default=None,
        metavar="NAME,NAME[,...]",
        help="optimize these reward components jointly (a Pareto front) instead of the combined reward;"
        " the front member with the highest combined reward is chosen",
    )
    _add_learner_options(parser)
    _add_spatial_options(parser)
    if shared:
        _add_study_options(parser)
    parser.add_argument(
        "--tune-detector",
        type=_count,
        default=0,
        metavar="N",
        help="first tune the column detector with N LoG* trials (default 0: detector defaults)",
    )
    _add_column_options(parser)
    parser.add_argument(
        "--restart",
        action="store_true",
        help=(
            "start an interrupted run afresh (a rerun into the same --out resumes it when its image and"
            " options are the same)"
        ),
    )
    _add_force_option(parser)


def _add_study_options(parser) -> None:
    """--storage and --study: a study shared with `rewardscope worker` processes."""
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="keep the study in this database (postgresql://user:password@host:port/db) so that"
        " `rewardscope worker` processes on any machine can join it (default: a journal file in OUT)",
    )
    parser.add_argument(
        "--study",
        default="rewardscope",
        metavar="NAME",
        help="study name in --storage (default rewardscope)",
    )


def _add_learner_options(parser) -> None:
    """--learner and the VAEs' settings."""
    from .config import LEARNERS, SYMMETRIES

    parser.add_argument(
        "--learner",
        type=_names("learner", LEARNERS),
        default=("gmm",),
        metavar="NAME[,NAME...]",
        help="what classifies the cells: gmm (PCA + Gaussian mixture, default), or a VAE of the patches:"
        " vae, rvae (rotation/translation invariant), crvae (conditioned on the GMM classes), jrvae (with a"
        " discrete latent); several are searched by the optimizer. VAEs need torch",
    )
    parser.add_argument(
        "--latent-dim",
        type=_int_range,
        default=(2, 2),
        metavar="N|LOW:HIGH",
        help="VAE latent size, or a range to search (default 2)",
    )
    parser.add_argument(
        "--beta",
        type=_beta_list,
        default=(1.0,),
        metavar="B[,B...]",
        help="VAE KL weight, or several to search (default 1)",
    )
    parser.add_argument("--epochs", type=_positive_int, default=30, help="VAE training epochs (default 30)")
    parser.add_argument(
        "--symmetry",
        type=int,
        default=1,
        choices=SYMMETRIES,
        help="rotations of the lattice the invariant VAEs search (4 for a square lattice): their angle"
        " latent then tells the polar variants apart (default 1: none)",
    )
    _add_run_options(parser, "the libraries' own (the cores); 1 with --storage")


def _add_run_options(parser, default_threads: str) -> None:
    """--device and --threads: where and on how many CPU threads a process runs its trials."""
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the VAEs train: auto (CUDA when torch sees a GPU, else the CPU; default), cpu, cuda",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"CPU threads of each trial (BLAS, OpenMP, torch; default {default_threads}: processes sharing a"
        " machine's cores must not ask for more threads than it has, or they run many times slower)",
    )


def _add_spatial_options(parser) -> None:
    """--pooling and --smoothing: the spatial priors for low-dose frames."""
    parser.add_argument(
        "--pooling",
        type=_radii,
        default=(0,),
        metavar="R[,R...]",
        help="average each cell's descriptor with its neighbours' within R cells before learning, or several"
        " radii to search (low dose: e.g. 0,1,2; default 0: none)",
    )
    parser.add_argument(
        "--smoothing",
        type=_non_negative_list("Potts strengths"),
        default=(0.0,),
        metavar="S[,S...]",
        help="strength of the Potts prior that lets neighbouring cells vote on each cell's class, or several"
        " to search (low dose: e.g. 0,0.5,1,2; default 0: none)",
    )


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    pressed = []

    def on_interrupt(signum, frame):
        pressed.append(signum)
        signal.signal(
            signal.SIGINT, signal.SIG_IGN
        )  # one Ctrl-C stops the run; the clean-up after it is not cut short
        raise KeyboardInterrupt

    # (Only the main thread may set handlers; main() called from another thread keeps Python's own.)
    previous = (
        signal.signal(signal.SIGINT, on_interrupt)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("rewardscope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI owns the terminal: one line, unless --debug
        if args.debug:
            raise
        if (
            pressed
        ):  # a library (the GP sampler's torch, a worker pool) turned the Ctrl-C into an error of its own
            print("rewardscope: interrupted", file=sys.stderr)
            return 130
        if isinstance(exc, RewardscopeError):
            message = exc.cli_message
        elif isinstance(exc, OSError):
            message = str(exc)
        else:
            message = f"internal error ({type(exc).__name__}): {exc}; rerun with --debug and report it"
        print(f"rewardscope: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _analysis_options(args) -> dict:
    """The keyword arguments of ``workflow.analyze`` that analyze and demo share: the plan's fields and
    where to run and write."""
    from .config import Config

    return {
        "out": args.out,
        "storage": getattr(args, "storage", None),
        "study_name": getattr(args, "study", None),
        "overwrite": args.overwrite,
        "restart": args.restart,
        "progress": not args.quiet,
        **_plan_options(args),
        "base": Config(contrast=args.contrast, a_site=args.a_site),
    }


def _plan_options(args) -> dict:
    """The ``AnalysisPlan`` fields the command line sets."""
    return {
        "n_trials": args.trials,
        "seed": args.seed,
        "n_classes_range": args.classes,
        "window_range": args.window,
        "descriptors": args.descriptors,
        "weights": args.reward_weights,
        "tune_detector": args.tune_detector,
        "objectives": args.objectives,
        "learners": args.learner,
        "latent_dim_range": args.latent_dim,
        "betas": args.beta,
        "epochs": args.epochs,
        "symmetry": args.symmetry,
        "poolings": args.pooling,
        "smoothings": args.smoothing,
        "force": args.force,
        "reference": getattr(args, "reference", None),
        "device": args.device,
        "threads": args.threads,
    }


def _analyze(args) -> int:
    from .workflow import analyze

    if args.image.suffix.lower() == ".csv":
        from .atoms import Columns
        from .io import read_image, read_positions

        image = read_image(args.with_image, **_reading(args)) if args.with_image else None
        xy, sublattice, extra = read_positions(args.image)
        columns = Columns.from_positions(
            xy,
            sublattice,
            image=None if image is None else image.data,
            extra=extra,
            source=str(args.image.resolve()),
        )
        if image is None:  # positions alone: a blank frame under them, calibrated by --pixel-size
            from .workflow import canvas

            image = canvas(columns, args.pixel_size)
        analysis = analyze(image, columns=columns, **_analysis_options(args))
    elif args.with_image:
        raise RewardscopeError(
            f"--image goes with a positions table (.csv), not with the image {str(args.image)!r}"
        )
    else:
        analysis = analyze(_read(args), **_analysis_options(args))
    _print_outcome(analysis, args.out, args.quiet)
    return 0


def _atoms(args) -> int:
    from .workflow import locate

    summary = locate(
        _read(args),
        out=args.out,
        tune=args.tune_detector,
        seed=args.seed,
        refine=args.refine,
        contrast=args.contrast,
        a_site=args.a_site,
        overwrite=args.overwrite,
        force=args.force,
        progress=not args.quiet,
    ).summary
    if not args.quiet:
        counts = summary["lattice"]["columns"]
        print(
            f"{counts['A']} A and {counts['B']} B columns ({summary['decisions']['contrast']} contrast),"
            " period"
            f" {summary['lattice']['period_px']:.2f} px, detection quality"
            f" {summary['quality']['quality']:.3f} ({summary['seconds']:.1f} s)"
        )
    print(f"columns: {args.out / 'atoms.csv'}")
    return 0


def _demo(args) -> int:
    from .metrics import result_accuracy
    from .synthetic import synthesize
    from .workflow import analyze

    scene = synthesize("stripes", seed=args.seed)
    if not args.quiet:
        print(
            f"synthesized a stripes scene of {scene.image.shape[0]} x {scene.image.shape[1]} px with"
            f" {scene.n_variants} variants"
        )
    analysis = analyze(scene.image, **_analysis_options(args))
    result = analysis.result
    score = result_accuracy(result, scene)
    _print_outcome(analysis, args.out, args.quiet)
    print(
        f"adjusted Rand index against the truth: {score.ari:.3f}"
        f" ({counted(score.n_classes_found, 'class', 'classes')} found, {score.n_classes_true} true)"
    )
    return 0


def _print_outcome(analysis, out: Path, quiet: bool) -> None:
    from .config import is_vae

    config = analysis.config
    if not quiet:
        window = f", window {config.window} px" if config.window is not None else ""
        learner = (
            f", {config.learner} learner (latent {config.latent_dim}, beta {config.beta:g})"
            if is_vae(config.learner)
            else ""
        )
        classes = counted(config.n_classes, "class", "classes")
        print(
            f"chosen: {config.descriptor} descriptor{window}{learner}, {classes}, reward"
            f" {analysis.result.reward:.3f}"
            f" ({len(analysis.trials)} trials, {analysis.seconds:.1f} s)"
        )
        print(
            "reward weights: "
            + ", ".join(f"{name} {weight:g}" for name, weight in analysis.weights.items() if weight)
        )
        if analysis.phases:
            print(analysis.phases["statement"])
    for warning in analysis.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"report: {out / 'report.html'}")


def _synth(args) -> int:
    from .synthetic import synthesize, write_scene

    if args.layout == "series":
        return _synth_series(args)
    scene = synthesize(
        args.layout,
        seed=args.seed,
        size=args.size or 384,
        dose=args.dose,
        polarization_pm=args.polarization_pm,
        antipolar_pm=args.antipolar_pm,
        pixel_size_pm=args.pixel_size,
        rotation_deg=args.rotation_deg,
        sm_fraction=args.sm_fraction,
        wall_angle_deg=args.wall_angle_deg,
    )
    out = write_scene(scene, args.out, overwrite=args.overwrite)
    if not args.quiet:
        print(
            f"wrote {out / 'image.tif'}, {out / 'image.npy'} and {out / 'truth.csv'} ({len(scene.truth.xy)}"
            " columns)"
        )
    return 0


def _quiet_dask() -> None:
    """Dask narrates its cluster's life at INFO, and its connections' shutdown at ERROR; our table is the
    report. (Set here, by the command line: library code leaves other libraries' loggers to the user; after
    the import, which sets Dask's own levels.)"""
    import distributed  # noqa: F401

    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def _synth_series(args) -> int:
    from .synthetic import SERIES_SIZE, synthesize_series, write_series

    frames = synthesize_series(
        frames_per_composition=args.frames_per_composition,
        seed=args.seed,
        size=args.size or SERIES_SIZE,
        dose=args.dose,
        pixel_size_pm=args.pixel_size,
        rotation_deg=args.rotation_deg,
    )
    out = write_series(frames, args.out, overwrite=args.overwrite)
    if not args.quiet:
        print(f"wrote {len(frames)} frames, compositions.csv and series_truth.csv to {out}")
    return 0


def _series(args) -> int:
    from .config import Config
    from .plan import AnalysisPlan
    from .series import SeriesRun, analyze_series, demo_inputs, read_series

    _quiet_dask()
    plan = AnalysisPlan(**_plan_options(args), base=Config(contrast=args.contrast, a_site=args.a_site))
    if args.demo == bool(args.frames):
        raise RewardscopeError("give the series' frames, or --demo for the synthetic series (not both)")
    if args.demo:
        inputs = demo_inputs(seed=args.seed)
    else:
        inputs = read_series(args.frames, composition=args.composition, reading=_reading(args))
    run = SeriesRun(
        per_frame=not args.no_own,
        scheduler=args.scheduler,
        n_workers=args.workers,
        storage=args.storage,
        study_name=args.study,
    )
    analysis = analyze_series(
        inputs,
        plan,
        out=args.out,
        run=run,
        allow_mixed=args.allow_mixed,
        overwrite=args.overwrite,
        restart=args.restart,
        progress=not args.quiet,
    )
    _print_series(analysis, args.out, args.quiet)
    return 1 if analysis.failed else 0


def _print_series(analysis, out: Path, quiet: bool) -> None:
    from .series import PHASES

    config = analysis.config
    if not quiet:
        window = f", window {config.window} px" if config.window is not None else ""
        classes = counted(config.n_classes, "class", "classes")
        frames = counted(len(analysis.frames), "frame")
        print(
            f"shared setting: {config.descriptor} descriptor{window}, {classes}, series"
            f" reward {analysis.reward:.3f} ({frames}, {analysis.seconds:.1f} s)"
        )
        if config.n_classes == 1:
            print("one phase: no map of two or more shared classes passed the gates in the series")
        for entry in analysis.classes:
            print(f"  class {entry['label']}: {entry['name']}")
        for row in analysis.compositions:
            shares = ", ".join(
                f"{phase} {row[f'{phase}_share_mean']:.2f}"
                for phase in PHASES
                if phase != "offset" or row["offset_share_mean"] > 0
            )
            print(f"  {row['composition']:g}% Sm ({counted(row['frames'], 'frame')}): {shares}")
        for drop in analysis.drops:
            print(
                f"reward drops at {drop['composition']:g}% Sm ({drop['reward']:.3f}, {drop['fall']:.0%} below"
                " the highest): the straight-wall prior no longer holds there"
            )
    for row in analysis.failed:
        print(f"failed: {row['frame']}: {row['reason']}", file=sys.stderr)
    print(f"report: {out / 'series.html'}")


def _batch(args) -> int:
    from .batch import run_batch
    from .config import Config

    _quiet_dask()
    from .plan import AnalysisPlan

    AnalysisPlan(
        **_plan_options(args), base=Config(contrast=args.contrast, a_site=args.a_site)
    )  # said before any frame
    options = {
        k: v
        for k, v in _analysis_options(args).items()
        if k not in ("out", "overwrite", "progress", "storage", "study_name")
    }
    rows = run_batch(
        args.images,
        args.out,
        scheduler=args.scheduler,
        n_workers=args.workers,
        progress=not args.quiet,
        options=options,
        reading=_reading(args),
        overwrite=args.overwrite,
    )
    failed = [r for r in rows if r["status"] == "failed"]
    for row in failed:
        print(f"failed: {row['file']}: {row['reason']}", file=sys.stderr)
    print(
        f"{len(rows) - len(failed)} of {len(rows)} frames done; table: {args.out / 'batch.csv'}, index:"
        f" {args.out / 'index.html'}"
    )
    return 1 if failed else 0


def _worker(args) -> int:
    from .plan import SHARED_THREADS
    from .workflow import work

    threads = args.threads or SHARED_THREADS
    count = work(args.storage, args.study, progress=not args.quiet, device=args.device, threads=threads)
    print(f"scored {count} settings of study {args.study!r}; its budget is spent")
    return 0


def _fetch(args) -> int:
    from .datasets import fetch

    logging.getLogger("pooch").setLevel(logging.WARNING if args.quiet else logging.INFO)
    print(fetch(args.name, progress=not args.quiet))
    return 0


def _landscape(args) -> int:
    from . import landscape
    from .config import Config

    if len(args.descriptors) != 1:
        raise RewardscopeError(
            f"a landscape scores one descriptor at a time, got {','.join(args.descriptors)}"
        )
    axes = dict(landscape.parse_grid(text) for text in args.grid)  # the older --grid NAME=LOW:HIGH[:STEP]
    windows = args.window or axes.get("window")
    classes = (
        list(range(args.classes[0], args.classes[1] + 1))
        if args.classes != (2, 2)
        else axes.get("n_classes", [2])
    )
    base = Config(descriptor=args.descriptors[0], seed=args.seed)  # validates the descriptor
    if not args.quiet:
        print(f"scoring {len(windows or [None]) * len(classes)} settings")
    rows = landscape.run(
        _read(args),
        args.out,
        windows,
        classes,
        base=base,
        weights=args.reward_weights,
        overwrite=args.overwrite,
    )
    best = max(rows, key=lambda r: r["reward"])
    if not args.quiet:
        print(
            f"optimum: window {best['window']} px, {counted(best['n_classes'], 'class', 'classes')}, reward"
            f" {best['reward']:.3f}"
        )
    print(f"landscape: {args.out / 'landscape.png'}")
    return 0


def _validate(args) -> int:
    from .validate import run

    summary = run(
        args.out,
        seeds=args.seeds,
        budget=args.budget,
        levels=args.levels,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    if not args.quiet:
        for level, m in summary["medians"].items():
            print(
                f"{level} dose: mean regret of the default reward {m['mean_regret_default']:.3f};"
                f" optimizer reaches 99% of the best reward in {m['median_bo_trials']:.0f} trials (random"
                f" search {m['median_random_trials']:.1f})"
            )
    print(f"validation: {args.out / 'validate.md'}")
    return 0


COMMANDS = {
    "analyze": _analyze,
    "atoms": _atoms,
    "demo": _demo,
    "fetch": _fetch,
    "landscape": _landscape,
    "synth": _synth,
    "validate": _validate,
    "worker": _worker,
    "batch": _batch,
    "series": _series,
}


if __name__ == "__main__":
    sys.exit(main())
