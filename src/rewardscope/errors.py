"""The one exception type users see for bad input or data the workflow cannot analyse."""


class RewardscopeError(ValueError):
    """Bad input or data that cannot be analysed; the message names the value.

    ``cli`` is the same message in the command line's terms where they differ
    from Python's (``--overwrite`` for ``overwrite=True``).
    """

    def __init__(self, message: str, *, cli: str | None = None):
        super().__init__(message)
        self.cli_message = cli or message
