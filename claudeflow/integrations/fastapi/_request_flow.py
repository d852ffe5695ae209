"""The Flow as one request handler sees it: its route's priority, its tenant, its client.

:func:`use_flow` builds the dependency; each request gets a :class:`RequestFlow` whose
calls carry the route's priority, pass the tenant's quota first, and are cancelled
(with every reservation released) if the HTTP client disconnects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Final

from fastapi import Request, Response

from ..._errors import InvalidRequestError, RequestRejected
from ..._types import Priority
from ...scheduler import Flow, FlowStream, Result
from ._disconnect import ClientDisconnectedError, Receive, cancel_on_disconnect
from ._lifespan import flow_state
from ._tenants import TenantLimiter, TenantSlot

__all__ = ["RequestFlow", "TenantKey", "use_flow"]

TenantKey = Callable[[Request], "str | None"]
_FLOW_DEFAULT: Final[Any] = object()


class RequestFlow:
    """Per-request access to the app's Flow (what :func:`use_flow` hands a handler).

    :ivar flow: the shared :class:`~claudeflow.Flow`
    :ivar priority: the route's scheduling class
    :ivar tenant: the tenant key, or ``None`` when no quotas are configured
    """

    def __init__(
        self,
        flow: Flow,
        *,
        priority: int,
        queue_timeout: Any,
        tenant: str | None,
        tenants: TenantLimiter | None,
        receive: Receive,
        response: Response | None = None,
    ) -> None:
        self.flow = flow
        self.priority = priority
        self.tenant = tenant
        self._queue_timeout = queue_timeout
        self._tenants = tenants
        self._receive = receive
        self._response = response

    async def create(self, **params: Any) -> Result:
        """``flow.create`` with this route's priority, the tenant's quota, disconnect watch.

        :raises TenantQuotaExceeded: the tenant is over its own quota (nothing queued)
        :raises ClientDisconnectedError: the client left; the call was cancelled
        :raises ClaudeflowError: whatever ``Flow.create`` raises (queue full, deadline...)
        """
        slot = self._acquire()
        try:
            result = await cancel_on_disconnect(
                self._receive, self.flow.create(**self._options(), **params)
            )
        except RequestRejected as rejected:
            _release(slot, rejected)
            raise
        except BaseException:
            _release(slot, None)
            raise
        _release(slot, None)
        self._add_quota_headers()
        return result

    @asynccontextmanager
    async def stream(self, **params: Any) -> AsyncIterator[FlowStream]:
        """``flow.stream`` with this route's priority and the tenant's quota."""
        slot = self._acquire()
        error: BaseException | None = None
        try:
            async with self.flow.stream(**self._options(), **params) as stream:
                yield stream
        except BaseException as exc:
            error = exc
            raise
        finally:
            _release(slot, error)

    async def stream_text(self, **params: Any) -> AsyncIterator[str]:
        """Start a stream and wait for its first text; return an iterator over all of it.

        Waiting for the first text before returning means a full queue, a missed queue
        deadline or Claude's refusal still become a proper 429/503/502 response instead
        of a 200 that ends early. Hand the result to ``StreamingResponse``; when the
        client disconnects, closing the iterator cancels the call.
        """
        stack = AsyncExitStack()
        try:
            stream = await stack.enter_async_context(self.stream(**params))
            texts = stream.text_stream
            stack.push_async_callback(_aclose, texts)
            first = await cancel_on_disconnect(self._receive, anext(texts, None))
        except BaseException:
            await stack.aclose()
            raise
        self._add_quota_headers()
        return _rest_of(first, texts, stack)

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"priority": self.priority}
        if self._queue_timeout is not _FLOW_DEFAULT:
            options["queue_timeout"] = self._queue_timeout
        return options

    def _acquire(self) -> TenantSlot | None:
        if self._tenants is None or self.tenant is None:
            return None
        return self._tenants.acquire(self.tenant)

    def _add_quota_headers(self) -> None:
        if self._response is not None and self._tenants is not None and self.tenant:
            self._response.headers.update(self._tenants.headers(self.tenant))


async def _rest_of(
    first: str | None, texts: AsyncIterator[str], stack: AsyncExitStack
) -> AsyncIterator[str]:
    async with stack:
        if first is None:
            return
        yield first
        async for text in texts:
            yield text


async def _aclose(iterator: AsyncIterator[str]) -> None:
    # text_stream is an async generator: closing it ends the nested event iteration.
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


def _release(slot: TenantSlot | None, error: BaseException | None) -> None:
    """Free the tenant's slot; refund its quota if the call never reached Claude."""
    if slot is None:
        return
    never_sent = isinstance(error, RequestRejected) and not isinstance(
        error, ClientDisconnectedError
    )
    slot.release(refund=never_sent)


def use_flow(
    *,
    priority: int = Priority.NORMAL,
    queue_timeout: float | None = _FLOW_DEFAULT,
    tenant: TenantKey | None = None,
) -> Callable[[Request, Response], RequestFlow]:
    """A FastAPI dependency giving handlers a :class:`RequestFlow`.

    >>> Interactive = Annotated[RequestFlow, Depends(use_flow(priority=Priority.HIGH))]
    >>> Background = Annotated[RequestFlow, Depends(use_flow(priority=Priority.LOW))]

    :param priority: scheduling class of this route's calls (interactive routes HIGH,
        background work LOW)
    :param queue_timeout: longest wait before a call starts (default: the Flow's); keep
        it below your clients' own timeout, so they get a 503 rather than hang up
    :param tenant: derives the tenant key from the request (default: the quota's
        header); derive it from authentication when the header could be forged
    """
    if not isinstance(priority, int):
        raise TypeError(f"priority: expected an int or Priority, got {priority!r}")

    def dependency(request: Request, response: Response) -> RequestFlow:
        state = flow_state(request)
        key = _tenant_of(request, state.tenants, tenant)
        return RequestFlow(
            state.flow,
            priority=int(priority),
            queue_timeout=queue_timeout,
            tenant=key,
            tenants=state.tenants,
            receive=request.receive,
            response=response,
        )

    return dependency


def _tenant_of(
    request: Request, limiter: TenantLimiter | None, key: TenantKey | None
) -> str | None:
    if limiter is None:
        return None
    value = key(request) if key is not None else request.headers.get(limiter.quota.header)
    if value:
        return value
    if limiter.quota.default_tenant is None:
        raise InvalidRequestError(
            f"missing tenant: send the {limiter.quota.header!r} header with every request"
        )
    return limiter.quota.default_tenant
