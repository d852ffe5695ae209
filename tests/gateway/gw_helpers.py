"""Shared pieces for the gateway tests: a simulator with a gateway in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from claudeflow.gateway import RunningGateway, hash_key, parse_config, run_gateway
from claudeflow.simulator import SimulatorServer
from claudeflow.testing import simulator

MODEL = "claude-haiku-4-5"
UPSTREAM_KEY = "sk-ant-upstream-SECRET-0123456789abcdef"
KEYS = {"alpha": "gw-alpha-key-111", "beta": "gw-beta-key-222", "batch": "gw-batch-key-333"}
HI = [{"role": "user", "content": "Say hello [[output_tokens=12]]"}]


def client_table(name: str, **fields: Any) -> str:
    lines = ["[[clients]]", f'name = "{name}"', f'key_sha256 = "{hash_key(KEYS[name])}"']
    lines += [f"{key} = {_toml(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def config_text(
    sim_url: str, *, gateway: str = "", upstream: str = "", clients: str = "", alerts: str = ""
) -> str:
    clients = clients or client_table("alpha") + client_table("beta")
    return (
        f"[gateway]\nport = 0\n{gateway}\n"
        f'[upstream]\nbase_url = "{sim_url}"\napi_key = "{UPSTREAM_KEY}"\n'
        f'aliases = {{ fast = "{MODEL}" }}\nmodels = ["claude-sonnet-4-6"]\n{upstream}\n'
        f"{clients}\n[alerts]\n{alerts}\n"
    )


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@dataclass
class Stack:
    sim: SimulatorServer
    gw: RunningGateway

    @property
    def url(self) -> str:
        return self.gw.url


@asynccontextmanager
async def stack(
    *, sim: dict[str, Any] | None = None, sample_every_s: float = 1.0, **sections: str
) -> AsyncIterator[Stack]:
    """The real simulator on a free port, and the real gateway in front of it."""
    sim_config = {"api_keys": frozenset({UPSTREAM_KEY}), **(sim or {})}
    async with simulator(**sim_config) as server:
        config = parse_config(config_text(server.url, **sections))
        async with run_gateway(config, sample_every_s=sample_every_s) as running:
            yield Stack(server, running)
