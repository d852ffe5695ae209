"""Shared by the examples: where to send requests, optionally an in-process simulator.

With ``--simulate`` an offline simulator starts inside the example's event loop and the
Flow is told its limits; otherwise the real API is used (``ANTHROPIC_API_KEY``, and
``ANTHROPIC_BASE_URL`` if set, e.g. to a simulator started with ``claudeflow simulate``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from claudeflow import RateLimits
from claudeflow.simulator import SimulatorConfig, run_simulator

MODEL = "claude-haiku-4-5"
# The simulated account: a small tier on a 2-second "minute", so limits visibly bite.
SIM_LIMITS = RateLimits(rpm=120, input_tpm=200_000, output_tpm=50_000, window_s=2.0)


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str | None
    limits: RateLimits | None


@asynccontextmanager
async def endpoint(simulate: bool, *, per_token_s: float = 0.0) -> AsyncIterator[Endpoint]:
    """The simulator (``simulate``) or the real API, as Flow arguments."""
    if not simulate:
        if not os.environ.get("ANTHROPIC_API_KEY"):
            raise SystemExit("set ANTHROPIC_API_KEY, or pass --simulate")
        yield Endpoint(None, None, None)  # limits are learned from the API's headers
        return
    config = SimulatorConfig(
        rpm=SIM_LIMITS.rpm,
        input_tpm=SIM_LIMITS.input_tpm,
        output_tpm=SIM_LIMITS.output_tpm,
        minute_seconds=SIM_LIMITS.window_s,
        ttft_s=0.02,
        per_token_s=per_token_s,
    )
    async with run_simulator(config) as sim:
        yield Endpoint(sim.url, "sk-simulator", SIM_LIMITS)
