"""Argument checks shared by every configuration object; each failure names the argument.

Every check refuses ``bool`` where a number is meant (``True`` is an ``int`` to Python,
never to a user), and never builds the ``repr`` of a value it refuses without bounding
it: an int of 5,000 digits cannot even be converted to text (Python limits that), and an
arbitrary object's ``repr`` may be huge or raise.
"""

from __future__ import annotations

import math

from ._errors import ConfigError

__all__ = [
    "brief",
    "check_count",
    "check_fraction",
    "check_instance",
    "check_non_negative",
    "check_number",
    "check_positive",
]

_BRIEF_CHARS = 60
# Ints wider than this are described by their size, not printed.
_BRIEF_BITS = 64


def brief(value: object) -> str:
    """A short, safe description of ``value`` for an error message."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > _BRIEF_BITS:
            return f"an int of {value.bit_length()} bits"
        return repr(value)
    if isinstance(value, float | str):
        text = repr(value)
        return text if len(text) <= _BRIEF_CHARS else text[: _BRIEF_CHARS - 3] + "..."
    # A container's or object's repr may be huge, deep (RecursionError) or broken.
    return f"a {type(value).__name__}"


def check_number(argument: str, value: object) -> float:
    """``value`` as a finite float, else :class:`ConfigError` naming ``argument``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(argument, f"must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range, e.g. 10**400
        raise ConfigError(argument, f"must be a finite number, got {brief(value)}") from None
    if not math.isfinite(number):
        raise ConfigError(argument, f"must be a finite number, got {value!r}")
    return number


def check_positive(argument: str, value: object, *, allow_none: bool = True) -> None:
    """Raise :class:`ConfigError` naming ``argument`` unless ``value`` is a finite number > 0.

    Values beyond the float range (``10**400``) are refused, not read as "no limit": a
    caller who means no limit says ``None``, and a typo should not silently disable one.
    """
    if value is None:
        if allow_none:
            return
        raise ConfigError(argument, "is required")
    if check_number(argument, value) <= 0:
        raise ConfigError(argument, f"must be a finite number > 0, got {brief(value)}")


def check_non_negative(argument: str, value: object) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number >= 0."""
    if check_number(argument, value) < 0:
        raise ConfigError(argument, f"must be >= 0, got {brief(value)}")


def check_fraction(argument: str, value: object, *, allow_zero: bool, allow_one: bool) -> None:
    """Raise :class:`ConfigError` unless ``value`` lies in [0, 1] with the given open ends."""
    number = check_number(argument, value)
    low_ok = number > 0 or (allow_zero and number == 0)
    high_ok = number < 1 or (allow_one and number == 1)
    if not (low_ok and high_ok):
        low = "[0" if allow_zero else "(0"
        high = "1]" if allow_one else "1)"
        raise ConfigError(argument, f"must be in {low}, {high}, got {brief(value)}")


def check_count(
    argument: str, value: object, *, minimum: int = 1, allow_none: bool = False
) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an int >= ``minimum`` (or ``None``)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(argument, f"must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ConfigError(argument, f"must be >= {minimum}, got {brief(value)}")


def check_instance(argument: str, value: object, kind: type) -> None:
    """Raise :class:`ConfigError` unless ``value`` is ``None`` or a ``kind``."""
    if value is not None and not isinstance(value, kind):
        name = kind.__name__
        article = "an" if name[0] in "AEIOU" else "a"
        raise ConfigError(argument, f"must be {article} {name}, got {type(value).__name__}")
