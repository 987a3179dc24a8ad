"""The group-commit writer: the ONE task that writes to the SQLite file.

Owns: the bounded job queue, batching, the BEGIN IMMEDIATE ... COMMIT of each batch, isolating a
failing job, the writer's statistics, and `on_thread` (the one place that runs a plain function
on aiosqlite's connection thread). Must never run a timer window (docs/design.md "Performance
facts": a fixed window capped throughput), never resolve a caller before its data is committed,
and never hold SQL of its own beyond transaction control: jobs bring their SQL.

    submit(job) ──put──▶ queue ──▶ writer task: take one (await get), then everything waiting
                                   (get_nowait) ─▶ ONE hand-off to the connection thread:
                                       BEGIN IMMEDIATE; job1; job2; ...; COMMIT
                                       on any error: ROLLBACK, then each job alone in its own
                                       transaction, so one bad job fails only its own caller
                ◀── futures resolved (result or exception) after COMMIT

Batches form naturally: while one batch is on the connection thread, new jobs queue up and
become the next batch. A job submitted with `lazy=True` (bookkeeping whose loss a crash
recovers by other means, e.g. a `sent` mark that Meta's status webhook restores) does not
wake the writer: it rides along with the next batch, or commits on its own after
`lazy_delay` seconds when no other work comes; at low load this saves a COMMIT (an fsync)
per message. Admission control applies to NEW work only: a job submitted with
`admit=True` (recording a webhook's messages and statuses) raises StoreOverloaded at once,
before anything is queued, when more than `max_pending` jobs wait (the webhook answers 503 and
Meta retries). Work already admitted (a step's commit, an outbox update, a park) is always
queued: refusing it would strand an acknowledged message, and its volume is bounded by what
was admitted.

A job is a plain function of the sqlite3.Connection, run on aiosqlite's thread; it must only run
SQL (its inputs are encoded beforehand) and may run twice (once in the batch, once alone).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import aiosqlite
import structlog

from hotelbot.errors import StoreError, StoreOverloaded

log = structlog.get_logger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_Outcome = tuple[bool, Any]  # (ok, result or the exception)
_STOP = object()
_LAZY = object()  # wakes the writer for lazy jobs that waited lazy_delay


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreStatistics:
    batches_committed: int  # transactions that committed a whole batch
    jobs_committed: int  # jobs whose data is committed (batched or alone)
    jobs_failed: int  # jobs that raised (their caller got the error)
    rollbacks: int  # batches rolled back and re-run job by job
    max_batch_size: int
    pending: int  # jobs queued now, not yet taken by the writer
    in_flight: int  # jobs of the batch being committed now


async def on_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run `fn(raw_connection)` on the connection's thread in ONE hand-off.

    aiosqlite exposes no public call for this; `_execute` is its own queueing primitive (the one
    every public method uses), so one batch costs one hand-off instead of one per statement.

    Raises:
        StoreError: the connection is closed.
    """
    execute = cast(Callable[[Callable[[], T]], Awaitable[T]], conn._execute)
    try:
        result = await execute(lambda: fn(conn._conn))
    except ValueError as exc:  # aiosqlite: "Connection closed" / "no active connection"
        raise StoreError(f"store connection unavailable: {exc}") from exc
    return result


class Writer:
    """Owns the write queue and the task that commits it (see the module docstring)."""

    def __init__(self, conn: aiosqlite.Connection, *, max_pending: int,
                 lazy_delay: float = 0.01) -> None:
        if max_pending < 1:
            raise StoreError(f"max_pending must be at least 1, not {max_pending}")
        self._conn = conn
        self._max_pending = max_pending
        self._queue: asyncio.Queue[object] = asyncio.Queue()  # bounded by submit, not maxsize
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._batches = 0
        self._committed = 0
        self._failed = 0
        self._rollbacks = 0
        self._max_batch = 0
        self._in_flight = 0
        self._observe: tuple[Callable[[float], None], Callable[[], float]] | None = None
        self._lazy: list[tuple[Job, asyncio.Future[Any]]] = []  # waiting for the next batch
        self._lazy_delay = lazy_delay
        self._lazy_timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="store-writer")
        self._task.add_done_callback(_log_death)

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
        if self._closing or self._task is None or self._task.done():
            raise StoreError("store is closed: the writer accepts no more jobs")
        if admit and not self.admits():
            raise StoreOverloaded(f"store writer has {self._max_pending} jobs waiting")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if lazy:
            self._lazy.append((job, future))
            if self._lazy_timer is None:
                self._lazy_timer = loop.call_later(self._lazy_delay, self._lazy_due)
        else:
            self._queue.put_nowait((job, future))
        return cast(T, await future)

    def _lazy_due(self) -> None:
        """No batch took the lazy jobs in time: wake the writer for them alone."""
        self._lazy_timer = None
        if self._lazy:
            self._queue.put_nowait(_LAZY)

    def admits(self, jobs: int = 1) -> bool:
        """True when `jobs` more new jobs fit under the bound (`submit(admit=True)` of one job
        raises StoreOverloaded exactly when `admits(1)` is False)."""
        return self._queue.qsize() + jobs <= self._max_pending

    @property
    def accepting(self) -> bool:
        """True while jobs are taken (started, not closing, the task alive)."""
        return not self._closing and self._task is not None and not self._task.done()

    async def close(self) -> None:
        """Refuse new jobs, commit every queued one, then stop the task."""
        if self._task is None or self._closing:
            return
        self._closing = True
        if self._task.done():  # it died (and failed its queue already)
            return
        self._queue.put_nowait(_STOP)  # the last batch takes the lazy jobs too
        await self._task

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(
            batches_committed=self._batches,
            jobs_committed=self._committed,
            jobs_failed=self._failed,
            rollbacks=self._rollbacks,
            max_batch_size=self._max_batch,
            pending=self._queue.qsize(),
            in_flight=self._in_flight,
        )

    async def _run(self) -> None:
        try:
            stop = False
            while not stop:
                batch = [await self._queue.get()]
                while not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                stop = _STOP in batch
                items = [_item(i) for i in batch if i is not _STOP and i is not _LAZY]
                if self._lazy:
                    items += self._lazy
                    self._lazy = []
                if items:
                    await self._commit(items)
        finally:
            self._closing = True
            self._fail_queued()

    def _fail_queued(self) -> None:
        """The task is ending (closed or cancelled): nobody will commit what is still queued."""
        if self._lazy_timer is not None:
            self._lazy_timer.cancel()
            self._lazy_timer = None
        for lazy in self._lazy:
            self._queue.put_nowait(lazy)
        self._lazy = []
        while not self._queue.empty():
            entry = self._queue.get_nowait()
            if entry is not _STOP and entry is not _LAZY:
                _, future = _item(entry)
                if not future.done():
                    future.set_exception(StoreError("store closed before the write committed"))

    def observe_commits(
        self, observe: Callable[[float], None], monotonic: Callable[[], float]
    ) -> None:
        """Call `observe(seconds)` with the duration of every batch's transaction (metrics)."""
        self._observe = (observe, monotonic)

    async def _commit(self, items: list[tuple[Job, asyncio.Future[Any]]]) -> None:
        observer = self._observe
        started = observer[1]() if observer is not None else 0.0
        jobs = [job for job, _ in items]
        futures = [future for _, future in items]
        self._in_flight = len(items)
        self._max_batch = max(self._max_batch, len(items))
        try:
            outcomes, batched = await on_thread(self._conn, lambda c: _run_batch(c, jobs))
        except BaseException as exc:
            error = StoreError(f"store writer failed: {exc}")
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            self._failed += len(futures)
            log.error("store_batch_lost", jobs=len(futures), error=str(exc))
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._in_flight = 0
        if observer is not None:
            observer[0](observer[1]() - started)
        self._record(outcomes, batched)
        for future, (ok, value) in zip(futures, outcomes, strict=True):
            if future.done():
                continue  # the caller was cancelled; its data is committed anyway
            if ok:
                future.set_result(value)
            else:
                future.set_exception(_as_store_error(value))

    def _record(self, outcomes: Sequence[_Outcome], batched: bool) -> None:
        failed = sum(1 for ok, _ in outcomes if not ok)
        self._committed += len(outcomes) - failed
        self._failed += failed
        if batched:
            self._batches += 1
        else:
            self._rollbacks += 1
            log.warning("store_batch_rolled_back", jobs=len(outcomes), failed=failed)


def _log_death(task: asyncio.Task[None]) -> None:
    """The writer ending other than by close() is fatal for the store: say so loudly."""
    if task.cancelled():
        log.error("store_writer_cancelled")
    elif task.exception() is not None:
        log.error("store_writer_died", error=repr(task.exception()))


def _item(entry: object) -> tuple[Job, asyncio.Future[Any]]:
    return cast(tuple[Job, asyncio.Future[Any]], entry)


def _run_batch(conn: sqlite3.Connection, jobs: Sequence[Job]) -> tuple[list[_Outcome], bool]:
    """On the connection thread: all jobs in one transaction, else each alone."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        results = [job(conn) for job in jobs]
        conn.execute("COMMIT")
    except Exception as exc:
        _rollback(conn)
        if len(jobs) == 1:
            return [(False, exc)], False
    else:
        return [(True, result) for result in results], True
    return [_run_alone(conn, job) for job in jobs], False


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
