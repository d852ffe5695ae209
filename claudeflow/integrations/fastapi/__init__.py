"""FastAPI integration: one Flow per app, back-pressure as HTTP, per-tenant quotas.

>>> from fastapi import Depends, FastAPI  # doctest: +SKIP
>>> from claudeflow.integrations.fastapi import (
...     RequestFlow, flow_lifespan, install_error_handlers, use_flow)
>>> app = FastAPI(lifespan=flow_lifespan(lambda: Flow(limits=..., queue=QueuePolicy(timeout=10))))
>>> install_error_handlers(app)
>>> Interactive = Annotated[RequestFlow, Depends(use_flow(priority=Priority.HIGH))]
>>> @app.post("/ask")
... async def ask(q: str, claude: Interactive) -> dict[str, str]:
...     result = await claude.create(model=..., max_tokens=256, messages=[...])
...     return {"answer": result.text}

- :func:`flow_lifespan` / :func:`attach_flow` start the Flow with the app and drain it
  at shutdown; :func:`get_flow` hands the Flow itself to a handler.
- :func:`use_flow` gives handlers a :class:`RequestFlow`: the route's priority, the
  tenant's :class:`TenantQuota` checked before the Flow, and the call cancelled (its
  reservation released) when the client disconnects.
- :func:`install_error_handlers` turns the error tree into 429/503 + ``Retry-After``
  (and IETF ``RateLimit`` headers), 413, 400 or 502 responses; never a hung request.

Needs the ``fastapi`` extra: ``pip install 'claudeflow[fastapi]'``.
"""

from __future__ import annotations

try:
    import fastapi as _fastapi  # noqa: F401  (fail here, with advice, not deep inside)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "claudeflow.integrations.fastapi needs FastAPI: pip install 'claudeflow[fastapi]'"
    ) from exc

from ._disconnect import ClientDisconnectedError as ClientDisconnectedError
from ._disconnect import cancel_on_disconnect as cancel_on_disconnect
from ._lifespan import FlowState as FlowState
from ._lifespan import attach_flow as attach_flow
from ._lifespan import flow_lifespan as flow_lifespan
from ._lifespan import get_flow as get_flow
from ._request_flow import RequestFlow as RequestFlow
from ._request_flow import use_flow as use_flow
from ._responses import ErrorReply as ErrorReply
from ._responses import error_reply as error_reply
from ._responses import error_response as error_response
from ._responses import install_error_handlers as install_error_handlers
from ._tenants import TenantLimiter as TenantLimiter
from ._tenants import TenantQuota as TenantQuota
from ._tenants import TenantQuotaExceeded as TenantQuotaExceeded

__all__ = [
    "ClientDisconnectedError",
    "ErrorReply",
    "FlowState",
    "RequestFlow",
    "TenantLimiter",
    "TenantQuota",
    "TenantQuotaExceeded",
    "attach_flow",
    "cancel_on_disconnect",
    "error_reply",
    "error_response",
    "flow_lifespan",
    "get_flow",
    "install_error_handlers",
    "use_flow",
]
