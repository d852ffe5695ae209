"""``claudeflow simulate``: argument mapping, startup output, clean shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from claudeflow.cli import build_parser
from claudeflow.simulator import DEFAULT_LIMITS, SimulatorConfig
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


def test_the_defaults_are_the_config_s_own() -> None:
    config = build_config(_args())
    assert {name: getattr(config, name) for name in DEFAULT_LIMITS} == dict(DEFAULT_LIMITS)
    plain = SimulatorConfig()
    for name in ("minute_seconds", "burst", "otpm_mode", "ttft_s", "per_token_s", "seed"):
        assert getattr(config, name) == getattr(plain, name), name
    assert config.ping_interval_s == plain.ping_interval_s
    assert config.models is None and config.extra_models == frozenset()
    extra = build_config(_args("--extra-models", "a,b", "--ping-interval", "2"))
    assert extra.extra_models == frozenset({"a", "b"}) and extra.ping_interval_s == 2


def test_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    text = text[text.index("show this help message and exit") :]  # the options, not usage
    for flag, default in [
        ("--rpm RPM", "4000.0"),
        ("--input-tpm INPUT_TPM", "2000000.0"),
        ("--output-tpm OUTPUT_TPM", "400000.0"),
        ("--minute-seconds MINUTE_SECONDS", "60.0"),
        ("--ttft TTFT", "0.02"),
        ("--per-token PER_TOKEN", "0.0005"),
        ("--port PORT", "8765"),
        ("--fault-529 FAULT_529", "0.0"),
        ("--ping-interval PING_INTERVAL", "10.0"),
    ]:
        start = text.index(flag)
        assert f"(default: {default})" in text[start : text.index("--", start + 3)], flag
    options = [word for word in text.split() if word.startswith("--")]
    assert text.count("(default: ") == len(set(options)) == 31  # every option but --help


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
