"""The API ``claudeflow run`` calls: the real one, or a simulator started in-process.

Heavy imports (the simulator, aiohttp) happen only when the command runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ._console import say
from ._settings import RunnerSettings

if TYPE_CHECKING:
    from .._config import RateLimits
    from ..simulator import SimulatorConfig

__all__ = ["endpoint", "simulator_config"]


def simulator_config(settings: RunnerSettings) -> SimulatorConfig:
    """The simulator ``--simulate`` starts: the ``sim_*`` settings given, else the
    simulator's own defaults (those of ``claudeflow simulate``)."""
    from ..simulator import DEFAULT_LIMITS, FaultConfig, SimulatorConfig

    given = {
        "rpm": settings.sim_rpm,
        "input_tpm": settings.sim_input_tpm,
        "output_tpm": settings.sim_output_tpm,
        "minute_seconds": settings.sim_minute_seconds,
        "ttft_s": settings.sim_ttft,
        "per_token_s": settings.sim_per_token,
        "seed": settings.sim_seed,
    }
    faults = {"error_529": settings.sim_fault_529, "error_500": settings.sim_fault_500}
    return SimulatorConfig(
        **(dict(DEFAULT_LIMITS) | _given(given)), faults=FaultConfig(**_given(faults))
    )


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


@contextlib.asynccontextmanager
async def endpoint(settings: RunnerSettings) -> AsyncIterator[tuple[str | None, RateLimits]]:
    """The API to call (the real one, or an in-process simulator) and the limits to use."""
    from .._config import RateLimits

    given = RateLimits(
        rpm=settings.rpm,
        input_tpm=settings.input_tpm,
        output_tpm=settings.output_tpm,
        window_s=settings.minute_seconds,
        burst=settings.burst,
    )
    if not settings.simulate:
        yield settings.base_url, given
        return
    from ..simulator import run_simulator

    config = simulator_config(settings)
    if given.rpm is None and given.input_tpm is None and given.output_tpm is None:
        # No client limits given: tell the Flow the simulator's (or it would learn them
        # from the first answers, after a start at full speed).
        given = dataclasses.replace(
            given,
            rpm=config.rpm,
            input_tpm=config.input_tpm,
            output_tpm=config.output_tpm,
            window_s=config.minute_seconds,
        )
    async with run_simulator(config) as sim:
        say(f"claudeflow run: simulator at {sim.url}")
        yield sim.url, given
