"""A reply of the pure core, and how it is delivered in (injected) time.

The core decides everything synchronously and returns a :class:`Reply`: status,
headers, a JSON body or a list of stream chunks, how long to wait, and a
:class:`Settlement` that settles the output tokens as they are produced. Delivery
(:func:`deliver_json`, :func:`stream_body`) only sleeps on the :class:`Clock` and
settles, so it runs the same under a :class:`~claudeflow.testing.FakeClock` as over a
socket. Settling happens in ``finally``: a client that disconnects still pays for what
was generated, and a reservation is always returned.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._clock import Clock
from ._limits import Cost, LimitSet

if TYPE_CHECKING:
    from ._config import SimulatorConfig

__all__ = [
    "Chunk",
    "ConnectionDropped",
    "Reply",
    "Settlement",
    "deliver_json",
    "json_delay",
    "json_steps",
    "stream_body",
]

# (seconds to wait before it, bytes, output tokens produced once it is sent)
Chunk = tuple[float, bytes, int]


class ConnectionDropped(Exception):
    """Raised by delivery when the reply must end by closing the connection."""


class Settlement:
    """Output-token accounting of one admitted request.

    ``actual`` mode debits tokens as they are produced (the bucket may go into debt);
    ``reserve`` mode reserved ``max_tokens`` at admission and refunds the unused part
    when the request ends. :meth:`finish` is idempotent.
    """

    __slots__ = (
        "_actual",
        "_clock",
        "_done",
        "_limits",
        "_on_done",
        "_produced",
        "_reserved",
        "total",
    )

    def __init__(
        self,
        limits: LimitSet | None,
        *,
        total: int,
        reserved: int,
        actual: bool,
        clock: Clock,
        on_done: Callable[[int], None],
    ) -> None:
        self._limits = limits
        self._actual = actual
        self._reserved = reserved
        self._clock = clock
        self._on_done = on_done
        self._produced = 0
        self._done = False
        self.total = total

    @property
    def produced_tokens(self) -> int:
        return self._produced

    def produced(self, tokens: int) -> None:
        """``tokens`` output tokens exist so far (cumulative)."""
        # Counts are cumulative and may repeat (ping chunks); only growth is debited.
        if self._done or tokens <= self._produced:
            return
        if self._actual and self._limits is not None:
            # Debited as generated, possibly into debt: the new OTPM rule (api doc §1.4).
            self._limits.take(Cost(0, 0, tokens - self._produced), self._clock.now())
        self._produced = tokens

    def finish(self) -> None:
        """The request ended: refund the unused reservation and record the usage."""
        if self._done:
            return
        self._done = True
        unused = self._reserved - self._produced
        # Refunded at the end, not at admission: the old rule corrects to actual usage (§1.4).
        if not self._actual and self._limits is not None and unused > 0:
            self._limits.give(Cost(0, 0, unused), self._clock.now())
        self._on_done(self._produced)


@dataclass(slots=True, eq=False)
class Reply:
    """What to send back. ``chunks`` is set for a streamed (SSE) body.

    :ivar delay: seconds to wait before sending a JSON body (the latency model)
    :ivar steps: a JSON reply's output as it is generated, ``(seconds after admission,
        tokens so far)``, settled on the way (see :func:`json_steps`); empty: all at the end
    :ivar drop: close the connection instead of finishing the reply
    :ivar refresh: recomputes the rate-limit headers at send time (JSON replies)
    :ivar admitted_at: the clock's instant of admission; delivery times (``delay``,
        ``steps``, chunk delays) count from it, so the handler's own latency before
        delivery starts is absorbed (``None``: from the start of delivery)
    """

    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[Chunk] | None = None
    delay: float = 0.0
    steps: tuple[tuple[float, int], ...] = ()
    drop: bool = False
    settlement: Settlement | None = None
    refresh: Callable[[], dict[str, str]] | None = field(default=None, repr=False)
    admitted_at: float | None = None

    @property
    def pending(self) -> bool:
        """Whether :func:`deliver_json` still has to wait or settle."""
        return self.settlement is not None or self.delay > 0 or self.drop


def json_delay(tokens: int, config: SimulatorConfig) -> float:
    """Seconds from admission to the end of a JSON reply of ``tokens`` output tokens."""
    return config.ttft_s + config.per_token_s * max(0, tokens - 1)


def json_steps(tokens: int, config: SimulatorConfig) -> tuple[tuple[float, int], ...]:
    """When a JSON reply's output exists: ``(seconds after admission, tokens so far)``.

    The 2026 OTPM rule counts tokens as they are produced, streamed or not (api doc
    §1.4). Token ``k`` exists ``ttft_s + per_token_s * (k - 1)`` after admission, so the
    last step is the reply's end (:func:`json_delay`); counting every
    ``stream_chunk_tokens`` keeps the timers few. A stream is timed by its deltas
    instead: its first ``stream_chunk_tokens`` arrive together at ``ttft_s``, so it
    counts and ends ``per_token_s * (stream_chunk_tokens - 1)`` sooner than the same
    reply as JSON.
    """
    size = config.stream_chunk_tokens
    ends = [*range(size, tokens, size), tokens]
    return tuple((json_delay(k, config), k) for k in ends)


async def deliver_json(reply: Reply, clock: Clock) -> None:
    """Wait out the latency, settle, and refresh headers (raises on a dropped reply)."""
    settlement = reply.settlement
    # Every wait is to an instant after admission, not a pause after the last wake-up: a
    # busy loop wakes each sleeper late, and those delays must not add up over a reply.
    start = _start(reply, clock)
    try:
        for at, tokens in reply.steps:
            await _sleep_until(clock, start + at)
            if settlement is not None:
                settlement.produced(tokens)
        await _sleep_until(clock, start + reply.delay)
    finally:
        if settlement is not None:
            # In finally: a client that hung up during the latency still pays for the whole reply.
            settlement.produced(settlement.total)
            settlement.finish()
    # Headers computed after settling, so remaining counts this request's own output.
    if reply.refresh is not None:
        reply.headers.update(reply.refresh())
    if reply.drop:
        raise ConnectionDropped


async def stream_body(reply: Reply, clock: Clock) -> AsyncGenerator[bytes, None]:
    """Yield the SSE body in timed pieces; chunks without delay go out together."""
    settlement = reply.settlement
    pending: list[bytes] = []
    due = _start(reply, clock)  # each chunk's instant, from admission (see deliver_json)
    try:
        for delay, data, tokens in reply.chunks or ():
            if delay > 0:
                # Flush before sleeping: what was produced must reach the client before the pause.
                if pending:
                    yield b"".join(pending)
                    pending.clear()
                due += delay
                await _sleep_until(clock, due)
            pending.append(data)
            if settlement is not None:
                settlement.produced(tokens)
        if pending:
            yield b"".join(pending)
        if reply.drop:
            raise ConnectionDropped
    finally:
        if settlement is not None:
            settlement.finish()


def _start(reply: Reply, clock: Clock) -> float:
    return clock.now() if reply.admitted_at is None else reply.admitted_at


async def _sleep_until(clock: Clock, instant: float) -> None:
    wait = instant - clock.now()
    if wait > 0:
        await clock.sleep(wait)
