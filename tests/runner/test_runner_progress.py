"""The progress line and the summary: windowed rates, queue vs wire, errors, totals."""

from __future__ import annotations

import io

from claudeflow.runner import Progress, RunSummary, Tally
from claudeflow.runner._progress import BatchCounts
from claudeflow.testing import FakeClock


async def test_the_eta_follows_the_recent_rate_not_the_first_burst() -> None:
    clock = FakeClock()
    tally = Tally(clock)
    tally.total_lines = 300
    progress = Progress(tally, io.StringIO())
    await clock.advance(1.0)
    tally.succeeded = 150  # full buckets: half the file in the first second
    assert "ETA ?" in progress.line()  # one sample is not a rate
    for _ in range(4):  # then 15 lines a second, as the limits allow
        await clock.advance(1.0)
        tally.succeeded += 15
        line = progress.line()
    # 90 lines left at 15/s: 6 s (the average since the start, 42/s, would say 2.1 s).
    assert "15.0 req/s" in line and "ETA 6.0s" in line
    tally.succeeded = 300  # every line done: nothing is left to estimate
    assert "ETA 0.0s" in progress.line()


async def test_the_rate_window_forgets_old_samples() -> None:
    clock = FakeClock()
    tally = Tally(clock)
    tally.total_lines = 1000
    progress = Progress(tally, io.StringIO(), rate_window_s=3.0)
    for second in range(10):
        await clock.advance(1.0)
        tally.succeeded += 100 if second < 5 else 10
        line = progress.line()
    assert "10.0 req/s" in line


def test_queued_and_in_flight_are_shown_apart_with_the_last_error() -> None:
    tally = Tally(FakeClock())
    tally.queued, tally.in_flight = 48, 16
    assert "queued 48 in flight 16" in Progress(tally, io.StringIO()).line()
    assert "last error" not in Progress(tally, io.StringIO()).line()
    tally.retries, tally.last_error = 7, "APIConnectionError: connection failed"
    line = Progress(tally, io.StringIO()).line()
    assert line.endswith("| retries 7, last error: APIConnectionError: connection failed")


def test_the_summary_states_this_run_and_the_results_file() -> None:
    summary = RunSummary(
        succeeded=5,
        failed=1,
        invalid=0,
        skipped=10,
        input_tokens=100,
        output_tokens=50,
        cost_usd=0.01,
        elapsed_s=2.0,
        blank=2,
        total_lines=20,
        file_succeeded=12,
        file_failed=3,
        file_invalid=1,
    )
    text = summary.render()
    assert "this run     succeeded 5  failed 1  invalid 0  skipped (already done) 10" in text
    assert "blank lines 2" in text
    assert "results file succeeded 12  failed 3  invalid 1" in text
    assert "(16 of 20 input lines done, 4 to go)" in text
    assert summary.file_unsucceeded == 4 and summary.remaining == 4


def test_a_batched_run_shows_its_batches_instead_of_the_queue() -> None:
    tally = Tally(FakeClock())
    tally.batches = BatchCounts(submitted=3, ended=1)
    tally.batches.requests.update(processing=20, succeeded=9, errored=1, expired=2)
    line = Progress(tally, io.StringIO()).line()
    assert "batches 3 submitted 1 ended" in line and "queued" not in line
    assert "processing 20 succeeded 9 errored 1 expired 2" in line
