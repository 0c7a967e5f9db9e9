"""rewardscope: reward-driven, explainable unsupervised analysis of atomically
resolved STEM images of ferroic materials.

The workflow runs as stages (``io`` -> ``atoms`` -> ``lattice`` ->
``descriptors`` -> ``learn`` -> ``walls`` -> ``rewards``), ``optimize`` chooses
the hyperparameters that maximize a physics-based reward, and ``report``
explains the result. ``workflow`` is the one module that knows the order.

``analyze``, ``read_image`` and ``synthesize`` are loaded on first use, so that ``import rewardscope``
stays fast.

Examples
--------
>>> import rewardscope
>>> rewardscope.synthesize.__module__, issubclass(rewardscope.RewardscopeError, ValueError)
('rewardscope.synthetic', True)
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import RewardscopeError

try:
    __version__ = version("rewardscope")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["RewardscopeError", "__version__", "analyze", "read_image", "synthesize"]


def __getattr__(name):
    # Keep `import rewardscope` fast: the heavy stages load on first use.
    if name == "analyze":
        from .workflow import analyze

        return analyze
    if name == "read_image":
        from .io import read_image

        return read_image
    if name == "synthesize":
        from .synthetic import synthesize

        return synthesize
    raise AttributeError(f"module 'rewardscope' has no attribute {name!r}")
