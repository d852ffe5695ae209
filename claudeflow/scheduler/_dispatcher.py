"""Who goes next: the lines of every model class, their loops, and the job tasks.

Each model class has its own :class:`Lane` (line and admission loop); they share the
Flow's concurrency slots and its bound on queued requests. An admitted job runs as its
own task; when an attempt asks for a retry, the task waits out the delay holding nothing,
then the job re-enters its line at its original place (a retry is the same request, so it
keeps its turn instead of going to the back behind work submitted after it).

Every loop and job task lives in one :class:`asyncio.TaskGroup` owned by a supervisor
task, so no task outlives the Flow; if a loop dies of a bug, every caller still waiting
gets a :class:`~claudeflow.FlowClosedError` that says so, and the error is logged.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable

from .._clock import Clock
from .._errors import DeadlineExceededError, FlowClosedError, QueueFullError
from ..limiter import Permit, Slots
from ..routing import KeyRing
from ._job import Job
from ._lane import Lane

__all__ = ["Attempt", "Dispatcher", "Fail"]

log = logging.getLogger("claudeflow")

# Runs one attempt of an admitted job; returns a retry delay, or None when the job ended.
Attempt = Callable[[Job, Permit], Awaitable[float | None]]
# Ends a job with an error (the runner counts it and resolves the caller's future).
Fail = Callable[[Job, BaseException], None]


class Dispatcher:
    """The lanes, their loops and the running job tasks of one Flow run."""

    def __init__(
        self,
        ring: KeyRing,
        slots: Slots,
        clock: Clock,
        *,
        aging_s: float | None,
        attempt: Attempt,
        fail: Fail,
        budget_ok: Callable[[Job], float],
        estimate: Callable[[Job], Awaitable[None]],
        on_launch: Callable[[Job, Permit], None],
        on_unlaunch: Callable[[Job, Permit], None],
        reroute: Callable[[Job, BaseException], bool],
        charged_as_generated: Callable[[Job], bool],
    ) -> None:
        self._ring = ring
        self._slots = slots
        self._clock = clock
        self._aging_s = aging_s
        self._attempt = attempt
        self._fail = fail
        self._budget_ok = budget_ok
        self._estimate = estimate
        self._on_launch = on_launch
        self._on_unlaunch = on_unlaunch
        self._reroute = reroute
        self._charged_as_generated = charged_as_generated
        self._lanes: dict[str, Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self._group: asyncio.TaskGroup | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.crashed: BaseException | None = None
        self.attempts = 0
        self.cancelled = 0
        slots.on_release = self.wake_all
        ring.on_change = self._keys_changed

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        ready = asyncio.get_running_loop().create_future()
        self._supervisor = asyncio.create_task(self._supervise(ready), name="claudeflow")
        await ready

    async def _supervise(self, ready: asyncio.Future[None]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                ready.set_result(None)
                await asyncio.get_running_loop().create_future()  # until stop() cancels
        except Exception as error:  # a loop or task died of a bug: nobody may hang
            self.crashed = error
            log.error(
                "claudeflow dispatcher crashed; failing every waiting request", exc_info=error
            )
            self._fail_everything(FlowClosedError(f"the Flow's dispatcher crashed: {error!r}"))
        finally:
            self._group = None

    async def wait_idle(self) -> None:
        """Return once nothing is queued and no job task is running."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Cancel the loops and any task left; return when all have ended."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        self._check_idle()

    def cancel_all(self, error: FlowClosedError) -> None:
        """End every queued job with ``error`` and cancel every running one."""
        self.refuse_waiters(error)
        for lane in self._lanes.values():
            for job in lane.line.drain():
                self._drop_timer(job)
                self._fail(job, error)
        for task in list(self._tasks):
            task.cancel(str(error))
        self._check_idle()

    def refuse_waiters(self, error: FlowClosedError) -> None:
        """Fail every caller still waiting for room in the line."""
        for waiter in self._space_waiters:
            if not waiter.done():
                waiter.set_exception(error)

    def _fail_everything(self, error: FlowClosedError) -> None:
        self.cancel_all(error)
        for task in list(self._tasks):  # already cancelled by the group; end their jobs
            task.cancel(str(error))
        self._tasks.clear()
        self._idle.set()

    # -- the lines -------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(len(lane.line) for lane in self._lanes.values())

    def depth_by_class(self) -> dict[int, int]:
        total: Counter[int] = Counter()
        for lane in self._lanes.values():
            total.update(lane.line.depth_by_class())
        return dict(sorted(total.items()))

    def heads(self) -> list[Job]:
        return [head for lane in self._lanes.values() if (head := lane.line.head())]

    async def make_room(self, max_queue: int | None, wait: bool) -> None:
        """Return when the lines have room for one more job, or raise :class:`QueueFullError`."""
        while max_queue is not None and len(self) >= max_queue:
            if not wait:
                raise QueueFullError(
                    f"queue is full ({max_queue} waiting); retry later or pass wait_for_space=True",
                    retry_after=self._next_start(),
                )
            # One waiter per free place, in arrival order (a loop: another may take it first).
            waiter = asyncio.get_running_loop().create_future()
            self._space_waiters.append(waiter)
            await waiter

    def _next_start(self) -> float | None:
        """Seconds until some head starts (a place frees then), if any lane knows."""
        now = self._clock.now()
        waits = [lane.head_starts_at - now for lane in self._lanes.values() if len(lane.line)]
        soonest = min(waits, default=0.0)
        return soonest if 0 < soonest < math.inf else None

    def queue(self, job: Job) -> None:
        """Put ``job`` in its class's line (a retried job keeps its original place)."""
        job.queued_since = self._clock.now()
        lane = self._lane(job.model_class)
        lane.line.push(job, job.queued_since)
        # A timer, not a check at the head: a job deep in line must expire on time too.
        if job.deadline is not None:
            job.timer = self._clock.call_later(
                job.deadline - job.queued_since, lambda: self._expire(job)
            )
        self._idle.clear()
        lane.wake()

    def _lane(self, model_class: str) -> Lane:
        lane = self._lanes.get(model_class)
        if lane is None:
            if self._group is None:
                raise FlowClosedError("the Flow is not running")
            lane = self._lanes[model_class] = Lane(
                model_class,
                ring=self._ring,
                slots=self._slots,
                clock=self._clock,
                aging_s=self._aging_s,
                launch=self._launch,
                reject=self._reject,
                budget_ok=self._budget_ok,
                estimate=self._estimate,
                charged_as_generated=self._charged_as_generated,
            )
            # Lanes are made on first use: a Flow serving one model runs one loop.
            self._group.create_task(lane.run(), name=f"claudeflow-lane-{model_class}")
        return lane

    def abandon(self, job: Job) -> bool:
        """The caller stopped waiting: drop the job from line or stop its attempt.

        Returns whether the job ended as cancelled (it had not finished first).
        """
        lane = self._lanes.get(job.model_class)
        if lane is not None and job.queued:
            lane.line.discard(job)
            lane.wake()  # the head may have changed
        self._space_freed()
        self._drop_timer(job)
        if job.task is not None and not job.task.done():
            job.task.cancel()
        if not job.future.done():
            job.future.cancel()
        cancelled = job.future.cancelled()
        self.cancelled += cancelled
        self._check_idle()
        return cancelled

    def _expire(self, job: Job) -> None:
        """The job's queue timeout passed before it could start."""
        if not job.queued:
            return
        lane = self._lanes[job.model_class]
        lane.line.discard(job)
        lane.wake()
        waited = self._clock.now() - job.submitted_at
        error = DeadlineExceededError(
            f"could not start within its queue timeout ({waited:.3g}s waited; "
            f"{len(self)} still queued)"
        )
        self._drop_timer(job)
        if self._reroute(job, error):
            if job.queue_timeout is not None:
                job.deadline = self._clock.now() + job.queue_timeout  # a fresh wait there
            self.queue(job)
            return
        self._reject(job, error)

    def _reject(self, job: Job, error: BaseException) -> None:
        """End a job that left its line without starting."""
        self._space_freed()
        self._drop_timer(job)
        self._fail(job, error)
        self._check_idle()

    def wake_all(self) -> None:
        for lane in self._lanes.values():
            lane.wake()

    def wake(self, model_class: str) -> None:
        lane = self._lanes.get(model_class)
        if lane is not None:
            lane.wake()

    def _keys_changed(self) -> None:
        self.wake_all()  # a lane left without keys fails its line with their cause

    # -- running jobs ----------------------------------------------------------------

    def _launch(self, job: Job, permit: Permit) -> None:
        self._space_freed()
        job.queue_wait_s += self._clock.now() - job.queued_since
        job.deadline = None  # it has started; the queue timeout no longer applies
        self._drop_timer(job)
        job.attempts += 1
        self.attempts += 1
        self._on_launch(job, permit)
        assert self._group is not None  # a lane only runs inside the group
        task = self._group.create_task(self._job_task(job, permit))
        job.task = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._task_done(done, job, permit))

    async def _job_task(self, job: Job, permit: Permit) -> None:
        try:
            delay = await self._attempt(job, permit)
            if delay is None:
                return
            await self._clock.sleep(delay)  # back-off holds no permit
        except asyncio.CancelledError as cancelled:
            if not job.future.done():
                reason = cancelled.args[0] if cancelled.args else "cancelled"
                self._fail(job, FlowClosedError(str(reason)))
            raise
        job.retry_wait_s += delay
        self.queue(job)

    def _task_done(self, task: asyncio.Task[None], job: Job, permit: Permit) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            # A task cancelled before its first step never ran its body, so nothing in
            # it released the permit or ended the job: do both here (no-ops otherwise).
            # Its attempt settles the permit on every path, so one left unsettled never
            # ran, and what the launch counted and charged is undone too.
            if not permit.settled:
                self.attempts -= 1
                self._on_unlaunch(job, permit)
            permit.release()
            if not job.future.done():
                self._fail(job, FlowClosedError(_cancel_reason(task)))
        self._check_idle()

    # -- bookkeeping -----------------------------------------------------------------

    def _check_idle(self) -> None:
        if not self._tasks and not len(self):
            self._idle.set()

    def _space_freed(self) -> None:
        while self._space_waiters:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    @staticmethod
    def _drop_timer(job: Job) -> None:
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None


def _cancel_reason(task: asyncio.Task[None]) -> str:
    try:
        task.result()
    except asyncio.CancelledError as cancelled:
        return str(cancelled.args[0]) if cancelled.args else "cancelled"
    return "cancelled"
