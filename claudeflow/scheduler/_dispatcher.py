"""Who goes next: the waiting line, the one dispatcher task, and the job tasks.

The dispatcher admits the head of the line as soon as every limit can pay for it. It
never polls: it sleeps until the exact instant the head's cost exists, or until
something changes (a job arrives, a permit is settled, the server's headers move a
limit), whichever comes first. An admitted job runs as its own task; when an attempt
asks for a retry, the task waits out the delay holding nothing, then the job re-enters
the line at its original place.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable

from .._clock import Clock, TimerHandle
from .._errors import CapacityError, DeadlineExceededError, FlowClosedError, QueueFullError
from ..limiter import Admission, Permit
from ._job import Job
from ._queue import WaitingLine

__all__ = ["Attempt", "Dispatcher", "Fail"]

# Runs one attempt of an admitted job; returns a retry delay, or None when the job ended.
Attempt = Callable[[Job, Permit], Awaitable[float | None]]
# Ends a job with an error (the runner counts it and resolves the caller's future).
Fail = Callable[[Job, BaseException], None]


class Dispatcher:
    """The line, its dispatcher task and the running job tasks of one Flow run."""

    def __init__(
        self,
        admission: Admission,
        clock: Clock,
        *,
        aging_s: float | None,
        attempt: Attempt,
        fail: Fail,
    ) -> None:
        self._admission = admission
        self._clock = clock
        self._attempt = attempt
        self._fail = fail
        self._line: WaitingLine[Job] = WaitingLine(aging_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._wake_future: asyncio.Future[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop_task: asyncio.Task[None] | None = None
        self.attempts = 0
        self.cancelled = 0
        admission.on_change = self.wake

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="claudeflow-dispatcher")

    async def wait_idle(self) -> None:
        """Return once nothing is queued and no job task is running."""
        await self._idle.wait()

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)

    def cancel_all(self, error: FlowClosedError) -> None:
        """End every queued job with ``error`` and cancel every running one."""
        self.refuse_waiters(error)
        for job in self._line.drain():
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

    # -- the line --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._line)

    def depth_by_class(self) -> dict[int, int]:
        return self._line.depth_by_class()

    async def make_room(self, job: Job, max_queue: int | None, wait: bool) -> None:
        """Return when the line has room for ``job``, or raise :class:`QueueFullError`."""
        while max_queue is not None and len(self._line) >= max_queue:
            if not wait:
                # A place frees when the head of the line starts.
                head = self._line.head()
                hint = self._admission.delay((head or job).cost)
                raise QueueFullError(
                    f"queue is full ({max_queue} waiting); retry later or pass wait_for_space=True",
                    retry_after=hint if 0 < hint < math.inf else None,
                )
            waiter = asyncio.get_running_loop().create_future()
            self._space_waiters.append(waiter)
            await waiter

    def queue(self, job: Job) -> None:
        """Put ``job`` in line (a retried job keeps its original place)."""
        job.queued_since = self._clock.now()
        self._line.push(job, job.queued_since)
        if job.deadline is not None:
            job.timer = self._clock.call_later(
                job.deadline - job.queued_since, lambda: self._expire(job)
            )
        self._idle.clear()
        self.wake()

    def abandon(self, job: Job) -> bool:
        """The caller stopped waiting: drop the job from line or stop its attempt.

        Returns whether the job ended as cancelled (it had not finished first).
        """
        self._line.discard(job)
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
        self._line.discard(job)
        self._space_freed()
        waited = self._clock.now() - job.submitted_at
        self._fail(
            job,
            DeadlineExceededError(
                f"could not start within its queue timeout ({waited:.3g}s waited; "
                f"{len(self._line)} still queued)"
            ),
        )
        self._check_idle()
        self.wake()

    # -- dispatching -----------------------------------------------------------------

    async def _run(self) -> None:
        """Admit the head of the line whenever every limit can pay for it."""
        while True:
            job = self._line.head()
            if job is None:
                await self._sleep(math.inf)
                continue
            delay = self._admission.delay(job.cost)
            # inf: waiting on a slot, or (rarely) learned limits the job can never fit.
            if delay == math.inf and not self._still_fits(job):
                continue
            if delay > 0:
                await self._sleep(delay)
                continue
            self._line.pop()
            self._space_freed()
            self._launch(job)

    def _still_fits(self, job: Job) -> bool:
        """Fail the head if learned or changed limits mean it can never be admitted."""
        try:
            self._admission.check_fits(job.cost)
        except CapacityError as error:
            self._line.pop()
            self._space_freed()
            self._drop_timer(job)
            self._fail(job, error)
            self._check_idle()
            return False
        return True

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (``inf``: until woken); :meth:`wake` ends it early."""
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
        """Something changed: let the dispatcher look at the head again."""
        if self._wake_future is not None:
            _resolve(self._wake_future)

    def _launch(self, job: Job) -> None:
        permit = self._admission.admit(job.cost)
        job.queue_wait_s += self._clock.now() - job.queued_since
        job.deadline = None  # it has started; the queue timeout no longer applies
        self._drop_timer(job)
        job.attempts += 1
        self.attempts += 1
        task = asyncio.create_task(self._job_task(job, permit))
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

    # -- bookkeeping -----------------------------------------------------------------

    def _task_done(self, task: asyncio.Task[None], job: Job, permit: Permit) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            # A task cancelled before its first step never ran its body, so nothing in
            # it released the permit or ended the job: do both here (no-ops otherwise).
            permit.release()
            if not job.future.done():
                self._fail(job, FlowClosedError(_cancel_reason(task)))
        self._check_idle()

    def _check_idle(self) -> None:
        if not self._tasks and not len(self._line):
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


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
