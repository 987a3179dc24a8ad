"""The direct sender: committed outbox rows -> the fake Graph API over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from hotelbot.devtools.fake_graph import FAKE_GRAPH, FakeGraph, Injection, create_fake_graph
from hotelbot.flows import Context
from hotelbot.outbound import DirectSender
from hotelbot.store import Store, open_store
from hotelbot.store.records import OutboundMessage, OutboundState, StepCommit
from hotelbot.whatsapp.client import open_graph_client
from tests.fakes.clock import FakeClock
from tests.messages import message_text
from tests.numbers import FRONT_DESK

NUMBER = FRONT_DESK


@dataclass
class Rig:
    store: Store
    sender: DirectSender
    fake: FakeGraph
    clock: FakeClock

    async def commit(self, guest: str, *texts: str) -> tuple[OutboundMessage, ...]:
        context = Context(hotel_id="demo_hotel", guest_id=guest, phone_number_id=NUMBER,
                          department="front_desk", language="en")
        rows = tuple(
            OutboundMessage(phone_number_id=NUMBER, guest_id=guest,
                            body={"type": "text", "text": {"body": t, "preview_url": False}})
            for t in texts
        )
        return await self.store.conversations.commit_step(StepCommit(
            phone_number_id=NUMBER, guest_id=guest, hotel_id="demo_hotel",
            context=context.to_dict(), guest_data={}, language="en", inbound_seq=None,
            outbound=rows, at=self.clock.now(),
        ))

    def texts(self, guest: str) -> list[str]:
        return [message_text(s.body) for s in self.fake.sent_to(guest)]


@pytest.fixture
async def rig(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Rig]:
    app = create_fake_graph(access_token="t", statuses=())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    async with open_store(tmp_path / "hb.sqlite3") as store, \
            open_graph_client(url, "v25.0", "t", timeout=2.0) as client:
        sender = DirectSender(client, store.outbox, clock)
        yield Rig(store, sender, app[FAKE_GRAPH], clock)
        await sender.close(grace=0.5)
    await server.close()


async def test_rows_reach_the_graph_api_in_commit_order_and_are_marked_sent(rig: Rig) -> None:
    rows = await rig.commit("34600000001", "one", "two", "three")
    rig.sender.submit(rows)
    await rig.sender.wait_idle()
    assert rig.texts("34600000001") == ["one", "two", "three"]
    assert await rig.store.outbox.pending() == []
    assert rig.sender.statistics().sent == 3


async def test_pair_rate_limit_is_retried_after_meta_backoff_keeping_order(
    rig: Rig, clock: FakeClock
) -> None:
    rig.fake.inject(Injection(code=131056, status=400, remaining=2, to="34600000001"))
    rig.sender.submit(await rig.commit("34600000001", "first", "second"))
    rig.sender.submit(await rig.commit("34600000002", "other guest"))
    await clock.wait_sleeping(1)  # backing off after the first 131056
    assert rig.texts("34600000002") == ["other guest"]  # never slowed by another's limit
    assert rig.texts("34600000001") == []
    clock.jump(1.2)  # Meta: 4^0 = 1 s (+ up to 10 % jitter)
    await clock.wait_sleeping(1)
    clock.jump(4.5)  # then 4^1 = 4 s
    await rig.sender.wait_idle()
    assert rig.texts("34600000001") == ["first", "second"]
    assert rig.sender.statistics().retried == 2


async def test_permanent_error_is_recorded_with_meta_code_and_the_lane_goes_on(
    rig: Rig,
) -> None:
    rig.fake.inject(Injection(code=131026, status=400, remaining=1, to="34600000003"))
    rows = await rig.commit("34600000003", "undeliverable", "next")
    rig.sender.submit(rows)
    await rig.sender.wait_idle()
    assert rig.texts("34600000003") == ["next"]
    failed = await rig.store.outbox.get(rows[0].id)
    assert failed is not None
    assert (failed.state, failed.error_code) == (OutboundState.FAILED, 131026)
    assert rig.sender.statistics().failed == 1


async def test_retryable_errors_give_up_after_max_attempts(rig: Rig, clock: FakeClock) -> None:
    rig.fake.inject(Injection(code=131000, status=500, remaining=100, to="34600000004"))
    sender = DirectSender(rig.sender._transport, rig.store.outbox, clock, max_attempts=3)
    rows = await rig.commit("34600000004", "doomed")
    sender.submit(rows)
    for _ in range(2):
        await clock.wait_sleeping(1)
        clock.jump(600)
    await sender.wait_idle()
    failed = await rig.store.outbox.get(rows[0].id)
    assert failed is not None
    assert (failed.state, failed.error_code) == (OutboundState.FAILED, 131000)
    await sender.close()


async def test_close_leaves_unsent_rows_pending_for_the_next_start(
    rig: Rig, clock: FakeClock
) -> None:
    rig.fake.inject(Injection(code=130429, status=429, remaining=100, to="34600000005"))
    rows = await rig.commit("34600000005", "later")
    rig.sender.submit(rows)
    await clock.wait_sleeping(1)
    await asyncio.wait_for(rig.sender.close(grace=0.05), timeout=2)
    pending = await rig.store.outbox.pending()
    assert [p.id for p in pending] == [rows[0].id]


async def test_a_row_that_fails_inside_hotelbot_is_marked_failed_and_the_lane_goes_on(
    rig: Rig,
) -> None:
    guest = "919800000001 "  # a guest id the envelope refuses (surrounding space)
    bad = OutboundMessage(phone_number_id=NUMBER, guest_id=guest,
                          body={"type": "text", "text": {"body": "never", "preview_url": False}})
    second = OutboundMessage(phone_number_id=NUMBER, guest_id=guest,
                             body={"type": "text", "text": {"body": "also", "preview_url": False}})
    rows = await rig.commit("34600000006", "before")
    stored = await rig.store.conversations.commit_step(StepCommit(
        phone_number_id=NUMBER, guest_id=guest, hotel_id="demo_hotel",
        context={}, guest_data={}, language="en", inbound_seq=None,
        outbound=(bad, second), at=rig.clock.now(),
    ))
    rig.sender.submit(stored)  # both rows in one lane: the first one's fault must not wedge it
    rig.sender.submit(rows)
    await rig.sender.wait_idle()
    failed = [await rig.store.outbox.get(row.id) for row in stored]
    assert [(r.state, r.error_code) for r in failed if r] == [(OutboundState.FAILED, -1)] * 2
    assert failed[0] is not None and "guest id must be" in (failed[0].error_detail or "")
    assert rig.texts("34600000006") == ["before"]
    assert rig.sender.statistics().failed == 2
    assert rig.sender.statistics().lanes == 0
