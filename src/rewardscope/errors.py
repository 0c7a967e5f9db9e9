"""The one exception type users see for bad input or data the workflow cannot analyse."""


class RewardscopeError(ValueError):
    """Bad input or data that cannot be analysed; the message names the value."""
