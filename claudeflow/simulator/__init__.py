"""A faithful offline simulator of the Anthropic Messages API.

A pure core (:class:`SimulatedAPI`: state, bucket arithmetic and response building,
on an injectable clock) under a thin aiohttp app (:func:`create_app`), plus
:func:`run_simulator` to serve it on a socket. Any client (claudeflow, the official
SDK, curl) sees real rate limiting, headers, errors, streams and batches.

Choices where the API documentation is silent or unconfirmed (see api doc §1-§7):

- ``anthropic-ratelimit-*`` headers go on Messages replies (200, 429 and injected
  faults) for the dimensions that are limited; token counting and batch endpoints have
  their own request buckets but send no rate-limit headers (a client syncing from them
  would otherwise clamp its Messages buckets).
- A request that can never fit (input above the ITPM capacity, or ``max_tokens`` above
  OTPM in ``reserve_max_tokens`` mode) gets a 429 with ``x-should-retry: false`` and no
  ``retry-after``.
- ``otpm_mode`` defaults to ``"actual"`` (the 2026 rule); 529s carry no ``retry-after``
  unless ``FaultConfig.overload_retry_after_s`` is set; ``retry-after-ms`` is opt-in.
- Latency (``ttft_s``, ``per_token_s``) is in real seconds and not time-scaled; limits,
  resets, cache TTLs and batch expiry follow the scaled minute.
- Batch processing is paced by ``BatchConfig`` and is not subject to fault injection.
- Models outside :data:`KNOWN_MODELS` (plus ``SimulatorConfig.extra_models``) are a 404,
  as the API has it; ``GET /v1/models`` lists the served ones.
- A full bucket's ``*-reset`` is the current second (CAP-2 once showed epoch zero).
- ``GET /v1/organizations/rate_limits`` serves the configured limits to Admin keys; its
  shape is documented in :mod:`claudeflow.simulator._rate_limits_api`, and
  :func:`parse_rate_limits_response` reads it on the client side.

>>> config = SimulatorConfig(rpm=50, input_tpm=30_000, output_tpm=8_000, minute_seconds=6)
>>> config.minute_seconds
6
"""

from __future__ import annotations

from ..limiter._classes import model_class as model_class
from ._app import API_KEY as API_KEY
from ._app import create_app as create_app
from ._config import DEFAULT_LIMITS as DEFAULT_LIMITS
from ._config import BatchConfig as BatchConfig
from ._config import FaultConfig as FaultConfig
from ._config import OtpmMode as OtpmMode
from ._config import SimulatorConfig as SimulatorConfig
from ._core import SimulatedAPI as SimulatedAPI
from ._models import KNOWN_MODELS as KNOWN_MODELS
from ._models import ModelSpec as ModelSpec
from ._rate_limits_api import parse_rate_limits_response as parse_rate_limits_response
from ._reply import ConnectionDropped as ConnectionDropped
from ._reply import Reply as Reply
from ._server import SimulatorServer as SimulatorServer
from ._server import run_simulator as run_simulator
from ._tokenizer import count_text as count_text

__all__ = [
    "API_KEY",
    "DEFAULT_LIMITS",
    "KNOWN_MODELS",
    "BatchConfig",
    "ConnectionDropped",
    "FaultConfig",
    "ModelSpec",
    "OtpmMode",
    "Reply",
    "SimulatedAPI",
    "SimulatorConfig",
    "SimulatorServer",
    "count_text",
    "create_app",
    "model_class",
    "parse_rate_limits_response",
    "run_simulator",
]
