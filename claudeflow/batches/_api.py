"""The Message Batches endpoints (api doc §7.1), each call retried as the policy says."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from .._clock import Clock, wall_time
from .._errors import APIStatusError, ClaudeflowError, status_error
from ..retry import RetryPolicy
from ..transport import Transport

__all__ = ["BATCHES_PATH", "BatchApi"]

BATCHES_PATH: Final = "/v1/messages/batches"


class BatchApi:
    """Create, poll, cancel and read batches over a :class:`Transport`."""

    def __init__(
        self, transport: Transport, *, retry: RetryPolicy, clock: Clock, rng: random.Random
    ) -> None:
        self._transport = transport
        self._retry = retry
        self._clock = clock
        self._rng = rng

    async def create(self, requests: list[dict[str, Any]], headers: Mapping[str, str]) -> Any:
        return json.loads(await self._call("POST", BATCHES_PATH, headers, {"requests": requests}))

    async def retrieve(self, batch_id: str, headers: Mapping[str, str]) -> Any:
        return json.loads(await self._call("GET", f"{BATCHES_PATH}/{batch_id}", headers))

    async def cancel(self, batch_id: str, headers: Mapping[str, str]) -> Any:
        path = f"{BATCHES_PATH}/{batch_id}/cancel"
        # Not retried: a cancel is advisory, and the caller is already leaving.
        return json.loads(await self._call("POST", path, headers, retries=False))

    async def results(self, batch: Mapping[str, Any], headers: Mapping[str, str]) -> bytes:
        """The results file; ``results_url`` is absolute, the transport wants a path."""
        # Path only: the call must go through the transport's base URL (a proxy, the simulator).
        url = batch.get("results_url") or f"{BATCHES_PATH}/{batch['id']}/results"
        return await self._call("GET", urlsplit(url).path, headers)

    async def _call(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: Any = None,
        *,
        retries: bool = True,
    ) -> bytes:
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            try:
                response = await self._transport.send(method, path, headers=headers, json=body)
                data = await response.read()
                if response.status < 300:
                    return data
                error: ClaudeflowError = status_error(response.status, response.headers, data)
            except ClaudeflowError as failed:  # transport errors: no response
                error = failed
            delay = self._next_delay(error, attempt, waited) if retries else None
            if delay is None:
                # The caller sees how hard we tried, as for a Messages request.
                error.attempts = attempt
                raise error
            await self._clock.sleep(delay)
            waited += delay

    def _next_delay(self, error: ClaudeflowError, attempt: int, waited: float) -> float | None:
        if isinstance(error, APIStatusError) and error.status_code == 404:
            return None
        return self._retry.next_delay(
            error, attempt=attempt, waited_s=waited, rng=self._rng, now_wall=wall_time()
        )
