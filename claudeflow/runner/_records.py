"""The lines the runner writes: results (one per input line) and dead letters.

A result line always starts with ``custom_id`` then ``status`` (``succeeded``,
``failed`` or ``invalid``), and a succeeded one goes on with ``line`` and ``cost_usd``;
resuming relies on that order to skip parsing the response. A failed or
invalid result says why (``error``: type and message) and where the line is: its
``line`` number and ``input_offset``, the byte where it starts in the input file.

A dead letter is the input line itself, byte for byte: feed the dead-letter file back
as input to retry exactly what did not succeed. Dead letters are written in the same
order as the failed and invalid results, one each, right after the result, so the
dead letters a crash lost are the last ones, and are copied again from the input.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._errors import APIError, APIStatusError
from ..scheduler import Result
from ._input import BadLine, LineRequest

__all__ = ["bad_line_record", "error_info", "failure_record", "short_error", "success_record"]


def success_record(item: LineRequest, result: Result) -> dict[str, Any]:
    return {
        "custom_id": item.custom_id,
        "status": "succeeded",
        "line": item.line,
        "cost_usd": result.cost_usd,  # this early, resuming reads it without parsing the rest
        "response": result.message.to_dict(),
        "usage": dataclasses.asdict(result.usage),
        "attempts": result.attempts,
        "request_id": result.request_id,
    }


def failure_record(
    item: LineRequest, error: BaseException, *, invalid: bool, secret: str | None
) -> dict[str, Any]:
    """The result line of a request that ended in ``error``."""
    return {
        "custom_id": item.custom_id,
        "status": "invalid" if invalid else "failed",
        "line": item.line,
        "error": error_info(error, secret),
        "usage": None,
        "cost_usd": None,
        # Errors carry their attempt count when the Flow provides one.
        "attempts": getattr(error, "attempts", None),
        "input_offset": item.offset,
    }


def bad_line_record(bad: BadLine) -> dict[str, Any]:
    return {
        "custom_id": bad.custom_id,
        "status": "invalid",
        "line": bad.line,
        "error": {"type": "InvalidLine", "message": f"line {bad.line}: {bad.problem}"},
        "usage": None,
        "cost_usd": None,
        "attempts": 0,
        "input_offset": bad.offset,
    }


def error_info(error: BaseException, secret: str | None) -> dict[str, Any]:
    """A JSON-ready description of ``error`` (the API key is never part of it)."""
    info: dict[str, Any] = {"type": type(error).__name__, "message": _scrub(str(error), secret)}
    if isinstance(error, APIStatusError):
        info["status_code"] = error.status_code
    if isinstance(error, APIError):
        for name in ("type", "request_id", "error_code"):
            value = getattr(error, name)
            if value is not None:
                info["api_" + name if name == "type" else name] = value
    return info


def short_error(error: BaseException, secret: str | None, limit: int = 120) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters (for the console)."""
    message = " ".join(_scrub(str(error), secret).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scrub(message: str, secret: str | None) -> str:
    # Defence in depth: errors are built never to hold the key, but a message quoting a
    # server's echo of a header must not carry it into a file either.
    return message.replace(secret, "***") if secret else message
