"""A 403: the key's (abort the run) or only some lines' (dead letters).

The simulator never answers 403, so a MockTransport plays an API that denies one model.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from runner_helpers import API_KEY, body, records, write_lines

from claudeflow import Flow, RateLimits
from claudeflow.runner import RunFiles, RunOptions, RunSummary, run_jsonl
from claudeflow.runner._preflight import preflight as _preflight
from claudeflow.testing import error_response, message_response
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

DENIED = "claude-opus-4-1"
ROOMY = RateLimits(rpm=1e6, input_tpm=1e9, output_tpm=1e9)


def answer(request: MockRequest) -> ApiResponse:
    if request.json["model"] == DENIED:
        return error_response(403, "permission_error", f"not allowed to use {DENIED}")
    return message_response()


async def run(tmp_path: Path, lines: list[Any]) -> RunSummary:
    files = RunFiles(tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "dead.jsonl")
    write_lines(files.input, lines)
    async with Flow(
        api_key=API_KEY, transport=MockTransport(answer), concurrency=1, limits=ROOMY
    ) as flow:
        return await run_jsonl(flow, files, RunOptions(window=4), secret=API_KEY)


def denied(i: int) -> dict[str, Any]:
    return body(i) | {"model": DENIED}


async def test_a_403_for_some_models_is_those_lines_dead_letters(tmp_path: Path) -> None:
    lines = [denied(0), denied(1), body(2), denied(3), body(4)]
    summary = await run(tmp_path, lines)
    assert not summary.abort_message and summary.complete
    assert (summary.succeeded, summary.failed) == (2, 3)
    failed = [r for r in records(tmp_path / "out.jsonl") if r["status"] == "failed"]
    assert sorted(r["line"] for r in failed) == [1, 2, 4]
    assert {r["error"]["type"] for r in failed} == {"PermissionDeniedError"}
    assert all(DENIED in r["error"]["message"] for r in failed)
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert sorted(d["messages"][0]["content"] for d in dead) == [
        f"question number {i}" for i in (0, 1, 3)
    ]


@pytest.mark.parametrize(
    "count", [pytest.param(3, id="whole-input"), pytest.param(30, id="first-5")]
)
async def test_403s_with_nothing_succeeding_abort_and_write_nothing(
    tmp_path: Path, count: int
) -> None:
    summary = await run(tmp_path, [denied(i) for i in range(count)])
    assert summary.stop_reason == "aborted" and "not allowed" in summary.abort_message
    assert "no request succeeded" in summary.abort_message
    assert not summary.failed and not (tmp_path / "out.jsonl").exists()
    assert not (tmp_path / "dead.jsonl").exists()


async def test_a_preflight_403_aborts_before_any_line() -> None:
    async def models(request: web.Request) -> web.Response:
        error = {"type": "permission_error", "message": "key not allowed"}
        return web.json_response({"type": "error", "error": error}, status=403)

    app = web.Application()
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()  # a free port
    port = runner.addresses[0][1]
    try:
        problem = await _preflight(f"http://127.0.0.1:{port}", API_KEY)
    finally:
        await runner.cleanup()
    assert "does not allow this API key anything (403" in problem and API_KEY not in problem


async def test_a_stop_with_403s_held_back_is_a_stop_not_an_abort(tmp_path: Path) -> None:
    stop = asyncio.Event()

    def deny_then_stop(request: MockRequest) -> ApiResponse:
        stop.set()  # Ctrl-C while the first 403 is on its way back
        return answer(request)

    files = RunFiles(tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "dead.jsonl")
    write_lines(files.input, [denied(0), body(1), body(2)])
    transport = MockTransport(deny_then_stop)
    async with Flow(api_key=API_KEY, transport=transport, concurrency=1, limits=ROOMY) as flow:
        summary = await run_jsonl(flow, files, RunOptions(window=1), stop=stop)
    assert summary.stop_reason == "stopped" and not summary.abort_message
    assert not files.output.exists()  # the denied line is not judged: redone next time
