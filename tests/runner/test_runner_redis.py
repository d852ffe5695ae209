"""``claudeflow run --redis``: a run shares the account's limits through a real Redis."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from redis.asyncio import Redis
from runner_helpers import each_input_line_once, finish, id_counts, start_cli, write_requests

from claudeflow.runner._cli import main
from claudeflow.simulator import SimulatorConfig, run_simulator
from claudeflow.testing import redis_server

pytestmark = pytest.mark.integration

PASSWORD = "redis-SECRET-pw-0123"


async def test_two_runs_given_the_full_limits_share_them_through_redis(tmp_path: Path) -> None:
    # The account: 60 requests per 2-second "minute"; each run is told all of it.
    config = SimulatorConfig(rpm=60, input_tpm=100_000, output_tpm=50_000, minute_seconds=2.0)
    with redis_server() as redis:
        async with run_simulator(config) as sim:
            runs = []
            for name in ("a", "b"):
                requests = write_requests(tmp_path / f"{name}.jsonl", 100)
                out = tmp_path / f"{name}.out.jsonl"
                args = ("--base-url", sim.url, "--rpm", "60", "--minute-seconds", "2")
                process = start_cli(requests, "-o", out, *args, "--redis", redis.url, "--quiet")
                runs.append((requests, out, process))
            ended = await asyncio.gather(*(process for _, _, process in runs))
            statuses = [await finish(process) for process in ended]
            server = sim.api.stats()
        client = Redis.from_url(redis.url)
        try:
            pools = {key.split(b"}")[0] async for key in client.scan_iter(b"claudeflow:*")}
        finally:
            await client.aclose()
    assert [code for code, _ in statuses] == [0, 0], statuses
    for requests, out, _ in runs:
        assert id_counts(out) == each_input_line_once(requests)
    assert pools, "the runs kept no bucket in Redis"
    # Each run alone would spend the whole bucket as if it were the only one (29 429s
    # when measured, fewer when the two barely overlap); sharing it, none.
    assert server["rate_limited"] == 0


def test_a_password_in_the_url_or_the_config_file_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = write_requests(tmp_path / "in.jsonl", 5)
    out = tmp_path / "out.jsonl"
    with redis_server(password=PASSWORD) as redis:
        config = tmp_path / "run.toml"
        config.write_text(f'redis = "{redis.url}"\n')
        assert PASSWORD in redis.url
        assert main([str(requests), "-o", str(out), "--simulate", "--config", str(config)]) == 0
    assert id_counts(out) == each_input_line_once(requests)
    printed = capsys.readouterr().err
    assert "ok 5" in printed and PASSWORD not in printed + out.read_text()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param(f"http://:{PASSWORD}@127.0.0.1:6379", "scheme", id="scheme"),
        pytest.param(f"redis://:{PASSWORD}@", "no host", id="no-host"),
    ],
)
def test_a_bad_url_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, problem: str
) -> None:
    requests = write_requests(tmp_path / "in.jsonl", 1)
    out = tmp_path / "out.jsonl"
    assert main([str(requests), "-o", str(out), "--simulate", "--redis", url]) == 2
    printed = capsys.readouterr().err
    assert "--redis:" in printed and problem in printed and PASSWORD not in printed
    assert not out.exists() and "simulator at" not in printed


def test_an_unreachable_redis_aborts_before_sending_and_masks_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    requests = write_requests(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    assert main([str(requests), "-o", str(out), "--simulate", "--quiet", "--redis", url]) == 3
    printed = capsys.readouterr().err
    assert "aborted before sending anything" in printed and f"127.0.0.1:{port}" in printed
    assert PASSWORD not in printed and not out.exists()
