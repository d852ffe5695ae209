"""Small numeric helpers shared by estimation, calibration and reservation."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["ceil_tokens", "quantile"]

# Float products such as 10 * 1.3 come out as 13.000000000000002; a plain ceil would then
# charge a whole extra token. A millionth of a token of slack is far below anything real.
_SLACK = 1e-6


def ceil_tokens(value: float) -> int:
    """Round a token amount up to a whole, non-negative token count."""
    return max(0, math.ceil(value - _SLACK))


def quantile(values: Iterable[float], q: float) -> float:
    """The ``q``-quantile of non-empty ``values``, linearly interpolated (numpy's default).

    :raises ValueError: if ``values`` is empty
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quantile of no values")
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
