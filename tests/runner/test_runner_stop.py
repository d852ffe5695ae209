"""Stopping a run: queued lines are abandoned at once, only requests on the wire finish.

A MockTransport that holds every request until the test lets it go makes "on the wire"
and "queued" exact; the WireTracker around it is what tells the runner which is which.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from runner_helpers import API_KEY, id_counts, records, write_requests

from claudeflow import Flow, RateLimits, RetryPolicy
from claudeflow.runner import RunFiles, RunOptions, RunSummary, WireTracker, run_jsonl
from claudeflow.runner._wire import TICKET_HEADER
from claudeflow.testing import error_response, message_response
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

ROOMY = RateLimits(rpm=1e6, input_tpm=1e9, output_tpm=1e9)  # only concurrency binds


class HeldAPI:
    """Answers each request with ``answer`` once ``release`` is set."""

    def __init__(self, answer: Callable[[], ApiResponse]) -> None:
        self.release = asyncio.Event()
        self.answer = answer
        self.transport = MockTransport(self.handle)

    async def handle(self, request: MockRequest) -> ApiResponse:
        await self.release.wait()
        return self.answer()


@asynccontextmanager
async def tracked_flow(
    transport: MockTransport, retry: RetryPolicy | None = None
) -> AsyncIterator[tuple[Flow, WireTracker]]:
    wire = WireTracker(transport)
    async with Flow(
        api_key=API_KEY, transport=wire, concurrency=2, limits=ROOMY, retry=retry
    ) as flow:
        yield flow, wire


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # bounded: 5 s at most
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


async def stop_while_held(
    files: RunFiles, api: HeldAPI, retry: RetryPolicy | None = None
) -> tuple[RunSummary, int]:
    """Run until two requests are on the wire and the rest of the window is queued, stop,
    then let the two answer. Returns the summary and how many requests were sent."""
    stop = asyncio.Event()
    async with tracked_flow(api.transport, retry) as (flow, wire):
        running = asyncio.create_task(
            run_jsonl(flow, files, RunOptions(window=10), stop=stop, wire=wire, secret=API_KEY)
        )
        await until(lambda: len(wire.on_wire) == 2 and flow.stats().queued == 8)
        stop.set()
        # The runner abandons the queue before any answer lands: wait until it has.
        await until(lambda: flow.stats().queued == 0)
        api.release.set()
        summary = await asyncio.wait_for(running, timeout=5)
        assert flow.stats().queued == 0 and flow.stats().in_flight == 0
    return summary, len(api.transport.requests)


def files_in(tmp_path: Path) -> RunFiles:
    return RunFiles(tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "dead.jsonl")


async def test_a_stop_abandons_queued_lines_and_waits_for_the_wire_only(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 20, ids=True)
    api = HeldAPI(message_response)
    summary, sent = await stop_while_held(files, api)
    # Only the two requests on the wire were sent and written; the eight queued were not.
    assert sent == 2 and summary.succeeded == 2 and summary.stop_reason == "stopped"
    assert id_counts(files.output) == {"req-0": 1, "req-1": 1}
    assert all(TICKET_HEADER not in request.headers for request in api.transport.requests)
    # The next run does everything else, each line once.
    rerun = HeldAPI(message_response)
    rerun.release.set()
    async with tracked_flow(rerun.transport) as (flow, wire):
        done = await run_jsonl(flow, files, wire=wire)
    assert done.complete and done.skipped == 2 and done.succeeded == 18
    assert id_counts(files.output) == {f"req-{i}": 1 for i in range(20)}


async def test_after_a_stop_a_failed_attempt_is_abandoned_not_retried(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 20, ids=True)
    api = HeldAPI(lambda: error_response(529, "overloaded_error", "Overloaded"))
    retry = RetryPolicy(max_retries=5, base_delay=0.001, max_delay=0.002)
    summary, sent = await stop_while_held(files, api, retry=retry)
    # The two 529s would have been retried (and, after 5 more, written as failed).
    assert sent == 2 and summary.failed == 0 and summary.succeeded == 0
    assert not records(files.output) and not files.dead_letter.exists()
