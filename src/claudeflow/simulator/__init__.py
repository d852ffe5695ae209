"""A faithful offline simulator of the Anthropic Messages API.

A pure core (:class:`SimulatedAPI`: state, bucket arithmetic and response building,
on an injectable clock) under a thin aiohttp app (:func:`create_app`), plus
:func:`run_simulator` to serve it on a socket. Any client (claudeflow, the official
SDK, curl) sees real rate limiting, headers, errors, streams and batches.

>>> config = SimulatorConfig(rpm=50, input_tpm=30_000, output_tpm=8_000, minute_seconds=6)
>>> config.minute_seconds
6
"""

from __future__ import annotations

from ._app import API_KEY as API_KEY
from ._app import create_app as create_app
from ._config import BatchConfig as BatchConfig
from ._config import FaultConfig as FaultConfig
from ._config import OtpmMode as OtpmMode
from ._config import SimulatorConfig as SimulatorConfig
from ._core import SimulatedAPI as SimulatedAPI
from ._models import model_class as model_class
from ._reply import ConnectionDropped as ConnectionDropped
from ._reply import Reply as Reply
from ._server import SimulatorServer as SimulatorServer
from ._server import run_simulator as run_simulator
from ._tokenizer import count_text as count_text

__all__ = [
    "API_KEY",
    "BatchConfig",
    "ConnectionDropped",
    "FaultConfig",
    "OtpmMode",
    "Reply",
    "SimulatedAPI",
    "SimulatorConfig",
    "SimulatorServer",
    "count_text",
    "create_app",
    "model_class",
    "run_simulator",
]
