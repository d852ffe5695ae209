"""Argument checks for the token layer's configuration; each failure names the argument."""

from __future__ import annotations

import math

from .._errors import ConfigError

__all__ = ["check_count", "check_fraction", "check_non_negative"]


def check_count(argument: str, value: int, *, minimum: int = 1) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(argument, f"must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ConfigError(argument, f"must be >= {minimum}, got {value!r}")


def check_non_negative(argument: str, value: float) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a finite number >= 0."""
    _check_number(argument, value)
    if value < 0:
        raise ConfigError(argument, f"must be >= 0, got {value!r}")


def check_fraction(argument: str, value: float, *, allow_zero: bool, allow_one: bool) -> None:
    """Raise :class:`ConfigError` unless ``value`` lies in [0, 1] with the given open ends."""
    _check_number(argument, value)
    low_ok = value > 0 or (allow_zero and value == 0)
    high_ok = value < 1 or (allow_one and value == 1)
    if not (low_ok and high_ok):
        low = "[0" if allow_zero else "(0"
        high = "1]" if allow_one else "1)"
        raise ConfigError(argument, f"must be in {low}, {high}, got {value!r}")


def _check_number(argument: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(argument, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ConfigError(argument, f"must be finite, got {value!r}")
