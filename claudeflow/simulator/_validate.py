"""Request checks with the API's own error messages (api doc §3.2, §4).

Order, as the API does it: authentication (401), ``anthropic-version`` (400), JSON
body (400), fields (400), model (404). Each check raises :class:`SimError`.

Both API versions are served. What ``2026-10-21`` changes (api doc §4.2, VER): the
sampling parameters are gone (``temperature: Extra inputs are not permitted``), and
``document`` blocks in assistant turns and citations in user text blocks are rejected.
Top-level fields outside the SDK's parameter list (beta fields included) are rejected
with the API's ``<field>: Extra inputs are not permitted``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._models import ModelCatalog, ModelSpec
from ._wire import SimError, invalid, not_found

__all__ = [
    "API_VERSION_2026",
    "api_version",
    "authenticate",
    "forced_tool",
    "parse_body",
    "validate_count_tokens",
    "validate_messages",
]

API_VERSION_2026 = "2026-10-21"
_SAMPLING = ("temperature", "top_p", "top_k")
_ROLES = ("user", "assistant")
# The top-level fields of SDK 2.x's MessageCountTokensParams, and its beta additions.
_COUNT_FIELDS = frozenset(
    {
        "model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control",
        "output_config", "speed", "user_profile_id", "workspace_id", "context_management",
        "mcp_servers",
    }
)  # fmt: skip
# MessageCreateParams adds these (and the beta ones the beta endpoint accepts).
_MESSAGE_FIELDS = _COUNT_FIELDS | {
    "max_tokens", "stream", "stop_sequences", "metadata", "service_tier", "inference_geo",
    "container", "diagnostics", "compaction", "fallbacks", "fallback_credit_token",
    "billing_policy", "thread",
}  # fmt: skip
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_THINKING = ("enabled", "disabled", "adaptive")
_MIN_BUDGET = 1024


def authenticate(headers: Mapping[str, str], api_keys: frozenset[str] | None) -> str:
    """The caller's API key: ``x-api-key`` wins over ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if not key:
        bearer = headers.get("authorization", "")
        if bearer[:7].lower() == "bearer ":
            key = bearer[7:].strip()
    if not key:
        raise SimError(401, "authentication_error", "x-api-key header is required")
    # No key list configured: any key is accepted, so tests need no secrets.
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


def validate_messages(body: dict[str, Any], version: str, models: ModelCatalog) -> ModelSpec:
    """Check a ``POST /v1/messages`` body; the model it names (raises :class:`SimError`)."""
    model = _model(body)
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise invalid("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise invalid("max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        raise invalid("max_tokens: Input should be greater than or equal to 1")
    _extra_fields(body, _MESSAGE_FIELDS, version)
    _common(body, version)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid("stream: Input should be a valid boolean")
    _stop_sequences(body.get("stop_sequences"))
    _thinking(body.get("thinking"), max_tokens)
    spec = models.get(model)
    if spec is None:
        raise not_found(f"model: {model}")
    if max_tokens > spec.max_tokens:
        raise invalid(
            f"max_tokens: {max_tokens} > {spec.max_tokens}, which is the maximum allowed "
            f"number of output tokens for {model}"
        )
    return spec


def validate_count_tokens(body: dict[str, Any], version: str, models: ModelCatalog) -> ModelSpec:
    """Check a ``POST /v1/messages/count_tokens`` body (no ``max_tokens``, no ``stream``)."""
    model = _model(body)
    _extra_fields(body, _COUNT_FIELDS, version)
    _common(body, version)
    _thinking(body.get("thinking"), None)
    spec = models.get(model)
    if spec is None:
        raise not_found(f"model: {model}")
    return spec


def _extra_fields(body: dict[str, Any], allowed: frozenset[str], version: str) -> None:
    for name in body:
        # Version dates compare as strings: ISO dates sort in time order.
        if name in allowed or (name in _SAMPLING and version < API_VERSION_2026):
            continue
        # API 2026-10-21 removed the sampling parameters, even at default values (VER).
        raise invalid(f"{name}: Extra inputs are not permitted")


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise invalid("model: Field required")
    if not isinstance(model, str) or not model:
        raise invalid("model: Input should be a valid string")
    return model


def _common(body: dict[str, Any], version: str) -> None:
    _messages(body.get("messages"), strict=version >= API_VERSION_2026)
    _system(body.get("system"))
    _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"), body.get("tools"))
    _sampling(body)
    thinking, choice = body.get("thinking"), body.get("tool_choice")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled" and choice:
        if choice["type"] in ("any", "tool"):
            raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


def _messages(messages: Any, *, strict: bool) -> None:
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
        # Only a final assistant turn may be empty: it is a prefill the model continues.
        optional_empty = index == last and role == "assistant"
        _content(message["content"], where, optional_empty=optional_empty)
        if strict and isinstance(message["content"], list):
            _version_2026_blocks(message["content"], where, role)


def _version_2026_blocks(content: list[Any], where: str, role: str) -> None:
    for index, block in enumerate(content):
        at = f"{where}.content.{index}"
        if role == "assistant" and block["type"] == "document":
            raise invalid(f"{at}: document blocks are not permitted in assistant messages")
        if role == "user" and block["type"] == "text" and block.get("citations"):
            raise invalid(f"{at}.citations: citations are only permitted in assistant messages")


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


def _tool_choice(choice: Any, tools: Any) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        raise invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    kind = choice["type"]
    if kind in ("any", "tool") and not tools:
        raise invalid("tool_choice may only be specified while providing tools")
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str):
            raise invalid("tool_choice.tool.name: Field required")
        if all(tool["name"] != name for tool in tools):
            raise invalid(f"tool_choice.tool.name: no tool named {name!r} in tools")


def _stop_sequences(stops: Any) -> None:
    if stops is None:
        return
    if not (isinstance(stops, list) and all(isinstance(s, str) for s in stops)):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    if not all(stop.strip() for stop in stops):
        raise invalid("stop_sequences: each stop sequence must contain non-whitespace")


def _thinking(thinking: Any, max_tokens: int | None) -> None:
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in _THINKING:
        raise invalid("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
    if thinking["type"] != "enabled":
        return
    budget = thinking.get("budget_tokens")
    if budget is None:
        raise invalid("thinking.enabled.budget_tokens: Field required")
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise invalid("thinking.enabled.budget_tokens: Input should be a valid integer")
    if budget < _MIN_BUDGET:
        raise invalid(
            f"thinking.enabled.budget_tokens: Input should be greater than or equal to "
            f"{_MIN_BUDGET}"
        )
    if max_tokens is not None and max_tokens <= budget:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`")


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool a validated body forces (``tool_choice`` ``tool`` or ``any``), if any."""
    choice = body.get("tool_choice")
    if choice is None or choice["type"] not in ("any", "tool"):
        return None
    tools: list[dict[str, Any]] = body["tools"]
    if choice["type"] == "any":
        return tools[0]
    return next(tool for tool in tools if tool["name"] == choice["name"])


def _sampling(body: dict[str, Any]) -> None:
    for name in _SAMPLING:
        if name not in body:
            continue
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"{name}: Input should be a valid number")
        if value < 0:
            raise invalid(f"{name}: Input should be greater than or equal to 0")
        if name != "top_k" and value > 1:
            raise invalid(f"{name}: Input should be less than or equal to 1")
