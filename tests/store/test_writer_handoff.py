"""The writer's hand-offs: a drain put on the connection thread straight from submit when
none is there, the next one from the thread's completion; a drain takes, when it runs, every
job waiting. On a real SQLite file and aiosqlite's own thread.

Jobs here hold the connection thread on a gate (a threading.Event the test opens) and say
when they run, so a batch is known to be on the thread while the test submits more.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosqlite
import pytest
from structlog.testing import capture_logs

from hotelbot.errors import StoreError, StoreOverloaded
from hotelbot.store.database import Database, read
from hotelbot.store.writer import Writer, on_thread

GATE_TIMEOUT = 10.0  # a gate never opened fails the job instead of hanging the thread


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    connection = await aiosqlite.connect(tmp_path / "writer.db", isolation_level=None)
    await connection.execute("PRAGMA journal_mode=WAL")
    await connection.execute(
        "CREATE TABLE t (n INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL UNIQUE)")
    yield connection
    await connection.close()


@pytest.fixture
async def writer(conn: aiosqlite.Connection) -> AsyncIterator[Writer]:
    w = Writer(conn, max_pending=100, lazy_delay=0.01)
    w.start()
    yield w
    await w.close()


def insert(value: str, gate: Gate | None = None) -> Callable[[sqlite3.Connection], int]:
    """A job: wait for `gate` (holding the thread), then insert `value`; returns the row's n."""
    def job(c: sqlite3.Connection) -> int:
        if gate is not None:
            gate.entered.set()
            if not gate.opened.wait(GATE_TIMEOUT):
                raise TimeoutError("gate never opened")
        n = c.execute("INSERT INTO t (v) VALUES (?)", (value,)).lastrowid
        assert n is not None
        return n
    return job


class Gate:
    """Holds a job on the connection thread until opened; says when the job got there."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    async def reached(self) -> None:
        await until(self.entered.is_set)

    def open(self) -> None:
        self.opened.set()


async def held(writer: Writer, *, admit: bool = False) -> tuple[Gate, asyncio.Task[int]]:
    """Submit "a" on a gate and wait until its batch holds the connection thread."""
    gate = Gate()
    task = asyncio.create_task(writer.submit(insert("a", gate), admit=admit))
    await gate.reached()
    return gate, task


async def rows(conn: aiosqlite.Connection) -> list[str]:
    return await on_thread(conn, lambda c: [r[0] for r in c.execute("SELECT v FROM t ORDER BY n")])


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(int(GATE_TIMEOUT * 1000)):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


async def test_ordering_across_the_idle_and_busy_switch(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    gate, a = await held(writer)
    # idle: a went to the thread at once; b and c wait behind it
    assert writer.statistics().in_flight == 1 and writer.statistics().pending == 0
    b = asyncio.create_task(writer.submit(insert("b")))
    c = asyncio.create_task(writer.submit(insert("c")))
    await asyncio.sleep(0)
    assert writer.statistics().pending == 2 and not a.done()
    gate.open()
    assert list(await asyncio.gather(a, b, c)) == [1, 2, 3]
    stats = writer.statistics()
    assert (stats.batches_committed, stats.max_batch_size, stats.jobs_committed) == (2, 2, 3)
    assert stats.pending == 0 and stats.in_flight == 0
    # idle again: the next job goes straight to the thread, alone
    assert await writer.submit(insert("d")) == 4
    assert writer.statistics().batches_committed == 3
    assert await rows(conn) == ["a", "b", "c", "d"]


async def test_jobs_submitted_before_the_thread_takes_the_drain_join_its_batch(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    # The first job of a loop pass puts the drain on the thread; the thread takes the jobs
    # when it runs (it needs the GIL the loop holds), so the pass's other jobs join: one
    # COMMIT, as when a writer task woke after the pass. A long switch interval keeps the
    # interpreter from handing the thread the GIL in the middle of the three submits.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        jobs = [asyncio.ensure_future(writer.submit(insert(v))) for v in ("a", "b", "c")]
        await asyncio.sleep(0)  # all three queued in this pass
        assert writer.statistics().pending + writer.statistics().in_flight == 3
    finally:
        sys.setswitchinterval(interval)
    assert list(await asyncio.gather(*jobs)) == [1, 2, 3]
    stats = writer.statistics()
    assert (stats.batches_committed, stats.max_batch_size) == (1, 3)
    assert await rows(conn) == ["a", "b", "c"]


async def test_a_job_submitted_as_its_caller_resumes_commits_after_the_batch_handed_over(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    gate = Gate()
    second_gate = Gate()

    async def first_then_more() -> int:
        await writer.submit(insert("a", gate))
        # resumed by a's completion, which already put the drain for b on the thread
        return await writer.submit(insert("e"))

    caller = asyncio.create_task(first_then_more())
    await gate.reached()
    b = asyncio.create_task(writer.submit(insert("b", second_gate)))
    await asyncio.sleep(0)
    gate.open()
    await second_gate.reached()
    assert not b.done() and not caller.done()
    second_gate.open()
    assert await caller == 3 and await b == 2
    # e joined b's batch if the thread had not taken it yet, else the next one: after b
    assert writer.statistics().batches_committed in (2, 3)
    assert await rows(conn) == ["a", "b", "e"]


async def test_lazy_jobs_ride_with_a_batch_handed_over_at_once(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    lazy = asyncio.create_task(writer.submit(insert("lazy"), lazy=True))
    await asyncio.sleep(0)
    assert writer.statistics().in_flight == 0  # a lazy job starts no batch
    assert await writer.submit(insert("a")) == 1
    assert await asyncio.wait_for(lazy, GATE_TIMEOUT) == 2
    assert writer.statistics().batches_committed == 1  # one COMMIT for both


async def test_a_failing_job_alone_on_the_direct_path_fails_only_its_caller(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    assert await writer.submit(insert("a")) == 1
    with pytest.raises(StoreError, match="UNIQUE") as failed:
        await writer.submit(insert("a"))  # the same value again: the constraint refuses it
    assert isinstance(failed.value.__cause__, sqlite3.IntegrityError)

    def not_sql(_: sqlite3.Connection) -> None:
        raise ValueError("not a store error")

    with pytest.raises(ValueError, match="not a store error"):
        await writer.submit(not_sql)  # not an sqlite3 error: the caller gets it as it is
    assert await writer.submit(insert("b")) == 2  # the writer goes on
    stats = writer.statistics()
    assert (stats.rollbacks, stats.jobs_failed, stats.jobs_committed) == (2, 2, 2)
    assert await rows(conn) == ["a", "b"]


async def test_a_failing_job_in_a_batch_formed_while_busy_fails_alone(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    gate, first = await held(writer)
    queued = [asyncio.create_task(writer.submit(insert(v))) for v in ("b", "a", "c")]
    await asyncio.sleep(0)
    gate.open()
    outcomes = await asyncio.gather(first, *queued, return_exceptions=True)
    assert outcomes[:2] == [1, 2]
    assert isinstance(outcomes[2], StoreError) and outcomes[3] == 3
    stats = writer.statistics()
    assert (stats.batches_committed, stats.rollbacks, stats.jobs_failed) == (1, 1, 1)
    assert await rows(conn) == ["a", "b", "c"]


async def test_a_cancelled_caller_still_has_its_data_committed(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    gate, on_the_thread = await held(writer)
    queued = asyncio.create_task(writer.submit(insert("b")))
    await asyncio.sleep(0)
    on_the_thread.cancel()
    queued.cancel()
    for task in (on_the_thread, queued):
        with pytest.raises(asyncio.CancelledError):
            await task
    gate.open()
    assert await writer.submit(insert("c")) == 3  # the writer goes on, in order
    assert writer.statistics().jobs_committed == 3
    assert await rows(conn) == ["a", "b", "c"]


async def test_close_while_a_direct_batch_is_on_the_thread(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    gate, a = await held(writer)
    b = asyncio.create_task(writer.submit(insert("b")))
    lazy = asyncio.create_task(writer.submit(insert("lazy"), lazy=True))
    await asyncio.sleep(0)
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0.02)  # past lazy_delay: still nothing but a's batch on the thread
    assert not closing.done() and not writer.accepting
    with pytest.raises(StoreError, match="closed"):
        await writer.submit(insert("late"))
    gate.open()
    await asyncio.wait_for(closing, GATE_TIMEOUT)  # returns after the last commit
    assert a.done() and b.done() and lazy.done()
    assert [a.result(), b.result(), lazy.result()] == [1, 2, 3]
    assert writer.statistics().batches_committed == 2
    assert await rows(conn) == ["a", "b", "lazy"]


async def test_a_writer_cancelled_mid_batch_fails_the_queue_and_commits_the_batch(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    gate, a = await held(writer)
    b = asyncio.create_task(writer.submit(insert("b")))
    await asyncio.sleep(0)
    task = writer._task
    assert task is not None
    with capture_logs() as logs:
        task.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert any(entry["event"] == "store_writer_cancelled" for entry in logs)
    assert not writer.accepting
    with pytest.raises(StoreError, match="closed before the write committed"):
        await b
    with pytest.raises(StoreError, match="closed"):
        await writer.submit(insert("c"))
    gate.open()
    assert await a == 1  # already on the thread: committed, and its caller told so
    assert await rows(conn) == ["a"]


async def test_admission_counts_what_waits_behind_a_direct_batch(
    conn: aiosqlite.Connection,
) -> None:
    w = Writer(conn, max_pending=1)
    w.start()
    gate, a = await held(w, admit=True)
    assert w.admits()  # a is on the thread, nothing waits
    b = asyncio.create_task(w.submit(insert("b"), admit=True))
    await asyncio.sleep(0)
    assert not w.admits()
    with pytest.raises(StoreOverloaded):
        await w.submit(insert("refused"), admit=True)
    step = asyncio.create_task(w.submit(insert("step")))  # admitted work: never refused
    await asyncio.sleep(0)
    gate.open()
    assert list(await asyncio.gather(a, b, step)) == [1, 2, 3]
    await w.close()
    assert await rows(conn) == ["a", "b", "step"]


async def test_the_commit_observer_sees_every_batch(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    seen: list[float] = []
    clock = iter(range(1000))
    writer.observe_commits(seen.append, lambda: float(next(clock)))
    gate, a = await held(writer)
    b = asyncio.create_task(writer.submit(insert("b")))
    await asyncio.sleep(0)
    gate.open()
    await asyncio.gather(a, b)
    # a: started at 0, ended at 1; b handed over by a's completion: started at 2, ended at 3
    assert seen == [1.0, 1.0]
    assert next(clock) == 4


async def test_a_closed_connection_fails_the_caller_instead_of_hanging(
    tmp_path: Path,
) -> None:
    connection = await aiosqlite.connect(tmp_path / "closed.db", isolation_level=None)
    w = Writer(connection, max_pending=10)
    w.start()
    await connection.close()
    with capture_logs() as logs, pytest.raises(StoreError, match="store writer failed"):
        await w.submit(insert("a"))
    assert [entry["event"] for entry in logs] == ["store_batch_lost"]
    assert w.statistics().jobs_failed == 1
    with pytest.raises(StoreError, match="connection unavailable"):
        await on_thread(connection, lambda c: c.execute("SELECT 1").fetchone())
    await w.close()


async def test_stress_every_caller_answered_and_writes_commit_in_submission_order(
    conn: aiosqlite.Connection,
) -> None:
    # Random submitters over the idle/busy switch: plain, lazy, failing and cancelled jobs,
    # with random pauses. Every plain job commits in the order it was submitted; every caller
    # not cancelled gets its own result or its own error; nothing else is committed.
    w = Writer(conn, max_pending=1_000, lazy_delay=0.002)
    w.start()
    rng = random.Random(13)
    submitted: list[str] = []  # plain jobs, in the order they were queued
    meant: list[str] = []  # every job meant to commit (plain and lazy)

    async def submit(value: str, *, lazy: bool = False) -> int:
        meant.append(value)
        if not lazy:
            submitted.append(value)
        return await w.submit(insert(value), lazy=lazy)  # queued before it first suspends

    async def submitter(who: int) -> None:
        for i in range(60):
            value, roll = f"{who}.{i}", rng.random()
            if roll < 0.1:  # the same value twice: the second fails alone
                first = asyncio.create_task(submit(value))
                await asyncio.sleep(0)
                with pytest.raises(StoreError, match="UNIQUE"):
                    await w.submit(insert(value))
                assert isinstance(await first, int)
            elif roll < 0.25:
                assert isinstance(await submit(value, lazy=True), int)
            elif roll < 0.35:  # cancelled once queued: committed anyway
                task = asyncio.create_task(submit(value))
                await asyncio.sleep(0)
                task.cancel()
            else:
                assert isinstance(await submit(value), int)
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)

    await asyncio.gather(*(submitter(who) for who in range(16)))
    await w.close()
    committed = await rows(conn)
    assert sorted(committed) == sorted(meant)
    plain = set(submitted)
    assert [v for v in committed if v in plain] == submitted
    stats = w.statistics()
    assert stats.jobs_committed == len(committed)
    assert stats.max_batch_size > 1 and stats.batches_committed < len(committed)



async def test_a_read_hands_its_result_or_its_error_back(conn: aiosqlite.Connection) -> None:
    # reads take the same seam as the writer's drains, with an asyncio future
    assert await read(conn, lambda c: c.execute("SELECT 41 + 1").fetchone()[0]) == 42
    with pytest.raises(StoreError, match="store read failed: no such table") as failed:
        await read(conn, lambda c: c.execute("SELECT * FROM nope").fetchall())
    assert isinstance(failed.value.__cause__, sqlite3.OperationalError)

    def not_sql(_: sqlite3.Connection) -> None:
        raise LookupError("not sqlite")

    with pytest.raises(LookupError, match="not sqlite"):
        await on_thread(conn, not_sql)


async def test_a_job_never_overtakes_a_read_put_before_it(
    conn: aiosqlite.Connection, writer: Writer
) -> None:
    # A drain waits on the thread's queue (a read holds the thread); a read is put behind it;
    # a job submitted after that read must not join the waiting drain, which runs first.
    db = Database(conn, writer)
    gate = Gate()

    def held(_: sqlite3.Connection) -> None:
        gate.entered.set()
        if not gate.opened.wait(GATE_TIMEOUT):
            raise TimeoutError("gate never opened")

    holding = asyncio.ensure_future(db.read(held))
    await gate.reached()
    first = asyncio.ensure_future(writer.submit(insert("w1")))  # puts the drain
    await asyncio.sleep(0)
    seen = asyncio.ensure_future(db.fetchall("SELECT v FROM t ORDER BY n", ()))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(writer.submit(insert("w2")))  # after the read
    await asyncio.sleep(0)
    assert writer.statistics().pending == 2  # nothing taken yet: the thread is held
    gate.open()
    await holding
    assert [row[0] for row in await seen] == ["w1"]
    assert list(await asyncio.gather(first, second)) == [1, 2]
    assert writer.statistics().batches_committed == 2
