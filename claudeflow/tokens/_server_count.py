"""Exact input counts from the API's own ``POST /v1/messages/count_tokens``.

The endpoint is free but has its own requests-per-minute limit (api doc §6), separate
from the Messages limits, so it gets its own bucket here. Identical prompts are counted
once: results are cached by a hash of the fields that decide the count. When the
endpoint fails, the local estimate is used instead, so counting never loses a request.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .._clock import Clock
from .._errors import ClaudeflowError
from ..limiter import TokenBucket
from ..transport import Transport
from ._estimate import TokenEstimator

__all__ = ["COUNT_TOKENS_PATH", "ServerTokenCounter"]

COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
# The fields count_tokens accepts (api doc §6); max_tokens, stream, metadata... are not.
_COUNTED_FIELDS = (
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "cache_control",
    "output_config",
    "speed",
)
_log = logging.getLogger("claudeflow.tokens")


class ServerTokenCounter:
    """An estimator (``estimate_async``) that asks the API, cached, within its own RPM.

    :param rpm: the count_tokens requests-per-minute limit (2026 Start tier: 5,000)
    :param window_s: length of the limit's "minute" (60 for the real API)
    :param cache_size: number of distinct prompts remembered
    :param fallback: local estimator used when the endpoint fails
    """

    def __init__(
        self,
        transport: Transport,
        headers: Mapping[str, str],
        clock: Clock,
        *,
        rpm: float = 5_000,
        window_s: float = 60.0,
        cache_size: int = 10_000,
        fallback: TokenEstimator | None = None,
    ) -> None:
        self._transport = transport
        self._headers = headers
        self._clock = clock
        # About a second's burst: the API may enforce a minute's limit over shorter windows.
        self._bucket = TokenBucket(rpm / window_s, max(1.0, rpm / 60), now=clock.now())
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cache_size = cache_size
        self._fallback = fallback or TokenEstimator()
        self.calls = 0
        self.fallbacks = 0

    async def estimate_async(self, body: Mapping[str, Any]) -> int:
        counted = {k: body[k] for k in _COUNTED_FIELDS if k in body}
        # A hash, not the prompt: the cache must not keep every counted prompt in memory.
        key = hashlib.sha256(json.dumps(counted, sort_keys=True).encode()).hexdigest()
        if key in self._cache:
            # Least recently used goes first when the cache is full.
            self._cache.move_to_end(key)
            return self._cache[key]
        count = await self._ask(counted)
        if count is None:
            self.fallbacks += 1
            return await self._fallback.estimate_async(body)
        self._cache[key] = count
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return count

    async def _ask(self, counted: Mapping[str, Any]) -> int | None:
        # A loop: other callers may take the token this one waited for.
        while (wait := self._bucket.time_until(1, self._clock.now())) > 0:
            await self._clock.sleep(wait)
        self._bucket.take(1, self._clock.now())
        self.calls += 1
        try:
            # Bounded: a slow count must fall back to the estimate, not hold up admission.
            response = await self._transport.send(
                "POST", COUNT_TOKENS_PATH, headers=self._headers, json=counted, timeout=30.0
            )
            if response.status == 200:
                return int(json.loads(await response.read())["input_tokens"])
            reason = f"HTTP {response.status}"
        # Any failure, transport or a malformed reply: counting never loses a request.
        except (ClaudeflowError, ValueError, KeyError, TypeError) as exc:
            reason = type(exc).__name__
        _log.warning("count_tokens failed (%s); using the local estimate", reason)
        return None
