"""Typed access to a parsed TOML document whose errors name ``path.key`` and its line."""

from __future__ import annotations

import math
import re
from typing import Any

from .._errors import ConfigError

__all__ = ["Lines", "Table"]


class Lines:
    """Finds the line of a key in the source (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, header: str, index: int, key: str) -> int | None:
        """Line (1-based) of ``key =`` inside the ``index``-th ``header`` section."""
        start, seen = 0, -1
        if header:
            # One or two brackets: a table and an array of tables are found alike.
            pattern = re.compile(rf"^\s*\[{{1,2}}\s*{re.escape(header)}\s*\]{{1,2}}\s*(#.*)?$")
            for number, line in enumerate(self.lines):
                if pattern.match(line):
                    seen += 1
                    if seen == index:
                        start = number + 1
                        break
            else:
                return None
        # Quoted keys too: model ids such as "claude-sonnet-4-6" = ... need quotes.
        key_pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start, len(self.lines)):
            line = self.lines[number]
            # The next section header: the key is not in this one.
            if number > start and re.match(r"^\s*\[", line):
                return None
            if key_pattern.match(line):
                return number + 1
        return None


class Table:
    """One TOML table with typed getters whose errors name ``path.key`` and its line."""

    def __init__(self, data: Any, path: str, lines: Lines, index: int = 0) -> None:
        self.path = path
        self.lines = lines
        self.index = index
        if not isinstance(data, dict):
            raise ConfigError(path or "config", "must be a table")
        self.data: dict[str, Any] = data

    def fail(self, key: str, problem: str) -> Any:
        # An array's entries share one header; which one is ``index``.
        header = re.sub(r"\[\d+\]$", "", self.path)
        line = self.lines.find(header, self.index, key)
        where = f" (line {line})" if line is not None else ""
        name = f"{self.path}.{key}" if self.path else key
        raise ConfigError(name, problem + where)

    def only(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                # Refused, not ignored: a misspelt key would otherwise configure nothing, silently.
                self.fail(key, f"unknown key; expected one of {', '.join(keys)}")

    def table(self, key: str) -> Table:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        return Table(value, self._child(key), self.lines)

    def tables(self, key: str) -> list[Table]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"must be an array of tables ([[{key}]])")
        return [Table(v, f"{self._child(key)}[{i}]", self.lines, i) for i, v in enumerate(value)]

    def text(self, key: str, default: str | None) -> str:
        value = self.data.get(key, default)
        if value is None:
            self.fail(key, "is required")
        if not isinstance(value, str) or not value:
            self.fail(key, "must be a non-empty string")
        return str(value)

    def optional_text(self, key: str, *, secret: bool = False) -> str | None:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            # A secret's value is never echoed, not even its type's repr.
            self.fail(key, "must be a non-empty string" if secret else f"got {value!r:.40}")
        return value

    def number(
        self, key: str, default: float, *, integer: bool = False, allow_zero: bool = False
    ) -> float:
        value = self.data.get(key, default)
        ok = isinstance(value, int if integer else int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            kind = "an integer" if integer else "a number"
            self.fail(key, f"must be {kind} {'>=' if allow_zero else '>'} 0, got {value!r:.40}")
        return float(value)

    def optional_number(self, key: str, default: float | None = None) -> float | None:
        if self.data.get(key, default) is None:
            return None
        return self.number(key, default or 0.0)

    def optional_int(self, key: str, default: int | None) -> int | None:
        if self.data.get(key, default) is None:
            return None
        return int(self.number(key, default or 0, integer=True))

    def strings(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(key, "must be a list of non-empty strings")
        return list(value)

    def _child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def optional_bool(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {value!r:.40}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> Any:
        """One of ``choices`` (typed ``Any`` so a ``Literal`` field can take it)."""
        value = self.data.get(key, default)
        if value is None:
            self.fail(key, "is required")
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(map(repr, choices))}, got {value!r:.40}")
        return value

    def string_map(self) -> dict[str, str]:
        """This table as names -> non-empty strings."""
        return {key: self.text(key, None) for key in self.data}

    def number_map(self) -> dict[str, float]:
        """This table as names -> numbers > 0."""
        return {key: self.number(key, 0.0) for key in self.data}
