"""Wire-format helpers: ids, timestamps, JSON bodies and the error shape."""

from __future__ import annotations

import itertools
import json
import math
import random
import string
import uuid
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "EPOCH_ZERO",
    "IdFactory",
    "SimError",
    "dumps",
    "error_body",
    "invalid",
    "not_found",
    "rfc3339",
    "rfc3339_ceil",
    "rfc3339_floor",
]

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
EPOCH_ZERO = "1970-01-01T00:00:00Z"

# Compact separators match the API's bodies and are cheaper to produce.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Serialise a JSON body."""
    return _ENCODER.encode(value).encode()


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


class IdFactory:
    """Cheap, unique, reproducible ids like ``req_011C...`` (prefix + base62, 24 chars).

    A seeded random stem keeps ids of one run distinct from another's; a counter makes
    each id unique without per-request randomness.
    """

    __slots__ = ("_counter", "_stem", "org_id")

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"{seed}/ids")
        # "011C" starts the real ids too (api doc §2.2): the ids look like the API's.
        self._stem = "011C" + "".join(rng.choice(_BASE62) for _ in range(12))
        self._counter = itertools.count(1)
        self.org_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def make(self, prefix: str) -> str:
        return f"{prefix}_{self._stem}{_base62(next(self._counter), 8)}"


def rfc3339(wall: float) -> str:
    """RFC 3339 UTC with microseconds, as batch timestamps are written."""
    return datetime.fromtimestamp(wall, UTC).isoformat().replace("+00:00", "Z")


def rfc3339_ceil(wall: float) -> str:
    """RFC 3339 UTC in whole seconds, rounded up (a reset is never reported early)."""
    stamp = datetime.fromtimestamp(math.ceil(wall - 1e-9), UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_floor(wall: float) -> str:
    """RFC 3339 UTC in whole seconds, rounded down (the current second)."""
    # The epsilon keeps a float just under a whole second from reading as the second before.
    stamp = datetime.fromtimestamp(math.floor(wall + 1e-9), UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(
    error_type: str, message: str, request_id: str, error_code: str | None = None
) -> dict[str, Any]:
    """The API's error shape (api doc §3.1)."""
    error: dict[str, Any] = {"type": error_type, "message": message}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    return {"type": "error", "error": error, "request_id": request_id}


class SimError(Exception):
    """An error reply the simulator sends: HTTP status, ``error.type`` and message."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        error_code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.error_code = error_code
        self.headers = headers or {}


def invalid(message: str) -> SimError:
    """A 400 ``invalid_request_error``."""
    return SimError(400, "invalid_request_error", message)


def not_found(message: str) -> SimError:
    """A 404 ``not_found_error``."""
    return SimError(404, "not_found_error", message)
