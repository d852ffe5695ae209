"""AiohttpTransport's per-request timeouts, and the error map as a context manager."""

from __future__ import annotations

import math

import aiohttp
import pytest

from claudeflow import APIConnectionError, ConfigError, Timeouts
from claudeflow.transport import AiohttpTransport, map_aiohttp_errors

BASE = "http://api.test"


def _transport() -> AiohttpTransport:
    return AiohttpTransport(BASE, timeouts=Timeouts(connect=3.0, total=42.0))


def test_the_configured_total_is_one_shared_timeout() -> None:
    transport = _transport()
    default = transport._client_timeout(None, False)
    assert default == aiohttp.ClientTimeout(total=42.0, sock_connect=3.0)
    # The Flow passes its total explicitly on every attempt: the same object serves it.
    assert transport._client_timeout(42.0, False) is default


def test_other_timeouts_are_built_as_before() -> None:
    transport = _transport()
    assert transport._client_timeout(5.0, False) == aiohttp.ClientTimeout(
        total=5.0, sock_connect=3.0
    )
    assert transport._client_timeout(math.inf, False) == aiohttp.ClientTimeout(
        total=None, sock_connect=3.0
    )
    # A stream's total bounds each read, never the whole stream.
    assert transport._client_timeout(42.0, True) == aiohttp.ClientTimeout(
        sock_read=42.0, sock_connect=3.0
    )


@pytest.mark.parametrize("bad", [0, -1.0, math.nan])
def test_a_bad_timeout_is_still_refused(bad: float) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        _transport()._client_timeout(bad, False)


def test_the_error_map_reports_each_mapped_error_once() -> None:
    seen: list[APIConnectionError] = []
    with pytest.raises(APIConnectionError) as info, map_aiohttp_errors(seen.append):
        raise aiohttp.ServerDisconnectedError()
    assert seen == [info.value]


def test_the_error_map_leaves_other_exceptions_and_success_alone() -> None:
    seen: list[APIConnectionError] = []
    with pytest.raises(KeyError), map_aiohttp_errors(seen.append):
        raise KeyError("not a transport failure")
    with map_aiohttp_errors(seen.append) as entered:
        pass
    assert entered is None and seen == []
