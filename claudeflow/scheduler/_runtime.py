"""One run of a Flow: the parts that bind to an event loop, made afresh at each start.

A Flow builds its :class:`Parts` once; each ``start()`` makes a new :class:`Runtime`
from them (money, slots, keys' pools, the job maker, the runner, the dispatcher and the
cheaper paths), so a Flow binds to no loop until it is used and a restart begins with
fresh counters.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..limiter import Slots
from ..routing import KeyRing, PoolFactory
from ._arguments import Headers, extra_headers
from ._budget import Budget, Spending
from ._cheaper import CheaperPaths
from ._dispatcher import Dispatcher
from ._jobs import JobMaker
from ._parts import Parts
from ._runner import Runner

__all__ = ["Runtime"]


class Runtime:
    """The per-run parts of a Flow, wired to each other."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.budget = Budget(parts.spend.budget_usd)
        self.spending = Spending(self.budget, parts.quotas)
        self.slots = Slots(parts.concurrency)
        self.ring = self._key_ring()
        self.jobs = self._job_maker()
        self.runner = self._runner()
        self.dispatcher = self._dispatcher()
        self.cheaper = CheaperPaths(parts, self.signed)
        self.submitted = 0

    # Rebuilt on every start (and nothing here at construction): a Flow binds to no event
    # loop until it runs, and a restarted one begins with full buckets and empty lines.
    def signed(self, extra: Mapping[str, str] | None = None) -> Headers:
        """Headers with the first active key, for calls outside the pools (batches)."""
        key = next((e.api_key for e in self.ring if e.active), self.parts.keys[0])
        headers = {**self.parts.headers, **(extra_headers(extra) or {}), "x-api-key": key.key}
        return Headers(headers)

    def _key_ring(self) -> KeyRing:
        p = self.parts
        factory = PoolFactory(
            p.backend,
            p.pool_limits,
            p.clock,
            learn=p.learn_limits,
            # Late-bound: the dispatcher is made after the ring, and a change wakes its lane.
            on_change=lambda model_class: self.dispatcher.wake(model_class),
        )
        ring = KeyRing(p.headers, factory, p.transports.for_url)
        for key in p.keys:
            ring.add(key)
        return ring

    def _job_maker(self) -> JobMaker:
        p = self.parts
        return JobMaker(
            router=p.router,
            pool_limits=p.pool_limits,
            ring=self.ring,
            spending=self.spending,
            estimator=p.estimator,
            calibrator=p.calibrator,
            reservation=p.reservation,
            prices=p.prices,
            clock=p.clock,
            draw=p.rng.random,
            timeouts=p.timeouts,
            queue_timeout=p.queue.timeout,
            priced=p.spend.priced,
        )

    def _runner(self) -> Runner:
        p = self.parts
        return Runner(
            retry=p.retry,
            rng=p.rng,
            clock=p.clock,
            ring=self.ring,
            spending=self.spending,
            calibrator=p.calibrator,
            reservation=p.reservation,
            prices=p.prices,
            count_cache_reads=p.tokens.count_cache_reads,
            learn_limits=p.learn_limits,
            reroute=self.jobs.reroute,
        )

    def _dispatcher(self) -> Dispatcher:
        return Dispatcher(
            self.ring,
            self.slots,
            self.parts.clock,
            aging_s=self.parts.queue.aging_s,
            attempt=self.runner.attempt,
            fail=self.runner.fail,
            budget_ok=self.spending.delay,
            estimate=self.jobs.estimate,
            on_launch=self.runner.launched,
            on_unlaunch=self.runner.unlaunched,
            reroute=self.jobs.reroute,
            charged_as_generated=self.runner.charged_as_generated,
        )
