"""One Flow per app: started with the app, closed (drained) at shutdown.

Several uvicorn workers (or hosts) share one account's limits when each app's Flow keeps
its buckets in Redis: pass ``redis="redis://..."`` (or any ``backend=``) and a factory
taking ``backend=``; the lifespan builds the backend in the worker, at startup.

The Flow and the tenant limiter live on ``app.state`` rather than in the lifespan's
yielded state, so they are reachable from dependencies however the app is started
(uvicorn, ``TestClient``, or a test entering ``app.router.lifespan_context`` itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Final, Literal

from fastapi import FastAPI, Request

from ..._errors import ConfigError
from ...limiter import Backend
from ...scheduler import Flow
from ._tenants import TenantLimiter, TenantQuota

__all__ = ["FlowState", "attach_flow", "flow_lifespan", "flow_state", "get_flow"]

_STATE_ATTR: Final = "claudeflow"

# A Flow, a factory of one, or (with a shared backend) a factory taking ``backend=``.
FlowSource = Flow | Callable[..., Flow]


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
    backend: Backend | None = None,
    redis: str | None = None,
    on_redis_failure: Literal["fail", "degrade"] = "fail",
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
    :param backend: where the Flow's buckets live; ``flow`` must then be a factory
        taking ``backend=`` (e.g. ``lambda backend: Flow(backend=backend, ...)``)
    :param redis: shorthand for ``backend=RedisBackend(redis, on_failure=on_redis_failure)``
        (the URL's password is never shown)
    """
    instance = _build(flow, _shared_backend(backend, redis, on_redis_failure))
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
    backend: Backend | Callable[[], Backend] | None = None,
    redis: str | None = None,
    on_redis_failure: Literal["fail", "degrade"] = "fail",
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A ``lifespan`` for ``FastAPI(lifespan=...)`` that runs one Flow for the app.

    >>> app = FastAPI(lifespan=flow_lifespan(lambda: Flow(limits=...)))  # doctest: +SKIP

    Every uvicorn worker sharing one account's limits through Redis:

    >>> app = FastAPI(lifespan=flow_lifespan(  # doctest: +SKIP
    ...     lambda backend: Flow(limits=..., backend=backend), redis="redis://host:6379/0"))

    A factory is called at startup, inside the server's event loop; so is a ``backend``
    factory (a backend is per process: each worker builds its own).
    """
    _check_redis(redis)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        shared = backend() if callable(backend) else backend
        async with attach_flow(
            app, flow, tenants=tenants, cancel_on_shutdown=cancel_on_shutdown,
            backend=shared, redis=redis, on_redis_failure=on_redis_failure,
        ):  # fmt: skip
            yield

    return lifespan


def _check_redis(redis: object) -> None:
    if redis is not None and (not isinstance(redis, str) or not redis):
        raise ConfigError("redis", "must be a redis:// URL string")


def _shared_backend(
    backend: Backend | None, redis: str | None, on_failure: Literal["fail", "degrade"]
) -> Backend | None:
    _check_redis(redis)
    if backend is not None and redis is not None:
        raise ConfigError("redis", "give either redis= or backend=, not both")
    if redis is None:
        return backend
    from ...limiter import RedisBackend  # the redis client is needed only now

    return RedisBackend(redis, on_failure=on_failure)


def _build(flow: FlowSource, backend: Backend | None) -> object:
    if isinstance(flow, Flow):
        if backend is not None and flow.backend is not backend:
            raise ConfigError(
                "backend",
                "this Flow was built with its own backend: pass a factory taking backend= "
                "(lambda backend: Flow(backend=backend, ...)) instead of the Flow",
            )
        return flow
    return flow() if backend is None else flow(backend=backend)


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
