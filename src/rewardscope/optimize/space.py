"""The search space of the workflow's hyperparameters: what the optimizer may choose.

A setting is a dict of the searched dimensions (window, n_classes, and the
descriptor, learner, latent size, beta, pooling and smoothing where they have
more than one value); settings that give the same result share a ``key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import is_vae, uses_patches
from ..errors import RewardscopeError

# Searched unless the user says otherwise; docs/benchmarks.md says why both.
DEFAULT_DESCRIPTORS = ("patch", "polarization")


@dataclass(frozen=True)
class SearchSpace:
    """What is searched: patch window in px (even steps), number of classes, descriptors and learners.

    The learners are gmm or VAEs, with the VAEs' latent sizes and KL weights. A
    dimension with one value is fixed. A VAE encodes image patches: a setting that pairs it with another
    descriptor (polarization, lattice) is that descriptor with the gmm learner (``applied``), so that
    naming a VAE keeps the cheap descriptors in the search.

    Parameters
    ----------
    window_range : tuple of int
        Lowest and highest patch window (px), searched in steps of 2 from the lowest.
    n_classes_range : tuple of int
        Fewest and most classes.
    descriptors : tuple of str
        The descriptors to choose from.
    learners : tuple of str
        The learners to choose from ("gmm", or VAEs).
    latent_dim_range : tuple of int
        Smallest and largest latent size of the VAEs.
    betas : tuple of float
        The VAEs' KL weights.
    poolings : tuple of int
        Radii (cells) of the descriptors' averaging over neighbouring cells.
    smoothings : tuple of float
        Strengths of the Potts prior on the cell grid (``learn.potts``).

    Raises
    ------
    RewardscopeError
        When a VAE learner is searched without the patch descriptor.

    Examples
    --------
    >>> space = SearchSpace(window_range=(12, 16), n_classes_range=(2, 3), descriptors=("patch",))
    >>> space.size
    6
    """

    window_range: tuple[int, int]
    n_classes_range: tuple[int, int] = (2, 6)
    descriptors: tuple[str, ...] = DEFAULT_DESCRIPTORS
    learners: tuple[str, ...] = ("gmm",)
    latent_dim_range: tuple[int, int] = (2, 2)
    betas: tuple[float, ...] = (1.0,)
    poolings: tuple[int, ...] = (0,)
    smoothings: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        if any(map(is_vae, self.learners)) and "patch" not in self.descriptors:
            raise RewardscopeError(
                f"the VAE learners encode image patches: search them with the patch descriptor (among"
                f" {','.join(self.descriptors)})"
            )

    def applied(self, params: dict) -> dict:
        """The setting as it is run: a VAE named with a descriptor other than patch is the gmm learner
        (its latent size and beta moot).

        Parameters
        ----------
        params : dict
            A setting.

        Returns
        -------
        dict
            The same, or with ``learner`` "gmm" (and no ``latent_dim`` or ``beta``).

        Examples
        --------
        >>> space = SearchSpace((12, 12), descriptors=("patch", "polarization"), learners=("rvae",))
        >>> space.applied({"descriptor": "polarization", "learner": "rvae", "beta": 2.0, "n_classes": 2})
        {'descriptor': 'polarization', 'learner': 'gmm', 'n_classes': 2}
        """
        descriptor = params.get("descriptor", self.descriptors[0])
        if descriptor == "patch" or not is_vae(params.get("learner", self.learners[0])):
            return dict(params)
        moot = ("latent_dim", "beta")
        return {**{k: v for k, v in params.items() if k not in moot}, "learner": "gmm"}

    @classmethod
    def for_period(
        cls,
        period: float,
        image_side: int,
        n_classes_range: tuple[int, int] = (2, 6),
        descriptors: tuple[str, ...] = DEFAULT_DESCRIPTORS,
        window_range: tuple[int, int] | None = None,
        **learning: Any,
    ) -> SearchSpace:
        """The search space of an image of lattice period ``period``.

        Windows from 0.75 to 2.5 lattice periods, never beyond a third of the image, unless
        ``window_range`` says which.

        Parameters
        ----------
        period : float
            The lattice period (px).
        image_side : int
            The image's shorter side (px).
        n_classes_range : tuple of int
            Fewest and most classes.
        descriptors : tuple of str
            The descriptors to choose from.
        window_range : tuple of int, optional
            (LOW, HIGH) of the windows, searched in steps of 2 from LOW.
        **learning
            The other fields of ``SearchSpace`` (learners, latent_dim_range, betas, poolings, smoothings).

        Returns
        -------
        SearchSpace
            The space.

        Raises
        ------
        RewardscopeError
            When ``window_range`` does not lie within 3 px and the image side.

        Examples
        --------
        >>> SearchSpace.for_period(16.0, 400).window_range
        (12, 40)
        """
        if window_range is None:
            low = max(6, int(2 * round(0.375 * period)))
            window_range = (low, max(low + 2, 2 * (min(int(2 * round(1.25 * period)), image_side // 3) // 2)))
        elif not 3 <= window_range[0] <= window_range[1] <= image_side:
            raise RewardscopeError(
                f"the window range {window_range[0]}:{window_range[1]} px must lie within 3 and the image"
                f" side, {image_side} px"
            )
        return cls(
            window_range=(window_range[0], window_range[1]),
            n_classes_range=(n_classes_range[0], n_classes_range[1]),
            descriptors=tuple(descriptors),
            **learning,
        )

    @property
    def windows(self) -> np.ndarray:
        """The windows searched (px): even steps from the lowest."""
        return np.arange(self.window_range[0], self.window_range[1] + 1, 2)

    @property
    def searched(self) -> dict[str, bool]:
        """The dimensions beyond window and classes that have more than one value."""
        return {
            "descriptor": len(self.descriptors) > 1,
            "learner": len(self.learners) > 1,
            "latent_dim": self.latent_dim_range[1] > self.latent_dim_range[0],
            "beta": len(self.betas) > 1,
            "pooling": len(self.poolings) > 1,
            "smoothing": len(self.smoothings) > 1,
        }

    def settings(self) -> list[dict]:
        """Every distinct setting.

        The window only counts for descriptors made of patches, latent size and beta only for the
        VAE learners.

        Returns
        -------
        list of dict
            One setting (searched dimension -> value) per key.

        Examples
        --------
        >>> settings = SearchSpace((12, 14), (2, 2), ("patch", "polarization")).settings()
        >>> len(settings), settings[-1]
        (3, {'descriptor': 'polarization', 'window': 12, 'n_classes': 2})
        """
        from itertools import product

        choices = {
            "descriptor": self.descriptors,
            "window": [int(w) for w in self.windows],
            "n_classes": range(self.n_classes_range[0], self.n_classes_range[1] + 1),
            "learner": self.learners,
            "latent_dim": range(self.latent_dim_range[0], self.latent_dim_range[1] + 1),
            "beta": self.betas,
            "pooling": self.poolings,
            "smoothing": self.smoothings,
        }
        searched = {"window": True, "n_classes": True, **self.searched}
        names = [name for name in choices if searched[name]]
        unique: dict[tuple, dict] = {}
        for values in product(*(choices[name] for name in names)):
            params = dict(zip(names, values))
            unique.setdefault(self.key(params), params)
        return list(unique.values())

    @property
    def size(self) -> int:
        """The number of distinct settings."""
        return len(self.settings())

    def key(self, params: dict) -> tuple:
        """What makes a setting distinct.

        Settings that give the same result share a key: without patches the window is moot, and so
        are the VAE's settings for the gmm learner.

        Parameters
        ----------
        params : dict
            A setting (its unsearched dimensions may be left out).

        Returns
        -------
        tuple
            Descriptor, window, classes, learner, latent size, beta, pooling, smoothing (None where moot).

        Examples
        --------
        >>> space = SearchSpace((12, 16), (2, 3), ("patch", "polarization"))
        >>> space.key({"window": 12, "n_classes": 2, "descriptor": "polarization"})
        ('polarization', None, 2, 'gmm', None, None, 0, 0.0)
        """
        descriptor = params.get("descriptor", self.descriptors[0])
        learner = self.applied(params).get("learner", self.learners[0])
        vae = is_vae(learner)
        return (
            descriptor,
            params["window"] if uses_patches(descriptor) else None,
            params["n_classes"],
            learner,
            params.get("latent_dim", self.latent_dim_range[0]) if vae else None,
            params.get("beta", self.betas[0]) if vae else None,
            params.get("pooling", self.poolings[0]),
            params.get("smoothing", self.smoothings[0]),
        )

    def opening(self, n_trials: int) -> list[dict]:
        """The first settings to score.

        The default patch setting (1.5 periods, fewest classes) of each learner, then every setting of
        the descriptors without patches, which are few and cost milliseconds.

        Parameters
        ----------
        n_trials : int
            The budget, which caps the list.

        Returns
        -------
        list of dict
            The settings, in order.

        Examples
        --------
        >>> SearchSpace((12, 40), descriptors=("patch",)).opening(20)
        [{'window': 26, 'n_classes': 2}]
        """
        middle = int(np.clip(2 * round(np.mean(self.window_range) / 2), *self.window_range))
        first = {
            "window": middle,
            "n_classes": self.n_classes_range[0],
            "learner": self.learners[0],
            "latent_dim": self.latent_dim_range[0],
            "beta": self.betas[0],
            "pooling": self.poolings[0],
            "smoothing": self.smoothings[0],
        }
        opening = []
        for descriptor in self.descriptors:
            if uses_patches(descriptor):
                opening += [
                    {**first, "descriptor": descriptor, "learner": learner} for learner in self.learners
                ]
            else:
                opening += [
                    self.applied({**first, "descriptor": descriptor, "n_classes": k})
                    for k in range(self.n_classes_range[0], self.n_classes_range[1] + 1)
                ]
        searched = {"window": True, "n_classes": True, **self.searched}
        return [{k: v for k, v in p.items() if searched[k]} for p in opening][:n_trials]

    def random_unseen(self, seen, rng: np.random.Generator) -> dict | None:
        """A setting whose key is not in ``seen``, uniformly at random.

        Parameters
        ----------
        seen : collection of tuple
            Keys (``key``) of the settings to leave out.
        rng : numpy.random.Generator
            The random draw.

        Returns
        -------
        dict or None
            The setting; None when every setting is seen.

        Examples
        --------
        >>> space = SearchSpace((12, 12), (2, 3), ("patch",))
        >>> space.random_unseen({space.key({"window": 12, "n_classes": 2})}, np.random.default_rng(0))
        {'window': 12, 'n_classes': 3}
        """
        settings = [p for p in self.settings() if self.key(p) not in seen]
        return settings[rng.integers(len(settings))] if settings else None

    def distributions(self) -> dict:
        """Optuna's distribution of each searched dimension.

        Returns
        -------
        dict
            Name -> ``IntDistribution`` or ``CategoricalDistribution``.

        Examples
        --------
        >>> SearchSpace((12, 17), (2, 3), ("patch",)).distributions()["window"]
        IntDistribution(high=16, log=False, low=12, step=2)
        """
        from optuna.distributions import CategoricalDistribution, IntDistribution

        low, high = self.window_range
        distributions = {
            "window": IntDistribution(low, low + 2 * ((high - low) // 2), step=2),
            "n_classes": IntDistribution(*self.n_classes_range),
            "descriptor": CategoricalDistribution(list(self.descriptors)),
            "learner": CategoricalDistribution(list(self.learners)),
            "latent_dim": IntDistribution(*self.latent_dim_range),
            "beta": CategoricalDistribution(list(self.betas)),
            "pooling": CategoricalDistribution([int(v) for v in self.poolings]),
            "smoothing": CategoricalDistribution(list(self.smoothings)),
        }
        return {
            name: d
            for name, d in distributions.items()
            if name in ("window", "n_classes") or self.searched[name]
        }
