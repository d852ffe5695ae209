"""``claudeflow serve``: an Anthropic- and OpenAI-compatible HTTP gateway over one Flow.

Clients authenticate with gateway keys (the config keeps their sha256), each with a
priority class, allowed models and its own quotas; the Anthropic key stays here.
Endpoints: ``/v1/messages`` (+ ``count_tokens``), ``/v1/chat/completions``,
``/v1/models``, ``/metrics``, ``/healthz``, ``/readyz``, ``/dashboard``.
"""

from __future__ import annotations

from ._app import create_app as create_app
from ._config import AlertConfig as AlertConfig
from ._config import ClientConfig as ClientConfig
from ._config import GatewayConfig as GatewayConfig
from ._config import UpstreamConfig as UpstreamConfig
from ._config import hash_key as hash_key
from ._config import load_config as load_config
from ._config import parse_config as parse_config
from ._engine import Engine as Engine
from ._engine import build_engine as build_engine
from ._gateway import Gateway as Gateway
from ._quota import QuotaExceeded as QuotaExceeded
from ._server import RunningGateway as RunningGateway
from ._server import build_gateway as build_gateway
from ._server import reload_config as reload_config
from ._server import run_gateway as run_gateway
from ._server import serve as serve

__all__ = [
    "AlertConfig",
    "ClientConfig",
    "Engine",
    "Gateway",
    "GatewayConfig",
    "QuotaExceeded",
    "RunningGateway",
    "UpstreamConfig",
    "build_engine",
    "build_gateway",
    "create_app",
    "hash_key",
    "load_config",
    "parse_config",
    "reload_config",
    "run_gateway",
    "serve",
]
