"""The clients a scenario can be driven through, by name.

Baseline modules import optional dependencies (anthropic, tenacity), so they are
imported only when such a client is opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from ._client_flow import flow_client
from ._deps import BASELINE_MODULES
from ._record import Send
from ._target import Target

__all__ = ["CLAUDEFLOW", "CLIENTS", "ClientSpec", "open_client"]

CLAUDEFLOW = "claudeflow"


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """A client: its description and the optional modules it needs."""

    name: str
    description: str
    open: Callable[[Target], AbstractAsyncContextManager[Send]]
    modules: tuple[str, ...] = ()

    @property
    def baseline(self) -> bool:
        return bool(self.modules)


@asynccontextmanager
async def _sdk(target: Target, max_retries: int | None) -> AsyncIterator[Send]:
    from ._client_sdk import sdk_client

    async with sdk_client(target, max_retries) as send:
        yield send


@asynccontextmanager
async def _aiolimiter(target: Target) -> AsyncIterator[Send]:
    from ._client_aiolimiter import aiolimiter_client

    async with aiolimiter_client(target) as send:
        yield send


CLIENTS: dict[str, ClientSpec] = {
    spec.name: spec
    for spec in (
        ClientSpec(CLAUDEFLOW, "Flow.create with the scenario's limits", flow_client),
        ClientSpec(
            "claudeflow-stream",
            "Flow.stream with the scenario's limits",
            lambda t: flow_client(t, "stream"),
        ),
        ClientSpec(
            "claudeflow-learned",
            "Flow.create with limits=None (learned from headers)",
            lambda t: flow_client(t, "learned"),
        ),
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
}


def open_client(name: str, target: Target) -> AbstractAsyncContextManager[Send]:
    """Open client ``name`` against ``target`` (yields its send function)."""
    return CLIENTS[name].open(target)
