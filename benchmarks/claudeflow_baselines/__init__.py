"""The comparison baselines of claudeflow's benchmark suite: the clients people write.

Project benchmarks, not part of the library: the official SDK under a semaphore, and
aiolimiter + tenacity around it, each written as its documentation shows. ``claudeflow
bench`` finds this package when ``benchmarks/`` is importable (``python
benchmarks/run_suite.py`` makes it so); their dependencies are in the ``bench`` extra.
Importing this package imports none of them: each client loads its module when opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from claudeflow.bench._clients import ClientSpec
from claudeflow.bench._deps import BASELINE_MODULES
from claudeflow.bench._record import Send
from claudeflow.bench._target import Target

__all__ = ["BASELINES"]


@asynccontextmanager
async def _sdk(target: Target, max_retries: int | None) -> AsyncIterator[Send]:
    from .sdk import sdk_client

    async with sdk_client(target, max_retries) as send:
        yield send


@asynccontextmanager
async def _aiolimiter(target: Target) -> AsyncIterator[Send]:
    from .aiolimiter_tenacity import aiolimiter_client

    async with aiolimiter_client(target) as send:
        yield send


BASELINES = (
    ClientSpec(
        "sdk",
        "anthropic.AsyncAnthropic, gather + semaphore, default retries (2)",
        lambda t: _sdk(t, None),
        BASELINE_MODULES,
    ),
    ClientSpec(
        "sdk-r10",
        "anthropic.AsyncAnthropic, gather + semaphore, max_retries=10",
        lambda t: _sdk(t, 10),
        BASELINE_MODULES,
    ),
    ClientSpec(
        "aiolimiter",
        "AsyncLimiter per dimension + tenacity retry (wait_random_exponential)",
        _aiolimiter,
        BASELINE_MODULES,
    ),
)
