"""One free request before any line: is the API there, and does it accept the key?

Without it, a wrong URL or key would show only after the Flow's retries gave up on the
first lines. Heavy imports (aiohttp) happen only when it runs.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PREFLIGHT_TIMEOUT_S", "preflight"]

PREFLIGHT_TIMEOUT_S: Final = 15.0


async def preflight(url: str, api_key: str) -> str:
    """``GET /v1/models`` at ``url``: returns what is wrong ("" when nothing is). Any other
    answer (404 from a simulator, 5xx) is left to the run's own retries."""
    from .._config import Timeouts
    from .._errors import TransportError, status_error
    from ..scheduler._flow import DEFAULT_API_VERSION
    from ..transport import AiohttpTransport

    transport = AiohttpTransport(
        url, timeouts=Timeouts(connect=PREFLIGHT_TIMEOUT_S, total=PREFLIGHT_TIMEOUT_S)
    )
    headers = {"x-api-key": api_key, "anthropic-version": DEFAULT_API_VERSION}
    try:
        # /v1/models costs nothing and has no Messages rate limit, yet checks the URL and the key.
        response = await transport.send("GET", "/v1/models", headers=headers)
        body = await response.read()
    except TransportError as error:
        return (
            f"cannot reach the API at {url} ({type(error).__name__}: {error}). "
            "Check --base-url / ANTHROPIC_BASE_URL, the network and any proxy"
        )
    finally:
        await transport.aclose()
    if response.status == 401:
        refused = status_error(response.status, response.headers, body)
        return (
            f"the API at {url} rejected the API key (401 {refused}). "
            "Check ANTHROPIC_API_KEY, and that --base-url is the API the key belongs to"
        )
    if response.status == 403:  # not even the model list: no request would be allowed
        denied = status_error(response.status, response.headers, body)
        return (
            f"the API at {url} does not allow this API key anything (403 {denied}). "
            "Check the key's workspace and permissions"
        )
    return ""
