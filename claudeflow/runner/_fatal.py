"""When one line's error is every line's: the causes that abort a whole run.

A refused key (401), the shared limits gone (Redis), or an API that was never reached
would fail every line the same way; writing each of them as a failure would only bury
the cause. A 403 is judged later (see :data:`DENIED_TO_ABORT`): it may be the key's or
only its line's (a model the key may not use).
"""

from __future__ import annotations

from typing import Final

from .._errors import APIConnectionError, AuthenticationError, BackendUnavailableError
from ..scheduler import Flow
from ._records import short_error

__all__ = ["DENIED_TO_ABORT", "denied_reason", "fatal_reason"]

# A 403 is the key's (abort) when this many lines got one before anything succeeded;
# once something has succeeded, a 403 is that line's own (a model the key may not use).
DENIED_TO_ABORT: Final = 5


def fatal_reason(error: Exception, flow: Flow, secret: str | None) -> str:
    """Why ``error`` means the whole run cannot succeed ("" if it does not)."""
    what = short_error(error, secret)
    if isinstance(error, AuthenticationError):
        return (
            f"the API rejected the API key ({what}); every request would fail. "
            "Check ANTHROPIC_API_KEY, and that --base-url is the API the key belongs to"
        )
    if isinstance(error, BackendUnavailableError):  # the shared limits (Redis) are gone
        return f"{what}. Check --redis and the Redis server, then rerun"
    # Once a request got through, the API exists: a dropped connection is that line's.
    if isinstance(error, APIConnectionError) and flow.stats().completed == 0:
        return (
            f"cannot reach the API at {flow.base_url} ({what}) and no request has "
            "succeeded. Check --base-url / ANTHROPIC_BASE_URL, the network and any proxy"
        )
    return ""


def denied_reason(error: Exception, secret: str | None) -> str:
    """The abort message when 403s came and nothing succeeded: the key's, not the lines'."""
    return (
        f"the API key is not allowed to do this ({short_error(error, secret)}); "
        "no request succeeded, so every request would fail. "
        "Check the key's workspace and permissions, and the model name"
    )
