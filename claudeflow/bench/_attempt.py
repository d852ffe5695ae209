"""One admitted attempt as the simulator times it: when output tokens exist, when it ends.

The perfect schedule (:mod:`._perfect`) needs, for an attempt the server has admitted,
the instants at which its output is counted (the ``actual`` OTPM rule debits tokens as
they are produced) and the instant it ends (when the ``reserve_max_tokens`` rule refunds
the unused reservation and the client is free to retry or move on). This module derives
them from the same rules the simulator's delivery follows: a JSON reply waits
``ttft_s + per_token_s * (n - 1)``; under the ``actual`` rule its tokens are counted on
the way, every ``stream_chunk_tokens`` (``_reply.json_steps``), otherwise all ``n`` at
the end (``_core._json_reply``, ``_reply.deliver_json``); a stream settles chunk by chunk, the
first after ``ttft_s`` and each later one after ``per_token_s`` per token it carries
(``_sse.stream_chunks``, ``_reply.stream_body``). Faults cut them as the simulator does:
a mid-stream error after half the deltas, a dropped connection after half the chunks
(a JSON reply is dropped after its full latency, settled in full).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..simulator import SimulatorConfig
from ..simulator._faults import Fault
from ..simulator._reply import json_delay, json_steps

__all__ = ["Timeline", "timeline"]


@dataclass(frozen=True, slots=True)
class Timeline:
    """An admitted attempt, in seconds after its admission.

    :ivar steps: ``(offset, output tokens produced so far)``, in time order
    :ivar failed: the attempt ends without a complete reply (the client must retry)
    """

    steps: tuple[tuple[float, int], ...]
    failed: bool

    @property
    def end(self) -> float:
        return self.steps[-1][0]

    @property
    def produced(self) -> int:
        return self.steps[-1][1]


def timeline(
    tokens: int, config: SimulatorConfig, *, streaming: bool, fault: Fault | None
) -> Timeline:
    """The timeline of an attempt that will produce ``tokens`` output tokens."""
    if streaming:
        return _stream(tokens, config, fault)
    dropped = fault is Fault.CONNECTION_DROP
    if not config.has_latency:
        return Timeline(((0.0, tokens),), failed=dropped)
    if config.otpm_mode == "actual":
        steps = json_steps(tokens, config)
        return Timeline(steps, failed=dropped)
    delay = json_delay(tokens, config)
    return Timeline(((delay, tokens),), failed=dropped)


def _stream(tokens: int, config: SimulatorConfig, fault: Fault | None) -> Timeline:
    size = config.stream_chunk_tokens
    deltas = [min(size, tokens - start) for start in range(0, tokens, size)]
    if fault is Fault.STREAM_ERROR:
        deltas = deltas[: max(1, len(deltas) // 2)] if deltas else []
    steps: list[tuple[float, int]] = []
    at, produced = 0.0, 0
    for index, delta in enumerate(deltas):
        produced += delta
        at += config.ttft_s if index == 0 else config.per_token_s * delta
        steps.append((at, produced))
    if not steps:
        at = config.ttft_s
        steps.append((at, 0))
    if fault is Fault.STREAM_ERROR:
        return Timeline(tuple(steps), failed=True)  # the error event follows at once
    steps.append((at, tokens))  # the tail (message_delta, message_stop) has no delay
    if fault is Fault.CONNECTION_DROP:
        return Timeline(tuple(steps[: max(1, len(steps) // 2)]), failed=True)
    return Timeline(tuple(steps), failed=False)
