"""``claudeflow simulate``: argument mapping, startup output, clean shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from claudeflow.cli import build_parser
from claudeflow.simulator._cli import build_config, run


def _args(*argv: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(["simulate", *argv])


def test_flags_map_onto_the_config() -> None:
    args = _args(
        "--rpm", "50", "--input-tpm", "30000", "--output-tpm", "8000", "--minute-seconds", "6",
        "--burst", "0.5", "--otpm-mode", "reserve_max_tokens", "--seed", "9", "--ttft", "0",
        "--per-token", "0", "--fault-529", "0.1", "--fault-drop", "0.2", "--spend-cap-after", "5",
        "--overload-window", "1", "2", "--api-key", "sk-a", "--api-key", "sk-b",
        "--models", "claude-opus-4-6,claude-sonnet-4-6", "--retry-after-ms",
    )  # fmt: skip
    config = build_config(args)
    assert (config.rpm, config.input_tpm, config.output_tpm) == (50, 30_000, 8_000)
    assert config.minute_seconds == 6 and config.burst == 0.5
    assert config.otpm_mode == "reserve_max_tokens" and config.seed == 9
    assert config.ttft_s == 0 and config.per_token_s == 0
    assert config.faults.error_529 == 0.1 and config.faults.connection_drop == 0.2
    assert config.faults.spend_cap_after == 5
    assert config.faults.overload_window == (1.0, 2.0)
    assert config.api_keys == frozenset({"sk-a", "sk-b"})
    assert config.models == frozenset({"claude-opus-4-6", "claude-sonnet-4-6"})
    assert config.retry_after_ms


def test_defaults_are_generous_and_unlimited_switches_them_off() -> None:
    config = build_config(_args())
    assert config.rpm == 4_000 and config.input_tpm == 2_000_000 and config.output_tpm == 400_000
    assert config.minute_seconds == 60
    unlimited = build_config(_args("--unlimited"))
    assert unlimited.rpm is unlimited.input_tpm is unlimited.output_tpm is None


def test_bad_value_exits_2_naming_the_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args("--burst", "2")) == 2
    assert "burst" in capsys.readouterr().err


@pytest.mark.integration
def test_serves_until_sigint_and_never_prints_the_key() -> None:
    argv = [sys.executable, "-m", "claudeflow.cli", "simulate", "--port", "0", "--rpm", "50"]
    argv += ["--minute-seconds", "6", "--api-key", "sk-very-secret"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    banner = "".join(lines)
    assert banner.startswith("claudeflow simulator listening on http://127.0.0.1:")
    assert "50 requests/min" in banner
    assert "1 simulated minute = 6 s" in banner
    assert "sk-very-secret" not in banner + rest + err
    assert "shutting down" in rest
    assert proc.returncode == 0, err
