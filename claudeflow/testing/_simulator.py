"""A simulator fixture for tests: ``async with simulator(rpm=50) as sim: ...``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ..simulator import SimulatorConfig, SimulatorServer, run_simulator

__all__ = ["simulator"]


@asynccontextmanager
async def simulator(
    config: SimulatorConfig | None = None, /, **config_kwargs: Any
) -> AsyncIterator[SimulatorServer]:
    """Run a simulator on ``127.0.0.1`` (free port) for the duration of the block.

    Pass a :class:`SimulatorConfig`, or its fields as keywords (latency defaults to zero
    here, so tests never wait unless they ask to):

    >>> async def demo() -> None:
    ...     async with simulator(rpm=50, minute_seconds=1) as sim:
    ...         print(sim.url)
    """
    if config is None:
        config_kwargs.setdefault("ttft_s", 0.0)
        config_kwargs.setdefault("per_token_s", 0.0)
        config = SimulatorConfig(**config_kwargs)
    elif config_kwargs:
        raise TypeError("pass either a SimulatorConfig or keyword fields, not both")
    async with run_simulator(config) as server:
        yield server
