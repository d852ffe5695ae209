"""Resuming against the simulator: lines known by content, retried failures, the budget."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import API_KEY, body, each_input_line_once, id_counts, records, write_lines

from claudeflow import Flow, RetryPolicy
from claudeflow.runner import RunFiles, RunOptions, RunSummary, run_jsonl
from claudeflow.runner._log import read_records
from claudeflow.simulator import FaultConfig
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration

NO_RETRY = RetryPolicy(max_retries=0)


def files_in(tmp_path: Path) -> RunFiles:
    return RunFiles(tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "dead.jsonl")


async def run(
    files: RunFiles, url: str, notices: list[str] | None = None, **options: Any
) -> RunSummary:
    async with Flow(
        api_key=API_KEY, base_url=url, concurrency=4, retry=NO_RETRY, rng=random.Random(0)
    ) as flow:
        return await run_jsonl(
            flow,
            files,
            RunOptions(window=8, **options),
            notify=[].append if notices is None else notices.append,
        )


def latest(path: Path) -> dict[str, dict[str, Any]]:
    """The results file as a reader sees it: the latest record of each line wins."""
    return {r["custom_id"]: r for r in records(path)}


async def test_a_line_prepended_to_an_id_less_input_is_the_only_one_sent(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_lines(files.input, [body(i) for i in range(1, 6)])
    async with simulator() as sim:
        first = await run(files, sim.url)
        write_lines(files.input, [body(0)] + [body(i) for i in range(1, 6)])
        notices: list[str] = []
        second = await run(files, sim.url, notices)
    assert first.succeeded == 5
    # Before: "line-1" was done, so the new line 1 was skipped and old line 5 sent again.
    assert (second.succeeded, second.skipped) == (1, 5)
    assert id_counts(files.output) == each_input_line_once(files.input)
    new = [r for r in records(files.output) if r["line"] == 1][-1]
    assert new["response"] and json.loads(files.input.read_text().splitlines()[0]) == body(0)
    warnings = [n for n in notices if "has changed since" in n]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "line 1 " in warnings[0]


async def test_an_unchanged_input_is_resumed_without_a_warning(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_lines(files.input, [body(i) for i in range(6)])
    notices: list[str] = []
    async with simulator() as sim:
        await run(files, sim.url)
        again = await run(files, sim.url, notices)
    assert again.skipped == 6 and not again.succeeded
    assert not [n for n in notices if "changed" in n]


async def test_retry_failed_reruns_failures_into_the_same_file_keeping_line_numbers(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    lines: list[Any] = [body(i) for i in range(6)]
    lines[3] = "{not json"  # fails again however often it is retried
    write_lines(files.input, lines)
    async with simulator(faults=FaultConfig(error_500=1.0)) as sim:
        first = await run(files, sim.url)
    assert (first.failed, first.invalid) == (5, 1)
    async with simulator() as sim:
        plain = await run(files, sim.url)
        retried = await run(files, sim.url, retry_failed=True)
        after = await run(files, sim.url)
    # Without the flag a rerun leaves the failures alone, as before.
    assert (plain.succeeded, plain.skipped, plain.file_failed) == (0, 6, 5)
    assert (retried.succeeded, retried.invalid, retried.retried) == (5, 1, 6)
    assert (retried.file_succeeded, retried.file_failed, retried.file_invalid) == (5, 0, 1)
    assert (after.skipped, after.file_succeeded, after.file_invalid) == (6, 5, 1)
    final = latest(files.output)
    assert len(final) == 6 and len(records(files.output)) == 12  # appended, latest wins
    assert sorted(r["line"] for r in final.values()) == [1, 2, 3, 4, 5, 6]
    assert Counter(r["status"] for r in final.values()) == {"succeeded": 5, "invalid": 1}
    # The dead letters are the final failures only: the line that is still bad.
    assert files.dead_letter.read_text() == "{not json\n"


async def test_a_retry_run_cut_short_leaves_dead_letters_that_match_on_the_next_start(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_lines(files.input, [body(i) for i in range(4)])
    async with simulator(faults=FaultConfig(error_500=1.0)) as sim:
        await run(files, sim.url)
    # As if a retry run was killed after two lines succeeded, before the rewrite.
    ok = list(read_records(files.output))[:2]
    with files.output.open("a") as out:
        for outcome in ok:
            record = dict(outcome.record or {}) | {"status": "succeeded", "cost_usd": 0.0}
            out.write(json.dumps(record) + "\n")
    notices: list[str] = []
    async with simulator() as sim:
        summary = await run(files, sim.url, notices)
    assert summary.file_failed == 2 and summary.file_succeeded == 2
    assert any("rewritten to the 2 line(s)" in n for n in notices)
    given = files.input.read_text().splitlines(keepends=True)
    failed_lines = sorted(
        r["line"] for r in latest(files.output).values() if r["status"] != "succeeded"
    )
    assert files.dead_letter.read_text() == "".join(given[n - 1] for n in failed_lines)


async def test_the_budget_covers_what_the_results_file_spent_and_each_worst_case(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_lines(files.input, [body(i, max_tokens=64) for i in range(40)])
    budget = 0.002
    limits = (budget, budget, budget * 2)
    summaries: list[RunSummary] = []
    spent: list[float] = []  # what the results file holds after each run
    async with simulator() as sim:
        for limit in limits:
            summaries.append(await run(files, sim.url, budget_usd=limit))
            spent.append(sum(r["cost_usd"] for r in records(files.output)))
    for summary, total, limit in zip(summaries, spent, limits, strict=True):
        assert summary.stop_reason == "budget reached" and total <= limit
        assert summary.file_cost_usd == pytest.approx(total)
    assert 0 < summaries[0].succeeded < 40
    # A rerun with the same budget starts with that spend counted: nothing more fits.
    assert summaries[1].succeeded == 0 and spent[1] == spent[0]
    # A bigger budget goes on from there, and still never past it.
    assert summaries[2].succeeded > 0 and spent[2] > spent[1]
    assert not files.dead_letter.exists()


async def test_a_line_whose_worst_case_does_not_fit_is_not_started(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    # claude-haiku-4-5 costs $5 per million output tokens: 4096 max_tokens may cost $0.02.
    write_lines(files.input, [body(0, max_tokens=4096)])
    async with simulator() as sim:
        summary = await run(files, sim.url, budget_usd=0.01)
    assert summary.stop_reason == "budget reached" and summary.succeeded == 0
    assert not files.output.exists()  # nothing sent, nothing written: a later run does it


async def test_under_a_budget_an_unpriced_model_is_a_dead_letter_not_a_blank_cheque(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_lines(files.input, [body(0) | {"model": "claude-unknown-9"}, body(1)])
    async with simulator(extra_models=("claude-unknown-9",)) as sim:
        summary = await run(files, sim.url, budget_usd=1.0)
        unbudgeted = await run(
            RunFiles(files.input, tmp_path / "free.jsonl", tmp_path / "free.dead.jsonl"), sim.url
        )
    assert (summary.failed, summary.succeeded) == (1, 1)
    failed = next(r for r in records(files.output) if r["status"] == "failed")
    assert "has no price" in failed["error"]["message"]
    assert (unbudgeted.succeeded, unbudgeted.unpriced) == (2, 1)
    assert "1 unpriced request(s)" in unbudgeted.render()


async def test_a_results_file_of_an_older_version_still_resumes_by_line_number(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_lines(files.input, [body(i) for i in range(5)])
    # Written before lines without custom_id were known by content: line-N, by number.
    old = [
        {"custom_id": f"line-{n}", "status": "succeeded", "line": n, "response": {}}
        | {"usage": {}, "cost_usd": 0.001, "attempts": 1}
        for n in (1, 2, 3)
    ]
    write_lines(files.output, old)
    notices: list[str] = []
    async with simulator() as sim:
        summary = await run(files, sim.url, notices)
    assert (summary.skipped, summary.succeeded) == (3, 2)
    assert summary.file_cost_usd == pytest.approx(0.003 + summary.cost_usd)
    ids = set(id_counts(files.output))
    assert {"line-1", "line-2", "line-3"} <= ids and len(ids) == 5
    assert not [n for n in notices if "changed" in n]
