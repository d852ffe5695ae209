"""Request checks with the API's own error messages (api doc §3.2, §4).

Order, as the API does it: authentication (401), ``anthropic-version`` (400), JSON
body (400), fields (400), model (404). Each check raises :class:`SimError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._wire import SimError, invalid, not_found

__all__ = [
    "API_VERSION_2026",
    "api_version",
    "authenticate",
    "parse_body",
    "validate_count_tokens",
    "validate_messages",
]

API_VERSION_2026 = "2026-10-21"
_SAMPLING = ("temperature", "top_p", "top_k")
_ROLES = ("user", "assistant")


def authenticate(headers: Mapping[str, str], api_keys: frozenset[str] | None) -> str:
    """The caller's API key: ``x-api-key`` wins over ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if not key:
        bearer = headers.get("authorization", "")
        if bearer[:7].lower() == "bearer ":
            key = bearer[7:].strip()
    if not key:
        raise SimError(401, "authentication_error", "x-api-key header is required")
    if api_keys is not None and key not in api_keys:
        raise SimError(401, "authentication_error", "invalid x-api-key")
    return key


def api_version(headers: Mapping[str, str]) -> str:
    version = headers.get("anthropic-version")
    if not version:
        raise invalid("anthropic-version: header is required")
    return version


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("There was an error parsing the body of your request as JSON") from None
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary")
    return body


def validate_messages(
    body: dict[str, Any],
    version: str,
    *,
    models: frozenset[str] | None,
    max_output_tokens: int,
) -> None:
    """Check a ``POST /v1/messages`` body (raises :class:`SimError`)."""
    model = _model(body)
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise invalid("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise invalid("max_tokens: Input should be a valid integer")
    if max_tokens < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    _common(body, version)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid("stream: Input should be a valid boolean")
    if models is not None and model not in models:
        raise not_found(f"model: {model}")
    if max_tokens > max_output_tokens:
        raise invalid(
            f"max_tokens: {max_tokens} > {max_output_tokens}, which is the maximum allowed "
            f"number of output tokens for {model}"
        )


def validate_count_tokens(
    body: dict[str, Any], version: str, *, models: frozenset[str] | None
) -> None:
    """Check a ``POST /v1/messages/count_tokens`` body (no ``max_tokens``, no ``stream``)."""
    model = _model(body)
    for extra in ("max_tokens", "stream"):
        if extra in body:
            raise invalid(f"{extra}: Extra inputs are not permitted")
    _common(body, version)
    if models is not None and model not in models:
        raise not_found(f"model: {model}")


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise invalid("model: Field required")
    if not isinstance(model, str) or not model:
        raise invalid("model: Input should be a valid string")
    return model


def _common(body: dict[str, Any], version: str) -> None:
    _messages(body.get("messages"))
    _system(body.get("system"))
    _tools(body.get("tools"))
    _sampling(body, version)
    stops = body.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    ):
        raise invalid("stop_sequences: Input should be a valid list of strings")


def _messages(messages: Any) -> None:
    if messages is None:
        raise invalid("messages: Field required")
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    last = len(messages) - 1
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise invalid(f"{where}: Input should be a valid dictionary")
        role = message.get("role")
        if role is None:
            raise invalid(f"{where}.role: Field required")
        if role not in _ROLES:
            raise invalid(f"{where}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise invalid(f"{where}.content: Field required")
        _content(message["content"], where, optional_empty=index == last and role == "assistant")


def _content(content: Any, where: str, *, optional_empty: bool) -> None:
    if isinstance(content, str):
        if not content and not optional_empty:
            raise invalid(
                f"{where}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        return
    if not isinstance(content, list):
        raise invalid(f"{where}.content: Input should be a valid list")
    for index, block in enumerate(content):
        _block(block, f"{where}.content.{index}")


def _block(block: Any, where: str) -> None:
    if not isinstance(block, dict):
        raise invalid(f"{where}: Input should be a valid dictionary")
    kind = block.get("type")
    if kind is None:
        raise invalid(f"{where}.type: Field required")
    if kind == "text" and not isinstance(block.get("text"), str):
        raise invalid(f"{where}.text: Field required")
    marker = block.get("cache_control")
    if marker is not None and not (isinstance(marker, dict) and marker.get("type") == "ephemeral"):
        raise invalid(f"{where}.cache_control: Input should be {{'type': 'ephemeral'}}")


def _system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid list")
    for index, block in enumerate(system):
        _block(block, f"system.{index}")
        if block.get("type") != "text":
            raise invalid(f"system.{index}.type: Input should be 'text'")


def _tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools.{index}: Input should be a valid dictionary")
        if not isinstance(tool.get("name"), str):
            raise invalid(f"tools.{index}.name: Field required")


def _sampling(body: dict[str, Any], version: str) -> None:
    present = [name for name in _SAMPLING if name in body]
    if not present:
        return
    if version >= API_VERSION_2026:
        # API 2026-10-21 removed the sampling parameters, even at default values (VER).
        raise invalid(f"{present[0]}: Extra inputs are not permitted")
    for name in present:
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"{name}: Input should be a valid number")
        if value < 0:
            raise invalid(f"{name}: Input should be greater than or equal to 0")
        if name != "top_k" and value > 1:
            raise invalid(f"{name}: Input should be less than or equal to 1")
