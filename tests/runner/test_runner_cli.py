"""``claudeflow run`` as a command: settings layers, exit statuses, the simulator."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from runner_helpers import (
    API_KEY,
    body,
    each_input_line_once,
    id_counts,
    records,
    write_lines,
    write_requests,
)

from claudeflow import ConfigError
from claudeflow.runner import BadLine, LineRequest, RunnerSettings, parse_line
from claudeflow.runner._cli import main, register, simulator_config
from claudeflow.runner._settings import load_config_file, merge_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_register_adds_run_to_a_parent_parser() -> None:
    parser = argparse.ArgumentParser(prog="claudeflow")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", "in.jsonl", "-o", "out.jsonl", "--rpm", "50"])
    assert args.func.__name__ == "run" and args.rpm == 50.0 and args.concurrency is None


def test_flags_override_the_config_file_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('rpm = 50\ninput-tpm = 30000\nconcurrency = 4\nbase_url = "http://x"\n')
    settings = merge_settings(load_config_file(config), {"rpm": 70.0, "concurrency": None})
    assert (settings.rpm, settings.input_tpm, settings.concurrency) == (70.0, 30000, 4)
    assert settings.base_url == "http://x" and settings.output_tpm is None
    assert (
        settings.effective_window == 64 and RunnerSettings(concurrency=32).effective_window == 128
    )


@pytest.mark.parametrize(
    ("layer", "argument"),
    [
        pytest.param({"api_key": "sk-x"}, "api_key", id="api-key"),
        pytest.param({"speed": 3}, "speed", id="unknown"),
        pytest.param({"rpm": -5}, "rpm", id="negative"),
        pytest.param({"concurrency": 0}, "concurrency", id="concurrency"),
        pytest.param({"window": 1.5}, "window", id="window"),
        pytest.param({"base_url": ""}, "base_url", id="base-url"),
    ],
)
def test_bad_settings_name_the_argument(layer: dict[str, object], argument: str) -> None:
    with pytest.raises(ConfigError) as error:
        merge_settings(layer)
    assert error.value.argument == argument


def test_config_files_must_be_json_or_toml_tables(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[1]")
    (tmp_path / "a.yaml").write_text("rpm: 1")
    with pytest.raises(ConfigError, match="table/object"):
        load_config_file(tmp_path / "a.json")
    with pytest.raises(ConfigError, match=r"\.json or \.toml"):
        load_config_file(tmp_path / "a.yaml")


def test_simulate_runs_offline_with_a_json_config_and_shows_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    requests = write_requests(tmp_path / "in.jsonl", 25)
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"sim-ttft": 0, "sim-per-token": 0, "concurrency": 4}))
    out = tmp_path / "out.jsonl"
    assert main([str(requests), "-o", str(out), "--simulate", "--config", str(config)]) == 0
    assert id_counts(out) == each_input_line_once(requests)
    stderr = capsys.readouterr().err
    assert "25/25 lines | ok 25" in stderr and "finished" in stderr
    assert not (tmp_path / "out.dead.jsonl").exists()  # nothing failed: no empty file


def test_failures_exit_1_and_point_at_the_dead_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    requests = write_lines(tmp_path / "in.jsonl", ["not json"])
    out = tmp_path / "out.jsonl"
    dead = tmp_path / "failed.jsonl"
    args = [str(requests), "-o", str(out), "--simulate", "--quiet", "--dead-letter", str(dead)]
    assert main(args) == 1
    stderr = capsys.readouterr().err
    assert "in.jsonl:1: bad line" in stderr and f"dead letters {dead}: 1 line(s)" in stderr
    assert API_KEY not in stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["--rpm", "-1"], "rpm", id="bad-flag"),
        pytest.param(["--config", "missing.toml"], "invalid configuration", id="no-config"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    requests = write_requests(tmp_path / "in.jsonl", 1)
    assert main([str(requests), "-o", str(tmp_path / "o.jsonl"), "--simulate", *extra]) == 2
    assert message in capsys.readouterr().err


def test_missing_input_and_missing_key_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main([str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl")]) == 2
    requests = write_requests(tmp_path / "in.jsonl", 1)
    assert main([str(requests), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err


def test_a_damaged_results_file_is_refused_not_guessed_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = write_requests(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.jsonl"
    out.write_text('{"custom_id": "line-1", "status": "succeeded"}\n{garbage\n{"custom_id": "x"}\n')
    assert main([str(requests), "-o", str(out), "--simulate", "--quiet"]) == 2
    assert "out.jsonl:2" in capsys.readouterr().err


def test_a_rerun_exits_1_while_the_results_file_holds_failures_until_retried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = write_requests(tmp_path / "in.jsonl", 4)
    out = tmp_path / "out.jsonl"
    args = [str(requests), "-o", str(out), "--simulate", "--quiet"]
    assert main([*args, "--sim-fault-500", "1", "--max-retries", "0"]) == 1
    assert (tmp_path / "out.dead.jsonl").read_text() == requests.read_text()
    capsys.readouterr()
    assert main(args) == 1  # nothing left to do, but 4 lines in the file failed
    stderr = capsys.readouterr().err
    assert "this run     succeeded 0  failed 0  invalid 0  skipped (already done) 4" in stderr
    assert "results file succeeded 0  failed 4  invalid 0  (4 of 4 input lines done" in stderr
    assert "dead letters" in stderr and "--retry-failed" in stderr
    assert main([*args, "--retry-failed"]) == 0
    stderr = capsys.readouterr().err
    assert "succeeded 4" in stderr and "retried 4" in stderr
    assert "results file succeeded 4  failed 0" in stderr and "dead letters" not in stderr
    assert not (tmp_path / "out.dead.jsonl").exists()
    # The retried lines' records keep their own line numbers, in the input given.
    assert sorted(r["line"] for r in records(out)[4:]) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        pytest.param("in.jsonl/x.jsonl", "in.jsonl is not a directory", id="file-as-dir"),
        pytest.param(".", "is a directory; give a file name", id="is-dir"),
    ],
)
def test_unusable_paths_exit_2_with_one_line_before_anything_starts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    output: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_requests(tmp_path / "in.jsonl", 1)
    assert main(["in.jsonl", "-o", output, "--simulate"]) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert "simulator" not in stderr and "Traceback" not in stderr
    args = ["in.jsonl", "-o", "o.jsonl", "--dead-letter", "in.jsonl/d.jsonl", "--simulate"]
    assert main(args) == 2
    assert "--dead-letter: in.jsonl is not a directory" in capsys.readouterr().err


def test_missing_output_directories_are_created_alike_for_results_and_dead_letters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_lines(tmp_path / "in.jsonl", ["{not json", *map(json.dumps, [body(1)])])
    args = ["in.jsonl", "-o", "new/deep/out.jsonl", "--dead-letter", "other/dead.jsonl"]
    assert main([*args, "--simulate", "--quiet"]) == 1  # the bad line
    assert len((tmp_path / "new/deep/out.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "other/dead.jsonl").read_text() == "{not json\n"
    assert main(["in.jsonl", "-o", "more/out.jsonl", "--simulate", "--quiet"]) == 1
    assert (tmp_path / "more/out.dead.jsonl").read_text() == "{not json\n"


def test_input_dash_reads_stdin_and_resumes_from_the_same_lines_piped_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = "".join(json.dumps(body(i)) + "\n" for i in range(5)).encode()
    out = tmp_path / "out.jsonl"
    for _ in range(2):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert main(["-", "-o", str(out), "--simulate", "--quiet"]) == 0
    stderr = capsys.readouterr().err
    assert "succeeded 5" in stderr and "skipped (already done) 5" in stderr
    assert id_counts(out) == Counter(item.custom_id for item in read_stdin_items(data))
    assert main(["-", "-o", str(out), "--simulate", "--retry-failed"]) == 2
    assert "--retry-failed needs INPUT as a file" in capsys.readouterr().err


def read_stdin_items(data: bytes) -> list[LineRequest | BadLine]:
    return [parse_line(n, line) for n, line in enumerate(data.splitlines(), start=1)]


def test_the_simulator_defaults_live_in_the_simulator(tmp_path: Path) -> None:
    from claudeflow.simulator import DEFAULT_LIMITS, SimulatorConfig

    config = simulator_config(RunnerSettings(simulate=True))
    defaults = SimulatorConfig(**DEFAULT_LIMITS)
    assert config == defaults
    given = simulator_config(RunnerSettings(sim_rpm=5, sim_ttft=0, sim_fault_500=0.5))
    assert (given.rpm, given.ttft_s, given.faults.error_500) == (5, 0, 0.5)
    assert given.input_tpm == defaults.input_tpm and given.per_token_s == defaults.per_token_s
    with pytest.raises(ConfigError) as error:  # the simulator checks its own fields
        simulator_config(RunnerSettings(sim_fault_529=2.0))
    assert error.value.argument == "error_529"


def test_help_lists_every_config_key_and_the_exit_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for field in dataclasses.fields(RunnerSettings):
        assert f"\n  {field.name} " in text, field.name
    for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert f"\n  {code}" in text
    readme = (EXAMPLES / "batch_jsonl" / "README.md").read_text()
    for field in dataclasses.fields(RunnerSettings):
        assert f"`{field.name}`" in readme, field.name


def test_an_unreachable_api_exits_3_at_once_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    requests = write_requests(tmp_path / "in.jsonl", 9)
    out = tmp_path / "out.jsonl"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        started = time.monotonic()
        assert main([str(requests), "-o", str(out), "--base-url", url]) == 3
    assert time.monotonic() - started < 10
    stderr = capsys.readouterr().err
    assert f"cannot reach the API at {url}" in stderr and "--base-url" in stderr
    assert not out.exists() or not out.read_text()


def test_a_budget_counts_what_earlier_runs_spent_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = write_requests(tmp_path / "in.jsonl", 20)
    out = tmp_path / "out.jsonl"
    args = [str(requests), "-o", str(out), "--simulate", "--quiet", "--budget-usd", "0.0005"]
    for _ in range(2):  # the rerun starts with the first run's spend counted
        assert main(args) == 1
        assert 0 < sum(r["cost_usd"] for r in records(out)) <= 0.0005
    stderr = capsys.readouterr().err
    assert stderr.count("stopped (budget reached)") == 2 and "larger --budget-usd" in stderr
    assert "this run     succeeded 0" in stderr.split("stopped (budget reached)")[2]


def test_batches_through_the_simulator_show_batch_progress_and_refuse_retry_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = write_requests(tmp_path / "in.jsonl", 6)
    out = tmp_path / "out.jsonl"
    args = [str(requests), "-o", str(out), "--simulate", "--batches", "--progress-interval", "5"]
    assert main(args) == 0
    assert id_counts(out) == each_input_line_once(requests)
    shown = capsys.readouterr().err
    assert "batches 1 submitted 1 ended | processing 0 succeeded 6 errored 0 expired 0" in shown
    assert main([*args, "--retry-failed"]) == 2
    refused = capsys.readouterr().err
    assert "retry_failed: cannot be combined with --batches" in refused
    assert "simulator at" not in refused  # refused before anything started


def test_output_reservation_is_a_setting_checked_by_name() -> None:
    assert merge_settings({"output_reservation": "as_generated"}).output_reservation == (
        "as_generated"
    )
    with pytest.raises(ConfigError, match="output_reservation: must be one of max_tokens"):
        merge_settings({"output_reservation": "actual"})


def test_as_generated_output_runs_offline_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    # max_tokens above 256: each line is streamed under the hood and returned whole.
    requests = write_lines(tmp_path / "in.jsonl", [body(i, max_tokens=600) for i in range(6)])
    out = tmp_path / "out.jsonl"
    args = [str(requests), "-o", str(out), "--simulate", "--quiet"]
    extra = ["--sim-ttft", "0", "--sim-per-token", "0", "--output-reservation", "as_generated"]
    assert main([*args, *extra]) == 0
    assert id_counts(out) == each_input_line_once(requests)
    done = records(out)
    assert all(r["response"]["type"] == "message" for r in done)
    assert all(r["response"]["usage"]["output_tokens"] > 0 for r in done)
