"""What every endpoint of :class:`~._core.SimulatedAPI` shares: its state, and the one way
a piece of work becomes a counted :class:`Reply` (a :class:`SimError` becomes the API's
error reply, with the same ``request-id`` the client would quote to support)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .._clock import Clock
from ._admission import Admission
from ._batches import BatchService
from ._cache import CachePlan, PromptCache
from ._config import SimulatorConfig
from ._models import ModelCatalog
from ._output import Plan, build_message
from ._reply import Reply
from ._stats import Stats
from ._tokenizer import Prompt, measure_prompt
from ._wire import IdFactory, SimError, dumps, error_body, invalid

__all__ = ["JSON", "ApiState"]

JSON: Final = "application/json"


class ApiState:
    """The state the endpoints read (built by :class:`~._core.SimulatedAPI`) and their
    shared steps."""

    config: SimulatorConfig
    clock: Clock
    models: ModelCatalog
    _ids: IdFactory
    _cache: PromptCache
    _stats: Stats
    _admission: Admission
    _batches: BatchService

    def _answer(self, endpoint: str, work: Callable[[str], Reply]) -> Reply:
        """Count a request to ``endpoint`` and answer it with ``work(request_id)``."""
        # The id comes first, so an error reply quotes the same request-id (api doc §2.2).
        rid = self._received(endpoint)
        try:
            reply = work(rid)
        except SimError as exc:
            reply = self._error(exc, rid)
        self._stats.by_status[reply.status] += 1
        return reply

    def _ok(self, rid: str, result: dict[str, Any]) -> Reply:
        return Reply(200, self._headers(rid), dumps(result))

    def _received(self, endpoint: str) -> str:
        self._stats.received += 1
        self._stats.by_endpoint[endpoint] += 1
        return self._ids.make("req")

    def _measure(self, body: dict[str, Any], window: int) -> Prompt:
        prompt = measure_prompt(body)
        if prompt.total > window:
            raise invalid(f"prompt is too long: {prompt.total} tokens > {window} maximum")
        return prompt

    def _message(self, model: str, plan: CachePlan, output: Plan, tier: str) -> dict[str, Any]:
        return build_message(self._ids.make("msg"), model, plan, output, tier)

    def _headers(self, rid: str, content_type: str = JSON) -> dict[str, str]:
        return {
            "content-type": content_type,
            "request-id": rid,
            "anthropic-organization-id": self._ids.org_id,
        }

    def _error(self, exc: SimError, rid: str) -> Reply:
        headers = self._headers(rid)
        # The error's own headers (retry-after, rate limits) win over the common ones.
        headers.update(exc.headers)
        body = error_body(exc.error_type, exc.message, rid, exc.error_code)
        return Reply(exc.status, headers, dumps(body))
