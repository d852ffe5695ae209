"""The TOML config: validated into frozen dataclasses; errors name the key and line."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from claudeflow import ConfigError
from claudeflow.cli import main
from claudeflow.gateway import hash_key, load_config, parse_config

HASH = hash_key("k1")

GOOD = f"""
[gateway]
port = 9000
budget_usd_per_day = 50

[upstream]
api_key_env = "MY_KEY"
rpm = 50
aliases = {{ fast = "claude-haiku-4-5" }}

[[clients]]
name = "search"
key_sha256 = "{HASH}"
priority = "high"
models = ["fast"]
rpm = 60
budget_usd_per_day = 5

[alerts]
webhook_url = "http://127.0.0.1:1/hook"
budget_thresholds = [1.0, 0.5]
"""


def test_a_full_config_parses_into_frozen_objects() -> None:
    config = parse_config(GOOD)
    assert config.port == 9000 and config.budget_usd_per_day == 50
    assert config.upstream.rpm == 50 and config.upstream.api_key_env == "MY_KEY"
    assert config.upstream.targets("fast") == ("claude-haiku-4-5",)
    (client,) = config.clients
    assert client.name == "search" and client.priority == 0 and client.rpm == 60
    assert client.allows("fast") and not client.allows("claude-opus-4-6")
    assert config.alerts.budget_thresholds == (0.5, 1.0)
    assert config.client_by_hash() == {HASH: client}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1  # type: ignore[misc]
    assert HASH not in repr(client)


@pytest.mark.parametrize(
    ("old", "new", "name", "line"),
    [
        ("rpm = 60", "rpm = -1", "clients[0].rpm", 16),
        ("rpm = 60", 'rpm = "many"', "clients[0].rpm", 16),
        ('priority = "high"', 'priority = "urgent"', "clients[0].priority", 14),
        (f'key_sha256 = "{HASH}"', 'key_sha256 = "k1"', "clients[0].key_sha256", 13),
        ("port = 9000", "prot = 9000", "gateway.prot", 3),
        ("rpm = 50", "rpm = 0", "upstream.rpm", 8),
        ('models = ["fast"]', 'models = "fast"', "clients[0].models", 15),
    ],
)
def test_errors_name_the_key_and_its_line(old: str, new: str, name: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(GOOD.replace(old, new, 1))
    assert caught.value.argument == name
    assert f"(line {line})" in str(caught.value)


def test_second_client_errors_point_at_its_own_table() -> None:
    second = f'\n[[clients]]\nname = "two"\nkey_sha256 = "{hash_key("k2")}"\ntpm = -5\n'
    text = GOOD.replace("[alerts]", second + "\n[alerts]")
    with pytest.raises(ConfigError, match=r"clients\[1\]\.tpm.*line 23"):
        parse_config(text)


def test_duplicates_and_missing_fields() -> None:
    twice = GOOD.replace(
        "[alerts]", f'[[clients]]\nname = "search"\nkey_sha256 = "{hash_key("x")}"\n[alerts]'
    )
    with pytest.raises(ConfigError, match="duplicate client name"):
        parse_config(twice)
    with pytest.raises(ConfigError, match=r"clients\[0\]\.name: is required"):
        parse_config(GOOD.replace('name = "search"\n', ""))


def test_invalid_toml_keeps_tomllib_position() -> None:
    with pytest.raises(ConfigError, match=r"line 3"):
        parse_config("[gateway]\nport = 1\nhost = \n")


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[upstream]\napi_key = 12345678\n")
    assert "12345678" not in str(caught.value)
    config = parse_config('[upstream]\napi_key = "sk-ant-abc"\n')
    assert "sk-ant-abc" not in repr(config)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    path = tmp_path / "gw.toml"
    path.write_text(GOOD)
    assert load_config(path).source == str(path)


def test_hash_key_cli_prints_the_sha256(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--hash-key", "k1"]) == 0
    assert capsys.readouterr().out.strip() == HASH


def test_hash_key_reads_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "claudeflow.cli", "serve", "--hash-key"],
        input="k1\n", capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == HASH


def test_zero_workers_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    # More than one without upstream.redis: tests/gateway/test_gw_workers.py.
    assert main(["serve", "gw.toml", "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_missing_upstream_key_names_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    path = tmp_path / "gw.toml"
    path.write_text(GOOD)
    assert main(["serve", str(path)]) == 2
    assert "$MY_KEY is not set" in capsys.readouterr().err


def test_a_taken_port_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "sk-ant-test")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "gw.toml"
        path.write_text(GOOD.replace("port = 9000", f"port = {port}"))
        assert main(["serve", str(path)]) == 1
    assert "cannot listen" in capsys.readouterr().err
