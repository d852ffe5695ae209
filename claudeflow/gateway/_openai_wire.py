"""OpenAI Chat Completions <-> Anthropic Messages, both ways, as pure functions.

Requests: ``system``/``developer`` messages become ``system``; assistant ``tool_calls``
become ``tool_use`` blocks and ``tool`` messages ``tool_result`` blocks; ``stop``
becomes ``stop_sequences``; ``tools``/``tool_choice`` are mapped; a field with no
Anthropic meaning is refused by name rather than silently dropped.
Responses: ``stop_reason`` becomes ``finish_reason``, ``tool_use`` blocks become
``tool_calls``, ``usage`` becomes prompt/completion tokens. Streams: each Anthropic
event becomes zero or one ``chat.completion.chunk``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from .._errors import InvalidRequestError

__all__ = [
    "ChunkTranslator",
    "OpenAIRequest",
    "UnsupportedFields",
    "finish_reason",
    "to_anthropic",
    "to_completion",
]

_SUPPORTED: Final = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
        "stop", "tools", "tool_choice", "parallel_tool_calls", "stream", "stream_options",
        "user", "n",
    }
)  # fmt: skip
_FINISH: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class UnsupportedFields(InvalidRequestError):
    """Fields of the request that the gateway cannot honour; ``param`` names the first."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"Unsupported parameter(s): {', '.join(names)}")
        self.param = names[0]


@dataclass(frozen=True, slots=True)
class OpenAIRequest:
    """A translated request: the Messages body and how to answer."""

    body: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool


def finish_reason(stop_reason: str | None) -> str | None:
    return None if stop_reason is None else _FINISH.get(stop_reason, "stop")


def to_anthropic(request: dict[str, Any], *, default_max_tokens: int) -> OpenAIRequest:
    """Translate a Chat Completions body, or raise naming the offending field."""
    # Refused by name, not dropped: a silently ignored option would change the answer unseen.
    unknown = sorted(k for k, v in request.items() if k not in _SUPPORTED and v is not None)
    if unknown:
        raise UnsupportedFields(unknown)
    # Claude answers one choice per request; n > 1 cannot be honoured.
    if request.get("n") not in (None, 1):
        raise UnsupportedFields(["n"])
    system, messages = _messages(request.get("messages"))
    body: dict[str, Any] = {
        "model": request.get("model"),
        "max_tokens": _max_tokens(request, default_max_tokens),
        "messages": messages,
    }
    if system:
        body["system"] = system
    for name in ("temperature", "top_p"):
        if request.get(name) is not None:
            body[name] = request[name]
    temperature = body.get("temperature")
    # OpenAI allows up to 2; Claude's range ends at 1, and a clear error beats a clamp.
    if isinstance(temperature, int | float) and temperature > 1:
        raise InvalidRequestError(f"temperature: must be <= 1 for Claude, got {temperature}")
    stop = request.get("stop")
    if stop is not None:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if request.get("tools"):
        body["tools"] = [_tool(t) for t in request["tools"]]
    choice = _tool_choice(request.get("tool_choice"), request.get("parallel_tool_calls"))
    if choice is not None:
        body["tool_choice"] = choice
    if request.get("user"):
        # OpenAI's user is Anthropic's metadata.user_id: both name the end user for abuse tracking.
        body["metadata"] = {"user_id": str(request["user"])}
    options = request.get("stream_options") or {}
    return OpenAIRequest(
        body=body,
        model=str(request.get("model")),
        stream=bool(request.get("stream")),
        include_usage=bool(options.get("include_usage")),
    )


def _max_tokens(request: dict[str, Any], default: int) -> Any:
    # The newer name first: OpenAI deprecated max_tokens for it.
    value = request.get("max_completion_tokens")
    return value if value is not None else request.get("max_tokens") or default


def _messages(messages: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("messages: a non-empty list of messages is required")
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequestError(f"messages.{i}: must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            # Every system message, wherever it stands: Anthropic has one system prompt, up front.
            system.append(_text(message.get("content"), i))
            continue
        if role not in ("user", "assistant", "tool"):
            raise InvalidRequestError(f"messages.{i}.role: unsupported role {role!r}")
        blocks = _blocks(message, i)
        # Tool results are user turns to Anthropic.
        anthropic_role = "assistant" if role == "assistant" else "user"
        # Anthropic wants alternating turns: consecutive same-role messages are merged.
        if turns and turns[-1]["role"] == anthropic_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": anthropic_role, "content": blocks})
    return "\n\n".join(system), turns


def _blocks(message: dict[str, Any], i: int) -> list[dict[str, Any]]:
    role, content = message["role"], message.get("content")
    if role == "tool":
        text = _text(content, i)
        return [
            {"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": text}
        ]
    blocks = _content_blocks(content, i)
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            raise InvalidRequestError(
                f"messages.{i}.tool_calls: arguments must be a JSON object"
            ) from None
        blocks.append(
            {"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
             "input": arguments}
        )  # fmt: skip
    return blocks


def _content_blocks(content: Any, i: int) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequestError(f"messages.{i}.content: must be a string or a list of parts")
    return [_part(part, i) for part in content]


def _part(part: Any, i: int) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "text", "text": part.get("text", "")}
    if kind == "image_url":
        url = str((part.get("image_url") or {}).get("url", ""))
        # A data URL is sent inline as base64; any other URL is for the API to fetch.
        if url.startswith("data:") and ";base64," in url:
            media, data = url[5:].split(";base64,", 1)
            return {"type": "image", "source": {"type": "base64", "media_type": media,
                                                "data": data}}  # fmt: skip
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequestError(f"messages.{i}.content: unsupported part type {kind!r}")


def _text(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    blocks = _content_blocks(content, i)
    if any(b["type"] != "text" for b in blocks):
        raise InvalidRequestError(f"messages.{i}.content: only text is allowed here")
    return "".join(b["text"] for b in blocks)


def _tool(tool: Any) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, dict) else None
    if tool.get("type") != "function" or not isinstance(function, dict):
        raise InvalidRequestError("tools: only {'type': 'function', 'function': {...}} tools")
    out = {
        "name": function.get("name"),
        # A tool without parameters still needs a schema to Anthropic: an empty object.
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None and parallel is None:
        return None
    if choice is None or choice == "auto":
        mapped: dict[str, Any] = {"type": "auto"}
    elif choice == "none":
        mapped = {"type": "none"}
    elif choice == "required":
        # OpenAI's required is Anthropic's any: some tool must be called.
        mapped = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        mapped = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        raise InvalidRequestError(f"tool_choice: unsupported value {choice!r:.60}")
    # With tools off (none) there is nothing to run in parallel.
    if parallel is False and mapped["type"] != "none":
        mapped["disable_parallel_tool_use"] = True
    return mapped


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = (
        int(usage.get("input_tokens") or 0)
        # OpenAI's prompt_tokens is the whole prompt, cached parts included.
        + int(usage.get("cache_read_input_tokens") or 0)
        + int(usage.get("cache_creation_input_tokens") or 0)
    )
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(usage.get("cache_read_input_tokens") or 0)},
    }


def to_completion(message: dict[str, Any], *, created: int) -> dict[str, Any]:
    """A ``chat.completion`` object from an Anthropic message."""
    text = "".join(b.get("text", "") for b in message["content"] if b.get("type") == "text")
    calls = [
        {"id": b["id"], "type": "function",
         "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
        for b in message["content"] if b.get("type") == "tool_use"
    ]  # fmt: skip
    reply: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        reply["tool_calls"] = calls
    return {
        # Derived from the message id, so a completion is traced to its upstream request.
        "id": f"chatcmpl-{message['id']}",
        "object": "chat.completion",
        "created": created,
        "model": message["model"],
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": finish_reason(message.get("stop_reason")),
                "logprobs": None,
            }
        ],
        "usage": _usage(message.get("usage") or {}),
    }


class ChunkTranslator:
    """Turns Anthropic stream events into ``chat.completion.chunk`` objects, in order."""

    def __init__(self, *, created: int, include_usage: bool) -> None:
        self.created = created
        self.include_usage = include_usage
        self._id = "chatcmpl-"
        self._model = ""
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}  # content block index -> tool_calls index

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "message_start":
            message = event["message"]
            self._id, self._model = f"chatcmpl-{message['id']}", message["model"]
            self._usage = dict(message.get("usage") or {})
            # OpenAI streams open with the role, in a chunk of its own.
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "message_delta":
            self._usage.update(event.get("usage") or {})
            reason = finish_reason((event.get("delta") or {}).get("stop_reason"))
            return [self._chunk({}, finish=reason)]
        # Usage only when asked (stream_options.include_usage), in a last chunk without choices.
        if kind == "message_stop" and self.include_usage:
            return [{**self._chunk({}), "choices": [], "usage": _usage(self._usage)}]
        return []

    def _block_start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        block = event.get("content_block") or {}
        # Text streams through its deltas; thinking and other blocks have no OpenAI form.
        if block.get("type") != "tool_use":
            return []
        index = self._tools[int(event["index"])] = len(self._tools)
        call = {"index": index, "id": block["id"], "type": "function",
                "function": {"name": block["name"], "arguments": ""}}  # fmt: skip
        return [self._chunk({"tool_calls": [call]})]

    def _delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [self._chunk({"content": delta.get("text", "")})]
        if delta.get("type") == "input_json_delta":
            # OpenAI numbers tool calls from 0; Anthropic numbers every content block.
            index = self._tools.get(int(event["index"]), 0)
            call = {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
