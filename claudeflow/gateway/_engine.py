"""The engine behind the gateway: one Flow (and its transport) built from the config.

This is the one place where config keys become :class:`~claudeflow.Flow` arguments, so a
new Flow argument (model pools, key pools, a Redis backend) is one line here and one key
in :mod:`._config`. The Anthropic key is read here and handed to the Flow; it is kept
nowhere else in the gateway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .._clock import Clock
from .._config import RateLimits
from .._errors import ConfigError
from ..scheduler import Flow
from ..scheduler._flow import DEFAULT_BASE_URL
from ..transport import AiohttpTransport, Transport
from ._config import UpstreamConfig

__all__ = ["Engine", "build_engine"]


@dataclass(frozen=True, slots=True)
class Engine:
    """The Flow, the transport it shares with ``count_tokens``, and the upstream headers."""

    flow: Flow
    transport: Transport
    headers: dict[str, str] = field(repr=False)


def build_engine(
    upstream: UpstreamConfig, *, transport: Transport | None = None, clock: Clock | None = None
) -> Engine:
    """Build (but do not start) the Flow the gateway sends everything through."""
    api_key = upstream.api_key or os.environ.get(upstream.api_key_env)
    if not api_key:
        raise ConfigError(
            "upstream.api_key_env", f"${upstream.api_key_env} is not set (the Anthropic key)"
        )
    base_url = upstream.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    transport = transport or AiohttpTransport(base_url)
    limits = RateLimits(
        rpm=upstream.rpm,
        input_tpm=upstream.input_tpm,
        output_tpm=upstream.output_tpm,
        window_s=upstream.window_s,
    )
    flow = Flow(
        api_key=api_key,
        base_url=base_url,
        limits=limits,
        concurrency=upstream.concurrency,
        max_queue=upstream.max_queue,
        queue_timeout=upstream.queue_timeout_s,
        transport=transport,
        clock=clock,
    )
    headers = {"x-api-key": api_key, "anthropic-version": "2023-06-01"}
    return Engine(flow=flow, transport=transport, headers=headers)
