"""The group-commit writer: the ONE writer of the SQLite file.

Owns: the bounded job queue, batching, the BEGIN IMMEDIATE ... COMMIT of each batch, isolating a
failing job, the writer's statistics, and the one seam into aiosqlite (`_hand_off`: a function
onto the connection's thread, its completion back onto the loop). Must never run a timer window
(docs/design.md "Performance facts": a fixed window capped throughput), never resolve a caller
before its data is committed, and never hold SQL of its own beyond transaction control: jobs
bring their SQL.

    submit(job) ─▶ waiting (deque) ─┬─ no drain on the thread: put one there at once
                                    └─ else: the job waits for the next drain
    connection thread, a drain: take EVERY job waiting now (jobs submitted since the drain
                                was put join it), then
                                BEGIN IMMEDIATE; job1; job2; ...; COMMIT
                                on any error: ROLLBACK, then each job alone in its own
                                transaction, so one bad job fails only its own caller
    completion (ONE call_soon_threadsafe onto the loop): put the next drain when jobs came
                                meanwhile, then resolve the batch's futures (result or
                                exception): a caller resumes only after its COMMIT

Batches form naturally: while one batch is on the connection thread, new jobs wait and become
the next batch; the jobs of one loop pass usually form one batch (the thread takes them when
it gets the GIL, which the loop mostly holds until it waits for events). At low load a batch
is one job and costs the loop one hand-off and one completion: no task wakes in between
(issue 13). A job submitted with `lazy=True` (bookkeeping whose loss a crash recovers by
other means, e.g. a `sent` mark that Meta's status webhook restores) starts no batch: it
rides along with the next job submitted, or commits on its own after `lazy_delay` seconds
when no other work comes; at low load this saves a COMMIT (an fsync) per message.
Admission control applies to NEW work only: a job submitted with `admit=True` (recording a
webhook's messages and statuses) raises StoreOverloaded at once, before anything is queued,
when more than `max_pending` jobs wait (the webhook answers 503 and Meta retries). Work
already admitted (a step's commit, an outbox update, a park) is always queued: refusing it
would strand an acknowledged message, and its volume is bounded by what was admitted.

The waiting jobs are the one thing both threads touch: the loop appends, the thread takes from
the left, each an atomic deque operation; whether a drain is out is the loop's own flag, so a
job is either taken by the drain running or by the next one the completion puts. A job never
overtakes a read put on the thread before it (`reading`): each read while a drain is out
starts a new generation, and a drain takes only jobs of the generations it was put in.

The writer's task ("store-writer") is its lifetime, not its loop: it waits for `close()`, then
hands over what is left (lazy jobs too) and waits for the last commit; however it ends
(closed, cancelled, or a fatal error on the thread), every job the thread has not taken fails
with StoreError and no job is taken any more, so no caller waits forever.

A job is a plain function of the sqlite3.Connection, run on aiosqlite's thread; it must only run
SQL (its inputs are encoded beforehand) and may run twice (once in the batch, once alone).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

import aiosqlite
import structlog

from hotelbot.errors import StoreError, StoreOverloaded

log = structlog.get_logger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_Item = tuple[Job, "asyncio.Future[Any]", int]  # (job, its caller's future, read generation)
_Outcome = tuple[bool, Any]  # (ok, result or the exception)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreStatistics:
    batches_committed: int  # transactions that committed a whole batch
    jobs_committed: int  # jobs whose data is committed (batched or alone)
    jobs_failed: int  # jobs that raised (their caller got the error)
    rollbacks: int  # batches rolled back and re-run job by job
    max_batch_size: int
    pending: int  # jobs queued now, not yet handed to the connection thread
    in_flight: int  # jobs of the batch being committed now


def _hand_off(conn: aiosqlite.Connection, completion: object,
              function: Callable[[sqlite3.Connection], Any]) -> None:
    """Run `function(raw_connection)` on the connection's thread; its outcome goes to
    `completion` on the loop. The ONE place that touches aiosqlite's private parts.

    aiosqlite has no public call for "run this function on your thread": its own `_execute`
    (which every public method uses) checks the connection is open, then puts
    `(future, function)` on the thread's queue `_tx`; the thread runs `function()` and calls
    `future.get_loop().call_soon_threadsafe(set_result, future, result)` (`set_exception` if
    it raised), whose helpers call `future.done()` then `future.set_result(...)`. This is that
    protocol without the coroutine around it (the same in aiosqlite 0.20 to 0.22): a read
    passes an asyncio future; the writer passes its `_Completion`, which has exactly those
    four methods, so a commit costs the loop one call_soon_threadsafe and no future or task
    wake-up in between. The connection and its thread stay aiosqlite's: reads, the writer's batches
    and aiosqlite's own calls (close) run in the order they were put on the one queue.

    Raises:
        StoreError: the connection is closed (as `_execute` refuses it: nothing is queued).
    """
    raw = conn._connection
    if not conn._running or raw is None:
        raise StoreError("store connection unavailable: Connection closed")
    conn._tx.put_nowait((cast("asyncio.Future[Any]", completion), partial(function, raw)))


async def on_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run `fn(raw_connection)` on the connection's thread in ONE hand-off; return its result.

    Raises:
        StoreError: the connection is closed.
    """
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    _hand_off(conn, future, fn)
    return await future


class Writer:
    """Owns the write queue and hands its batches to the connection thread (module docstring)."""

    def __init__(self, conn: aiosqlite.Connection, *, max_pending: int,
                 lazy_delay: float = 0.01) -> None:
        if max_pending < 1:
            raise StoreError(f"max_pending must be at least 1, not {max_pending}")
        self._conn = conn
        self._max_pending = max_pending
        self._loop: asyncio.AbstractEventLoop | None = None
        self._completion: _Completion | None = None
        # Jobs not yet taken by the thread: the loop appends, the thread takes from the left
        # (`_take`); deque's append and popleft are atomic, so no lock is needed.
        self._waiting: deque[_Item] = deque()
        self._draining = False  # a drain is on the thread's queue or running (loop's flag)
        self._generation = 0  # reads put on the thread while a drain was out (`reading`)
        self._started = 0.0  # when the current drain was handed over (the commit observer)
        self._in_flight = 0  # jobs of the batch on the thread (set there; statistics only)
        self._task: asyncio.Task[None] | None = None  # the writer's lifetime (docstring)
        self._stop: asyncio.Future[None] | None = None  # close() asks the task to finish
        self._idle: asyncio.Future[None] | None = None  # the task waits for the last commit
        self._closing = False
        self._batches = 0
        self._committed = 0
        self._failed = 0
        self._rollbacks = 0
        self._max_batch = 0
        self._observe: tuple[Callable[[float], None], Callable[[], float]] | None = None
        self._lazy: list[_Item] = []  # waiting for the next batch
        self._lazy_delay = lazy_delay
        self._lazy_timer: asyncio.TimerHandle | None = None
        self._lazy_due = False  # the lazy jobs waited lazy_delay: they start a batch

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._completion = _Completion(self, loop)
        self._stop = loop.create_future()
        self._task = loop.create_task(self._run(), name="store-writer")
        self._task.add_done_callback(self._ended)

    async def submit(self, job: Callable[[sqlite3.Connection], T], *, admit: bool = False,
                     lazy: bool = False) -> T:
        """Queue `job`; return its result once its transaction has committed.

        Args:
            job: runs on the connection thread, inside the batch's transaction.
            admit: new work from outside (a webhook): refused when the queue is past its bound.
            lazy: commit with the next batch, or within `lazy_delay` seconds (module docstring).

        Raises:
            StoreOverloaded: `admit` and more than max_pending jobs are already waiting.
            StoreError: the store is closed, or the job's SQL failed (sqlite3.Error wrapped).
        """
        loop, task = self._loop, self._task
        if self._closing or loop is None or task is None or task.done():
            raise StoreError("store is closed: the writer accepts no more jobs")
        if admit and len(self._waiting) >= self._max_pending:
            raise StoreOverloaded(f"store writer has {self._max_pending} jobs waiting")
        future: asyncio.Future[T] = loop.create_future()
        if lazy:
            self._lazy.append((job, future, 0))
            if self._lazy_timer is None:
                self._lazy_timer = loop.call_later(self._lazy_delay, self._lazy_waited)
        else:
            self._waiting.append((job, future, self._generation))
            if self._lazy:
                self._take_lazy()  # they ride with this job's batch
            if not self._draining:
                self._hand_over()
        return await future

    def _lazy_waited(self) -> None:
        """No batch took the lazy jobs in time: they start one of their own."""
        self._lazy_timer = None
        if self._lazy:
            self._lazy_due = True
            if not self._draining:
                self._hand_over()

    def _take_lazy(self) -> None:
        generation = self._generation
        self._waiting.extend((job, future, generation) for job, future, _ in self._lazy)
        self._lazy = []
        self._lazy_due = False

    def reading(self) -> None:
        """A read is put on the connection thread now: jobs submitted from now on must not
        join the drain already out (it may run before the read); they wait for the next."""
        if self._draining:
            self._generation += 1

    def admits(self, jobs: int = 1) -> bool:
        """True when `jobs` more new jobs fit under the bound (`submit(admit=True)` of one job
        raises StoreOverloaded exactly when `admits(1)` is False)."""
        return len(self._waiting) + jobs <= self._max_pending

    @property
    def accepting(self) -> bool:
        """True while jobs are taken (started, not closing, the task alive)."""
        return not self._closing and self._task is not None and not self._task.done()

    async def close(self) -> None:
        """Refuse new jobs, commit every queued one (lazy ones too), then stop the task."""
        if self._task is None or self._closing:
            return
        self._closing = True
        if self._task.done():  # it died (and failed its queue already)
            return
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)
        await self._task

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(
            batches_committed=self._batches,
            jobs_committed=self._committed,
            jobs_failed=self._failed,
            rollbacks=self._rollbacks,
            max_batch_size=self._max_batch,
            pending=len(self._waiting),
            in_flight=self._in_flight,
        )

    def observe_commits(
        self, observe: Callable[[float], None], monotonic: Callable[[], float]
    ) -> None:
        """Call `observe(seconds)` with the duration of every batch's transaction (metrics)."""
        self._observe = (observe, monotonic)

    async def _run(self) -> None:
        """The writer's lifetime: until close(), then the last batches (module docstring)."""
        loop = asyncio.get_running_loop()
        assert self._stop is not None
        await self._stop
        while self._draining or self._waiting or self._lazy:
            if not self._draining:
                self._hand_over()  # closing: takes the lazy jobs too
            if self._draining:
                self._idle = loop.create_future()
                await self._idle

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The task ended (closed, cancelled even before it ran, or died): nobody will commit
        what the thread has not taken; a batch it took still resolves its own futures."""
        self._closing = True
        _log_death(task)
        self._fail_left()

    def _fail_left(self) -> None:
        if self._lazy_timer is not None:
            self._lazy_timer.cancel()
            self._lazy_timer = None
        left = _take(self._waiting) + self._lazy
        self._lazy = []
        for _, future, _ in left:
            if not future.done():
                future.set_exception(StoreError("store closed before the write committed"))

    def _hand_over(self) -> None:
        """Put a drain on the connection thread's queue (none is there): when it runs, it takes
        everything waiting then (jobs submitted meanwhile join) and commits it as ONE batch."""
        if self._lazy:
            self._take_lazy()
        if not self._waiting:
            return
        observer = self._observe
        if observer is not None:
            self._started = observer[1]()
        assert self._completion is not None  # made by start(), before any job is taken
        try:
            _hand_off(self._conn, self._completion, partial(self._drain, self._generation))
        except StoreError as exc:
            self._lose(_take(self._waiting), exc)
            return
        self._draining = True

    def _drain(self, generation: int, conn: sqlite3.Connection) -> tuple[list[_Item], Any]:
        """On the connection thread: take what waits (up to `generation`), commit it (all in
        one transaction, else each alone); never raises: a failure outside the jobs is returned
        with the batch."""
        items = _take(self._waiting, generation)
        self._in_flight = len(items)
        if not items:  # the writer ended and failed them meanwhile
            return items, None
        try:
            return items, _run_batch(conn, items)
        except BaseException as exc:  # handed to the loop with its batch
            return items, exc

    def _finished(self, result: tuple[list[_Item], Any]) -> None:
        """On the loop, once the drain is done: the next batch, then the callers."""
        items, outcome = result
        self._draining = False
        self._in_flight = 0
        if self._task is not None and self._task.done():
            self._fail_left()  # a job the drain put back after the writer ended
        if isinstance(outcome, BaseException):
            self._broken(items, outcome)
            return
        if outcome is not None:
            observer = self._observe
            if observer is not None:
                observer[0](observer[1]() - self._started)
            outcomes, batched = outcome
            self._record(outcomes, batched)
            if len(items) > self._max_batch:
                self._max_batch = len(items)
        self._next()
        if outcome is None:
            return
        for (_, future, _), (ok, value) in zip(items, outcomes, strict=True):
            if future.done():
                continue  # the caller was cancelled; its data is committed anyway
            if ok:
                future.set_result(value)
            else:
                future.set_exception(_as_store_error(value))

    def _broken(self, items: list[_Item], exc: BaseException) -> None:
        """On the loop: the batch raised outside its jobs (the connection closed, a ROLLBACK
        failed): nothing of it is known committed, so each of its callers gets the error."""
        self._lose(items, exc)
        if isinstance(exc, Exception):
            self._next()
            return
        # not an error a store recovers from (e.g. SystemExit raised by a job): the writer ends
        for waiter in (self._stop, self._idle):
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
                break

    def _next(self) -> None:
        """After a batch: hand over what came meanwhile; tell a closing task when all is done."""
        if self._waiting or (self._lazy and (self._lazy_due or self._closing)):
            self._hand_over()
        if not self._draining and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def _lose(self, items: list[_Item], exc: BaseException) -> None:
        error = StoreError(f"store writer failed: {exc}")
        for _, future, _ in items:
            if not future.done():
                future.set_exception(error)
        self._failed += len(items)
        log.error("store_batch_lost", jobs=len(items), error=str(exc))

    def _record(self, outcomes: Sequence[_Outcome], batched: bool) -> None:
        if batched:
            self._committed += len(outcomes)
            self._batches += 1
            return
        failed = sum(1 for ok, _ in outcomes if not ok)
        self._committed += len(outcomes) - failed
        self._failed += failed
        self._rollbacks += 1
        log.warning("store_batch_rolled_back", jobs=len(outcomes), failed=failed)


class _Completion:
    """What aiosqlite's thread reports a drain's outcome to (`_hand_off`): the four methods of
    a future it calls, made straight calls into the writer. One per writer, as one drain at a
    time is on the thread."""

    __slots__ = ("_loop", "_writer")

    def __init__(self, writer: Writer, loop: asyncio.AbstractEventLoop) -> None:
        self._writer = writer
        self._loop = loop

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def done(self) -> bool:
        return False  # each drain reports once; the next one reports anew

    def set_result(self, result: tuple[list[_Item], Any]) -> None:
        self._writer._finished(result)

    def set_exception(self, exc: BaseException) -> None:
        # _drain returns every failure with its batch; this is aiosqlite failing to call it
        self._writer._finished(([], exc))


def _take(waiting: deque[_Item], generation: int | None = None) -> list[_Item]:
    """The jobs in `waiting` now, in order, up to the first of a later `generation` (None: all).

    popleft and appendleft are atomic: safe while the loop appends on the right."""
    taken: list[_Item] = []
    for _ in range(len(waiting)):
        try:
            item = waiting.popleft()
        except IndexError:  # the other thread took the rest
            break
        if generation is not None and item[2] > generation:
            waiting.appendleft(item)  # submitted after a read put behind this drain
            break
        taken.append(item)
    return taken


def _log_death(task: asyncio.Task[None]) -> None:
    """The writer ending other than by close() is fatal for the store: say so loudly."""
    if task.cancelled():
        log.error("store_writer_cancelled")
    elif task.exception() is not None:
        log.error("store_writer_died", error=repr(task.exception()))


def _run_batch(conn: sqlite3.Connection, items: Sequence[_Item]) -> tuple[list[_Outcome], bool]:
    """On the connection thread: all jobs in one transaction, else each alone."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        results = [job(conn) for job, _, _ in items]
        conn.execute("COMMIT")
    except Exception as exc:
        _rollback(conn)
        if len(items) == 1:
            return [(False, exc)], False
    else:
        return [(True, result) for result in results], True
    return [_run_alone(conn, job) for job, _, _ in items], False


def _run_alone(conn: sqlite3.Connection, job: Job) -> _Outcome:
    try:
        conn.execute("BEGIN IMMEDIATE")
        result = job(conn)
        conn.execute("COMMIT")
    except Exception as exc:
        _rollback(conn)
        return False, exc
    return True, result


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _as_store_error(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        error = StoreError(f"store write failed: {exc}")
        error.__cause__ = exc
        return error
    return exc
