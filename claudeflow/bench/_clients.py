"""The clients a scenario can be driven through, by name.

claudeflow's own clients live here. The comparison baselines (the SDK under a semaphore,
aiolimiter + tenacity) are project benchmarks in the checkout's ``benchmarks/`` folder,
package :data:`BASELINES_PACKAGE`; they are used when that package is importable and
skipped, with a note saying how to get them, when it is not.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cache

from ._client_flow import flow_client
from ._record import Send
from ._target import Target

__all__ = [
    "BASELINES_HINT",
    "BASELINES_PACKAGE",
    "CLAUDEFLOW",
    "CLIENTS",
    "ClientSpec",
    "baseline_clients",
    "client_spec",
    "is_baseline",
    "open_client",
]

CLAUDEFLOW = "claudeflow"
BASELINES_PACKAGE = "claudeflow_baselines"
BASELINES_HINT = (
    "the baselines (sdk, sdk-r10, aiolimiter) live in benchmarks/ of the source checkout: "
    "run `python benchmarks/run_suite.py` there, or put benchmarks/ on PYTHONPATH, with "
    "pip install 'claudeflow[bench]'"
)


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """A client: its description and the optional modules it needs.

    :ivar streaming: it streams replies (its perfect schedule counts output per chunk)
    """

    name: str
    description: str
    open: Callable[[Target], AbstractAsyncContextManager[Send]]
    modules: tuple[str, ...] = ()
    streaming: bool = False


CLIENTS: dict[str, ClientSpec] = {
    spec.name: spec
    for spec in (
        ClientSpec(CLAUDEFLOW, "Flow.create with the scenario's limits", flow_client),
        ClientSpec(
            "claudeflow-stream",
            "Flow.stream with the scenario's limits",
            lambda t: flow_client(t, "stream"),
            streaming=True,
        ),
        ClientSpec(
            "claudeflow-learned",
            "Flow.create with limits=None (learned from headers)",
            lambda t: flow_client(t, "learned"),
        ),
        ClientSpec(
            "claudeflow-summed",
            "Flow.create with one pool holding the sum of every model class's limits",
            lambda t: flow_client(t, "summed"),
        ),
    )
}


def is_baseline(name: str) -> bool:
    """Whether ``name`` is a comparison baseline (anything but claudeflow's own clients)."""
    return name not in CLIENTS


@cache
def baseline_clients() -> dict[str, ClientSpec]:
    """The baselines by name; empty when their package is not importable."""
    if importlib.util.find_spec(BASELINES_PACKAGE) is None:
        return {}
    specs: tuple[ClientSpec, ...] = importlib.import_module(BASELINES_PACKAGE).BASELINES
    return {spec.name: spec for spec in specs}


def client_spec(name: str) -> ClientSpec:
    """The client called ``name`` (:class:`KeyError` if unknown or not available)."""
    found = CLIENTS.get(name) or baseline_clients().get(name)
    if found is None:
        raise KeyError(name)
    return found


def open_client(name: str, target: Target) -> AbstractAsyncContextManager[Send]:
    """Open client ``name`` against ``target`` (yields its send function)."""
    return client_spec(name).open(target)
