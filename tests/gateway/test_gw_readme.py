"""The README's gateway config parses as printed (with a real hash in place of "...")."""

from __future__ import annotations

import re
from pathlib import Path

from claudeflow.gateway import hash_key, parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_gateway_config_parses() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (block,) = [b for b in blocks if "[[clients]]" in b]
    config = parse_config(block.replace('"..."', f'"{hash_key("k")}"'))
    assert config.port == 8080 and config.budget_usd_per_day == 50
    assert config.upstream.targets("fast") == ("claude-haiku-4-5",)
    assert config.clients[0].name == "search" and config.clients[0].priority == 0
    assert config.alerts.webhook_url == "http://127.0.0.1:9000/hook"


def test_readme_engine_config_parses() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (block,) = [b for b in blocks if "[upstream.routes]" in b]
    upstream = parse_config(block).upstream
    assert [k.name for k in upstream.keys] == ["team-a", "team-b"]
    assert upstream.limits["sonnet"].rpm == 20 and upstream.pools["claude-sonnet-4-6"] == "sonnet"
    assert upstream.targets("cheap") == ("claude-haiku-4-5", "claude-sonnet-4-6")
    assert upstream.cache is not None and upstream.cache.backend == "redis"
    assert upstream.quotas[0].usd == 20 and upstream.batches is not None
