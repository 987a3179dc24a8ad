"""The inbox: a message recorded with its step in one transaction, duplicates, the fallback
(issue 13: one durable write per guest message instead of two)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hotelbot.actors import InboxSettings
from hotelbot.store import (
    InboundParams,
    InboundState,
    OutboundState,
    RecordedStep,
    StepCommit,
    Store,
)
from tests.actors.harness import expected_replies, inbound, open_harness
from tests.fakes.clock import FakeClock
from tests.numbers import FRONT_DESK

GUEST = "34600000001"


async def test_a_message_is_recorded_done_with_its_step_before_accept_returns(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        jobs = h.store.statistics().jobs_committed
        recorded = await h.say(FRONT_DESK, GUEST, "hi")
        [message] = recorded.fresh
        row = await h.store.inbound.get(message.seq)
        assert row is not None and row.state is InboundState.DONE  # handled, not `received`
        assert h.store.statistics().jobs_committed - jobs == 1  # record and step: one write
        assert [r.message.guest_id for r in await h.store.outbox.recent()] == [GUEST]
        await h.settle()
        assert h.transport.texts_to(GUEST) == expected_replies(h.hotels, FRONT_DESK, GUEST,
                                                               ["hi"], clock)


async def test_recorded_first_when_the_inbox_is_told_to(tmp_path: Path, clock: FakeClock) -> None:
    settings = InboxSettings(sweep_every=1e9, record_with_step=False)
    async with open_harness(tmp_path / "hb.sqlite3", clock, inbox_settings=settings) as h:
        [message] = (await h.say(FRONT_DESK, GUEST, "hi")).fresh
        await h.settle()
        row = await h.store.inbound.get(message.seq)
        assert row is not None and row.state is InboundState.DONE
        assert len(h.transport.texts_to(GUEST)) == 1


async def test_a_redelivered_message_is_answered_once(tmp_path: Path, clock: FakeClock) -> None:
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        message = inbound(FRONT_DESK, GUEST, "hi", clock)
        first = await h.inbox.accept([message])
        again = await h.inbox.accept([message])  # Meta's retry after a lost 200
        both = await asyncio.gather(h.inbox.accept([message]), h.inbox.accept([message]))
        await h.settle()
        assert (len(first.fresh), first.duplicates) == (1, 0)
        assert (len(again.fresh), again.duplicates) == (0, 1)
        assert [(len(r.fresh), r.duplicates) for r in both] == [(0, 1), (0, 1)]
        assert len(h.transport.texts_to(GUEST)) == 1
        assert h.inbox.statistics().duplicates == 3
        await h.say(FRONT_DESK, GUEST, "menu")  # no reservation of the duplicates was kept
        await h.settle()
        assert len(h.transport.texts_to(GUEST)) == 2


async def test_a_reply_is_committed_sending_and_posted_without_a_write_of_its_own(
    tmp_path: Path, clock: FakeClock
) -> None:
    # The step's transaction writes the reply already `sending` (the pacer reserved its
    # POST): one write for message, step and reply; the `sent` mark comes after the POST.
    async with open_harness(tmp_path / "hb.sqlite3", clock) as h:
        jobs = h.store.statistics().jobs_committed
        await h.say(FRONT_DESK, GUEST, "hi")
        [row] = await h.store.outbox.recent()
        assert row.state in (OutboundState.SENDING, OutboundState.SENT)
        await h.settle()
        assert h.store.statistics().jobs_committed - jobs == 2  # the step, then the mark
        found = await h.store.outbox.get(row.message.id)
        assert found is not None and found.state is OutboundState.SENT and found.wamid
        # A guest whose reply is still in flight is not reserved again: the next reply waits
        # its turn in the usual way, in order.
        await asyncio.gather(h.say(FRONT_DESK, GUEST, "menu"), h.say(FRONT_DESK, GUEST, "0"))
        await h.settle()
        assert h.transport.texts_to(GUEST) == expected_replies(
            h.hotels, FRONT_DESK, GUEST, ["hi", "menu", "0"], clock)


class _HeldConversations:
    """The real conversations repository; commit_recorded_step waits until released."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.release = asyncio.Event()
        self.reached = asyncio.Event()
        self.held = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def commit_recorded_step(self, commit: StepCommit,
                                   record: InboundParams) -> RecordedStep:
        self.held += 1
        self.reached.set()
        await self.release.wait()
        result: RecordedStep = await self._real.commit_recorded_step(commit, record)
        return result


class _HeldStore:
    def __init__(self, store: Store) -> None:
        self._store = store
        self.conversations = _HeldConversations(store.conversations)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_record_not_committed_in_time_is_recorded_first_and_answered_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    # A conversation that does not commit within record_wait (hung on its write): the webhook
    # records the message the usual way and answers; when the held write goes on, the wamid
    # is recorded already, so it writes nothing, and the message is handled exactly once.
    held: list[_HeldStore] = []

    def wrap(store: Store) -> Any:
        held.append(_HeldStore(store))
        return held[0]

    settings = InboxSettings(sweep_every=1e9, record_wait=2.0)
    async with open_harness(tmp_path / "hb.sqlite3", clock, wrap_store=wrap,
                            inbox_settings=settings) as h:
        conversations = held[0].conversations
        try:
            accepting = asyncio.create_task(h.say(FRONT_DESK, GUEST, "hi"))
            async with asyncio.timeout(30):  # (real seconds: bounds, never a hang)
                await conversations.reached.wait()  # the step reached its write, which waits
                assert not accepting.done() and conversations.held == 1
                while not accepting.done():  # the watchdog looks every record_wait / 4
                    clock.jump(0.5)
                    await asyncio.sleep(0.01)
            [message] = (await accepting).fresh
            row = await h.store.inbound.get(message.seq)
            assert row is not None and row.state is InboundState.RECEIVED  # recorded, durable
        finally:
            conversations.release.set()  # (else the harness's drain would wait for it)
        await h.settle()
        row = await h.store.inbound.get(message.seq)
        assert row is not None and row.state is InboundState.DONE
        assert len(h.transport.texts_to(GUEST)) == 1
        assert await h.store.inbound.pending() == []
