"""The group-commit writer, through the store's repositories on real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotelbot.errors import StoreError, StoreOverloaded
from hotelbot.store import DeliveryStatus, InboundMessage, OutboundMessage, StepCommit, open_store

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
HOTELS = {"pn1": "h1"}


def inbound(n: int) -> InboundMessage:
    return InboundMessage(
        wamid=f"wamid.in{n}",
        phone_number_id="pn1",
        guest_id=f"g{n}",
        kind="text",
        payload={"text": {"body": f"hello {n}"}},
        sent_at=T0 + timedelta(seconds=n),
    )


def status(n: int) -> DeliveryStatus:
    return DeliveryStatus(wamid=f"wamid.out{n}", status="sent", at=T0, recipient_id="g1")


def step(guest: str, seq: int | None) -> StepCommit:
    return StepCommit(
        phone_number_id="pn1",
        guest_id=guest,
        hotel_id="h1",
        context={"v": 1, "current_step": "menu", "last_activity": T0.isoformat()},
        guest_data={"room": "101"},
        language="en",
        inbound_seq=seq,
        at=T0,
    )


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def test_concurrent_submits_share_batches(tmp_path: Path) -> None:
    async with open_store(tmp_path / "hotel.db") as store:
        results = await asyncio.gather(
            *(store.inbound.record([inbound(n)], at=T0, hotel_of=HOTELS) for n in range(100))
        )
        stats = store.statistics()
    assert all(r[0] is not None for r in results)
    assert sorted(r[0].seq for r in results if r[0] is not None) == list(range(1, 101))
    assert stats.jobs_committed == 100
    assert stats.max_batch_size > 1
    assert stats.batches_committed < 100
    assert stats.jobs_failed == 0 and stats.rollbacks == 0
    assert count(tmp_path / "hotel.db", "inbound") == 100


async def test_await_returns_only_after_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path) as store:
        [recorded] = await store.inbound.record([inbound(1)], at=T0, hotel_of=HOTELS)
        # another connection (another process, in effect) already sees the committed row
        assert recorded is not None
        assert count(path, "inbound") == 1


async def test_overload_is_refused_at_once_and_nothing_of_it_recorded(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path, max_pending=5) as store:
        outcomes = await asyncio.gather(
            *(store.statuses.record([status(n)]) for n in range(30)), return_exceptions=True
        )
        refused = [o for o in outcomes if isinstance(o, StoreOverloaded)]
        accepted = [o for o in outcomes if o is None]
        assert len(refused) + len(accepted) == 30
        assert refused and len(accepted) >= 5
        assert store.statistics().jobs_committed == len(accepted)
        # once the queue drained, writes are accepted again
        await store.statuses.record([status(99)])
    assert count(path, "delivery_statuses") == len(accepted) + 1


async def test_overload_is_a_store_error(tmp_path: Path) -> None:
    assert issubclass(StoreOverloaded, StoreError)
    with pytest.raises(StoreError, match="max_pending"):
        async with open_store(tmp_path / "hotel.db", max_pending=0):
            pass


async def test_failing_job_fails_only_its_own_caller(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path) as store:
        recorded = await store.inbound.record(
            [inbound(n) for n in range(10)], at=T0, hotel_of=HOTELS
        )
        seqs = [m.seq for m in recorded if m is not None]
        commits = [step(f"g{n}", seq) for n, seq in enumerate(seqs)]
        commits[4] = step("g4", 9_999)  # no such inbound: this step must fail alone
        outcomes = await asyncio.gather(
            *(store.conversations.commit_step(c) for c in commits), return_exceptions=True
        )
        stats = store.statistics()
        assert isinstance(outcomes[4], StoreError)
        assert all(o == () for i, o in enumerate(outcomes) if i != 4)
        assert await store.conversations.load("pn1", "g4") is None
        assert await store.conversations.load("pn1", "g3") is not None
        pending = await store.inbound.pending()
    assert [m.seq for m in pending] == [seqs[4]]
    assert stats.rollbacks == 1 and stats.jobs_failed == 1
    assert stats.jobs_committed == 1 + 9  # the inbound.record and nine steps


async def test_close_commits_every_queued_write(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path) as store:
        tasks = [
            asyncio.create_task(store.inbound.record([inbound(n)], at=T0, hotel_of=HOTELS))
            for n in range(20)
        ]
        await asyncio.sleep(0)  # the tasks queue their jobs; the context exits right away
    results = await asyncio.gather(*tasks)
    assert all(r[0] is not None for r in results)
    async with open_store(path) as store:
        assert len(await store.inbound.pending()) == 20


async def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    async with open_store(tmp_path / "hotel.db") as store:
        pass
    with pytest.raises(StoreError, match="closed"):
        await store.statuses.record([status(1)])
    with pytest.raises(StoreError):
        await store.outbox.pending()


async def test_cancelled_caller_does_not_stop_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path) as store:
        task = asyncio.create_task(store.statuses.record([status(1)]))
        await asyncio.sleep(0)  # queued
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.statuses.record([status(2)])
        assert store.statistics().pending == 0
    assert count(path, "delivery_statuses") == 2  # the cancelled caller's job still committed


async def test_a_dead_writer_fails_callers_instead_of_hanging(tmp_path: Path) -> None:
    async with open_store(tmp_path / "hotel.db") as store:
        writer_task = store._writer._task
        assert writer_task is not None
        writer_task.cancel()
        await asyncio.sleep(0)
        with pytest.raises(StoreError, match="closed"):
            await store.statuses.record([status(1)])
        assert await store.outbox.pending() == []  # reads still work


async def test_admitted_work_is_never_refused_past_the_bound(tmp_path: Path) -> None:
    async with open_store(tmp_path / "hotel.db", max_pending=1) as store:
        recorded = await store.inbound.record(
            [inbound(n) for n in range(20)], at=T0, hotel_of=HOTELS
        )
        commits = [step(f"g{n}", m.seq) for n, m in enumerate(recorded) if m is not None]
        outcomes = await asyncio.gather(*(store.conversations.commit_step(c) for c in commits))
        assert outcomes == [()] * 20  # steps of acknowledged messages always commit
        assert await store.inbound.pending() == []


async def test_a_lazy_write_rides_with_the_next_batch_or_commits_alone_soon(
    tmp_path: Path,
) -> None:
    # Issue 13: a `sent` mark is bookkeeping a status webhook can restore; it waits for the
    # next batch instead of paying a COMMIT (an fsync) of its own.
    async with open_store(tmp_path / "hotel.db") as store:
        [recorded] = await store.inbound.record([inbound(1)], at=T0, hotel_of=HOTELS)
        assert recorded is not None
        [row] = await store.conversations.commit_step(replace(step("g1", None), outbound=(
            OutboundMessage(phone_number_id="pn1", guest_id="g1", body={"type": "text"}),)))
        batches = store.statistics().batches_committed
        marked = asyncio.create_task(store.outbox.mark_sent_many([(row.id, "wamid.x", T0)]))
        await asyncio.sleep(0)
        assert not marked.done()  # waiting for a batch to ride with
        await store.conversations.commit_step(step("g2", recorded.seq))
        await asyncio.wait_for(marked, 1.0)
        assert store.statistics().batches_committed == batches + 1  # one COMMIT for both
        found = await store.outbox.get(row.id)
        assert found is not None and found.wamid == "wamid.x"
        # alone: within the lazy delay (10 ms), without any other write
        [other] = await store.conversations.commit_step(replace(step("g3", None), outbound=(
            OutboundMessage(phone_number_id="pn1", guest_id="g3", body={"type": "text"}),)))
        await asyncio.wait_for(store.outbox.mark_sent_many([(other.id, "wamid.y", T0)]), 2.0)
        found = await store.outbox.get(other.id)
        assert found is not None and found.wamid == "wamid.y"


async def test_close_commits_lazy_writes(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path) as store:
        [row] = await store.conversations.commit_step(replace(step("g1", None), outbound=(
            OutboundMessage(phone_number_id="pn1", guest_id="g1", body={"type": "text"}),)))
        marked = asyncio.create_task(store.outbox.mark_sent_many([(row.id, "wamid.x", T0)]))
        await asyncio.sleep(0)
    await marked
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT wamid FROM outbound WHERE id = ?", (row.id,)).fetchone() \
            == ("wamid.x",)
    finally:
        conn.close()
