"""Progress bars: tqdm's notebook widget where it can be drawn, its text bar everywhere else; Optuna
imported without the warning its own use of ``tqdm.auto`` gives in a notebook without ipywidgets."""

from __future__ import annotations

from importlib.util import find_spec


def progress_bar(*args, **kwargs):
    """``tqdm(*args, **kwargs)``: the widget in Jupyter when ipywidgets is installed, else the text bar.

    (``tqdm.auto`` alone warns in a notebook without ipywidgets before it falls back.)

    Parameters
    ----------
    *args, **kwargs
        Passed to tqdm.

    Returns
    -------
    tqdm.tqdm
        The progress bar, iterable where given an iterable.

    Examples
    --------
    >>> sum(progress_bar(range(3), disable=True))
    3
    """
    if find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(*args, **kwargs)


def load_optuna():
    """``import optuna``, without the "IProgress not found" warning its import gives in a notebook without
    ipywidgets (Optuna imports ``tqdm.auto`` for a progress bar rewardscope does not use).

    Returns
    -------
    module
        optuna.

    Examples
    --------
    >>> load_optuna().__name__
    'optuna'
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import optuna
    return optuna
