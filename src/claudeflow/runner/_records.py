"""The lines the runner writes: results (one per input line) and dead letters.

A result line always starts with ``custom_id`` then ``status`` (``succeeded``,
``failed`` or ``invalid``); resuming relies on that order to skip parsing. A failed or
invalid result carries what its dead letter needs (the request, or the bad line's
text), so a dead letter lost in a crash can be rebuilt from the results file.

A dead letter is itself a valid input line (``custom_id``, ``priority``, ``params``):
feed the dead-letter file back as input to retry exactly what did not succeed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .._errors import APIError, APIStatusError
from ..scheduler import Result
from ._input import BadLine, LineRequest

__all__ = [
    "bad_line_record",
    "dead_letter_of",
    "error_info",
    "failure_record",
    "success_record",
]


def success_record(item: LineRequest, result: Result) -> dict[str, Any]:
    return {
        "custom_id": item.custom_id,
        "status": "succeeded",
        "line": item.line,
        "response": result.message.to_dict(),
        "usage": dataclasses.asdict(result.usage),
        "cost_usd": result.cost_usd,
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
        "request": {"priority": item.priority, "params": item.body},
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
        "raw": bad.raw,
    }


def dead_letter_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The dead letter of a failed or invalid result line: an input line again."""
    letter: dict[str, Any] = {"custom_id": record["custom_id"]}
    request = record.get("request")
    if isinstance(request, Mapping):
        letter["priority"] = request.get("priority")
        letter["params"] = request.get("params")
    else:
        letter["raw"] = record.get("raw")
    letter["error"] = record.get("error")
    letter["line"] = record.get("line")
    return letter


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


def _scrub(message: str, secret: str | None) -> str:
    # Defence in depth: errors are built never to hold the key, but a message quoting a
    # server's echo of a header must not carry it into a file either.
    return message.replace(secret, "***") if secret else message
