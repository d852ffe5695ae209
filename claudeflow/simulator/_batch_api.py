"""The Message Batches endpoints of :class:`~._core.SimulatedAPI` (api doc §7).

Each call is authenticated and admitted against the batches API's own request limit,
then answered by the :class:`~._batches.BatchService`; the requests inside a batch are
validated and priced here, as the Messages endpoint would, but run at the batch tier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ._api_state import ApiState
from ._batches import PreparedRequest
from ._limits import Cost
from ._output import plan_output
from ._reply import Reply
from ._validate import api_version, authenticate, parse_body, validate_messages
from ._wire import SimError, invalid

__all__ = ["BatchEndpoints"]

_JSONL: Final = "application/x-jsonl"
# A batch endpoint's work: (api_key, anthropic-version) -> JSON object or JSONL bytes
BatchCall = Callable[[str, str], "dict[str, Any] | bytes"]


class BatchEndpoints(ApiState):
    """``/v1/messages/batches``: create, retrieve, list, cancel, delete, results."""

    def create_batch(self, headers: Mapping[str, str], body: bytes, *, base_url: str) -> Reply:
        """``POST /v1/messages/batches``; processing starts in the background.

        Must be called with an event loop running (the processing task is created on it).
        """

        def call(key: str, version: str) -> dict[str, Any]:
            batch = self._batches.create(key, parse_body(body), version)
            return self._batches.to_json(batch, base_url)

        return self._batch_call(headers, "batches.create", call)

    def retrieve_batch(self, headers: Mapping[str, str], batch_id: str, *, base_url: str) -> Reply:
        def call(key: str, _: str) -> dict[str, Any]:
            return self._batches.to_json(self._batches.get(key, batch_id), base_url)

        return self._batch_call(headers, "batches.retrieve", call)

    def list_batches(
        self, headers: Mapping[str, str], query: Mapping[str, str], *, base_url: str
    ) -> Reply:
        def call(key: str, _: str) -> dict[str, Any]:
            page, has_more = self._batches.page(key, query)
            return {
                "data": [self._batches.to_json(b, base_url) for b in page],
                "has_more": has_more,
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
            }

        return self._batch_call(headers, "batches.list", call)

    def cancel_batch(self, headers: Mapping[str, str], batch_id: str, *, base_url: str) -> Reply:
        def call(key: str, _: str) -> dict[str, Any]:
            return self._batches.to_json(self._batches.cancel(key, batch_id), base_url)

        return self._batch_call(headers, "batches.cancel", call)

    def delete_batch(self, headers: Mapping[str, str], batch_id: str) -> Reply:
        return self._batch_call(
            headers, "batches.delete", lambda key, _: self._batches.delete(key, batch_id)
        )

    def batch_results(self, headers: Mapping[str, str], batch_id: str) -> Reply:
        """The results as JSONL (one line per request, in submission order)."""
        return self._batch_call(
            headers, "batches.results", lambda key, _: self._batches.results(key, batch_id)
        )

    def _batch_call(self, headers: Mapping[str, str], endpoint: str, call: BatchCall) -> Reply:
        def work(rid: str) -> Reply:
            key = authenticate(headers, self.config.api_keys)
            version = api_version(headers)
            self._admission.admit_requests(
                self._admission.batches, key, "batches", "the Message Batches API"
            )
            result = call(key, version)
            if isinstance(result, bytes):
                return Reply(200, self._headers(rid, _JSONL), result)
            return self._ok(rid, result)

        return self._answer(endpoint, work)

    def _prepare_batch_request(self, key: str, params: Any, version: str) -> PreparedRequest:
        """Validate and measure one request of a batch now; ``run`` answers it later."""
        cfg = self.config
        try:
            if params.get("stream") is True:
                raise invalid("stream: Message Batches do not support streaming requests")
            # Validated at processing, not at create: the API accepts a batch and fails lines alone.
            spec = validate_messages(params, version, self.models)
            prompt = self._measure(params, spec.context_window)
        except SimError as exc:
            # A bad request fails alone, as its own "errored" result: the batch goes on.
            error = {"type": "error", "error": {"type": exc.error_type, "message": exc.message}}
            result = {"type": "errored", "error": error}
            return PreparedRequest(Cost(0), lambda: result)
        output = plan_output(
            params, seed=cfg.seed, low=cfg.output_tokens_min, high=cfg.output_tokens_max
        )

        def run() -> dict[str, Any]:
            now = self.clock.now()
            # Planned when the request runs, not when prepared: earlier requests may have cached it.
            plan = self._cache.plan(prompt, f"{key}\x00{params['model']}", now)
            self._cache.commit(plan, now)
            self._stats.record_input(plan.input_tokens, plan.cache_creation, plan.cache_read)
            self._stats.output_tokens += output.tokens
            return {
                "type": "succeeded",
                "message": self._message(params["model"], plan, output, "batch"),
            }

        # Paced by the whole prompt and the output it will write (no cache discount).
        return PreparedRequest(Cost(1, prompt.total, output.tokens), run)
