"""What an admitted request holds: a concurrency slot and a reservation in one pool.

The scheduler asks a pool to reserve a cost all-or-nothing and takes a slot from the
Flow's :class:`Slots` in the same step; nothing is held while waiting, so no permit for
one dimension can sit idle while another dimension refills (principle 1).

A :class:`Permit` is settled exactly once, to the actual usage, synchronously, so that
cancellation cannot interrupt it halfway: unused reservation goes back to the pool,
overspend is debited (debt allowed), the slot is returned, and whoever waits is woken.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._types import Cost
from ._backend import PoolBuckets

__all__ = ["Permit", "Slots"]


class Slots:
    """The Flow's requests in flight, against an optional limit (``None``: unbounded)."""

    __slots__ = ("in_flight", "limit", "on_release")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.in_flight = 0
        self.on_release: Callable[[], None] = _noop

    @property
    def full(self) -> bool:
        return self.limit is not None and self.in_flight >= self.limit

    def delay(self) -> float:
        # inf, not a time: only a release frees a slot, and the release wakes the line itself.
        return math.inf if self.full else 0.0


class Permit:
    """An admitted job's reservation in ``pool``; settle it exactly once.

    ``owner`` is whatever the scheduler admitted the job through (the key and pool it
    chose); the permit only carries it to the attempt.
    """

    __slots__ = ("_pool", "_slots", "owner", "reserved", "settled")

    def __init__(self, pool: PoolBuckets, slots: Slots, reserved: Cost, owner: Any = None) -> None:
        self._pool = pool
        self._slots = slots
        self.reserved = reserved
        self.owner = owner
        self.settled = False
        # Held from the same instant as the reservation: never one without the other.
        slots.in_flight += 1

    def adjust(self, *, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        """Square one dimension early, as soon as its final count is known.

        A stream reports its input count in ``message_start`` and its output count in
        the last ``message_delta``: settling each then returns unused reservation before
        the stream ends. The final :meth:`settle` squares whatever is left.
        """
        if self.settled:
            return
        target = Cost(
            # The request itself was spent when it was sent; only tokens come back early.
            self.reserved.requests,
            self.reserved.input_tokens if input_tokens is None else input_tokens,
            self.reserved.output_tokens if output_tokens is None else output_tokens,
        )
        if target != self.reserved:
            self._pool.give_back(self.reserved - target)
            self.reserved = target

    def settle(self, actual: Cost) -> None:
        """Square the reservation with ``actual`` usage and free the concurrency slot."""
        if self.settled:
            return
        # First, and no await below: cancellation or a second call never settles twice or halfway.
        self.settled = True
        self._slots.in_flight -= 1
        # Negative fields are overspend: give_back debits them, into debt if need be.
        unused = self.reserved - actual
        if unused != Cost(0, 0, 0):
            self._pool.give_back(unused)
        # Last: whoever wakes sees the refund and the free slot together.
        self._slots.on_release()

    def release(self) -> None:
        """Give everything back: the request never reached the server."""
        if not self.settled:
            self._pool.withdrawn()  # never sent: the pool's transit must not wait for it
        self.settle(Cost(0, 0, 0))


def _noop() -> None:
    return None
