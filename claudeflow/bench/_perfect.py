"""The perfect schedule: the best wall time a client could reach against the simulator.

A discrete-event simulation of the simulator's own rules, built from the simulator's own
parts wherever they exist: its buckets and admission check (:class:`RateLimiter`: rate
``limit / minute_seconds``, capacity ``limit * burst``, debt allowed), its OTPM rules
(``reserve_max_tokens``: ``max_tokens`` taken at admission, the unused part given back
when the reply ends; ``actual``: admission needs one token of balance, output is debited
as it is produced), its latency model (:mod:`._attempt`), and its fault draws
(:class:`FaultInjector` with the scenario's seed, one draw per attempt, as the server
draws). Requests carry exact token counts (:func:`perfect_requests` measures them with
the simulator's tokenizer), arrive at their workload times, and there is no network.

The client it models is clairvoyant but obeys the server: it never sends a request that
would get a 429, sends each one the earliest instant the server would accept it (under
the ``actual`` OTPM rule, the earliest instant its admission threshold allows: below),
retries
a fault the instant its reply arrives (a 529 or 500 costs no time; a dropped connection
costs the attempt's latency; a 504 its ``ttft_s``), sends nothing during an overload
window and resumes the instant it ends. Two line disciplines, both honouring priority
(lower ``priority`` first, then submission order):

- ``"fifo"``: one line per pool; only its head may go (the head blocks the line), which is
  exactly what claudeflow's scheduler promises (DESIGN principle 2) with zero overhead;
- ``"work_conserving"``: any waiting request may go when it fits now, scanned in priority
  order, so a lower class goes only when nothing of a higher class fits at that instant.
  It can beat FIFO (small requests fill the gaps a large head leaves), so it is the
  tighter reference for wall time, though not a latency promise.

Sending at the earliest instant is optimal for a fixed order when admission takes what
it checks: taking from a bucket earlier never leaves less in it later (refill is capped
at capacity, so waiting wastes it), and refunds come back earlier too. Under the
``actual`` OTPM rule it is not: admission checks a one-token balance and takes nothing,
so the earliest-instant client sends ``concurrency`` requests at the first positive
balance and they generate into debt together, and the wall time then turns on the end
game (which requests are in flight, undebited, when the last one is admitted). Waiting
for a larger balance before such a burst moves every later burst, and can end sooner.
There the schedule is the best of a family of clients that admit only when the balance
covers a fraction (:data:`ACTUAL_HOLDBACKS`) of the head's ``max_tokens``, the
earliest-instant one among them. The threshold only delays the instant: it takes
nothing, so every request checked at that instant still goes (a client that also
pledged the fraction per request in flight, spreading the burst, ended later than the
earliest-instant one on every seed tried). The best is a schedule some client can
run, so efficiency against it is never flattered, but it is not proven optimal.

Each threshold is tried twice under that rule: once as above, and once with the
line's tail gathered (:data:`TAIL_GROUPS`). When no more requests wait in the line
than ``concurrency`` allows in flight, but they do not all fit beside the requests
already out, the whole group waits to go together. The instant of the last admission
is what the output balance allows after everything before it is debited, so it comes
sooner the more output is still undebited then: a last burst of ``concurrency``
requests rather than a remainder. A client can run it without knowing any reply's length.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from .._errors import ConfigError
from ..limiter._classes import ModelClasses
from ..simulator import SimulatorConfig
from ..simulator._faults import Fault, FaultInjector
from ..simulator._limits import OUTPUT, Cost, LimitSet, RateLimiter
from ..simulator._output import plan_output
from ..simulator._tokenizer import measure_prompt
from ._attempt import timeline
from ._workload import WorkItem

__all__ = [
    "ACTUAL_HOLDBACKS",
    "POLICIES",
    "TAIL_GROUPS",
    "PerfectRequest",
    "Policy",
    "Schedule",
    "perfect_requests",
    "schedule",
]

Policy = Literal["fifo", "work_conserving"]
POLICIES: tuple[Policy, ...] = ("fifo", "work_conserving")
_KEY = "perfect"  # one API key: a pool is (key, model class)
# Faults answered at once (529, 500, ramp 429) are retried at the same instant; this many
# in a row means the scenario fails every attempt, and the request is given up.
_MAX_INSTANT_RETRIES = 1_000
# Under the actual OTPM rule: admit when the output balance covers this fraction of the
# request's max_tokens (0: one token, the server's own check). On otpm_bound_actual the
# walls of these differ by up to 12 % (19 % streamed), in no monotone order.
ACTUAL_HOLDBACKS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# Under the actual OTPM rule, each holdback with and without the tail gathered (above).
TAIL_GROUPS: tuple[bool, ...] = (False, True)


@dataclass(frozen=True, slots=True)
class PerfectRequest:
    """One request as the server will count it.

    :ivar input_tokens: what the server counts toward ITPM
    :ivar output_tokens: what the server will generate (``<= max_tokens``)
    :ivar pool: the model class (every request of a pool shares its buckets and line)
    """

    index: int
    arrival_s: float
    priority: int
    input_tokens: int
    max_tokens: int
    output_tokens: int
    pool: str = "default"


@dataclass(frozen=True, slots=True)
class Schedule:
    """The perfect schedule of a workload under one policy.

    :ivar wall_s: from the start to the end of the last request (its reply, or the
        instant it was given up)
    :ivar starts: admission instant of each request's last attempt (``None``: never)
    :ivar ends: when each request ended
    :ivar sends: ``(request index, instant)`` of every attempt, in the order the server
        receives them (every one draws a fault, as on the server)
    :ivar failed: requests given up (never fit, spend cap, or nothing but faults)
    :ivar holdback: the fraction of ``max_tokens`` the output balance had to cover at
        admission (``actual`` OTPM rule; 0: the server's one-token check)
    :ivar tail_group: whether the line's last group went together (``actual`` rule)
    """

    policy: Policy
    wall_s: float
    starts: tuple[float | None, ...]
    ends: tuple[float, ...]
    sends: tuple[tuple[int, float], ...]
    failed: int
    holdback: float = 0.0
    tail_group: bool = False

    @property
    def attempts(self) -> int:
        return len(self.sends)


def perfect_requests(
    items: Iterable[WorkItem], *, model: str, config: SimulatorConfig
) -> tuple[PerfectRequest, ...]:
    """The workload's requests, measured by the simulator's tokenizer and reply model."""
    classes = ModelClasses(config.model_classes)
    out = []
    for item in items:
        body = item.params(model)
        prompt = measure_prompt(body)
        if prompt.has_breakpoint:
            # Cache hits would make ITPM depend on the order of sends; not modelled.
            raise ConfigError("items", f"request {item.index}: prompt caching is not modelled")
        reply = plan_output(
            body, seed=config.seed, low=config.output_tokens_min, high=config.output_tokens_max
        )
        out.append(
            PerfectRequest(
                item.index,
                item.arrival_s,
                item.priority,
                prompt.total,
                item.max_tokens,
                reply.tokens,
                classes(body["model"]),
            )
        )
    return tuple(out)


def schedule(
    requests: Sequence[PerfectRequest],
    config: SimulatorConfig,
    *,
    policy: Policy = "fifo",
    concurrency: int | None = None,
    streaming: bool = False,
    holdbacks: Sequence[float] = ACTUAL_HOLDBACKS,
    tail_groups: Sequence[bool] = TAIL_GROUPS,
) -> Schedule:
    """The perfect schedule of ``requests`` against a simulator configured by ``config``.

    :param concurrency: most requests in flight at once (the client's limit; ``None``: any)
    :param streaming: requests are streamed (output is counted chunk by chunk)
    :param holdbacks: under the ``actual`` OTPM rule, the fractions of ``max_tokens`` (in
        [0, 1]) to try as the admission balance; the schedule is the one that ends first
        (ties: the smaller fraction, then the tail not gathered), with no more requests
        given up
    :param tail_groups: under the ``actual`` OTPM rule with a ``concurrency``, whether to
        try each threshold with the line's tail gathered (``True``), without (``False``)
    """
    if policy not in POLICIES:
        raise ConfigError("policy", f"must be one of {POLICIES}, got {policy!r}")
    if concurrency is not None and (isinstance(concurrency, bool) or concurrency < 1):
        raise ConfigError("concurrency", f"must be an integer >= 1 or None, got {concurrency!r}")
    fractions = tuple(holdbacks) or (0.0,)
    if not all(isinstance(f, int | float) and 0.0 <= f <= 1.0 for f in fractions):
        raise ConfigError("holdbacks", f"must be fractions in [0, 1], got {holdbacks!r}")
    if not all(isinstance(g, bool) for g in tail_groups):
        raise ConfigError("tail_groups", f"must be booleans, got {tail_groups!r}")
    gathers = tuple(dict.fromkeys(tail_groups)) or (False,)
    if config.otpm_mode == "reserve_max_tokens" or config.output_tpm is None:
        # Admission takes what it checks, or output is not limited: sooner is better.
        fractions, gathers = (0.0,), (False,)
    if concurrency is None:
        gathers = (False,)  # with no limit in flight the whole line goes at once anyway
    runs = (
        _Simulation(requests, config, policy, concurrency, streaming, holdback, gather).run()
        for holdback in fractions
        for gather in gathers
    )
    return min(runs, key=lambda run: (run.failed, run.wall_s, run.holdback, run.tail_group))


# An event: (time, sequence, action). The sequence keeps same-instant events in the
# order they were scheduled (a debit before the end of the same attempt).
_Event = tuple[float, int, Callable[[float], None]]


class _Simulation:
    def __init__(
        self,
        requests: Sequence[PerfectRequest],
        config: SimulatorConfig,
        policy: Policy,
        concurrency: int | None,
        streaming: bool,
        holdback: float = 0.0,
        gather: bool = False,
    ) -> None:
        self._requests = {r.index: r for r in requests}
        self._holdback = holdback
        self._gather = gather
        self._config = config
        self._fifo = policy == "fifo"
        self._policy: Policy = policy
        self._concurrency = math.inf if concurrency is None else concurrency
        self._streaming = streaming
        self._reserve = config.otpm_mode == "reserve_max_tokens"
        self._limiter = RateLimiter(
            rpm=config.rpm,
            input_tpm=config.input_tpm,
            output_tpm=config.output_tpm,
            minute_seconds=config.minute_seconds,
            burst=config.burst,
        )
        self._faults = FaultInjector(config.faults, config.seed)
        self._window = config.faults.overload_window
        self._lines: dict[str, _Line] = {}
        self._events: list[_Event] = []
        self._sequence = 0
        self._wake_at: float | None = None
        self._in_flight = 0
        self._admitted = 0
        self._sends: list[tuple[int, float]] = []
        self._failed = 0
        self._starts: dict[int, float] = {}
        self._ends: dict[int, float] = {}

    def run(self) -> Schedule:
        for request in self._requests.values():
            self._at(request.arrival_s, partial(self._arrive, request))
        while self._events:
            now = self._events[0][0]
            while self._events and self._events[0][0] <= now:
                heapq.heappop(self._events)[2](now)
            self._dispatch(now)
        order = sorted(self._requests)
        return Schedule(
            policy=self._policy,
            wall_s=float(max(self._ends.values(), default=0.0)),
            starts=tuple(self._starts.get(i) for i in order),
            ends=tuple(self._ends[i] for i in order),
            sends=tuple(self._sends),
            failed=self._failed,
            holdback=self._holdback,
            tail_group=self._gather,
        )

    # -- events ------------------------------------------------------------------------

    def _at(self, time: float, action: Callable[[float], None]) -> None:
        self._sequence += 1
        heapq.heappush(self._events, (time, self._sequence, action))

    def _wake(self, time: float, now: float) -> None:
        """Dispatch again at ``time`` (the earliest instant something waiting fits)."""
        pending = self._wake_at
        if pending is None or pending <= now or time < pending:
            self._wake_at = time
            self._at(time, lambda _: None)

    def _arrive(self, request: PerfectRequest, _: float) -> None:
        self._join(request)

    def _join(self, request: PerfectRequest) -> None:
        """Into its pool's line, at its original place (a retry keeps its place too)."""
        line = self._lines.get(request.pool)
        if line is None:
            line = self._lines[request.pool] = _Line()
        line.add(request, self._need(request))

    def _end(self, request: PerfectRequest, now: float, *, failed: bool) -> None:
        self._ends[request.index] = now
        self._failed += failed

    # -- dispatch ----------------------------------------------------------------------

    def _dispatch(self, now: float) -> None:
        window = self._window
        if window is not None and window[0] <= now < window[1]:
            if any(line.entries for line in self._lines.values()):
                self._wake(window[1], now)
            return
        for pool, line in self._lines.items():
            self._dispatch_pool(pool, line, now)

    def _dispatch_pool(self, pool: str, line: _Line, now: float) -> None:
        limits = self._limiter.scope(_KEY, pool, now) if self._limiter.enabled else None
        soonest = math.inf
        position = 0
        bound = limits is not None and not self._fifo  # first-fit: is anyone payable?
        while position < len(line.entries) and self._in_flight < self._concurrency:
            if bound and limits is not None and self._none_fits(line, limits, now):
                return
            bound = False
            request = self._requests[line.entries[position][1]]
            if self._gather and self._holds_tail(line):
                # The whole line waits to go together once it fits: a finish dispatches
                # again. (It is the line's tail, so nobody behind it may go instead.)
                break
            need = self._need(request)
            denial = None if limits is None else self._limiter.check(limits, need, now)
            if denial is None or denial.never_fits:
                line.remove(position, need)
                if denial is None:
                    self._send(request, limits, now)
                    bound = limits is not None and not self._fifo
                else:
                    self._end(request, now, failed=True)  # a 429 that says "never"
                continue
            soonest = min(soonest, denial.wait)
            if self._fifo:
                break
            position += 1
        if soonest < math.inf:
            self._wake(now + soonest, now)

    def _holds_tail(self, line: _Line) -> bool:
        """Whether the line's last requests must wait to go together: no more wait than
        may be in flight, but not all fit beside those out now."""
        waiting = len(line.entries)
        return waiting <= self._concurrency < self._in_flight + waiting

    def _none_fits(self, line: _Line, limits: LimitSet, now: float) -> bool:
        """Whether even the smallest need of each dimension is short (then wake when it
        is not): keeps first-fit from scanning a long line that cannot pay anyone."""
        denial = self._limiter.check(limits, line.smallest(), now)
        if denial is None or denial.never_fits:
            return False
        self._wake(now + denial.wait, now)
        return True

    def _need(self, request: PerfectRequest) -> Cost:
        """What admission checks (``actual`` OTPM rule: a positive balance, or the
        holdback's share of ``max_tokens``, whichever is more)."""
        if self._reserve:
            return Cost(1, request.input_tokens, request.max_tokens)
        # At most a full bucket: the server admits on one token, so a threshold above
        # the bucket would give up a request the server takes.
        held = min(math.ceil(self._holdback * request.max_tokens), self._limiter.capacity(OUTPUT))
        return Cost(1, request.input_tokens, max(min(1, request.max_tokens), held))

    # -- one request on the wire -------------------------------------------------------

    def _send(self, request: PerfectRequest, limits: LimitSet | None, now: float) -> None:
        fault = self._draw(request, now)
        retries = 0
        while fault in _INSTANT and retries < _MAX_INSTANT_RETRIES:
            fault, retries = self._draw(request, now), retries + 1
        if fault in _INSTANT or fault is Fault.SPEND_CAP:
            self._end(request, now, failed=True)
        elif fault is Fault.ERROR_504:
            self._in_flight += 1
            self._at(now + self._config.ttft_s, lambda _: self._retry(request))
        else:
            self._admit(request, limits, fault, now)

    def _draw(self, request: PerfectRequest, now: float) -> Fault | None:
        self._sends.append((request.index, now))
        if not self._faults.enabled:
            return None
        return self._faults.draw(elapsed=now, admitted=self._admitted, streaming=self._streaming)

    def _retry(self, request: PerfectRequest) -> None:
        self._in_flight -= 1
        self._join(request)

    def _admit(
        self, request: PerfectRequest, limits: LimitSet | None, fault: Fault | None, now: float
    ) -> None:
        reserved = request.max_tokens if self._reserve else 0
        if limits is not None:
            limits.take(Cost(1, request.input_tokens, reserved), now)
        self._admitted += 1
        self._in_flight += 1
        self._starts[request.index] = now
        plan = timeline(request.output_tokens, self._config, streaming=self._streaming, fault=fault)
        if limits is not None and not self._reserve:
            counted = 0
            for offset, produced in plan.steps:
                self._at(now + offset, partial(limits.take, Cost(0, 0, produced - counted)))
                counted = produced

        def finish(at: float) -> None:
            unused = reserved - plan.produced
            if limits is not None and unused > 0:
                limits.give(Cost(0, 0, unused), at)
            if plan.failed:
                self._retry(request)
            else:
                self._in_flight -= 1
                self._end(request, at, failed=False)

        self._at(now + plan.end, finish)


class _Line:
    """A pool's waiting requests in line order, and the smallest need of each dimension."""

    __slots__ = ("_inputs", "_outputs", "entries")

    def __init__(self) -> None:
        self.entries: list[tuple[int, int]] = []  # (priority, index), sorted
        self._inputs: list[float] = []  # sorted, as the two below
        self._outputs: list[float] = []

    def add(self, request: PerfectRequest, need: Cost) -> None:
        insort(self.entries, (request.priority, request.index))
        insort(self._inputs, need.input_tokens)
        insort(self._outputs, need.output_tokens)

    def remove(self, position: int, need: Cost) -> None:
        del self.entries[position]
        del self._inputs[bisect_left(self._inputs, need.input_tokens)]
        del self._outputs[bisect_left(self._outputs, need.output_tokens)]

    def smallest(self) -> Cost:
        """A need no waiting request is below in any dimension (a lower bound for all)."""
        return Cost(1, self._inputs[0], self._outputs[0])


# Faults whose reply comes at once and consumes nothing: the perfect client resends at
# the same instant (the server does not enforce a ramp 429's retry-after).
_INSTANT = frozenset({Fault.ERROR_529, Fault.ERROR_500, Fault.RAMP_429, Fault.OVERLOAD_WINDOW})
