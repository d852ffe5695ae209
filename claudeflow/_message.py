"""The API's JSON objects with attribute access, so SDK-style code keeps working.

``result.message.content[0].text`` and ``result.message["content"][0]["text"]`` both
work: a :class:`Message` is a read-only mapping over the response JSON whose nested
objects are wrapped the same way on access.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["ApiObject", "Message", "text_of", "wrap"]


class ApiObject(Mapping[str, Any]):
    """A read-only view of one JSON object; fields are also attributes."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getattr__(self, name: str) -> Any:
        try:
            return wrap(self._data[name])
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        """The underlying JSON object (a copy of the top level)."""
        return dict(self._data)

    # The SDK models' export methods, for code written against them. The values are
    # JSON already, so ``mode="json"`` and ``mode="python"`` give the same result.
    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        """A deep copy as plain values (``exclude_none`` drops ``None`` fields)."""
        if mode not in ("python", "json"):
            raise ValueError(f"mode: expected 'python' or 'json', got {mode!r}")
        dumped: dict[str, Any] = json.loads(json.dumps(self._data))
        return _without_none(dumped) if exclude_none else dumped

    def model_dump_json(self, *, indent: int | None = None, exclude_none: bool = False) -> str:
        return json.dumps(self.model_dump(exclude_none=exclude_none), indent=indent)

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class Message(ApiObject):
    """A Messages API response: ``id``, ``model``, ``content``, ``stop_reason``, ``usage``..."""

    __slots__ = ()

    @property
    def text(self) -> str:
        return text_of(self._data)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def wrap(value: Any) -> Any:
    """Wrap dicts (also inside lists) as :class:`ApiObject`; leave other values as they are."""
    if isinstance(value, dict):
        return ApiObject(value)
    if isinstance(value, list):
        return [wrap(item) for item in value]
    return value


def text_of(message: Mapping[str, Any]) -> str:
    """Concatenate the text blocks of a message's ``content``."""
    return "".join(
        block.get("text", "")
        for block in message.get("content") or ()
        if isinstance(block, Mapping) and block.get("type") == "text"
    )
