"""What kind of connection failure happened, and saying so when one keeps happening.

A refused connection or an unknown host name is almost never transient: the address is
wrong or nothing listens there, so the retry policy gives up on them quickly, while a
reset or a timeout keeps its backoff. Either way a failure that repeats is logged once
as a WARNING, so that a wrong ``base_url`` is visible without INFO logging.
"""

from __future__ import annotations

import errno
import logging
import socket
from urllib.parse import urlsplit

import aiohttp

from .._errors import APIConnectionError, ConnectionFailure

__all__ = ["RepeatedFailures", "describe", "failure_kind"]

_logger = logging.getLogger("claudeflow.transport")

_WHAT: dict[ConnectionFailure, str] = {
    "refused": "connection refused (is base_url right, and is the server up?)",
    "dns": "host name not found (is base_url right?)",
    "reset": "connection reset",
    "timeout": "request timed out",
    "other": "connection failed",
}
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})
# A server that hangs up mid-reply, or cuts a body short: a reset in all but errno.
_RESET_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)


def describe(kind: ConnectionFailure) -> str:
    """A short human description of a failure ``kind``."""
    return _WHAT[kind]


def failure_kind(exc: BaseException) -> ConnectionFailure:
    """Which kind of connection failure ``exc`` (an aiohttp or socket error) is."""
    # First: asyncio's and aiohttp's timeouts are OSErrors too, and would read as 'other'.
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return "dns"
    # aiohttp copies the socket error's errno onto its own exceptions (ClientOSError).
    number = exc.errno if isinstance(exc, OSError) else None
    if number == errno.ECONNREFUSED:
        return "refused"
    if number in _RESET_ERRNOS or isinstance(exc, _RESET_ERRORS):
        return "reset"
    return "other"


class RepeatedFailures:
    """Logs one WARNING per failure kind, the first time that kind happens again.

    One failure may be bad luck; the second of the same kind is a pattern the operator
    should see. :meth:`reset` starts over (a new run). The text names the host, never
    the full URL (it may carry credentials) nor any header.
    """

    __slots__ = ("_host", "_seen", "_warned")

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        # Scheme, host and port only: a URL's user, password and query stay out of logs.
        self._host = f"{url.scheme}://{url.hostname}" + (f":{url.port}" if url.port else "")
        self._seen: set[ConnectionFailure] = set()
        self._warned: set[ConnectionFailure] = set()

    def note(self, error: APIConnectionError) -> None:
        """Record ``error``; warn if its kind was seen before and not warned about yet."""
        kind = error.kind
        if kind in self._seen and kind not in self._warned:
            self._warned.add(kind)
            _logger.warning(
                "claudeflow: repeated %r failure at %s: %s (warned once per kind)",
                kind,
                self._host,
                error,
            )
        self._seen.add(kind)

    def reset(self) -> None:
        self._seen.clear()
        self._warned.clear()
