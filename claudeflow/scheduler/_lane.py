"""One waiting line per model class, and the loop that admits its head.

The loop admits the head of its line as soon as one of the class's pools (one per active
key) can pay for it in full. It never polls: it sleeps until the exact instant the
answer said, or until something changes (a job arrives, a permit is settled, the server's
headers move a limit, a key joins or leaves), whichever comes first. Nobody barges: a
later job never starts while the head waits, so a large head accumulates capacity.

Output charged as generated (the 2026 rule: the server admits on a positive balance and
counts tokens as they are produced) adds one rule, for the tail of a line whose output
binds. The last instant anything can be admitted is when the balance has paid for
everything generated before it, so the more output is still ungenerated then, the
sooner the line ends: its last requests should go as one group, not as a remainder
that finishes early and pushes the rest a whole refill cycle later. So once no more
jobs wait in the line than may be in flight, the head goes only when the output
balance covers that many times its own output reservation, and then they all go in
one pass (each still takes only its own). Until all of them fit beside the requests
already out, the head waits for a release, unless the balance covers the group now:
then the requests out are not draining it, and holding back would only idle slots.
The rule holds only while every request out is this model class's own (they always
end; another class could keep the slots busy for ever), and never for a group a
bucket could not hold at once, or a group of one. A held head looks again at every
release and every charge a stream makes: a quiet request of the class (reserved whole,
or still before its first token) can hold the tail until it ends, even once refill
alone would cover the group. (A timer at that instant would undo the rule: the local
view covers the group long before the streams out have charged what they generate.)
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Awaitable, Callable

from .._clock import Clock, TimerHandle
from .._errors import AuthenticationError, CapacityError, ClaudeflowError, RequestRejected
from .._types import Cost
from ..limiter import Permit, Slots
from ..routing import KeyRing, Pool
from ._job import Job
from ._queue import WaitingLine

__all__ = ["Lane"]


class Lane:
    """The line of one model class and its admission loop."""

    def __init__(
        self,
        model_class: str,
        *,
        ring: KeyRing,
        slots: Slots,
        clock: Clock,
        aging_s: float | None,
        launch: Callable[[Job, Permit], None],
        reject: Callable[[Job, BaseException], None],
        budget_ok: Callable[[Job], float],
        estimate: Callable[[Job], Awaitable[None]],
        charged_as_generated: Callable[[Job], bool],
    ) -> None:
        self.model_class = model_class
        self.line: WaitingLine[Job] = WaitingLine(aging_s)
        self._ring = ring
        self._slots = slots
        self._clock = clock
        self._launch = launch
        self._reject = reject
        self._budget_ok = budget_ok
        self._estimate = estimate
        self._charged_as_generated = charged_as_generated
        self._wake_future: asyncio.Future[None] | None = None
        self._launched_since_yield = False
        self._waiting_class: int | None = None
        self.head_starts_at = 0.0  # when the head expects to start (a QueueFullError hint)

    async def run(self) -> None:
        """Admit the head of the line whenever a pool can pay for it."""
        while True:
            job = self.line.head()
            if job is None:
                self._announce(None)
                await self._sleep(math.inf)
                continue
            if job.estimate is None:
                if self._yields_before_counting(job):
                    # One pass of the loop: the jobs just launched start their requests
                    # before this long count, not after a whole burst's counts.
                    self._launched_since_yield = False
                    await self._clock.sleep(0)
                    continue  # the line may have changed meanwhile
                await self._count(job)
                continue  # counting may have waited: look at the head again
            try:
                # inf from either: a release or a settle wakes us, so no timer is needed.
                wait = self._slots.delay() or self._budget_ok(job)
            except RequestRejected as error:  # the budget or a quota can no longer pay
                self._fail_head(job, error)
                continue
            group = self._tail_group(job) if wait == 0 else 1
            if group == 0:
                wait = math.inf  # its group waits for room: a release wakes us
            if wait == 0:
                # Only a head that waits for capacity holds other processes back.
                self._announce(job.priority)
                wait = await self._admit(job, group)
            else:
                self._announce(None)
            if wait > 0:
                self.head_starts_at = self._clock.now() + wait
                await self._sleep(wait)

    async def _admit(self, job: Job, group: int = 1) -> float:
        """Reserve ``job`` in the first pool that can pay; launch it, or say how long to wait.

        ``group``: the pool's output balance must cover that many times ``job``'s
        output reservation (the tail group it leads); only its own is kept. With several
        keys the members may then go to other keys' pools, each paying its own way.
        """
        pools = self._ring.pools(self.model_class)
        if not pools:
            self._fail_head(job, _no_keys(self._ring, self.model_class))
            return 0.0
        best = math.inf
        now = self._clock.now()
        # Least busy key first (the ring's order): the first that can pay takes the job.
        for pool in pools:
            if not pool.can_start:  # probing or overloaded with a request already out
                continue
            gate = pool.overload.wait(now)
            if gate > 0:
                best = min(best, gate)
                continue
            extra = Cost(0, 0, job.cost.output_tokens * (group - 1))
            try:
                wait = await pool.buckets.reserve(job.cost + extra, priority=job.priority)
                if wait == math.inf and group > 1:
                    # The group can never be paid here (a degraded share is smaller than
                    # the view it was sized on): the head alone, then.
                    extra = Cost(0, 0, 0)
                    wait = await pool.buckets.reserve(job.cost, priority=job.priority)
            except ClaudeflowError as error:  # e.g. a shared backend that is unreachable
                self._fail_head(job, error)
                return 0.0
            if wait == 0:
                if extra.output_tokens:
                    pool.buckets.give_back(extra)  # the rest of the group takes it next
                if self._still_head(job, pool):
                    self.line.pop()
                    self._launch(job, Permit(pool.buckets, self._slots, job.cost, pool))
                    self._launched_since_yield = True
                return 0.0
            # The soonest any pool could pay: the head never waits longer than it must.
            best = min(best, wait)
        # inf: waiting on a probe or a release, or (rarely) learned limits it can never fit.
        if best == math.inf and not self._still_fits(job, pools):
            return 0.0
        return best

    def _tail_group(self, job: Job) -> int:
        """How many requests, ``job`` first, go as its line's tail group (see the module
        docstring): 1 when it goes alone, 0 while the group waits for room."""
        limit = self._slots.limit
        if limit is None or not self._charged_as_generated(job):
            return 1
        waiting = len(self.line)
        if waiting > limit or waiting == 1:
            return 1
        pools = self._ring.pools(self.model_class)
        # Only while every request out is this model class's own: those always end,
        # while another class could keep the slots busy for ever.
        if not pools or sum(pool.in_flight for pool in pools) < self._slots.in_flight:
            return 1
        covers = [_covers_group(pool, job.cost.output_tokens, waiting) for pool in pools]
        if None in covers:  # a bucket that could never hold the group: it would wait for ever
            return 1
        if self._slots.in_flight + waiting <= limit:
            return waiting
        # No room for the group yet. If the balance could pay for all of it now, the
        # requests out are not draining it: holding back would only idle slots.
        return 1 if any(covers) else 0

    def _yields_before_counting(self, job: Job) -> bool:
        """Whether to let launched jobs run before counting ``job`` (a long prompt)."""
        return self._launched_since_yield and job.costly_count

    async def _count(self, job: Job) -> None:
        """Count the head's input tokens (deferred until now so that a backlog submitted
        at once is not all counted before the first request goes out)."""
        try:
            await self._estimate(job)
        except Exception as error:  # CapacityError, or a counting bug: the caller gets it
            # Still waiting here: not cancelled, expired or moved to a fallback's line
            # while it was counted (a long prompt is counted in a worker thread).
            if job.queued and job.model_class == self.model_class:
                self.line.discard(job)
                self._reject(job, error)

    def _still_head(self, job: Job, pool: Pool) -> bool:
        """After the (possibly remote) reservation: give it back if the job left meanwhile."""
        if self.line.head() is job and not self._slots.full:
            return True
        pool.buckets.withdrawn()
        pool.buckets.give_back(job.cost)
        return False

    def _still_fits(self, job: Job, pools: list[Pool]) -> bool:
        """Fail the head if learned or changed limits mean no pool can ever admit it."""
        first: CapacityError | None = None
        for pool in pools:
            try:
                pool.buckets.check_fits(job.cost)
            except CapacityError as error:
                first = first or error
            else:
                return True
        self._fail_head(job, first or CapacityError("no pool can admit it"))
        return False

    def _fail_head(self, job: Job, error: BaseException) -> None:
        self.line.pop()
        self._reject(job, error)

    def _announce(self, priority: int | None) -> None:
        """Tell shared backends the class of our waiting head (they order across processes)."""
        if priority != self._waiting_class:
            self._waiting_class = priority
            for pool in self._ring.pools(self.model_class):
                pool.buckets.waiting(priority)

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (``inf``: until woken); :meth:`wake` ends it early."""
        self._launched_since_yield = False  # the launched jobs run while we sleep
        future = asyncio.get_running_loop().create_future()
        self._wake_future = future
        timer: TimerHandle | None = None
        if seconds != math.inf:
            timer = self._clock.call_later(seconds, lambda: _resolve(future))
        try:
            await future
        finally:
            self._wake_future = None
            if timer is not None:
                timer.cancel()

    def wake(self) -> None:
        """Something changed: look at the head again."""
        if self._wake_future is not None:
            _resolve(self._wake_future)


def _no_keys(ring: KeyRing, model_class: str) -> BaseException:
    """The error every key met for this class (a copy per job), else a plain 401."""
    refusal = ring.refusal(model_class)
    if refusal is not None:
        return copy.copy(refusal)
    return AuthenticationError("no API key is left in the rotation", status_code=401)


def _covers_group(pool: Pool, output_tokens: int, group: int) -> bool | None:
    """Whether the pool's output bucket holds ``group`` times ``output_tokens`` now, with
    its lead in hand; ``None`` if it never could at once (or has no limit)."""
    state = pool.buckets.statistics().buckets.get("output_tokens")
    if state is None:
        return None
    need = group * output_tokens + pool.buckets.limits.leads[2] * state.rate_per_s
    if need > state.capacity:
        return None
    return state.level >= need


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
