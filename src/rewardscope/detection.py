"""Detection quality: how plausible a set of atom columns is, without ground truth ("LoG*").

After Barakati et al., Digital Discovery 2024: a detector is tuned by rewards
built from what the lattice predicts. For a perovskite [001] projection:

* ``count``: every A corner has a B centre, so ``1 - |n_B / n_A - 1|`` (1 is ideal);
* ``spacing``: nearest A-A distances all equal the period; ``exp(-CV / 0.1)``
  with CV their coefficient of variation;
* ``no_short_pairs``: ``1 -`` the fraction of columns closer than 0.35 periods
  to another (duplicates, split columns, noise peaks next to real ones);
* ``coverage``: ``1 -`` the fraction of interior A columns with fewer than four
  lattice neighbours at ±a1, ±a2 (missed columns leave gaps);
* ``fill``: found A columns over the A sites the lattice predicts in the frame
  (reported, not rewarded: vacuum and amorphous regions lower it rightly).

The scalar ``quality`` is the geometric mean of the four rewarded terms.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial import cKDTree

from .atoms import Columns, find_columns, lattice_neighbours
from .errors import RewardscopeError

logger = logging.getLogger(__name__)
OBJECTIVES = ("count", "spacing", "no_short_pairs", "coverage")


def detection_quality(columns: Columns, shape: tuple[int, int]) -> dict:
    """The LoG* terms (each in [0, 1], higher is better), their geometric mean ``quality``, and ``fill``.

    Parameters
    ----------
    columns : Columns
        The columns found.
    shape : tuple of int
        (rows, cols) of the image they were found in.

    Returns
    -------
    dict
        ``count``, ``spacing``, ``no_short_pairs``, ``coverage``, ``quality`` and ``fill`` (floats).

    Examples
    --------
    >>> import numpy as np
    >>> from rewardscope.atoms import Columns
    >>> a = [(x, y) for y in range(5, 100, 10) for x in range(5, 100, 10)]
    >>> b = [(x + 5.0, y + 5.0) for x, y in a]
    >>> columns = Columns.from_positions(np.array(a + b, float), ["A"] * 100 + ["B"] * 100)
    >>> detection_quality(columns, (100, 100))["quality"]
    1.0
    """
    period = columns.period
    a = columns.xy[columns.sublattice == "A"]
    n_a, n_b = len(a), int(np.sum(columns.sublattice == "B"))
    if n_a < 5:
        return {**dict.fromkeys(OBJECTIVES, 0.0), "quality": 0.0, "fill": 0.0}
    count = max(0.0, 1 - abs(n_b / n_a - 1))
    tree = cKDTree(a)
    distance, _ = tree.query(a, k=2)
    nearest = distance[:, 1]
    spacing = float(np.exp(-(nearest.std() / nearest.mean()) / 0.1))
    short = cKDTree(columns.xy).query_pairs(0.35 * period, output_type="ndarray")
    no_short = 1 - len(np.unique(short)) / len(columns) if len(short) else 1.0
    margin = 1.2 * np.linalg.norm(columns.basis, axis=1).max()
    interior = (
        (a[:, 0] > margin)
        & (a[:, 1] > margin)
        & (a[:, 0] < shape[1] - 1 - margin)
        & (a[:, 1] < shape[0] - 1 - margin)
    )
    neighbours = lattice_neighbours(a, columns.basis)[interior]
    coverage = float(np.mean(neighbours == 4)) if len(neighbours) else 0.0
    fill = n_a / (shape[0] * shape[1] / abs(np.linalg.det(columns.basis)))
    terms = {
        "count": float(count),
        "spacing": spacing,
        "no_short_pairs": float(no_short),
        "coverage": coverage,
    }
    quality = float(np.prod([max(v, 0.0) for v in terms.values()]) ** (1 / len(terms)))
    return {**terms, "quality": quality, "fill": float(min(fill, 1.5))}


def tune_detector(
    image: np.ndarray,
    *,
    n_trials: int = 20,
    seed: int = 0,
    refine: str = "gaussian",
    progress: bool = False,
    contrast: str = "auto",
    a_site: str = "bright",
):
    """Multi-objective Optuna search over the detector's ``column_sigma`` and ``threshold``.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    n_trials : int, optional
        Detector settings tried (the default setting first).
    seed : int, optional
        Seed of the TPE sampler.
    refine, contrast, a_site : str, optional
        As for `rewardscope.atoms.find_columns`.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    best_params : dict
        The setting (``column_sigma``, ``threshold``) with the highest scalar quality.
    best_quality : float
        Its quality.
    front : list of dict
        The Pareto front of the four LoG* objectives, each ``{"params", "objectives", "quality"}``.

    Raises
    ------
    RewardscopeError
        For ``n_trials < 1``, or where no setting finds any atom columns.
    """
    from .progress import load_optuna
    from .progress import progress_bar as tqdm

    optuna = load_optuna()

    if n_trials < 1:
        raise RewardscopeError(f"`tune` trials must be >= 1, got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        directions=["maximize"] * len(OBJECTIVES),
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
    )
    study.enqueue_trial({"column_sigma": 0.12, "threshold": 0.3})
    for _ in tqdm(range(n_trials), desc="detector", unit="trial", disable=not progress):
        _try_setting(study, image, {"refine": refine, "contrast": contrast, "a_site": a_site})
    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not finished:
        raise RewardscopeError("no detector setting found any atom columns")
    best = max(finished, key=lambda t: t.user_attrs["quality"])
    return dict(best.params), best.user_attrs["quality"], _pareto_front(study)


def _pareto_front(study) -> list[dict]:
    """The study's Pareto-optimal settings: their parameters, LoG* objectives and scalar quality."""
    return [
        {
            "params": dict(t.params),
            "objectives": dict(zip(OBJECTIVES, t.values)),
            "quality": t.user_attrs["quality"],
        }
        for t in study.best_trials
    ]


def _try_setting(study, image: np.ndarray, options: dict) -> None:
    """Ask the study for a detector setting, find the columns with it and tell the LoG* objectives."""
    import optuna

    trial = study.ask(
        {
            "column_sigma": optuna.distributions.FloatDistribution(0.06, 0.25),
            "threshold": optuna.distributions.FloatDistribution(0.1, 0.7),
        }
    )
    try:
        columns = find_columns(image, **options, **trial.params)
    except RewardscopeError as exc:
        logger.debug("detector setting %s failed: %s", trial.params, exc)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    quality = detection_quality(columns, image.shape)
    trial.set_user_attr("quality", quality["quality"])
    study.tell(trial, [quality[name] for name in OBJECTIVES])
