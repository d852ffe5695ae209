"""Cursor pagination as the API's list endpoints do it (batches, models).

``limit`` (1-1000, default 20) items, newest first; ``after_id`` pages forward from an
id, ``before_id`` backward. An unknown cursor gives an empty page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._wire import invalid

__all__ = ["page_bounds", "page_limit"]

_DEFAULT = 20
_MAX = 1000


def page_bounds(ids: Sequence[str], query: Mapping[str, str]) -> tuple[int, int, bool]:
    """``(start, stop, has_more)`` of the page of ``ids`` that ``query`` asks for."""
    limit = page_limit(query.get("limit"))
    if after := query.get("after_id"):
        # An unknown cursor (say, a deleted batch's id) ends the listing instead of failing it.
        start = ids.index(after) + 1 if after in ids else len(ids)
        stop = min(len(ids), start + limit)
        return start, stop, stop < len(ids)
    if before := query.get("before_id"):
        stop = ids.index(before) if before in ids else 0
        start = max(0, stop - limit)
        return start, stop, start > 0
    stop = min(len(ids), limit)
    return 0, stop, stop < len(ids)


def page_limit(raw: str | None, default: int = _DEFAULT) -> int:
    """The ``limit`` query parameter (raises the 400 when it is not 1-1000)."""
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX:
        raise invalid(f"limit: Input should be an integer between 1 and {_MAX}")
    return int(raw)
