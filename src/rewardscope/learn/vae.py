"""Variational autoencoders of atom-centred patches (PyTorch), with the scikit-learn estimator contract.

Four kinds, one network (``PatchVAE(kind=...)``):

* ``vae``: a plain VAE; the latent means are the embedding.
* ``rvae``: rotation- and translation-invariant. Three more latents, an angle
  and two shifts (priors N(0, rotation_prior), default pi, and
  N(0, translation_prior) in half-patch units), move the decoder's coordinate grid: the decoder draws the
  patch in its own frame and it is sampled (bilinear) on the rotated and
  shifted grid, so the content latents need not encode orientation or offset.
  AtomAI's rVAE instead evaluates a coordinate MLP at every rotated pixel,
  about 50x the arithmetic on a CPU for the same invariance.
  With ``symmetry=n`` the lattice's n-fold rotations are searched as well: the
  likelihood is marginalized over the decoder's patch turned by k 360/n deg
  (k = 0..n-1), the angle's default prior narrows to 0.15 rad, and the angle
  reported is the encoder's plus the best turn.
  Gradient descent on a continuous angle does not find quarter turns (it
  stays in the nearest minimum); searched, they carry the ferroic variant:
  polar variants related by a lattice rotation differ in the angle only.
* ``crvae``: ``rvae`` conditioned on a class (``fit(X, y)``): the one-hot class
  joins the encoder's input and the decoder's latents, so the latents describe
  what varies within a class.
* ``jrvae``: ``rvae`` with a discrete latent of ``n_discrete`` categories
  (relaxed one-hot, Gumbel-softmax) beside the continuous ones; its posterior
  gives classes directly (``predict_proba``).

Loss: squared error of the standardised patch (a unit-variance Gaussian
likelihood) plus ``beta`` x the KL divergences to the priors (to the uniform
categorical for the discrete latent). CPU by default, the GPU with
``device="cuda"``; on the CPU the same ``random_state`` gives the same model.
"""

from __future__ import annotations

import inspect
import math
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

from ..config import VAE_LEARNERS as KINDS
from ..errors import RewardscopeError

# The angle's prior (rad) when the symmetry's turns are searched: wider priors (0.3, pi) let the
# angle drift between turns instead (exploratory runs, see the VAE benchmark in docs/benchmarks.md).
SYMMETRIC_ROTATION_PRIOR = 0.15
TORCH_MISSING = (
    "the VAE learners need PyTorch; install the CPU build with "
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
)


def _torch():
    try:
        import torch
    except ImportError:
        raise RewardscopeError(TORCH_MISSING) from None
    return torch


def torch_device(name: str = "auto") -> str:
    """The torch device a VAE trains on: ``auto`` is CUDA when torch sees a GPU, else the CPU.

    Parameters
    ----------
    name : str
        ``auto``, ``cpu`` or ``cuda``.

    Returns
    -------
    str
        ``cpu`` or ``cuda``.

    Raises
    ------
    RewardscopeError
        For ``cuda`` where torch sees no CUDA device.

    Examples
    --------
    >>> torch_device("cpu")
    'cpu'
    """
    if name == "cpu":
        return "cpu"
    available = _torch().cuda.is_available()
    if name == "cuda" and not available:
        raise RewardscopeError(
            "--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False)"
        )
    return "cuda" if available else "cpu"


@contextmanager
def torch_threads(threads: int | None):
    """Torch's intra-op threads set to ``threads`` within the block, and put back after (None: untouched).

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if threads is None:
        yield
        return
    torch = _torch()
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def cpu_threads(threads: int | None):
    """Every native thread pool held to ``threads`` within the block: the BLAS and OpenMP pools under
    numpy, SciPy and scikit-learn (``threadpoolctl``) and torch's intra-op threads; None: untouched.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with cpu_threads(1):
    ...     all(pool["num_threads"] == 1 for pool in threadpool_info())
    True
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(threads)), torch_threads(threads):
        yield


def require_torch() -> None:
    """Import torch now: a missing torch is said before any work, and its import (about 2 s) is not
    counted in the first VAE trial.

    Raises
    ------
    RewardscopeError
        If torch is not installed (saying how to install it).
    """
    _torch()


class PatchVAE:
    """A VAE of square patches given flattened, (n, side**2); see the module docstring for ``kind``.

    Learned attributes: ``side_``, ``history_`` (mean loss per epoch), ``net_``
    (the torch module). ``transform(X)`` gives the latent means: the content
    latents, then (invariant kinds) the angle in radians and the two shifts.

    Parameters
    ----------
    kind : str
        ``vae``, ``rvae``, ``crvae`` or ``jrvae``.
    latent_dim : int
        Content latents.
    beta : float
        Weight of the KL divergences.
    epochs, batch_size : int
        Training passes over the patches, and patches per step.
    learning_rate : float
        Adam's step size.
    hidden : int
        Width of the encoder's and decoder's two hidden layers.
    n_discrete : int
        Categories of the discrete latent (``jrvae``).
    rotation_prior : float, optional
        Standard deviation (rad) of the angle's prior; default pi, or 0.15 with ``symmetry`` > 1.
    translation_prior : float
        Standard deviation of the shifts' prior, in half-patch units.
    symmetry : int
        Order of the lattice's rotations searched (invariant kinds).
    device : str, optional
        Torch device (default the CPU).
    random_state : int, optional
        Seed of the weights, the shuffling and the sampling noise (default 0).
    max_train : int, optional
        Train on at most this many patches, drawn from the seed (every patch is still encoded).
    patience : int, optional
        Stop early: hold out a tenth of the patches, and stop when their loss (the negative ELBO) has not
        improved for this many epochs, keeping the best epoch's weights (``validation_history_``).
    threads : int, optional
        Torch's intra-op CPU threads while this model fits and encodes (the process's own setting is put
        back after); default torch's setting. On 2 cores two threads train 1.2-1.5x faster than one in one
        process, but two processes of two threads each ran 12x slower (docs/vae.md).
    """

    def __init__(
        self,
        kind: str = "rvae",
        *,
        latent_dim: int = 2,
        beta: float = 1.0,
        epochs: int = 30,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        hidden: int = 256,
        n_discrete: int = 2,
        rotation_prior: float | None = None,
        translation_prior: float = 0.1,
        symmetry: int = 1,
        device: str | None = None,
        random_state=None,
        max_train: int | None = None,
        patience: int | None = None,
        threads: int | None = None,
    ):
        self.kind = kind
        self.latent_dim = latent_dim
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.hidden = hidden
        self.n_discrete = n_discrete
        self.rotation_prior = rotation_prior
        self.translation_prior = translation_prior
        self.symmetry = symmetry
        self.device = device
        self.random_state = random_state
        self.max_train = max_train
        self.patience = patience
        self.threads = threads

    # -- the estimator contract -------------------------------------------------------------
    def fit(self, X, y=None) -> PatchVAE:
        """Train the VAE on the patches.

        The weights are initialised from ``random_state`` in a fork of torch's random state (the user's own
        is left as it was); the shuffling and the sampling noise are drawn from generators of its own.

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2), n >= 2.
        y : array-like of int, optional
            The class of each patch (needed by ``crvae``, ignored by the others).

        Returns
        -------
        PatchVAE
            This model, fitted.

        Raises
        ------
        RewardscopeError
            For bad settings, bad patches, a missing torch, or a ``crvae`` given no classes.
        """
        self._check_params()
        X = self._check_X(X, fitting=True)
        conditions = self._conditions(y, len(X), fitting=True)
        with torch_threads(self.threads):
            self._fit(X, conditions)
        return self

    def _fit(self, X: np.ndarray, conditions) -> None:
        torch = _torch()
        seed = 0 if self.random_state is None else int(self.random_state)
        device = torch.device(self.device or "cpu")
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            self.net_ = _network(self, self.side_).to(device)
        data = torch.as_tensor(X, dtype=torch.float32, device=device)
        cond = None if conditions is None else torch.as_tensor(conditions, dtype=torch.float32, device=device)
        # The noise is drawn where the data are; on the CPU one stream serves shuffling and noise.
        noise = torch.Generator(device=device).manual_seed(seed)
        shuffle = noise if device.type == "cpu" else torch.Generator(device="cpu").manual_seed(seed)
        self.history_: list[float] = []
        self.validation_history_: list[float] = []
        rows = [torch.as_tensor(part, device=device) for part in self._split(len(X), seed)]
        train, held = ((data[r], None if cond is None else cond[r]) for r in rows)
        self._train(*train, shuffle, noise, held)
        self.net_.eval()

    def _split(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The patches trained on and those held out for early stopping (none without ``patience``)."""
        rows = np.arange(n)
        if self.max_train is None and self.patience is None:
            return rows, rows[:0]
        rows = np.random.default_rng(seed).permutation(n)
        held = max(1, n // 10) if self.patience is not None and n >= 10 else 0
        train = rows[held:]
        if self.max_train is not None:
            train = train[: max(2, int(self.max_train))]
        return np.sort(train), np.sort(rows[:held])

    def _train(self, data, cond, shuffle, noise, held=(None, None)) -> None:
        torch = _torch()
        optimizer = _adam(torch, self.net_.parameters(), self.learning_rate)
        self.net_.train()
        best, since, kept = float("inf"), 0, None
        for epoch in range(self.epochs):
            order = torch.randperm(len(data), generator=shuffle).to(data.device)
            total = 0.0
            # The discrete latent's temperature falls from 1 to 0.5: soft early, nearly one-hot late.
            temperature = 1.0 - 0.5 * epoch / max(self.epochs - 1, 1)
            for start in range(0, len(data), self.batch_size):
                batch = order[start : start + self.batch_size]
                loss = self.net_.loss(
                    data[batch], None if cond is None else cond[batch], self.beta, temperature, noise
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            self.history_.append(total / len(data))
            if held[0] is None or not len(held[0]):
                continue
            with torch.no_grad():  # the held-out tenth's negative ELBO: stop when it stops falling
                value = float(self.net_.loss(held[0], held[1], self.beta, temperature, noise))
            self.validation_history_.append(value)
            if not np.isfinite(best) or value < best - 1e-4 * abs(best):
                best, since = value, 0
                kept = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            else:
                since += 1
                if since >= int(self.patience or 0):
                    break
        if kept is not None:
            self.net_.load_state_dict(kept)

    def transform(self, X, y=None) -> np.ndarray:
        """The latent means of the patches.

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2).
        y : array-like of int, optional
            Their classes (``crvae``).

        Returns
        -------
        numpy.ndarray
            (n, latent_dim [+ 3: angle, shift x, shift y for the invariant kinds]).

        Raises
        ------
        RewardscopeError
            If the model is not fitted, or for bad patches or classes.
        """
        means, _ = self._encode(X, y)
        return means

    def embedding(self, X, y=None, reference=None) -> np.ndarray:
        """Features for clustering: content latents, the angle as (cos, sin) so that it wraps, and the
        shifts scaled to unit variance.

        On B-centred patches the shift of the lattice against the patch centre is minus the polar
        displacement, so the shift latents carry the polarization.

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2).
        y : array-like of int, optional
            Their classes (``crvae``).
        reference : array-like of bool, optional
            The rows whose spread scales the shifts (default all).

        Returns
        -------
        numpy.ndarray
            (n, latent_dim) for ``vae``; (n, latent_dim + 4) for the invariant kinds.
        """
        means = self.transform(X, y)
        if self.kind == "vae":
            return means
        angle, shifts = means[:, self.latent_dim], means[:, self.latent_dim + 1 :]
        spread = shifts[slice(None) if reference is None else reference].std(axis=0)
        return np.column_stack(
            [
                means[:, : self.latent_dim],
                np.cos(angle),
                np.sin(angle),
                shifts / np.where(spread > 0, spread, 1.0),
            ]
        )

    def decode(self, latents, y=None, discrete=None) -> np.ndarray:
        """Patches drawn from content latents, in the decoder's own frame (angle and shifts 0).

        Parameters
        ----------
        latents : array-like
            Content latents, (n, latent_dim).
        y : array-like of int, optional
            The classes (``crvae``).
        discrete : array-like, optional
            One-hot categories (``jrvae``; default the first).

        Returns
        -------
        numpy.ndarray
            Flattened patches, (n, side**2).

        Raises
        ------
        RewardscopeError
            If the model is not fitted, or a ``crvae`` is given no classes.
        """
        torch = _torch()
        self._check_fitted()
        latents = np.asarray(latents, np.float32).reshape(-1, self.latent_dim)
        device = next(self.net_.parameters()).device
        z = torch.zeros((len(latents), self.net_.n_gauss), device=device)
        z[:, : self.latent_dim] = torch.as_tensor(latents, device=device)
        c = self._conditions(y, len(latents), fitting=False)
        c = None if c is None else torch.as_tensor(c, device=device)
        if self.kind == "jrvae":
            discrete = (
                np.eye(self.n_discrete, dtype=np.float32)[np.zeros(len(latents), int)]
                if discrete is None
                else discrete
            )
            discrete = torch.as_tensor(np.asarray(discrete, np.float32), device=device)
        with torch.no_grad():
            return self.net_.decode(z, c, discrete).cpu().numpy()

    def predict_proba(self, X, y=None) -> np.ndarray:
        """The posterior of the discrete latent (``jrvae`` only).

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2).
        y : None
            Ignored.

        Returns
        -------
        numpy.ndarray
            (n, n_discrete).

        Raises
        ------
        RewardscopeError
            For a kind other than ``jrvae``, or a model not fitted.
        """
        if self.kind != "jrvae":
            raise RewardscopeError(
                f"predict_proba needs the discrete latent of kind='jrvae', not kind={self.kind!r}"
            )
        _, probabilities = self._encode(X, y)
        return probabilities

    def predict(self, X, y=None) -> np.ndarray:
        """The most probable category of the discrete latent (``jrvae`` only).

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2).
        y : None
            Ignored.

        Returns
        -------
        numpy.ndarray
            (n,) integers.

        Raises
        ------
        RewardscopeError
            As ``predict_proba``.
        """
        return np.argmax(self.predict_proba(X, y), axis=1)

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit on the patches and return their latent means (``fit``, then ``transform``).

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2).
        y : array-like of int, optional
            Their classes (``crvae``).

        Returns
        -------
        numpy.ndarray
            As ``transform``.
        """
        return self.fit(X, y).transform(X, y)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path) -> None:
        """Save the parameters and the trained weights in one file (torch.save of plain tensors and numbers).

        Parameters
        ----------
        path : str or pathlib.Path
            The file written.

        Raises
        ------
        RewardscopeError
            If the model is not fitted.
        """
        torch = _torch()
        self._check_fitted()
        torch.save(
            {
                "params": self.get_params(),
                "side": self.side_,
                "history": self.history_,
                "n_conditions": getattr(self, "n_conditions_", 0),
                "state": {k: v.cpu() for k, v in self.net_.state_dict().items()},
            },
            Path(path),
        )

    @classmethod
    def load(cls, path, device: str | None = None) -> PatchVAE:
        """A model saved by ``save``.

        Parameters
        ----------
        path : str or pathlib.Path
            The file.
        device : str, optional
            Torch device to load onto (default the CPU).

        Returns
        -------
        PatchVAE
            The fitted model.
        """
        torch = _torch()
        saved = torch.load(Path(path), map_location="cpu", weights_only=True)
        model = cls(**{**saved["params"], "device": device})
        model.side_, model.history_ = saved["side"], saved["history"]
        if model.kind == "crvae":
            model.n_conditions_ = saved["n_conditions"]
        model.net_ = _network(model, model.side_)
        model.net_.load_state_dict(saved["state"])
        model.net_.to(torch.device(device or "cpu")).eval()
        return model

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments, as scikit-learn estimators give them.

        Parameters
        ----------
        deep : bool
            Ignored (no nested estimators).

        Returns
        -------
        dict
            Name to value.

        Examples
        --------
        >>> PatchVAE("vae", latent_dim=3).get_params()["latent_dim"]
        3
        """
        return {
            name: getattr(self, name)
            for name in inspect.signature(type(self).__init__).parameters
            if name != "self"
        }

    def set_params(self, **params) -> PatchVAE:
        """Set constructor arguments, as scikit-learn estimators do.

        Parameters
        ----------
        **params
            Names and values.

        Returns
        -------
        PatchVAE
            This model.
        """
        for name, value in params.items():
            setattr(self, name, value)
        return self

    # -- checks and helpers ----------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.kind not in KINDS:
            raise RewardscopeError(f"unknown VAE kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if int(self.latent_dim) < 1:
            raise RewardscopeError(f"`latent_dim` must be >= 1, got latent_dim={self.latent_dim}")
        if self.beta < 0:
            raise RewardscopeError(f"`beta` must be >= 0, got beta={self.beta}")
        if int(self.epochs) < 1:
            raise RewardscopeError(f"`epochs` must be >= 1, got epochs={self.epochs}")
        for name in ("max_train", "patience", "threads"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise RewardscopeError(f"`{name}` must be >= 1 or None, got {name}={getattr(self, name)}")
        if int(self.symmetry) < 1:
            raise RewardscopeError(
                "`symmetry` must be >= 1 (the order of the lattice's rotations),"
                f" got symmetry={self.symmetry}"
            )
        if self.kind == "jrvae" and int(self.n_discrete) < 2:
            raise RewardscopeError(
                f"`n_discrete` must be >= 2 for kind='jrvae', got n_discrete={self.n_discrete}"
            )

    def _check_X(self, X, fitting: bool = False) -> np.ndarray:
        X = np.asarray(X, np.float32)
        if X.ndim != 2 or len(X) < 2:
            raise RewardscopeError(
                f"patches must be a 2-D array (samples, side**2) of at least 2 rows, got shape {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise RewardscopeError("patches contain NaN or inf")
        side = int(round(math.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise RewardscopeError(f"patches must be square: {X.shape[1]} values per row is not side**2")
        if fitting:
            self.side_ = side
        elif side != self.side_:
            raise RewardscopeError(
                f"patches of side {side} px given to a model trained on side {self.side_} px"
            )
        return X

    def _conditions(self, y, n: int, fitting: bool):
        if self.kind != "crvae":
            return None
        if y is None:
            raise RewardscopeError(
                "kind='crvae' is conditioned on a class: give fit(X, y) and transform(X, y) the class labels"
            )
        y = np.asarray(y)
        if y.shape != (n,) or np.any(y < 0):
            raise RewardscopeError(f"class labels must be {n} integers >= 0, got shape {y.shape}")
        if fitting:
            self.n_conditions_ = int(y.max()) + 1
        elif y.max() >= self.n_conditions_:
            raise RewardscopeError(
                f"class label {int(y.max())} not seen in training ({self.n_conditions_} classes)"
            )
        return np.eye(self.n_conditions_, dtype=np.float32)[y]

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RewardscopeError("this PatchVAE is not fitted yet: call fit(X) first")

    def _encode(self, X, y):
        torch = _torch()
        self._check_fitted()
        X = self._check_X(X)
        conditions = self._conditions(y, len(X), fitting=False)
        device = next(self.net_.parameters()).device
        means, probabilities = [], []
        with torch.no_grad(), torch_threads(self.threads):
            for start in range(0, len(X), 1024):
                x = torch.as_tensor(X[start : start + 1024], device=device)
                c = (
                    None
                    if conditions is None
                    else torch.as_tensor(conditions[start : start + 1024], device=device)
                )
                mean, _, logits = self.net_.encode(x, c)
                if self.kind != "vae" and int(self.symmetry) > 1:
                    # The angle is the encoder's plus the symmetry turn that draws the patch best.
                    discrete = (
                        None
                        if logits is None
                        else torch.nn.functional.one_hot(logits.argmax(1), logits.shape[1]).float()
                    )
                    best = self.net_.errors(x, mean, c, discrete).argmin(dim=1)
                    angle = mean[:, self.latent_dim] + best * (2 * math.pi / int(self.symmetry))
                    mean[:, self.latent_dim] = torch.remainder(angle + math.pi, 2 * math.pi) - math.pi
                means.append(mean.cpu().numpy())
                if logits is not None:
                    probabilities.append(torch.softmax(logits, dim=1).cpu().numpy())
        return np.vstack(means), (np.vstack(probabilities) if probabilities else None)


def _network(model: PatchVAE, side: int):
    """The torch module for ``model``'s settings (built here so that importing this file needs no torch)."""
    torch = _torch()
    invariant = model.kind != "vae"
    latent = int(model.latent_dim)
    turns = (
        [2 * math.pi * k / int(model.symmetry) for k in range(int(model.symmetry))] if invariant else [0.0]
    )
    # Without the symmetry's turns the angle may take any value; with them it is the small tilt left over.
    rotation_prior = model.rotation_prior
    if rotation_prior is None:
        rotation_prior = math.pi if int(model.symmetry) == 1 else SYMMETRIC_ROTATION_PRIOR
    prior = torch.tensor(
        [1.0] * latent
        + ([rotation_prior, model.translation_prior, model.translation_prior] if invariant else [])
    )
    return _net_class()(
        side=side,
        latent=latent,
        hidden=int(model.hidden),
        n_conditions=getattr(model, "n_conditions_", 0) if model.kind == "crvae" else 0,
        n_discrete=int(model.n_discrete) if model.kind == "jrvae" else 0,
        invariant=invariant,
        turns=turns,
        prior=prior,
    )


@cache
def _net_class():
    """The torch module's class, a subclass of ``torch.nn.Module`` made when torch is first needed."""
    nn = _torch().nn
    methods = {
        "__init__": _net_init,
        "encode": _net_encode,
        "canonical": _net_canonical,
        "decode": _net_decode,
        "place": _net_place,
        "errors": _net_errors,
        "loss": _net_loss,
    }
    return type("PatchNet", (nn.Module,), methods)


def _net_init(self, *, side, latent, hidden, n_conditions, n_discrete, invariant, turns, prior) -> None:
    nn = _torch().nn
    nn.Module.__init__(self)
    pixels = side * side
    self.encoder = nn.Sequential(
        nn.Linear(pixels + n_conditions, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
    )
    self.n_gauss = latent + (3 if invariant else 0)
    self.gauss = nn.Linear(hidden, 2 * self.n_gauss)
    self.logits = nn.Linear(hidden, n_discrete) if n_discrete else None
    self.decoder = nn.Sequential(
        nn.Linear(latent + n_conditions + n_discrete, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, pixels),
    )
    self.register_buffer("prior", prior)
    self.side, self.latent, self.n_discrete, self.invariant, self.turns = (
        side,
        latent,
        n_discrete,
        invariant,
        turns,
    )


def _net_encode(self, x, c):
    """Means and log variances of the Gaussian latents, and the discrete latent's logits (or None)."""
    torch = _torch()
    h = self.encoder(x if c is None else torch.cat([x, c], dim=1))
    mean, logvar = self.gauss(h).chunk(2, dim=1)
    return mean, logvar.clamp(-12, 6), (self.logits(h) if self.logits is not None else None)


def _net_canonical(self, z, c, discrete):
    """The decoder's patch in its own frame."""
    torch = _torch()
    parts = (
        [z[:, : self.latent]] + ([c] if c is not None else []) + ([discrete] if discrete is not None else [])
    )
    return self.decoder(torch.cat(parts, dim=1))


def _net_decode(self, z, c, discrete):
    canonical = self.canonical(z, c, discrete)
    return canonical if not self.invariant else self.place(canonical, z)


def _net_place(self, canonical, z, turn: float = 0.0):
    """Sample the decoder's patch on its coordinate grid rotated by the angle and moved by the shifts."""
    torch = _torch()
    F = torch.nn.functional
    latent, side = self.latent, self.side
    angle, dx, dy = z[:, latent] + turn, z[:, latent + 1], z[:, latent + 2]
    cos, sin = torch.cos(angle), torch.sin(angle)
    affine = torch.stack([torch.stack([cos, -sin, dx], dim=1), torch.stack([sin, cos, dy], dim=1)], dim=1)
    image = canonical.view(-1, 1, side, side)
    grid = F.affine_grid(affine, image.shape, align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False).flatten(1)


def _net_errors(self, x, z, c, discrete):
    """Squared error of the reconstruction at each of the symmetry's turns, (n, symmetry)."""
    torch = _torch()
    canonical = self.canonical(z, c, discrete)
    if not self.invariant:
        return ((canonical - x) ** 2).sum(dim=1, keepdim=True)
    return torch.stack([((self.place(canonical, z, turn) - x) ** 2).sum(dim=1) for turn in self.turns], dim=1)


def _net_loss(self, x, c, beta: float, temperature: float, generator):
    """The negative ELBO of a batch, its sampling noise drawn from ``generator``."""
    torch = _torch()
    mean, logvar, logits = self.encode(x, c)
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    z = mean + noise * torch.exp(0.5 * logvar)
    discrete = _gumbel_softmax(logits, temperature, generator) if logits is not None else None
    # A unit-variance Gaussian likelihood, marginalized over the symmetry's turns (equally likely).
    reconstruction = -torch.logsumexp(-0.5 * self.errors(x, z, c, discrete), dim=1) + math.log(
        len(self.turns)
    )
    # KL(N(mean, var) || N(0, prior^2)) per latent.
    var_prior = self.prior**2
    kl = 0.5 * (torch.log(var_prior) - logvar + (logvar.exp() + mean**2) / var_prior - 1).sum(dim=1)
    if logits is not None:
        q = torch.softmax(logits, dim=1)
        kl = kl + (q * (torch.log(q.clamp_min(1e-12)) + math.log(self.n_discrete))).sum(dim=1)
    return (reconstruction + beta * kl).mean()


def _adam(torch, parameters, learning_rate: float):
    """Adam, its update fused into one kernel where this torch has one for the device (CPU: torch >= 2.4;
    10% faster training of the benchmark's rVAE), else the plain one."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel here
        return torch.optim.Adam(parameters, lr=learning_rate)


def _gumbel_softmax(logits, temperature: float, generator):
    """A relaxed one-hot sample, as ``torch.nn.functional.gumbel_softmax`` draws it, from ``generator``."""
    torch = _torch()
    gumbels = -torch.empty_like(logits).exponential_(generator=generator).log()
    return torch.softmax((logits + gumbels) / temperature, dim=-1)


class VAEClassifier:
    """Classes from a VAE of the patches, with the attributes of ``PCAGaussianMixture`` (``labels_``,
    ``probabilities_``, ``scores_`` the PCA scores of the patches, as for PCA + GMM, so that rewards
    compare learners in one space) plus ``latent_`` (the VAE's latent means) and ``vae_``.

    ``vae``, ``rvae``: a Gaussian mixture of ``n_classes`` on the VAE's embedding
    (content latents, the angle as cos, sin, and the shifts), fitted on the
    ``whole`` patches (a boolean mask, default all) and assigning every one: a
    patch cut by the frame is mirrored in, and in a VAE's latent space such
    patches gather into a cluster of their own that a mixture would take for a
    class. ``jrvae``: the discrete latent,
    with ``n_classes`` categories, gives the classes. ``crvae``: the classes of
    PCA + GMM on the patches condition the VAE; its latents then describe what
    varies within each class, and the classes are the GMM's. ``vae`` may be a
    fitted ``PatchVAE`` of kind vae or rvae to reuse (its training does not
    depend on the number of classes).

    Parameters
    ----------
    n_classes : int
        Number of classes.
    kind : str
        ``vae``, ``rvae``, ``crvae`` or ``jrvae``.
    vae : PatchVAE, optional
        A fitted VAE to reuse (``vae``, ``rvae``).
    random_state : int, optional
        Seed of the VAE and the mixture.
    **vae_params
        Further arguments of ``PatchVAE``.
    """

    def __init__(
        self,
        n_classes: int = 2,
        *,
        kind: str = "rvae",
        vae: PatchVAE | None = None,
        random_state=None,
        **vae_params,
    ):
        self.n_classes = n_classes
        self.kind = kind
        self.vae = vae
        self.random_state = random_state
        self.vae_params = vae_params

    def fit(self, X, whole=None) -> VAEClassifier:
        """Train the VAE (or take the one given) and classify the patches.

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2).
        whole : array-like of bool, optional
            The patches the frame does not cut, that the mixture is fitted on (``vae``, ``rvae``).

        Returns
        -------
        VAEClassifier
            This classifier, fitted.

        Raises
        ------
        RewardscopeError
            For an unknown kind, bad patches or settings, or ``whole`` not a mask of the patches.
        """
        from sklearn.decomposition import PCA

        from .gmm import PCAGaussianMixture

        if self.kind not in KINDS:
            raise RewardscopeError(f"unknown VAE kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        X = np.asarray(X, float)
        if self.kind == "jrvae":
            self.vae_ = PatchVAE(
                "jrvae", n_discrete=self.n_classes, random_state=self.random_state, **self.vae_params
            ).fit(X)
            probabilities = self.vae_.predict_proba(X)
            # Order classes by size, as PCAGaussianMixture does, so labels do not depend on the network's
            # order.
            sizes = np.bincount(np.argmax(probabilities, axis=1), minlength=self.n_classes)
            order = np.lexsort((np.arange(self.n_classes), -sizes))
            self.probabilities_ = probabilities[:, order]
            self.labels_ = np.argmax(self.probabilities_, axis=1)
        elif self.kind == "crvae":
            mixture = PCAGaussianMixture(self.n_classes, random_state=self.random_state).fit(X)
            self.vae_ = PatchVAE("crvae", random_state=self.random_state, **self.vae_params).fit(
                X, mixture.labels_
            )
            self.labels_, self.probabilities_, self.scores_ = (
                mixture.labels_,
                mixture.probabilities_,
                mixture.scores_,
            )
        else:
            self._fit_mixture_on_embedding(X, whole)
        if self.kind != "crvae":
            # The classes are judged in the space every learner shares, the PCA scores of the patches: a VAE's
            # own latent space is built to be clustered, so its silhouette would flatter any split.
            self.scores_ = PCA(
                n_components=max(1, min(8, X.shape[1], len(X) - 1)), random_state=self.random_state
            ).fit_transform(X)
        self.latent_ = self.vae_.transform(X, self.labels_ if self.kind == "crvae" else None)
        return self

    def fit_predict(self, X) -> np.ndarray:
        """Fit on the patches and return their classes.

        Parameters
        ----------
        X : array-like
            Flattened square patches, (n, side**2).

        Returns
        -------
        numpy.ndarray
            The class of each patch, (n,).
        """
        return self.fit(X).labels_

    @property
    def latent_dim(self) -> int:
        """The number of content latents of the fitted VAE (the first columns of ``latent_``).

        Raises
        ------
        RewardscopeError
            If the classifier is not fitted yet.
        """
        return int(self._fitted_vae().latent_dim)

    @property
    def patch_side(self) -> int:
        """The side in px of the square patches the fitted VAE encodes and draws.

        Raises
        ------
        RewardscopeError
            If the classifier is not fitted yet.
        """
        return int(self._fitted_vae().side_)

    @property
    def conditional(self) -> bool:
        """Whether the VAE is conditioned on the class (``crvae``): drawing a patch then needs a class."""
        return self.kind == "crvae"

    def decode(self, latents, classes=None) -> np.ndarray:
        """Patches the fitted VAE's decoder draws from content latents, in its own frame (angle and shifts 0).

        Parameters
        ----------
        latents : array-like
            Content latents, (n, latent_dim).
        classes : array-like of int, optional
            The class of each patch drawn; needed where the VAE is ``conditional``.

        Returns
        -------
        numpy.ndarray
            Flattened patches, (n, patch_side**2).

        Raises
        ------
        RewardscopeError
            If the classifier is not fitted yet, or a conditional VAE is given no classes.
        """
        return self._fitted_vae().decode(latents, classes)

    def _fit_mixture_on_embedding(self, X: np.ndarray, whole) -> None:
        """``vae``, ``rvae``: a Gaussian mixture on the VAE's embedding of the whole patches."""
        from .gmm import PCAGaussianMixture

        self.vae_ = (
            self.vae
            if self.vae is not None
            else PatchVAE(self.kind, random_state=self.random_state, **self.vae_params).fit(X)
        )
        whole = np.ones(len(X), bool) if whole is None else np.asarray(whole, bool)
        if whole.shape != (len(X),):
            raise RewardscopeError(
                f"`whole` must be a boolean mask of the {len(X)} patches, got shape {whole.shape}"
            )
        if whole.sum() < max(self.n_classes, 2):
            whole = np.ones(len(X), bool)  # too few whole patches to fit on: use them all
        embedding = self.vae_.embedding(X, reference=whole)
        mixture = PCAGaussianMixture(
            self.n_classes, pca_dim=embedding.shape[1], random_state=self.random_state
        )
        mixture.fit(embedding[whole])
        self.probabilities_ = mixture.predict_proba(embedding)
        self.labels_ = np.argmax(self.probabilities_, axis=1)

    def _fitted_vae(self) -> PatchVAE:
        if not hasattr(self, "vae_"):
            raise RewardscopeError("this VAEClassifier is not fitted yet: call fit(X) first")
        return self.vae_
