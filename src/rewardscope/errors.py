"""The one exception type users see for bad input or data the workflow cannot analyse."""


class RewardscopeError(ValueError):
    """Bad input or data that cannot be analysed; the message names the value.

    ``cli`` is the same message in the command line's terms where they differ
    from Python's (``--overwrite`` for ``overwrite=True``).

    Parameters
    ----------
    message : str
        One line naming the problem.
    cli : str, optional
        The same in the command line's terms; ``message`` where omitted.

    Examples
    --------
    >>> error = RewardscopeError("overwrite=True is needed", cli="--overwrite is needed")
    >>> str(error), error.cli_message
    ('overwrite=True is needed', '--overwrite is needed')
    """

    def __init__(self, message: str, *, cli: str | None = None):
        super().__init__(message)
        self.cli_message = cli or message
