"""Deterministic workloads: who asks for what, when, and how much the server will count.

A :class:`Workload` is a tuple of :class:`Stream` specs (a backlog is a stream with no
interval; a trickle has one). :meth:`Workload.build` turns it into :class:`WorkItem`
objects with one seeded RNG, so the same seed always yields the same prompts, sizes,
output lengths and arrival times. Each prompt ends with the simulator's
``[[output_tokens=N]]`` directive, so the reply length is exact and known in advance,
and each item carries the input size the simulator will count (its own tokenizer, not
the client's estimate), so timeouts and fit checks can be planned before a run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any

from .._types import Priority
from ..simulator import count_text

__all__ = ["Shape", "Stream", "WorkItem", "Workload", "prompt_of_size"]

# Fixed per-request overhead of the simulator's tokenizer for one user message
# (REQUEST_OVERHEAD + MESSAGE_OVERHEAD in simulator/_tokenizer.py).
_ENVELOPE_TOKENS = 7
_VOCABULARY = (
    "amber basin cedar delta ember fjord glacier harbor island juniper kettle lagoon "
    "meadow nectar orchard prairie quartz ridge summit tundra upland valley willow yonder"
).split()


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One request of a workload.

    :ivar arrival_s: seconds after the run starts at which it is submitted
    :ivar input_tokens: what the simulator will count for it (ITPM demand)
    :ivar output_tokens: what the simulator will generate (``<= max_tokens``)
    :ivar tag: marks special requests (``"large"`` in the starvation scenario)
    :ivar model: the model it asks for (``None``: the suite's model)
    """

    index: int
    arrival_s: float
    priority: int
    prompt: str
    max_tokens: int
    output_tokens: int
    input_tokens: int
    tag: str = ""
    model: str | None = None

    def params(self, model: str) -> dict[str, Any]:
        """The Messages API body of this item (``model`` unless it names its own)."""
        return {
            "model": self.model or model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": self.prompt}],
        }


@dataclass(frozen=True, slots=True)
class Shape:
    """Sizes of a stream's requests, each drawn uniformly from its inclusive range.

    :param input_tokens: server-counted prompt size
    :param max_tokens: the request's ``max_tokens``
    :param output_fraction: actual output as a fraction of ``max_tokens``
    """

    input_tokens: tuple[int, int] = (20, 40)
    max_tokens: tuple[int, int] = (64, 64)
    output_fraction: tuple[float, float] = (0.25, 0.25)


@dataclass(frozen=True, slots=True)
class Stream:
    """``count`` requests of one shape and priority, from ``start_s`` every ``interval_s``.

    ``interval_s == 0`` submits them all at ``start_s`` (a backlog). ``fixed`` streams
    (the one large request) keep their count when a workload is scaled. ``model``
    (``None``: the suite's model) puts a stream in another model class's pool.
    """

    count: int
    shape: Shape = Shape()
    priority: int = Priority.NORMAL
    start_s: float = 0.0
    interval_s: float = 0.0
    tag: str = ""
    fixed: bool = False
    model: str | None = None

    @property
    def last_arrival_s(self) -> float:
        return self.start_s + self.interval_s * max(0, self.count - 1)


@dataclass(frozen=True, slots=True)
class Workload:
    """Streams that together make a scenario's requests."""

    streams: tuple[Stream, ...]

    def scaled(self, factor: float) -> Workload:
        """Counts (and start times, so a mid-run request stays mid-run) times ``factor``."""

        def scale(stream: Stream) -> Stream:
            if stream.fixed:
                return replace(stream, start_s=stream.start_s * factor)
            return replace(stream, count=max(1, round(stream.count * factor)))

        return Workload(tuple(scale(s) for s in self.streams))

    @property
    def count(self) -> int:
        return sum(stream.count for stream in self.streams)

    @property
    def models(self) -> tuple[str, ...]:
        """The models streams name for themselves (empty: every request uses the suite's)."""
        return tuple(dict.fromkeys(s.model for s in self.streams if s.model is not None))

    @property
    def last_arrival_s(self) -> float:
        return max((stream.last_arrival_s for stream in self.streams), default=0.0)

    def build(self, seed: int) -> list[WorkItem]:
        """The items, sorted by arrival (ties keep stream order), indexed from 0."""
        rng = random.Random(seed)
        drafts = [
            (stream.start_s + n * stream.interval_s, order, stream, n)
            for order, stream in enumerate(self.streams)
            for n in range(stream.count)
        ]
        drafts.sort(key=lambda d: (d[0], d[1], d[3]))
        return [_item(index, at, stream, rng) for index, (at, _, stream, _) in enumerate(drafts)]


def _item(index: int, arrival_s: float, stream: Stream, rng: random.Random) -> WorkItem:
    shape = stream.shape
    max_tokens = rng.randint(*shape.max_tokens)
    fraction = rng.uniform(*shape.output_fraction)
    output = max(1, min(max_tokens, math.ceil(max_tokens * fraction)))
    target = rng.randint(*shape.input_tokens)
    prompt = prompt_of_size(target, output, rng, label=index)
    return WorkItem(
        index=index,
        arrival_s=arrival_s,
        priority=stream.priority,
        prompt=prompt,
        max_tokens=max_tokens,
        output_tokens=output,
        input_tokens=count_text(prompt) + _ENVELOPE_TOKENS,
        tag=stream.tag,
        model=stream.model,
    )


def prompt_of_size(tokens: int, output_tokens: int, rng: random.Random, *, label: int) -> str:
    """A prompt the simulator counts as about ``tokens`` input tokens, ending in the
    directive that makes it answer with exactly ``output_tokens`` tokens.

    The label makes every prompt unique (no two requests look cached or identical).
    """
    head = f"request {label}:"
    tail = f"[[output_tokens={output_tokens}]]"
    base = f"{head} {tail}"
    # The vocabulary is plain lower-case ASCII, so each added word costs exactly one
    # token plus its bytes' share of the ``bytes // 16`` term: track both and count the
    # whole text once at the end.
    punctuation = count_text(base) - len(base.split()) - len(base) // 16
    words: list[str] = []
    size, n_words = len(base), len(base.split())
    while punctuation + n_words + size // 16 + _ENVELOPE_TOKENS < tokens:
        word = rng.choice(_VOCABULARY)
        words.append(word)
        size += len(word) + 1
        n_words += 1
    return " ".join([head, *words, tail])
