"""What a request actually used, as the API reports it in ``usage``."""

from __future__ import annotations

from dataclasses import dataclass

from ._coerce import as_mapping, to_int

__all__ = ["Usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one response (or a sum of several).

    ``input_tokens`` counts only tokens after the last cache breakpoint; the prompt's full
    size is :attr:`total_input`. ``cache_creation_5m``/``cache_creation_1h`` split
    ``cache_creation_input_tokens`` by cache lifetime (they are priced differently).

    >>> Usage.from_api({"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 90})
    Usage(input_tokens=10, output_tokens=5, cache_creation_input_tokens=0, \
cache_read_input_tokens=90, cache_creation_5m=0, cache_creation_1h=0)
    """

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_5m: int = 0
    cache_creation_1h: int = 0

    @classmethod
    def from_api(cls, usage: object) -> Usage:
        """Build from the API's ``usage`` object (a dict or an SDK model).

        Missing, ``None`` or malformed fields count as 0, because older API versions and
        streaming events omit the cache fields and a bad number must not lose a result.
        """
        data = as_mapping(usage) or {}
        creation = as_mapping(data.get("cache_creation")) or {}
        return cls(
            input_tokens=to_int(data.get("input_tokens")),
            output_tokens=to_int(data.get("output_tokens")),
            cache_creation_input_tokens=to_int(data.get("cache_creation_input_tokens")),
            cache_read_input_tokens=to_int(data.get("cache_read_input_tokens")),
            cache_creation_5m=to_int(creation.get("ephemeral_5m_input_tokens")),
            cache_creation_1h=to_int(creation.get("ephemeral_1h_input_tokens")),
        )

    @property
    def total_input(self) -> int:
        """The whole prompt: uncached + cache-written + cache-read input tokens."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def itpm_tokens(self, count_cache_reads: bool) -> int:
        """Input tokens charged to the ITPM limit (api doc §1.3, "cache-aware ITPM").

        :param count_cache_reads: true for the few models whose cache reads still count
            toward ITPM (Haiku 3.5 in 2026); false for most models.
        """
        # Cache writes count toward ITPM on every model; reads only on a few.
        charged = self.input_tokens + self.cache_creation_input_tokens
        return charged + self.cache_read_input_tokens if count_cache_reads else charged

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.cache_creation_5m + other.cache_creation_5m,
            self.cache_creation_1h + other.cache_creation_1h,
        )

    def __radd__(self, other: int) -> Usage:
        # Lets ``sum(usages)`` work: sum() starts from the int 0.
        if other == 0:
            return self
        return NotImplemented
