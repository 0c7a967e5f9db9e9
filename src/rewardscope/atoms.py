"""Atom columns: find them, split A from B by lattice geometry, refine to sub-pixel precision.

Detection (``detect_columns``): the first columns are the brightest column in
every disc of 0.75 lattice periods, kept only where they sit on the lattice,
and looked for again, with half the threshold, at lattice sites where none was
found. The other sublattice is looked for at the centre of every cell with
three corners, on the image without the fitted first columns, so a dim column
is found where the lattice says it must be, not where the noise happens to
peak. Which column is A and which B is then decided by geometry, not
brightness: the first columns form groups linked by lattice steps, each put
on one cation sublattice or the other by its neighbours' lattice offsets (a
layer whose brightest columns are B sits half a cell diagonal off), empty
sites at the seams are filled, and the sublattice brighter on average is A
(``a_site="dim"`` says the other), once for the whole image. So a layer where
B outshines A (Ru in SrRuO3 next to Sr) keeps its B columns as B, and a mixed
A site (Bi/Sm) never moves a column. The B site itself is the cell centre or
an edge midpoint, whichever holds the strongest columns.
Refinement (``refine_columns``) fits a 2-D Gaussian to
every column at once; each sublattice is fitted on the image minus the fitted
model of the other, so the bright A tails do not pull the B; the scan-line
jitter is then estimated against the fitted model, undone, and the fit repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import ndimage, sparse
from scipy.spatial import cKDTree
from skimage.morphology import disk

from . import gaussians
from .config import A_SITES, CONTRASTS, REFINEMENTS
from .errors import RewardscopeError
from .geometry import estimate_basis, fractional, lattice_links, orient_basis, period_of, walk_indices


@dataclass(frozen=True)
class Columns:
    """Atom columns: positions, sublattice, fit results and the lattice basis.

    ``xy`` (n, 2) px; ``sublattice`` 'A'/'B' (and 'O' where O columns were found reliably, in ABF:
    fitted so that their tails do not pull A and B, then kept out of every measurement); fit results
    (``amplitude``, width ``sigma`` px, 1-sigma position ``uncertainty`` px, relative ``residual``);
    and the lattice ``basis``.

    ``fit_ok`` is False where the Gaussian refinement did not converge (it ran away by more than a
    quarter period, or to an unphysical width or amplitude): such a column keeps its start position,
    which is not a measurement, so its cell gets no polarization and no class.
    """

    xy: np.ndarray
    sublattice: np.ndarray
    amplitude: np.ndarray
    sigma: np.ndarray
    uncertainty: np.ndarray
    basis: np.ndarray
    residual: np.ndarray | None = None  # rms fit residual / amplitude (Gaussian refinement only)
    b_site: tuple[float, float] = (0.5, 0.5)  # ideal B position in the A cell, lattice coordinates
    fit_ok: np.ndarray | None = None  # None: not fitted (centre of mass or detected pixels), all usable
    # What was decided and why: contrast (with each one's LoG* quality), the B site.
    decisions: dict | None = None
    # Per-column values brought with given positions (name -> array), written to atoms.csv.
    extra: dict | None = None

    @classmethod
    def from_positions(
        cls,
        xy,
        sublattice,
        image: np.ndarray | None = None,
        extra: dict | None = None,
        source: str | None = None,
    ) -> Columns:
        """Columns found by another program (atomap, TEMUL, quantem, your own).

        The lattice basis and the B site (cell centre or an edge midpoint) are measured from the
        positions; the positions are used as given, so the polarization is exactly B minus the mean of
        its four A corners.

        Parameters
        ----------
        xy : array_like
            (n, 2) positions, px (x = column, y = row).
        sublattice : array_like
            'A', 'B' or 'O' per row (O columns are kept, not measured).
        image : numpy.ndarray, optional
            The image, for the amplitudes (NaN without it).
        extra : dict, optional
            Per-column values to carry along (name -> array), written to atoms.csv.
        source : str, optional
            Where the positions came from, for ``decisions``.

        Returns
        -------
        Columns

        Raises
        ------
        RewardscopeError
            For positions not (n, 2) and finite, an unknown sublattice, or fewer than 16 columns of A or B.

        Examples
        --------
        >>> import numpy as np
        >>> a = [(x, y) for y in range(0, 50, 10) for x in range(0, 50, 10)]
        >>> b = [(x + 5.0, y + 5.0) for y in range(0, 40, 10) for x in range(0, 40, 10)]
        >>> columns = Columns.from_positions(np.array(a + b, float), ["A"] * 25 + ["B"] * 16)
        >>> columns.counts, columns.period, columns.b_site
        ({'A': 25, 'B': 16}, 10.0, (0.5, 0.5))
        """
        xy, sublattice = _checked_positions(xy, sublattice)
        a, b = xy[sublattice == "A"], xy[sublattice == "B"]
        basis = basis_from_positions(a)
        b_site = _nearest_b_site(a, b, basis)
        n = len(xy)
        amplitude = np.full(n, np.nan)
        if image is not None:
            amplitude = ndimage.map_coordinates(np.asarray(image, float), xy[:, ::-1].T, order=1)
        decisions = {"given": source or "positions", "b_site": list(b_site)}
        nan = np.full(n, np.nan)
        return cls(
            xy, sublattice, amplitude, nan, nan.copy(), basis, b_site=b_site, decisions=decisions, extra=extra
        )

    @property
    def usable(self) -> np.ndarray:
        """Where the position is a measurement: the fit converged (every column when not fitted).

        Returns
        -------
        numpy.ndarray
            (n,) bool.
        """
        return np.ones(len(self.xy), bool) if self.fit_ok is None else np.asarray(self.fit_ok, bool)

    @property
    def period(self) -> float:
        """The lattice period, px: the shorter basis vector's length (`geometry.period_of`).

        Returns
        -------
        float
        """
        return period_of(self.basis)

    def __len__(self) -> int:
        return len(self.xy)

    @property
    def counts(self) -> dict:
        """Number of columns per sublattice.

        Returns
        -------
        dict
            {"A": n_A, "B": n_B}, and "O" where O columns were found.
        """
        counts = {site: int(np.sum(self.sublattice == site)) for site in ("A", "B", "O")}
        return counts if counts["O"] else {"A": counts["A"], "B": counts["B"]}


MIN_GIVEN_COLUMNS = 16  # of each sublattice, for a lattice from given positions


def _nearest_b_site(a: np.ndarray, b: np.ndarray, basis: np.ndarray) -> tuple[float, float]:
    """The site of ``B_SITES`` (lattice coordinates in the A cell) the B columns sit nearest to."""
    _, nearest = cKDTree(a).query(b)
    offset = np.mod(fractional(b - a[nearest], np.zeros(2), basis) + 0.25, 1.0) - 0.25  # in [-1/4, 3/4)
    return min(B_SITES, key=lambda site: float(np.median(np.hypot(*(offset - np.array(site)).T))))


def _checked_positions(xy, sublattice) -> tuple[np.ndarray, np.ndarray]:
    """Given positions as (n, 2) floats and sublattices as str; one line naming what is wrong with them."""
    xy = np.asarray(xy, float)
    sublattice = np.asarray(sublattice).astype(str)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(sublattice):
        raise RewardscopeError(
            f"positions must be (n, 2) with one sublattice per row, got {xy.shape} "
            f"and {len(sublattice)} sublattices"
        )
    if not np.all(np.isfinite(xy)):
        raise RewardscopeError(
            f"{int(np.sum(~np.isfinite(xy).all(axis=1)))} positions are not finite numbers (NaN or inf)"
        )
    unknown = sorted(set(sublattice) - {"A", "B", "O"})
    if unknown:
        raise RewardscopeError(
            f"sublattice must be A, B or O (O columns are kept, not measured), got {str(unknown[0])!r}"
        )
    counts = {site: int(np.sum(sublattice == site)) for site in "AB"}
    if min(counts.values()) < MIN_GIVEN_COLUMNS:
        raise RewardscopeError(
            f"positions need at least {MIN_GIVEN_COLUMNS} columns of each sublattice, "
            f"got {counts['A']} A and {counts['B']} B"
        )
    return xy, sublattice


def basis_from_positions(xy: np.ndarray) -> np.ndarray:
    """The lattice basis of points on one lattice.

    The two most common nearest-neighbour directions, each the median of the neighbour vectors
    along it.

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) points of one lattice, px.

    Returns
    -------
    numpy.ndarray
        (2, 2) basis, rows a1, a2 (`geometry.orient_basis`).

    Raises
    ------
    RewardscopeError
        Where the points lie along one line.

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([(x, y) for y in range(0, 60, 12) for x in range(0, 50, 10)], float)
    >>> basis_from_positions(xy).tolist()
    [[10.0, 0.0], [0.0, 12.0]]
    """
    distance, index = cKDTree(xy).query(xy, k=5)
    vectors = (xy[index[:, 1:]] - xy[:, None, :]).reshape(-1, 2)
    lengths = distance[:, 1:].ravel()
    # [110] cells are sqrt 2 longer one way; diagonals beyond.
    vectors = vectors[lengths < 1.6 * np.median(distance[:, 1])]
    # A direction, whichever way the vector points.
    angle = np.rad2deg(np.arctan2(vectors[:, 1], vectors[:, 0])) % 180
    first = _dominant(angle)
    a1 = _along(vectors[_near_angle(angle, first)], first)
    rest = ~_near_angle(angle, first, 30)
    if not rest.any():
        raise RewardscopeError("the positions lie along one line: no two-dimensional lattice")
    second = _dominant(angle[rest])
    a2 = _along(vectors[rest & _near_angle(angle, second)], second)
    return orient_basis(np.array([a1, a2]))


def _along(vectors: np.ndarray, degrees: float) -> np.ndarray:
    """The median of ``vectors`` (all near one direction), each turned to point along ``degrees``."""
    unit = np.array([np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))])
    return np.median(np.where((vectors @ unit < 0)[:, None], -vectors, vectors), axis=0)


def _dominant(angle: np.ndarray) -> float:
    histogram, edges = np.histogram(angle, bins=36, range=(0, 180))
    return float(edges[np.argmax(histogram)] + 2.5)


def _near_angle(angle: np.ndarray, centre: float, within: float = 10.0) -> np.ndarray:
    return np.abs((angle - centre + 90) % 180 - 90) <= within


def column_response(image: np.ndarray, sigma: float) -> np.ndarray:
    """Scale-normalised Laplacian-of-Gaussian response: bright blobs of width ``sigma`` are positive.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    sigma : float
        The LoG scale, px.

    Returns
    -------
    numpy.ndarray
        ``-LoG(image) * sigma**2``, the image's shape.

    Examples
    --------
    >>> from rewardscope.gaussians import render
    >>> response = column_response(render((21, 21), [(10.0, 10.0)], 1.0, 2.0), 2.0)
    >>> bool(response[10, 10] > 0), bool(response[10, 10] == response.max())
    (True, True)
    """
    return -ndimage.gaussian_laplace(np.asarray(image, float), sigma) * sigma**2


@dataclass(frozen=True)
class Detection:
    """Columns as detected, before refinement.

    Pixel positions ``a_xy``, ``b_xy``, the lattice ``basis``, the column ``width`` (px) and the ideal
    ``b_site`` in the A cell (lattice coordinates: (1/2, 1/2) for [001], an edge midpoint for [110]).
    """

    a_xy: np.ndarray
    b_xy: np.ndarray
    basis: np.ndarray
    width: float
    b_site: tuple[float, float] = (0.5, 0.5)
    # The other sites searched: their columns' median response relative to A, and which is B.
    sites: dict | None = None
    # Columns of the other sites that hold columns (O in ABF): kept out of A and B.
    o_xy: np.ndarray | None = None
    o_sites: tuple = ()  # those sites, in lattice coordinates

    @property
    def period(self) -> float:
        """The lattice period, px (`geometry.period_of`).

        Returns
        -------
        float
        """
        return period_of(self.basis)


def find_columns(
    image: np.ndarray,
    *,
    column_sigma: float = 0.12,
    threshold: float = 0.3,
    refine: str = "gaussian",
    a_site: str = "bright",
    contrast: str = "auto",
) -> Columns:
    """Find, classify and refine the atom columns of a perovskite [001] HAADF image.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    column_sigma : float, optional
        The column width as a fraction of the lattice period (the LoG scale).
    threshold : float, optional
        The minimum A-column response as a fraction of the 90th percentile of column responses.
    refine : str, optional
        ``"gaussian"`` (batched 2-D Gaussian fit), ``"com"`` (centre of mass) or ``"none"`` (the
        detected pixel positions).
    a_site : str, optional
        Which cation sublattice is A: the ``"bright"`` one on average or the ``"dim"`` one (of the
        columns' signal: in dark contrast, the darker).
    contrast : str, optional
        ``"bright"`` columns (HAADF), ``"dark"`` (ABF: analysed on the inverted signal, so amplitudes
        are of the inverted signal), or ``"auto"``: the one of higher LoG* detection quality.

    Returns
    -------
    Columns
        ``Columns.decisions`` says what was decided.

    Raises
    ------
    RewardscopeError
        For an unknown option, or where no lattice or too few columns are found.
    """
    if refine not in REFINEMENTS:
        raise RewardscopeError(f"`refine` must be one of {', '.join(REFINEMENTS)}, got {refine=}")
    if contrast not in CONTRASTS:
        raise RewardscopeError(f"`contrast` must be one of {', '.join(CONTRASTS)}, got {contrast=}")
    image = np.asarray(image, float)
    # A wide frame's contrast is judged on its centre: the same answer, and the whole frame detected once.
    sample = _central_crop(image, CONTRAST_SAMPLE) if contrast == "auto" else image
    decided, tried, quality = _choose_contrast(sample, contrast, column_sigma, threshold, a_site)
    signal = _signal(image, decided)
    options: dict[str, Any] = {"column_sigma": column_sigma, "threshold": threshold, "a_site": a_site}
    detection = tried[decided] if sample is image else detect_columns(signal, **options)
    # O columns show in dark-column (ABF) contrast only; in HAADF an edge site's response is the A
    # columns' tails.
    keep_o = decided == "dark" and detection.o_xy is not None and len(detection.o_xy) > 0
    detection = replace(detection, o_xy=detection.o_xy if keep_o else None)
    columns = refine_columns(signal, detection, refine)
    decisions = _decisions(columns, detection, decided, contrast, quality)
    if sample is not image:
        decisions["contrast_judged_on"] = f"the central {sample.shape[1]} x {sample.shape[0]} px"
    return replace(columns, decisions=decisions)


def _decisions(
    columns: Columns, detection: Detection, decided: str, contrast: str, quality: dict[str, float]
) -> dict:
    """What `find_columns` decided and why: the contrast, the B site, the sites searched, O columns."""
    o_found = columns.counts.get("O", 0)
    return {
        "contrast": decided,
        "contrast_asked": contrast,
        "quality_by_contrast": quality,
        "b_site": list(detection.b_site),
        "sites": detection.sites,
        "o_columns": o_found
        or (columns.decisions or {}).get(
            "o_columns_left_out",
            "none: no other site of the cell holds columns"
            if decided == "dark"
            else "none (sought in dark-column contrast only)",
        ),
    }


def _choose_contrast(
    sample: np.ndarray, contrast: str, column_sigma: float, threshold: float, a_site: str
) -> tuple[str, dict[str, Detection], dict[str, float]]:
    """The contrast kept (bright or dark columns), the detections tried on ``sample`` and their LoG*
    detection quality."""
    from .detection import detection_quality  # (detection builds on this module)

    tried: dict[str, Detection] = {}
    quality: dict[str, float] = {}
    failure: RewardscopeError | None = None
    for kind in ("bright", "dark") if contrast == "auto" else (contrast,):
        if contrast == "auto" and quality.get("bright", 0) >= CLEAN_QUALITY:
            break  # bright columns on a clean lattice: the dark reading cannot be clearly better
        try:
            tried[kind] = detect_columns(
                _signal(sample, kind), column_sigma=column_sigma, threshold=threshold, a_site=a_site
            )
        except RewardscopeError as error:
            failure = failure or error
            continue
        quality[kind] = detection_quality(
            refine_columns(_signal(sample, kind), tried[kind], "none"), sample.shape
        )["quality"]
    if not tried:
        assert failure is not None  # every kind tried failed
        raise failure
    # Bright columns unless dark ones form a clearly cleaner lattice (iDPC, near a tie, shows its cations
    # bright).
    decided = (
        "dark"
        if quality.get("dark", -1) > quality.get("bright", -1) + DARK_MARGIN
        else min(quality, key=("bright", "dark").index)
    )
    return decided, tried, quality


def _signal(image: np.ndarray, contrast: str) -> np.ndarray:
    """The image with its columns bright: as it is, or inverted for dark columns."""
    return image if contrast == "bright" else image.max() - image


def _central_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` px of an image wider and taller than that; any other image itself.

    (whose errors then name the image's own shape)
    """
    if min(image.shape) <= size:
        return image
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def detect_columns(
    image: np.ndarray, *, column_sigma: float = 0.12, threshold: float = 0.3, a_site: str = "bright"
) -> Detection:
    """Locate A and B columns to the pixel.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image with bright columns.
    column_sigma, threshold : float, optional
        See `find_columns`.
    a_site : str, optional
        See `find_columns`.

    Returns
    -------
    Detection

    Raises
    ------
    RewardscopeError
        For an option out of range, or where no lattice or too few columns are found.
    """
    _check_detection_options(column_sigma, threshold, a_site)
    image = np.asarray(image, float)
    basis, sigma, response, a_xy = _first_columns(image, column_sigma, threshold)
    period = period_of(basis)
    # B columns are searched on the image without the fitted A columns, whose
    # bright tails (and LoG side lobes) would otherwise swamp them.
    a_fit = gaussians.fit(image, a_xy, radius=0.35 * period, sigma=sigma)
    ok = a_fit.converged
    width = float(np.clip(np.median(a_fit.sigma[ok]), 0.5 * sigma, 2 * sigma)) if ok.any() else sigma
    # Brightness as the smoothed signal at each column: robust where overlapping columns make the fitted
    # amplitudes scatter.
    smoothed = ndimage.gaussian_filter(image, width)
    split = split_by_contrast(a_xy, ndimage.map_coordinates(smoothed, a_xy[:, ::-1].T, order=1), basis)
    if split is not None:  # both cation columns were found on one lattice: no B to look for
        bright, cell, b_site = split
        is_a = bright if a_site == "bright" else ~bright
        both = "both cations found on one lattice, alternating in brightness"
        return Detection(a_xy[is_a], a_xy[~is_a], cell, width, b_site, sites={"split_by_contrast": both})
    b_xy, b_site, sites, o_xy, o_sites = _find_b_columns(
        column_response(image - _model(image.shape, a_fit), width), a_fit.xy, basis
    )
    # B on an edge ([110]): the first-found columns are A, no checkerboard to walk.
    if b_site == (0.5, 0.5):
        xy, even = _cation_checkerboard(response, a_xy, b_xy, basis)
        brightness = ndimage.map_coordinates(smoothed, xy[:, ::-1].T, order=1)
        even_brighter = (
            brightness[even].mean() >= brightness[~even].mean() if even.any() and (~even).any() else True
        )
        is_a = even if even_brighter == (a_site == "bright") else ~even
        a_xy, b_xy = xy[is_a], xy[~is_a]
    return Detection(a_xy, b_xy, basis, width, b_site, sites=sites, o_xy=o_xy, o_sites=o_sites)


def _first_columns(
    image: np.ndarray, column_sigma: float, threshold: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """The basis, the LoG scale (px), the LoG response and the first-found (brightest) columns on the
    lattice, grown into regions of dim columns."""
    basis = estimate_basis(image)
    period = period_of(basis)
    sigma = max(column_sigma * period, 0.7)
    response = column_response(image, sigma)
    a_xy = _on_lattice(_find_a_columns(response, period, threshold), basis, image.shape)
    expected = image.size / abs(np.linalg.det(basis))
    if len(a_xy) < max(4, 0.1 * expected):
        raise RewardscopeError(
            f"no atom columns found: {len(a_xy)} bright columns where the lattice period of "
            f"{period:.1f} px predicts about {expected:.0f}"
        )
    for _ in range(20):  # grow into regions of dim A columns, a ring of cells per round
        grown = _search_missing_a(response, a_xy, basis, threshold)
        if len(grown) == len(a_xy):
            break
        a_xy = grown
    return basis, sigma, response, a_xy


def _check_detection_options(column_sigma: float, threshold: float, a_site: str) -> None:
    """Refuse, in one line, a detection option out of its range."""
    if a_site not in A_SITES:
        raise RewardscopeError(f"`a_site` must be one of {', '.join(A_SITES)}, got {a_site=}")
    if not 0.02 <= column_sigma <= 0.4:
        raise RewardscopeError(f"`column_sigma` must be in [0.02, 0.4] lattice periods, got {column_sigma=}")
    if not 0 < threshold < 1:
        raise RewardscopeError(f"`threshold` must be in (0, 1), got {threshold=}")


def _cation_checkerboard(
    response: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, basis: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The cation columns on one checkerboard and their parity (True on the sublattice of the largest
    lattice of first-found columns), with the empty sites at the seams filled."""
    period = period_of(basis)
    first = np.concatenate([same_sublattice(a_xy, basis), np.zeros(len(b_xy), bool)])
    if len(b_xy):
        # A cell centre: the other sublattice.
        first[len(a_xy) :] = ~first[: len(a_xy)][cKDTree(a_xy).query(b_xy)[1]]
    xy, even = _distinct(np.vstack([a_xy, b_xy]), response, 0.3 * period, first)
    half = np.array([basis[0] + basis[1], basis[0] - basis[1]]) / 2
    # Where first-found columns changed sublattice (a layer of bright B), sites at the seams are empty.
    for _ in range(5):
        filled, even_filled = _fill_checkerboard(response, xy, even, half)
        if len(filled) == len(xy):
            break
        xy, even = filled, even_filled
    return xy, even


def same_sublattice(xy: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Whether each column lies on the sublattice of the largest group of them linked by lattice steps.

    For columns found on one lattice (the brightest in every disc).

    Where B outshines A in a layer, the brightest columns there are B, a lattice offset by half a cell
    diagonal from the A lattice of the other layers: a separate group of linked columns. Each group is put
    on the largest group's sublattice or on the other one by a vote of all its columns' neighbours in
    the groups already placed (their lattice coordinates' offset: whole, or whole plus (1/2, 1/2)).

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) columns, px.
    basis : numpy.ndarray
        (2, 2) lattice basis.

    Returns
    -------
    numpy.ndarray
        (n,) bool: True on the largest group's sublattice.
    """
    from scipy.sparse.csgraph import connected_components

    graph, _ = lattice_links(xy, basis)
    _, group = connected_components(graph, directed=False)
    same = np.ones(len(xy), bool)
    placed = np.zeros(len(xy), bool)
    period = period_of(basis)
    for g in np.argsort(-np.bincount(group)):
        members = np.flatnonzero(group == g)
        if placed.any():
            done = np.flatnonzero(placed)
            pairs = cKDTree(xy[members]).query_ball_tree(cKDTree(xy[done]), 1.6 * period)
            votes = []
            for m, near in zip(members, pairs):
                for d in near:
                    f = fractional(xy[m][None], xy[done[d]], basis)[0]
                    whole = np.hypot(*(f - np.rint(f)))
                    shifted = np.hypot(*(f - 0.5 - np.rint(f - 0.5)))
                    votes.append(same[done[d]] if whole < shifted else not same[done[d]])
            same[members] = np.mean(votes) >= 0.5 if votes else True
        placed[members] = True
    return same


def _fill_checkerboard(response: np.ndarray, xy: np.ndarray, even: np.ndarray, half: np.ndarray):
    """Add the columns at empty sites of the cation checkerboard that two found neighbours predict.

    Returns the columns and their parity.

    A site is filled where the response peaks within 0.15 periods of it and
    reaches a fifth of the median response of the found columns of its parity
    (the seams between layers whose first-found columns sit on different sublattices).
    """
    period = period_of(half) * np.sqrt(2)
    strength = ndimage.map_coordinates(response, xy[:, ::-1].T, order=1)
    steps = np.vstack([half, -half])
    predicted = (xy[:, None, :] + steps[None]).reshape(-1, 2)
    site_even = np.repeat(~even, len(steps))
    added, added_even = [xy], [even]
    for parity in (True, False):
        if not np.any(even == parity):
            continue
        found, value = _peaks_at_empty_sites(response, predicted[site_even == parity], xy, period)
        keep = value > 0.2 * np.median(strength[even == parity])
        added.append(found[keep])
        added_even.append(np.full(int(keep.sum()), parity))
    return _distinct(np.vstack(added), response, 0.3 * period, np.concatenate(added_even))


def _peaks_at_empty_sites(response: np.ndarray, sites: np.ndarray, xy: np.ndarray, period: float):
    """The columns at the empty predicted ``sites``, and their response.

    Of the predicted sites, those with no column of ``xy`` (within 0.3 periods), off the frame's edge
    and predicted by two neighbours or more: the strongest pixel near each that peaks on the site
    (within 0.15 periods: a real column peaks where the lattice says, noise anywhere in the search
    disc), and its response.
    """
    distance, _ = cKDTree(xy).query(sites, distance_upper_bound=0.3 * period)
    sites = sites[~np.isfinite(distance) & ~_near_edge(sites, response.shape, 0.3 * period)]
    if len(sites) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    centres, counts = _merge(sites, 0.3 * period)
    centres = centres[counts >= 2]
    found, value = _strongest_near(response, centres, 0.25 * period)
    on_site = np.hypot(*(found - centres).T) <= 0.15 * period
    return found[on_site], value[on_site]


def _distinct(xy: np.ndarray, response: np.ndarray, radius: float, labels: np.ndarray):
    """The points with no stronger point (by ``response``) within ``radius``, and their labels.

    (one column, one point)
    """
    strength = ndimage.map_coordinates(response, xy[:, ::-1].T, order=1)
    keep = np.ones(len(xy), bool)
    for p, q in cKDTree(xy).query_pairs(radius, output_type="ndarray"):
        keep[q if strength[p] >= strength[q] else p] = False
    return xy[keep], labels[keep]


def refine_columns(image: np.ndarray, detection: Detection, method: str = "gaussian") -> Columns:
    """Sub-pixel positions of the detected columns.

    ``"gaussian"``: fit A, fit B on the image without the A model, refit A on
    the image without the B model (batched Levenberg-Marquardt); then correct
    the scan lines against the fitted model and fit again.
    ``"com"``: background-subtracted centre of mass. ``"none"``: the detected pixels.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image with bright columns (the signal `detect_columns` was given).
    detection : Detection
        The columns to the pixel.
    method : str, optional
        ``"gaussian"``, ``"com"`` or ``"none"``.

    Returns
    -------
    Columns
        With ``fit_ok`` for the Gaussian refinement.
    """
    image = np.asarray(image, float)
    period, width = detection.period, detection.width
    a_xy, b_xy = detection.a_xy, detection.b_xy
    o_xy = detection.o_xy if detection.o_xy is not None else np.zeros((0, 2))
    labels = np.array(["A"] * len(a_xy) + ["B"] * len(b_xy) + ["O"] * len(o_xy))
    if method in ("com", "none"):
        return _refine_unfitted(image, detection, method, labels)
    fits = _fit_sublattices(image, [a_xy, b_xy, o_xy], period, width)
    checked = _without_unreliable_o(image, detection, method, fits) if len(o_xy) else None
    if checked is not None:
        return checked
    # STEM scans line by line: each line sits slightly off in x (scan-line jitter).
    # With the fitted model as reference, shift each line back and fit again.
    image = correct_scan_lines(image, sum((_model(image.shape, fit) for fit in fits), np.zeros(image.shape)))
    fits = _fit_sublattices(image, [fit.xy for fit in fits], period, width)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(fit, name) for fit in fits])

    return Columns(
        xy=np.vstack([fit.xy for fit in fits]),
        sublattice=labels,
        amplitude=joined("amplitude"),
        sigma=joined("sigma"),
        uncertainty=joined("uncertainty"),
        basis=detection.basis,
        residual=joined("residual"),
        b_site=detection.b_site,
        fit_ok=joined("converged"),
    )


def _refine_unfitted(image: np.ndarray, detection: Detection, method: str, labels: np.ndarray) -> Columns:
    """The columns at their centres of mass (``"com"``) or at the detected pixels (``"none"``)."""
    period, width = detection.period, detection.width
    a_xy, b_xy = detection.a_xy, detection.b_xy
    o_xy = detection.o_xy if detection.o_xy is not None else np.zeros((0, 2))
    if method == "com":
        a_xy = centre_of_mass(image, a_xy, 0.3 * period)
        b_xy = centre_of_mass(image, b_xy, 0.25 * period)
        o_xy = centre_of_mass(image, o_xy, 0.25 * period) if len(o_xy) else o_xy
    xy = np.vstack([a_xy, b_xy, o_xy])
    values = ndimage.map_coordinates(image, xy[:, ::-1].T, order=1)
    n = len(xy)
    return Columns(
        xy,
        labels,
        values,
        np.full(n, width),
        np.full(n, np.nan),
        detection.basis,
        b_site=detection.b_site,
    )


def _without_unreliable_o(
    image: np.ndarray, detection: Detection, method: str, fits: list[gaussians.GaussianFit]
) -> Columns | None:
    """The columns refined again without the O columns that are no finding; None where all are kept."""
    period = detection.period
    o_xy = detection.o_xy if detection.o_xy is not None else np.zeros((0, 2))
    if (
        fits[2].converged.mean() < MIN_O_CONVERGED
    ):  # not found reliably: left out, A and B fitted without them
        return replace(
            refine_columns(image, replace(detection, o_xy=None), method),
            decisions={
                "o_columns_left_out": f"{len(o_xy)} O columns found, left out: only"
                f" {fits[2].converged.mean():.0%} of their fits converged"
            },
        )
    # Only O columns that were fitted are kept (a weak column's failed fit is no finding), and only those
    # as far from their nearest A as an O site is (not one that settled on a B the B search missed).
    near, _ = cKDTree(fits[0].xy).query(fits[2].xy)
    expected = np.array(
        [np.linalg.norm(np.asarray(site) @ detection.basis) for site in detection.o_sites or B_SITES]
    )
    on_site = np.abs(near[:, None] - expected[None, :]).min(axis=1) <= 0.1 * period
    kept = fits[2].converged & on_site
    if kept.all():
        return None
    columns = refine_columns(image, replace(detection, o_xy=fits[2].xy[kept]), method)
    if not kept.any():
        return replace(
            columns,
            decisions={
                "o_columns_left_out": f"{len(o_xy)} O columns found, left out: none was fitted"
                " clear of the cation columns"
            },
        )
    return columns


def split_by_contrast(xy: np.ndarray, amplitude: np.ndarray, basis: np.ndarray, min_contrast: float = 2.0):
    """Split columns found on one lattice into bright A and dim B where brightness alternates.

    For each parity of the cell index (i, j, i + j) the gap between the mean
    amplitudes of the two parities is measured in pooled standard deviations
    (Cohen's d; means, not medians, because a random mixture of two column
    types, such as Bi and Sm, has a bimodal amplitude whose median jumps between
    the modes). Where the largest gap exceeds ``min_contrast``, returns
    (is_bright (n,), the doubled basis, the B site in lattice coordinates of the
    new cell); otherwise None.

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) columns found on one lattice, px.
    amplitude : numpy.ndarray
        (n,) their brightness.
    basis : numpy.ndarray
        (2, 2) the lattice basis of ``xy``.
    min_contrast : float, optional
        The smallest gap, in pooled standard deviations, that splits.

    Returns
    -------
    tuple or None
        (is_bright, doubled basis, B site), or None where brightness does not alternate.
    """
    ij = walk_indices(xy, basis)
    a1, a2 = basis
    candidates = {  # parity -> (the doubled cell, the step from a bright column to a dim one)
        "i": (ij[:, 0] % 2, np.array([2 * a1, a2]), a1),
        "j": (ij[:, 1] % 2, np.array([a1, 2 * a2]), a2),
        "i+j": (ij.sum(axis=1) % 2, np.array([a1 + a2, a1 - a2]), a1),
    }
    best, best_gap = None, min_contrast
    for parity, cell, step in candidates.values():
        groups = [amplitude[parity == 0], amplitude[parity == 1]]
        if min(len(g) for g in groups) < 4:
            continue
        means = [g.mean() for g in groups]
        spread = np.sqrt((groups[0].var() + groups[1].var()) / 2)
        gap = abs(means[1] - means[0]) / max(spread, 1e-12)
        if gap > best_gap:
            best, best_gap = (parity == int(np.argmax(means)), cell, step), gap
    if best is None:
        return None
    bright, cell, step = best
    cell = orient_basis(cell)
    site = np.mod(fractional(step[None], np.zeros(2), cell)[0] + 1e-6, 1.0) - 1e-6  # (1/2, 0), not (1/2, 1)
    return bright, cell, (float(np.round(site[0], 3)), float(np.round(site[1], 3)))


def _fit_sublattices(image, starts: list, period: float, width: float) -> list:
    """Fit A, then each other sublattice (B, and O where found) on the image without the ones before it.

    Then all but the last again on the image without the others' models: each column is fitted with
    its neighbours' tails taken away.
    """

    def fit(xy: np.ndarray, others: list[gaussians.GaussianFit]) -> gaussians.GaussianFit:
        without = image - sum((_model(image.shape, f) for f in others), np.zeros(image.shape))
        return gaussians.fit(without, xy, radius=0.35 * period, sigma=width)

    present = [k for k, xy in enumerate(starts) if len(xy)]
    fits: dict[int, gaussians.GaussianFit] = {}
    for k in present:
        fits[k] = fit(starts[k], list(fits.values()))
    for k in present[:-1]:
        fits[k] = fit(fits[k].xy, [fits[other] for other in present if other != k])
    empty = gaussians.fit(image, np.zeros((0, 2)), radius=0.35 * period, sigma=width)
    return [fits.get(k, empty) for k in range(len(starts))]


def correct_scan_lines(image: np.ndarray, model: np.ndarray) -> np.ndarray:
    """Undo a horizontal offset of each scan line, estimated against a model of the columns.

    Line r was recorded at x + s(r): ``I(r, x) ~ M(r, x + s) ~ M + s dM/dx``, so
    ``s(r) = sum((I - M - mean) dM/dx) / sum((dM/dx)^2)`` over the line (least
    squares, the line's mean offset removed); each line is resampled at x - s(r).

    Parameters
    ----------
    image : numpy.ndarray
        2-D image.
    model : numpy.ndarray
        The fitted columns rendered on the image's grid.

    Returns
    -------
    numpy.ndarray
        The image with each line resampled (cubic).

    Examples
    --------
    >>> from rewardscope.gaussians import render
    >>> model = render((16, 32), [(x, 8.0) for x in range(4, 32, 8)], 1.0, 2.0)
    >>> bool(np.allclose(correct_scan_lines(model, model), model))
    True
    """
    slope = np.gradient(model, axis=1)
    residual = image - model
    residual -= residual.mean(axis=1, keepdims=True)
    shift = np.sum(residual * slope, axis=1) / np.maximum(np.sum(slope * slope, axis=1), 1e-12)
    rows, cols = np.indices(image.shape, dtype=float)
    return ndimage.map_coordinates(image, [rows, cols - shift[:, None]], order=3, mode="nearest")


def _model(shape, fit: gaussians.GaussianFit) -> np.ndarray:
    """Image of the fitted columns of one sublattice, to subtract before fitting the other.

    All columns of a sublattice share the probe, so the model uses their median
    width: a noisy fit that came out broad must not erase its neighbours.
    """
    ok = fit.converged
    if not ok.any():
        return np.zeros(shape)
    return gaussians.render(shape, fit.xy[ok], fit.amplitude[ok], np.median(fit.sigma[ok]), reach=3.0)


def _find_a_columns(response: np.ndarray, period: float, threshold: float) -> np.ndarray:
    peaks = _disc_maxima(response, max(int(0.75 * period), 1), margin=max(int(0.15 * period), 1))
    if len(peaks) == 0:
        return np.zeros((0, 2))
    values = response[peaks[:, 0], peaks[:, 1]]
    keep = values > threshold * np.percentile(values, 90)
    return peaks[keep][:, ::-1].astype(float)


def _disc_maxima(response: np.ndarray, radius: int, margin: int) -> np.ndarray:
    """(row, col) of the positive pixels that are the maximum of the disc of ``radius`` around them.

    ``margin`` px or more from the border: what a maximum filter with a disc footprint finds, at a
    fraction of its cost.

    A disc maximum is also the maximum of the square inscribed in the disc, which a separable filter finds
    fast at any radius; only those candidates are then checked against their whole disc (beyond the frame
    the edge pixel counts, as in the filter's "nearest" mode).
    """
    side = max(2 * int(radius / np.sqrt(2)) + 1, 3)
    peaks = np.argwhere(
        (response == ndimage.maximum_filter(response, size=side, mode="nearest")) & (response > 0)
    )
    rows, cols = response.shape
    peaks = peaks[
        (peaks[:, 0] >= margin)
        & (peaks[:, 0] < rows - margin)
        & (peaks[:, 1] >= margin)
        & (peaks[:, 1] < cols - margin)
    ]
    oy, ox = np.nonzero(disk(radius))
    oy, ox = oy - radius, ox - radius
    keep = np.zeros(len(peaks), bool)
    for start in range(0, len(peaks), 4096):  # bounded memory: 4096 candidates x the disc's pixels at a time
        chunk = peaks[start : start + 4096]
        around = response[np.clip(chunk[:, :1] + oy, 0, rows - 1), np.clip(chunk[:, 1:] + ox, 0, cols - 1)]
        keep[start : start + 4096] = response[chunk[:, 0], chunk[:, 1]] >= around.max(axis=1)
    peaks = peaks[keep]
    return peaks[
        np.argsort(-response[peaks[:, 0], peaks[:, 1]], kind="stable")
    ]  # strongest first, as peak_local_max


def _on_lattice(xy: np.ndarray, basis: np.ndarray, shape) -> np.ndarray:
    """Keep columns with at least two of their four lattice neighbours (±a1, ±a2); one by the frame edge.

    A blob in an amorphous region or in vacuum noise does not sit on the
    lattice; a corner column of a crystal still has two neighbours.
    """
    if len(xy) == 0:
        return xy
    found = lattice_neighbours(xy, basis)
    return xy[found >= np.where(_near_edge(xy, shape, 1.2 * np.linalg.norm(basis, axis=1).max()), 1, 2)]


def lattice_neighbours(xy: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """How many of the four lattice neighbours (±a1, ±a2) of each point are in ``xy`` (within 0.2 periods).

    Parameters
    ----------
    xy : numpy.ndarray
        (n, 2) points, px.
    basis : numpy.ndarray
        (2, 2) lattice basis.

    Returns
    -------
    numpy.ndarray
        (n,) int, 0 to 4.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    >>> lattice_neighbours(xy, np.array([[10.0, 0.0], [0.0, 10.0]])).tolist()
    [1, 2, 1]
    """
    tree = cKDTree(xy)
    tolerance = 0.2 * period_of(basis)
    found = np.zeros(len(xy), int)
    for step in np.vstack([basis, -basis]):
        distance, _ = tree.query(xy + step, distance_upper_bound=tolerance)
        found += np.isfinite(distance)
    return found


def _near_edge(xy: np.ndarray, shape, margin: float) -> np.ndarray:
    return (
        (xy[:, 0] < margin)
        | (xy[:, 1] < margin)
        | (xy[:, 0] > shape[1] - 1 - margin)
        | (xy[:, 1] > shape[0] - 1 - margin)
    )


def _search_missing_a(
    response: np.ndarray, a_xy: np.ndarray, basis: np.ndarray, threshold: float
) -> np.ndarray:
    """Look again, with half the threshold, where the lattice puts an A column that was not found.

    A dim A column (rich in a light substituent, or thinner there) is still on
    the lattice: it is accepted if it has two found lattice neighbours and
    half the response the first pass asked for, peaking within 0.15 periods of the site.
    """
    period = period_of(basis)
    steps = np.vstack([basis, -basis])
    found, strength = _peaks_at_empty_sites(
        response, (a_xy[:, None, :] + steps[None]).reshape(-1, 2), a_xy, period
    )
    reference = np.percentile(response[np.rint(a_xy[:, 1]).astype(int), np.rint(a_xy[:, 0]).astype(int)], 90)
    extra = found[strength > 0.5 * threshold * reference]
    return np.vstack([a_xy, extra]) if len(extra) else a_xy


def _merge(points: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Group points closer than ``radius``: (group centroids, group sizes)."""
    tree = cKDTree(points)
    pairs = tree.sparse_distance_matrix(tree, radius, output_type="coo_matrix")
    graph = sparse.coo_matrix((np.ones(len(pairs.row)), (pairs.row, pairs.col)), shape=(len(points),) * 2)
    n_groups, group = sparse.csgraph.connected_components(graph, directed=False)
    counts = np.bincount(group, minlength=n_groups)
    centres = np.column_stack([np.bincount(group, points[:, k], n_groups) / counts for k in range(2)])
    return centres, counts


def _strongest_near(
    response: np.ndarray, centres: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """The pixel of strongest response within ``radius`` of each centre, and that response."""
    rows, cols = response.shape
    reach = max(int(np.ceil(radius)), 1)
    offsets = np.array(
        [
            (dx, dy)
            for dy in range(-reach, reach + 1)
            for dx in range(-reach, reach + 1)
            if dx * dx + dy * dy <= reach * reach
        ]
    )
    candidates = np.rint(centres).astype(int)[:, None, :] + offsets[None]
    cx = np.clip(candidates[..., 0], 0, cols - 1)
    cy = np.clip(candidates[..., 1], 0, rows - 1)
    values = response[cy, cx]
    best = np.argmax(values, axis=1)
    pick = np.arange(len(centres))
    return np.column_stack([cx[pick, best], cy[pick, best]]).astype(float), values[pick, best]


B_SITES = ((0.5, 0.5), (0.5, 0.0), (0.0, 0.5))
MIN_O_CONVERGED = 0.5  # O columns are kept (and modelled) only where most of their fits converge
CONTRAST_SAMPLE = 1024  # px: the side of the central crop on which a wider frame's contrast is judged
# A bright reading this clean is kept without trying the dark one (it could not beat it by DARK_MARGIN).
CLEAN_QUALITY = 0.9
# How much higher the dark reading's detection quality must be (SrTiO3 ABF: bright 0.71, dark 0.96).
DARK_MARGIN = 0.1


def _find_b_columns(response: np.ndarray, a_xy: np.ndarray, basis: np.ndarray):
    """The B columns: the site of the cell, among ``B_SITES``, whose columns respond most strongly.

    In a [001] HAADF image the B (with its O) sits at the cell centre; in a
    [110] image or with the O columns visible (ABF) other sites hold columns
    too, the B-O column being the strongest of them and a pure O column the
    weakest. Returns (B positions, the B site, per site the median response of
    its columns relative to the strongest site's and whether it holds B, the
    columns of the other sites that hold columns, and those sites), so that what was decided is said.
    """
    found = {site: _find_site_columns(response, a_xy, basis, site) for site in B_SITES}
    strength = {site: float(np.median(value)) if len(value) else 0.0 for site, (_, value) in found.items()}
    strongest = max(max(strength.values()), 1e-300)
    # A site holds columns where most of its predicted positions respond; the B site is the strongest such.
    held = [site for site in B_SITES if len(found[site][0]) >= 0.5 * len(a_xy)] or [B_SITES[0]]
    b_site = max(held, key=lambda site: strength[site])
    sites = {
        f"({site[0]:g}, {site[1]:g})": {
            "columns": len(found[site][0]),
            "relative_response": strength[site] / strongest,
            "b": site == b_site,
        }
        for site in B_SITES
    }
    o_sites = tuple(
        site for site in held if site != b_site
    )  # their columns: O (ABF), judged by their fits later
    o_xy = np.vstack([found[site][0] for site in o_sites]) if o_sites else np.zeros((0, 2))
    return found[b_site][0], b_site, sites, o_xy, o_sites


def _find_site_columns(
    response: np.ndarray, a_xy: np.ndarray, basis: np.ndarray, site
) -> tuple[np.ndarray, np.ndarray]:
    """Search the strongest response near every position of ``site`` (lattice coordinates) by an A column.

    Returns (positions, responses) of those that respond.
    """
    period = period_of(basis)
    corners = np.unique(np.array([[sx * site[0], sy * site[1]] for sx in (1, -1) for sy in (1, -1)]), axis=0)
    predictions = (a_xy[:, None, :] + (corners @ basis)[None]).reshape(-1, 2)
    predictions = predictions[~_near_edge(predictions, response.shape, 0.1 * period)]
    if len(predictions) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    # Up to four A corners predict each centre (two each edge midpoint): merge predictions closer than
    # 0.3 periods.
    centres, counts = _merge(predictions, 0.3 * period)
    # A cell needs three of its four A corners (an edge both its ends), unless the frame cuts it: half a
    # cell hanging over vacuum has no B column.
    centres = centres[
        (counts >= max(2, len(corners) - 1)) | _near_edge(centres, response.shape, 0.75 * period)
    ]
    found, strength = _strongest_near(response, centres, 0.25 * period)
    # A cell centre with no column (vacuum beyond the crystal edge) has no positive response.
    keep = (
        strength > 0.5 * np.median(strength[strength > 0])
        if (strength > 0).any()
        else np.zeros(len(found), bool)
    )
    return found[keep], strength[keep]


def centre_of_mass(image: np.ndarray, xy: np.ndarray, radius: float, n_iter: int = 3) -> np.ndarray:
    """Background-subtracted intensity centroid within ``radius`` px, iterated; the plain baseline.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image with bright columns.
    xy : numpy.ndarray
        (n, 2) start positions, px.
    radius : float
        The centroid's disc, px.
    n_iter : int, optional
        Rounds, each centred on the last centroid.

    Returns
    -------
    numpy.ndarray
        (n, 2) centroids, px.

    Examples
    --------
    >>> from rewardscope.gaussians import render
    >>> image = render((21, 21), [(10.4, 9.7)], 1.0, 1.5)
    >>> centre_of_mass(image, np.array([[10.0, 10.0]]), 4.0).round(1).tolist()
    [[10.4, 9.7]]
    """
    image = np.asarray(image, float)
    xy = np.asarray(xy, float).copy()
    reach = int(np.ceil(radius))
    grid = np.arange(-reach, reach + 1)
    ox, oy = [g.ravel() for g in np.meshgrid(grid, grid)]
    for _ in range(n_iter):
        px = np.rint(xy[:, 0]).astype(int)[:, None] + ox
        py = np.rint(xy[:, 1]).astype(int)[:, None] + oy
        valid = (px >= 0) & (px < image.shape[1]) & (py >= 0) & (py < image.shape[0])
        valid &= (px - xy[:, :1]) ** 2 + (py - xy[:, 1:]) ** 2 <= radius**2
        values = image[np.clip(py, 0, image.shape[0] - 1), np.clip(px, 0, image.shape[1] - 1)]
        floor = np.min(np.where(valid, values, np.inf), axis=1, keepdims=True)
        weight = np.where(valid, values - floor, 0.0)
        total = weight.sum(axis=1)
        ok = total > 0
        xy[ok, 0] = (weight * px).sum(axis=1)[ok] / total[ok]
        xy[ok, 1] = (weight * py).sum(axis=1)[ok] / total[ok]
    return xy
