"""Plain words for the figures, the pages and the terminal."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number that agrees with it.

    Examples
    --------
    >>> counted(1, "wall segment"), counted(3, "class", "classes"), counted(0, "frame")
    ('1 wall segment', '3 classes', '0 frames')
    """
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
