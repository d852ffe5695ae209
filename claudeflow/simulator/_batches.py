"""The Message Batches API: store, lifecycle and background processing (api doc §7).

A batch is processed by one background task, request by request, paced by its own
limiter (``BatchConfig.process_*``, a pool separate from the Messages limits) and by
``request_s``. ``request_counts`` reports everything as ``processing`` until the whole
batch has ended, as the API does. Cancelling marks the rest ``canceled``; requests
still unprocessed ``expiry_minutes`` simulated minutes after creation are ``expired``.
Batches belong to the API key that created them; other keys get 404.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._clock import Clock
from ._config import BatchConfig
from ._limits import Cost, RateLimiter
from ._pages import page_bounds
from ._wire import IdFactory, SimError, dumps, invalid, not_found, rfc3339

__all__ = ["Batch", "BatchService", "PreparedRequest", "parse_requests"]

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_OUTCOMES = ("succeeded", "errored", "canceled", "expired")
# Yield to the event loop every this many requests when nothing else made us wait.
_YIELD_EVERY = 64


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One batch request ready to run: what it costs and how to produce its result."""

    cost: Cost
    run: Callable[[], dict[str, Any]]


# (api_key, params, anthropic-version) -> the request, prepared by the core
Prepare = Callable[[str, Any, str], PreparedRequest]


@dataclass(slots=True, eq=False)
class Batch:
    """One batch and its progress (mutable; only the service touches it)."""

    id: str
    api_key: str
    version: str
    requests: list[tuple[str, Any]]
    created_wall: float
    expires_wall: float
    expires_at: float  # clock time
    status: str = "in_progress"
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_OUTCOMES, 0))
    lines: list[bytes] = field(default_factory=list)
    ended_wall: float | None = None
    cancel_wall: float | None = None
    task: asyncio.Task[None] | None = None

    @property
    def unfinished(self) -> int:
        return 0 if self.status == "ended" else len(self.requests) - len(self.lines)


class BatchService:
    """All batches of one simulator."""

    def __init__(
        self,
        config: BatchConfig,
        *,
        clock: Clock,
        ids: IdFactory,
        wall: Callable[[], float],
        minute_seconds: float,
        prepare: Prepare,
    ) -> None:
        self._config = config
        self._clock = clock
        self._ids = ids
        self._wall = wall
        self._minute_seconds = minute_seconds
        self._prepare = prepare
        self._batches: dict[str, Batch] = {}
        self._pace = RateLimiter(
            rpm=config.process_rpm,
            input_tpm=config.process_input_tpm,
            output_tpm=config.process_output_tpm,
            minute_seconds=minute_seconds,
        )

    # -- endpoints ---------------------------------------------------------------------

    def create(self, api_key: str, body: dict[str, Any], version: str) -> Batch:
        requests = parse_requests(body.get("requests"), self._config.max_requests)
        # The queue cap counts requests waiting in every batch, not batches (api doc §1.5).
        queued = sum(b.unfinished for b in self._batches.values() if b.api_key == api_key)
        cap = self._config.max_queued_requests
        if cap is not None and queued + len(requests) > cap:
            raise SimError(
                429,
                "rate_limit_error",
                f"Number of batch requests in the processing queue would exceed your "
                f"organization's limit of {cap:,} (currently {queued:,} queued).",
                headers={"x-should-retry": "true"},
            )
        now, wall = self._clock.now(), self._wall()
        lifetime = self._config.expiry_minutes * self._minute_seconds
        batch = Batch(
            id=self._ids.make("msgbatch"),
            api_key=api_key,
            version=version,
            requests=requests,
            created_wall=wall,
            expires_wall=wall + lifetime,
            expires_at=now + lifetime,
        )
        self._batches[batch.id] = batch
        # Processing starts at creation: the API returns in_progress and works in the background.
        batch.task = asyncio.get_running_loop().create_task(self._process(batch))
        return batch

    def get(self, api_key: str, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None or batch.api_key != api_key:
            raise not_found(f"No Message Batch found with id {batch_id!r}")
        return batch

    def page(self, api_key: str, query: Mapping[str, str]) -> tuple[list[Batch], bool]:
        """Newest first, with the API's ``limit`` / ``before_id`` / ``after_id`` cursors."""
        mine = [b for b in reversed(self._batches.values()) if b.api_key == api_key]
        start, stop, has_more = page_bounds([b.id for b in mine], query)
        return mine[start:stop], has_more

    def cancel(self, api_key: str, batch_id: str) -> Batch:
        batch = self.get(api_key, batch_id)
        if batch.status == "in_progress":
            # Canceling, not ended: the processing task turns the rest into canceled results.
            batch.status = "canceling"
            batch.cancel_wall = self._wall()
        return batch

    def delete(self, api_key: str, batch_id: str) -> dict[str, Any]:
        batch = self.get(api_key, batch_id)
        if batch.status != "ended":
            raise invalid(
                f"Message Batch {batch_id} cannot be deleted while it is processing; "
                "cancel it first."
            )
        del self._batches[batch_id]
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, api_key: str, batch_id: str) -> bytes:
        batch = self.get(api_key, batch_id)
        if batch.status != "ended":
            raise invalid(f"Message Batch {batch_id} has not finished processing yet.")
        return b"".join(batch.lines)

    def to_json(self, batch: Batch, base_url: str) -> dict[str, Any]:
        ended = batch.status == "ended"
        # Outcomes are shown only once the batch has ended; until then all are processing (§7.2).
        counts = dict(batch.counts) if ended else dict.fromkeys(_OUTCOMES, 0)
        counts = {"processing": 0 if ended else len(batch.requests), **counts}
        results_url = f"{base_url}/v1/messages/batches/{batch.id}/results" if ended else None
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "ended_at": _stamp(batch.ended_wall),
            "created_at": rfc3339(batch.created_wall),
            "expires_at": rfc3339(batch.expires_wall),
            "archived_at": None,
            "cancel_initiated_at": _stamp(batch.cancel_wall),
            "results_url": results_url,
        }

    # -- lifecycle ---------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        batches = list(self._batches.values())
        return {
            "batches": len(batches),
            "in_progress": sum(b.status != "ended" for b in batches),
            "queued_requests": sum(b.unfinished for b in batches),
        }

    def clear(self) -> None:
        """Forget every batch and stop their processing."""
        for batch in self._batches.values():
            if batch.task is not None:
                batch.task.cancel()
        self._batches.clear()
        self._pace.clear()

    async def aclose(self) -> None:
        tasks = [b.task for b in self._batches.values() if b.task is not None]
        self.clear()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- processing --------------------------------------------------------------------

    async def _process(self, batch: Batch) -> None:
        since_yield = 0
        for custom_id, params in batch.requests:
            outcome = self._stop_reason(batch)
            if outcome is None:
                prepared = self._prepare(batch.api_key, params, batch.version)
                slept = await self._wait_for_pace(batch, prepared.cost)
                if self._config.request_s > 0:
                    await self._clock.sleep(self._config.request_s)
                    slept = True
                outcome = self._stop_reason(batch)
                # Checked again after the wait: a batch canceled or expired meanwhile runs no more.
                result = prepared.run() if outcome is None else {"type": outcome}
                since_yield = 0 if slept else since_yield + 1
            else:
                result = {"type": outcome}
            batch.counts[result["type"]] += 1
            batch.lines.append(dumps({"custom_id": custom_id, "result": result}) + b"\n")
            if since_yield >= _YIELD_EVERY:
                since_yield = 0
                await self._clock.sleep(0)
        batch.status = "ended"
        batch.ended_wall = self._wall()

    def _stop_reason(self, batch: Batch) -> str | None:
        if batch.status == "canceling":
            return "canceled"
        if self._clock.now() >= batch.expires_at:
            return "expired"
        return None

    async def _wait_for_pace(self, batch: Batch, cost: Cost) -> bool:
        """Wait until the processing pace admits ``cost`` (or the batch expires)."""
        if not self._pace.enabled:
            return False
        limits = self._pace.scope(batch.api_key, "batch", self._clock.now())
        cost = limits.clamp(cost)  # an oversized request waits for a full bucket
        slept = False
        while (denial := self._pace.check(limits, cost, now := self._clock.now())) is not None:
            if batch.status == "canceling" or now >= batch.expires_at:
                return slept
            await self._clock.sleep(min(denial.wait, batch.expires_at - now))
            slept = True
        limits.take(cost, self._clock.now())
        return slept


def _stamp(wall: float | None) -> str | None:
    return None if wall is None else rfc3339(wall)


def parse_requests(raw: Any, max_requests: int) -> list[tuple[str, Any]]:
    """Check the ``requests`` of a create call; ``params`` are checked when processed."""
    if raw is None:
        raise invalid("requests: Field required")
    if not isinstance(raw, list):
        raise invalid("requests: Input should be a valid list")
    if not raw:
        raise invalid("requests: List should have at least 1 item after validation, not 0")
    if len(raw) > max_requests:
        raise invalid(
            f"requests: List should have at most {max_requests} items after validation, "
            f"not {len(raw)}"
        )
    seen: set[str] = set()
    out: list[tuple[str, Any]] = []
    for index, item in enumerate(raw):
        where = f"requests.{index}"
        if not isinstance(item, dict):
            raise invalid(f"{where}: Input should be a valid dictionary")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            raise invalid(
                f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if custom_id in seen:
            raise invalid(f"{where}.custom_id: duplicate custom_id {custom_id!r}; must be unique")
        if not isinstance(item.get("params"), dict):
            raise invalid(f"{where}.params: Field required")
        seen.add(custom_id)
        out.append((custom_id, item["params"]))
    return out
