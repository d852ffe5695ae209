"""One Flow per app: started with the app, closed (drained) at shutdown.

The Flow and the tenant limiter live on ``app.state`` rather than in the lifespan's
yielded state, so they are reachable from dependencies however the app is started
(uvicorn, ``TestClient``, or a test entering ``app.router.lifespan_context`` itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Final

from fastapi import FastAPI, Request

from ...scheduler import Flow
from ._tenants import TenantLimiter, TenantQuota

__all__ = ["FlowState", "attach_flow", "flow_lifespan", "flow_state", "get_flow"]

_STATE_ATTR: Final = "claudeflow"

FlowSource = Flow | Callable[[], Flow]


@dataclass(frozen=True, slots=True)
class FlowState:
    """What the integration keeps on ``app.state.claudeflow``."""

    flow: Flow
    tenants: TenantLimiter | None


@asynccontextmanager
async def attach_flow(
    app: FastAPI,
    flow: FlowSource,
    *,
    tenants: TenantQuota | None = None,
    cancel_on_shutdown: bool = False,
) -> AsyncIterator[Flow]:
    """Start ``flow`` (or the Flow ``flow()`` builds) for ``app`` until the block exits.

    Use it inside your own lifespan when you have other resources to manage::

        @asynccontextmanager
        async def lifespan(app):
            async with attach_flow(app, make_flow), open_db():
                yield

    :param tenants: per-tenant quotas enforced before the Flow (``None``: none)
    :param cancel_on_shutdown: cancel queued and running calls at shutdown instead of
        draining them (servers normally finish their requests before the lifespan ends,
        so draining is quick)
    """
    instance = flow if isinstance(flow, Flow) else flow()
    if not isinstance(instance, Flow):
        raise TypeError(f"flow: expected a Flow or a factory of one, got {type(instance)!r}")
    await instance.start()
    limiter = TenantLimiter(tenants) if tenants is not None else None
    setattr(app.state, _STATE_ATTR, FlowState(instance, limiter))
    try:
        yield instance
    finally:
        delattr(app.state, _STATE_ATTR)
        await instance.aclose(cancel=cancel_on_shutdown)


def flow_lifespan(
    flow: FlowSource,
    *,
    tenants: TenantQuota | None = None,
    cancel_on_shutdown: bool = False,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A ``lifespan`` for ``FastAPI(lifespan=...)`` that runs one Flow for the app.

    >>> app = FastAPI(lifespan=flow_lifespan(lambda: Flow(limits=...)))  # doctest: +SKIP

    A factory is called at startup, inside the server's event loop.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with attach_flow(app, flow, tenants=tenants, cancel_on_shutdown=cancel_on_shutdown):
            yield

    return lifespan


def flow_state(request: Request) -> FlowState:
    """The app's :class:`FlowState`; raises ``RuntimeError`` if no Flow is attached."""
    state = getattr(request.app.state, _STATE_ATTR, None)
    if not isinstance(state, FlowState):
        raise RuntimeError(
            "no claudeflow Flow is attached to this app: create it with "
            "FastAPI(lifespan=flow_lifespan(...)) or enter attach_flow(app, ...) in your lifespan"
        )
    return state


def get_flow(request: Request) -> Flow:
    """Dependency: the app's :class:`~claudeflow.Flow` itself (e.g. for a stats route)."""
    return flow_state(request).flow
