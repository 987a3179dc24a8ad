"""The outbound pacer on a real SQLite outbox and a fake clock (issue 9).

Sends go to a scripted transport that records the fake monotonic time of every POST and can
answer errors per recipient; time moves only when a test jumps the clock.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from hotelbot.errors import GraphAPIError, RateLimited, StoreError
from hotelbot.flows import Context
from hotelbot.outbound import PacingPolicy
from hotelbot.outbound.pacer import Pacer, PacerSettings, open_pacer
from hotelbot.store import (
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    OutboundState,
    Priority,
    StepCommit,
    Store,
    open_store,
)
from tests.fakes.clock import FakeClock
from tests.unit.test_pacing import max_in_any_second

NUMBER = "100000000000001"
TEMPLATE = {"name": "checkout_reminder", "language": {"code": "en"}, "components": []}


@dataclass
class Sent:
    at: float
    guest: str
    body: Mapping[str, object]


@dataclass
class ScriptedTransport:
    clock: FakeClock
    sent: list[Sent] = field(default_factory=list)
    errors: dict[str, list[GraphAPIError]] = field(default_factory=dict)  # guest -> next answers

    read: list[tuple[float, str]] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # guests whose sends fail inside hotelbot

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        if guest_id in self.broken:
            raise ValueError("guest id must be a non-empty id without surrounding spaces")
        queued = self.errors.get(guest_id)
        if queued:
            raise queued.pop(0)
        self.sent.append(Sent(self.clock.monotonic(), guest_id, body))
        return f"wamid.P{len(self.sent)}"

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        self.read.append((self.clock.monotonic(), wamid))

    def to(self, guest: str) -> list[Sent]:
        return [s for s in self.sent if s.guest == guest]


@dataclass
class Rig:
    store: Store
    clock: FakeClock
    transport: ScriptedTransport
    pacer: Pacer

    async def commit(self, guest: str, *texts: str, priority: Priority = Priority.REPLY,
                     template: Mapping[str, object] | None = None) -> tuple[OutboundMessage, ...]:
        context = Context(hotel_id="demo_hotel", guest_id=guest, phone_number_id=NUMBER,
                          department="front_desk", language="en")
        rows = tuple(OutboundMessage(phone_number_id=NUMBER, guest_id=guest, priority=priority,
                                     body={"type": "text", "text": {"body": t}},
                                     template=template) for t in texts)
        stored = await self.store.conversations.commit_step(StepCommit(
            phone_number_id=NUMBER, guest_id=guest, hotel_id="demo_hotel",
            context=context.to_dict(), guest_data={}, language="en", inbound_seq=None,
            outbound=rows, at=self.clock.now(), guest_changed=False,
        ))
        return stored

    async def wrote(self, guest: str, hours_ago: float = 0.0) -> None:
        """The guest wrote to NUMBER `hours_ago` hours ago (opens the 24-hour window)."""
        at = self.clock.now() - timedelta(hours=hours_ago)
        message = InboundMessage(wamid=f"wamid.in.{guest}.{hours_ago}", phone_number_id=NUMBER,
                                 guest_id=guest, kind="text", payload={"type": "text"}, sent_at=at)
        await self.store.inbound.record_webhook([message], [], [], at=self.clock.now(),
                                                hotel_of={NUMBER: "demo_hotel"})

    async def run_for(self, seconds: float, step: float = 0.05) -> None:
        """Let the pacer work while the clock moves `seconds` in steps."""
        for _ in range(round(seconds / step)):
            await self.settle()
            self.clock.jump(step)
        await self.settle()

    async def settle(self) -> None:
        await asyncio.wait_for(self.pacer.wait_idle(), timeout=10)

    async def state(self, row: OutboundMessage) -> OutboundState:
        found = await self.store.outbox.get(row.id)
        assert found is not None
        return found.state


@asynccontextmanager
async def open_rig(
    path: Path, clock: FakeClock, *, policy: PacingPolicy | None = None,
    settings: PacerSettings | None = None, before: Callable[[Store], Awaitable[None]] | None = None,
) -> AsyncIterator[Rig]:
    """A store at `path`, then (after `before` ran on it) the pacer on that store."""
    transport = ScriptedTransport(clock)
    async with open_store(path) as store:
        if before is not None:
            await before(store)
        async with open_pacer(
            transport, store.outbox, store.windows, clock,
            policy_of=lambda number: policy or PacingPolicy(),
            settings=settings or PacerSettings(recovery_every=5.0),
        ) as pacer:
            yield Rig(store, clock, transport, pacer)


async def test_a_number_never_sends_above_its_rate_in_any_second(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock, policy=PacingPolicy(per_second=20)) as rig:
        for n in range(100):
            guest = f"3460{n:07d}"
            await rig.wrote(guest)
            rig.pacer.submit(await rig.commit(guest, "hi"))
        await rig.run_for(7.0, step=0.01)
        times = [s.at for s in rig.transport.sent]
        assert len(times) == 100
        assert 15 <= max_in_any_second(sorted(times)) <= 20  # spread: 90 % + a small burst


async def test_one_recipient_gets_a_short_burst_then_one_message_per_interval(
    tmp_path: Path, clock: FakeClock
) -> None:
    policy = PacingPolicy(pair_burst=2, pair_interval=6.0)
    async with open_rig(tmp_path / "p.db", clock, policy=policy) as rig:
        guest = "34600000001"
        await rig.wrote(guest)
        rig.pacer.submit(await rig.commit(guest, "a", "b", "c", "d"))
        await rig.run_for(20.0, step=0.5)
        sent = rig.transport.to(guest)
        assert [s.body["text"] for s in sent] == [{"body": t} for t in "abcd"]  # in order
        gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
        assert gaps[0] < 0.5 and all(g >= 6.0 - 1e-6 for g in gaps[1:])


async def test_a_reply_overtakes_a_running_broadcast(tmp_path: Path, clock: FakeClock) -> None:
    policy = PacingPolicy(per_second=10)
    async with open_rig(tmp_path / "p.db", clock, policy=policy) as rig:
        for n in range(60):
            guest = f"3461{n:07d}"
            await rig.wrote(guest)
            rig.pacer.submit(await rig.commit(guest, "promo", priority=Priority.MARKETING))
        await rig.run_for(1.0)
        before = len(rig.transport.sent)
        assert 0 < before < 60
        await rig.wrote("34600000099")
        rig.pacer.submit(await rig.commit("34600000099", "your order"))
        await rig.run_for(1.0)
        order = [s.guest for s in rig.transport.sent]
        assert order.index("34600000099") <= before + 1  # next in line, not after the promos
        assert rig.pacer.statistics().buffered <= PacerSettings().batch


async def test_pair_limit_backs_off_four_to_the_x_and_keeps_the_guests_order(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock) as rig:
        guest, other = "34600000001", "34600000002"
        await rig.wrote(guest)
        await rig.wrote(other)
        limit = RateLimited(400, 131056, 1.0, "pair rate limit hit")
        rig.transport.errors[guest] = [limit, limit]
        rig.pacer.submit(await rig.commit(guest, "first", "second"))
        rig.pacer.submit(await rig.commit(other, "unaffected"))
        await rig.run_for(0.5)
        assert [s.guest for s in rig.transport.sent] == [other]
        await rig.run_for(6.0, step=0.25)  # 1 s then 4 s (+ up to 10 % jitter)
        assert [s.body["text"] for s in rig.transport.to(guest)] == [
            {"body": "first"}, {"body": "second"}]
        assert rig.pacer.statistics().retried == 2


async def test_a_permanent_error_fails_the_row_and_the_next_goes_on(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock) as rig:
        guest = "34600000003"
        await rig.wrote(guest)
        rig.transport.errors[guest] = [GraphAPIError(400, 131026, False, "not on WhatsApp",
                                                     title="Message undeliverable")]
        rows = await rig.commit(guest, "lost", "next")
        rig.pacer.submit(rows)
        await rig.run_for(1.0)
        found = await rig.store.outbox.get(rows[0].id)
        assert found is not None and found.state is OutboundState.FAILED
        assert (found.error_code, found.error_title) == (131026, "Message undeliverable")
        assert [s.body["text"] for s in rig.transport.to(guest)] == [{"body": "next"}]


async def test_retryable_errors_give_up_after_the_attempts(
    tmp_path: Path, clock: FakeClock
) -> None:
    policy = PacingPolicy(max_attempts=3, base_backoff=1.0, max_backoff=4.0)
    async with open_rig(tmp_path / "p.db", clock, policy=policy) as rig:
        guest = "34600000004"
        await rig.wrote(guest)
        rig.transport.errors[guest] = [GraphAPIError(500, 131000, True, "x") for _ in range(5)]
        rows = await rig.commit(guest, "doomed")
        rig.pacer.submit(rows)
        await rig.run_for(12.0, step=0.5)
        found = await rig.store.outbox.get(rows[0].id)
        assert found is not None and found.state is OutboundState.FAILED
        assert found.message.attempts == 2 and rig.transport.sent == []


async def test_outside_the_window_a_row_goes_as_its_template_or_is_skipped(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock) as rig:
        away, fresh, never = "34600000005", "34600000006", "34600000007"
        await rig.wrote(away, hours_ago=25)
        await rig.wrote(fresh, hours_ago=1)
        skipped = await rig.commit(away, "free text")
        templated = await rig.commit(away, "reminder", priority=Priority.SERVICE,
                                     template=TEMPLATE)
        inside = await rig.commit(fresh, "reminder", priority=Priority.SERVICE, template=TEMPLATE)
        nobody = await rig.commit(never, "hello")
        rig.pacer.submit([*skipped, *templated, *inside, *nobody])
        await rig.run_for(1.0)
        assert await rig.state(skipped[0]) is OutboundState.SKIPPED
        assert await rig.state(nobody[0]) is OutboundState.SKIPPED
        [as_template] = rig.transport.to(away)
        assert as_template.body["type"] == "template" and as_template.body["template"] == TEMPLATE
        [free] = rig.transport.to(fresh)
        assert free.body["type"] == "text"  # inside the window: as written
        assert all(s.body["biz_opaque_callback_data"] == f"outbox:{r.id}"
                   for s, r in ((as_template, templated[0]), (free, inside[0])))


async def test_meta_saying_the_window_closed_sends_the_template_or_skips(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock) as rig:
        guest, plain = "34600000008", "34600000009"
        await rig.wrote(guest)
        await rig.wrote(plain)
        closed = GraphAPIError(400, 131047, False, "re-engagement message")
        rig.transport.errors[guest] = [closed]
        rig.transport.errors[plain] = [closed]
        templated = await rig.commit(guest, "reminder", template=TEMPLATE)
        bare = await rig.commit(plain, "reply")
        rig.pacer.submit([*templated, *bare])
        await rig.run_for(1.0)
        [sent] = rig.transport.to(guest)
        assert sent.body["type"] == "template"
        assert await rig.state(bare[0]) is OutboundState.SKIPPED


async def test_a_row_caught_sending_by_a_crash_waits_for_its_status_not_a_second_send(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "p.db"
    caught: list[OutboundMessage] = []

    async def crashed_mid_send(store: Store) -> None:
        rig_rows = await _commit_raw(store, clock, ["34600000010", "34600000011"])
        await store.outbox.mark_sending([r.id for r in rig_rows], clock.now())
        caught.extend(rig_rows)

    async with open_rig(db, clock, before=crashed_mid_send,
                        settings=PacerSettings(sending_grace=120.0, recovery_every=5.0)) as rig:
        confirmed, unconfirmed = caught
        status = DeliveryStatus(wamid="wamid.META1", status="sent", at=clock.now(),
                                recipient_id=confirmed.guest_id,
                                callback=f"outbox:{confirmed.id}")
        await rig.store.inbound.record_webhook([], [status], [], at=clock.now(), hotel_of={})
        await rig.run_for(60.0, step=5.0)
        assert rig.transport.sent == []  # nothing sent twice within the grace
        assert await rig.state(confirmed) is OutboundState.SENT
        await rig.run_for(70.0, step=5.0)
        assert [s.guest for s in rig.transport.sent] == [unconfirmed.guest_id]
        assert await rig.state(confirmed) is OutboundState.SENT


async def _commit_raw(store: Store, clock: FakeClock, guests: list[str]) -> list[OutboundMessage]:
    rows: list[OutboundMessage] = []
    for guest in guests:
        context = Context(hotel_id="demo_hotel", guest_id=guest, phone_number_id=NUMBER,
                          department="front_desk", language="en")
        rows += await store.conversations.commit_step(StepCommit(
            phone_number_id=NUMBER, guest_id=guest, hotel_id="demo_hotel",
            context=context.to_dict(), guest_data={}, language="en", inbound_seq=None,
            outbound=(OutboundMessage(phone_number_id=NUMBER, guest_id=guest,
                                      body={"type": "text", "text": {"body": "hi"}}),),
            at=clock.now(), guest_changed=False,
        ))
        message = InboundMessage(wamid=f"wamid.in.{guest}", phone_number_id=NUMBER,
                                 guest_id=guest, kind="text", payload={"type": "text"},
                                 sent_at=clock.now())
        await store.inbound.record_webhook([message], [], [], at=clock.now(),
                                           hotel_of={NUMBER: "demo_hotel"})
    return rows


async def test_a_broadcast_is_pulled_a_batch_at_a_time(tmp_path: Path, clock: FakeClock) -> None:
    settings = PacerSettings(batch=50, recovery_every=5.0)
    async with open_rig(tmp_path / "p.db", clock, policy=PacingPolicy(per_second=100),
                        settings=settings) as rig:
        for n in range(400):
            guest = f"3462{n:07d}"
            await rig.wrote(guest)
            rig.pacer.submit(await rig.commit(guest, "promo", priority=Priority.MARKETING))
        peak = 0
        for _ in range(100):
            await rig.settle()
            peak = max(peak, rig.pacer.statistics().buffered)
            clock.jump(0.1)
        await rig.settle()
        assert len(rig.transport.sent) == 400 and peak <= 50


async def test_a_row_failing_inside_hotelbot_is_failed_with_its_reason_and_the_guest_goes_on(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock) as rig:
        broken, fine = "34600000020", "34600000021"
        await rig.wrote(broken)
        await rig.wrote(fine)
        rig.transport.broken.add(broken)
        rows = await rig.commit(broken, "one", "two")
        rig.pacer.submit([*rows, *await rig.commit(fine, "hello")])
        await rig.run_for(1.0)
        for row in rows:
            found = await rig.store.outbox.get(row.id)
            assert found is not None and found.state is OutboundState.FAILED
            assert found.error_code == -1 and "ValueError" in (found.error_detail or "")
        assert [s.guest for s in rig.transport.sent] == [fine]
        assert rig.pacer.statistics().in_flight == 0


async def test_read_receipts_go_before_the_replies_within_the_number_rate(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock, policy=PacingPolicy(per_second=2)) as rig:
        guest = "34600000022"
        await rig.wrote(guest)
        rig.pacer.mark_read(NUMBER, "wamid.in.1")
        rig.pacer.submit(await rig.commit(guest, "reply"))
        rig.pacer.mark_read(NUMBER, "wamid.in.2")
        await rig.run_for(2.0, step=0.1)
        assert [w for _, w in rig.transport.read] == ["wamid.in.1", "wamid.in.2"]
        [reply] = rig.transport.sent
        assert rig.transport.read[0][0] <= reply.at
        times = sorted([t for t, _ in rig.transport.read] + [reply.at])
        assert max_in_any_second(times) <= 2  # receipts count against the number's rate
        assert rig.pacer.statistics().marked_read == 2


async def test_closing_leaves_unsent_rows_in_the_outbox_for_the_next_start(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = tmp_path / "p.db"
    policy = PacingPolicy(pair_burst=1)
    async with open_rig(db, clock, policy=policy) as rig:
        guest = "34600000023"
        await rig.wrote(guest)
        rows = await rig.commit(guest, "now", "later")
        rig.pacer.submit(rows)
        await rig.run_for(1.0)  # the second waits 6 s for the pair rate: closed before
        assert await rig.state(rows[1]) is OutboundState.PENDING
    async with open_rig(db, clock, policy=policy) as again:
        await again.run_for(7.0, step=0.5)
        assert [s.body["text"] for s in again.transport.sent] == [{"body": "later"}]


async def test_a_131047_failed_status_resends_the_row_as_its_template_or_skips_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_rig(tmp_path / "p.db", clock) as rig:
        guest, plain = "34600000030", "34600000031"
        await rig.wrote(guest)
        await rig.wrote(plain)
        templated = await rig.commit(guest, "reminder", template=TEMPLATE)
        bare = await rig.commit(plain, "reply")
        rig.pacer.submit([*templated, *bare])
        await rig.run_for(0.5)
        assert len(rig.transport.sent) == 2  # accepted by Meta: the failure comes later
        failures = [DeliveryStatus(wamid=f"wamid.F{r.id}", status="failed", at=clock.now(),
                                   recipient_id=r.guest_id, error_code=131047,
                                   callback=f"outbox:{r.id}") for r in (*templated, *bare)]
        recorded = await rig.store.inbound.record_webhook([], failures, [], at=clock.now(),
                                                          hotel_of={})
        assert sorted(recorded.failed_rows) == sorted((r.id, 131047) for r in (*templated, *bare))
        await rig.pacer.reengage(recorded.failed_rows)
        await rig.run_for(0.5)
        again = rig.transport.to(guest)
        assert [s.body["type"] for s in again] == ["text", "template"]
        assert again[1].body["template"] == TEMPLATE
        assert await rig.state(bare[0]) is OutboundState.SKIPPED
        assert len(rig.transport.to(plain)) == 1  # never sent twice as free text


# --- rows handed over by submit (issue 13) ------------------------------------------------------


@dataclass
class CountedOutbox:
    """The store's outbox, counting the pacer's pulls from it (everything else passes through)."""

    outbox: Any
    pulls: int = 0

    async def pull(self, *args: Any, **kwargs: Any) -> Any:
        self.pulls += 1
        return await self.outbox.pull(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.outbox, name)


@asynccontextmanager
async def open_counted(path: Path, clock: FakeClock, *, settings: PacerSettings,
                       policy: PacingPolicy | None = None) -> AsyncIterator[
                           tuple[Rig, CountedOutbox]]:
    transport = ScriptedTransport(clock)
    async with open_store(path) as store:
        counted = CountedOutbox(store.outbox)
        async with open_pacer(transport, counted, store.windows, clock,
                              policy_of=lambda number: policy or PacingPolicy(),
                              settings=settings) as pacer:
            yield Rig(store, clock, transport, pacer), counted


async def test_committed_rows_go_from_submit_to_the_lane_without_a_read_of_the_store(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with open_counted(tmp_path / "p.db", clock,
                            settings=PacerSettings(recovery_every=5.0)) as (rig, counted):
        guests = [f"3463{n:07d}" for n in range(30)]
        for guest in guests:
            await rig.wrote(guest)
            rig.pacer.submit(await rig.commit(guest, f"reply to {guest}"))
            await rig.run_for(0.1)
        assert [s.guest for s in rig.transport.sent] == guests
        assert counted.pulls == 0  # every row fitted: nothing was read back
        for sent in rig.transport.sent:
            callback = sent.body["biz_opaque_callback_data"]
            assert isinstance(callback, str)
            found = await rig.store.outbox.get(int(callback.removeprefix("outbox:")))
            assert found is not None and found.state is OutboundState.SENT


async def test_rows_that_do_not_fit_stay_pending_and_a_later_pull_sends_each_once_in_order(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = PacerSettings(batch=4, recovery_every=5.0)
    policy = PacingPolicy(per_second=5, pair_burst=1, pair_interval=1.0)
    async with open_counted(tmp_path / "p.db", clock, settings=settings,
                            policy=policy) as (rig, counted):
        chatty = "34640000000"
        await rig.wrote(chatty)
        rows = list(await rig.commit(chatty, "one", "two", "three"))  # 2 and 3 wait behind 1
        for n in range(1, 9):  # 8 guests for a buffer of 4: half of them wait in the store
            guest = f"3464{n:07d}"
            await rig.wrote(guest)
            rows += await rig.commit(guest, "promo", priority=Priority.MARKETING)
        rig.pacer.submit(rows)
        assert rig.pacer.statistics().buffered <= settings.batch
        for row in rows[1:3]:  # not handed over: still pending in the store
            assert await rig.state(row) is OutboundState.PENDING
        peak = 0
        for _ in range(80):
            await rig.settle()
            peak = max(peak, rig.pacer.statistics().buffered)
            clock.jump(0.1)
        await rig.settle()
        assert peak <= settings.batch and counted.pulls > 0
        bodies = [s.body["biz_opaque_callback_data"] for s in rig.transport.sent]
        assert sorted(bodies) == sorted(f"outbox:{r.id}" for r in rows)  # all, each once
        assert [s.body["text"] for s in rig.transport.to(chatty)] == [
            {"body": "one"}, {"body": "two"}, {"body": "three"}]
        for row in rows:
            assert await rig.state(row) is OutboundState.SENT


async def test_a_row_pulled_before_it_was_handed_over_is_never_sent_twice(
    tmp_path: Path, clock: FakeClock
) -> None:
    committed: list[OutboundMessage] = []

    async def before(store: Store) -> None:  # committed, the process stopped before submit
        committed.extend(await _commit_raw(store, clock, ["34650000001", "34650000002"]))

    async with open_rig(tmp_path / "p.db", clock, before=before) as rig:
        rig.pacer.submit(committed)  # the start's pull may have them already: buffered once
        await rig.run_for(0.5)
        rig.pacer.submit(committed)  # late, after they went
        rig.pacer.submit(committed)
        await rig.run_for(0.5)
        assert sorted(s.guest for s in rig.transport.sent) == ["34650000001", "34650000002"]
        assert rig.pacer.statistics().sent == 2
        for row in committed:
            assert await rig.state(row) is OutboundState.SENT


async def test_a_reply_handed_over_to_a_full_buffer_takes_a_broadcast_rows_place(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = PacerSettings(batch=5, recovery_every=5.0)
    policy = PacingPolicy(per_second=1)
    async with open_counted(tmp_path / "p.db", clock, settings=settings,
                            policy=policy) as (rig, _):
        promos: list[OutboundMessage] = []
        for n in range(5):
            guest = f"3466{n:07d}"
            await rig.wrote(guest)
            promos += await rig.commit(guest, "promo", priority=Priority.MARKETING)
        rig.pacer.submit(promos)
        await rig.settle()
        await rig.wrote("34660000099")
        reply = await rig.commit("34660000099", "your order")
        rig.pacer.submit(reply)
        assert rig.pacer.statistics().buffered <= settings.batch
        await rig.run_for(8.0, step=0.25)
        order = [s.guest for s in rig.transport.sent]
        assert order.index("34660000099") <= 1  # next in line, not behind the promos
        assert sorted(order) == sorted([*(r.guest_id for r in promos), "34660000099"])


@dataclass
class FailingOnce(CountedOutbox):
    """The outbox whose first `mark_sending` fails, after `during` ran (while it was awaited)."""

    during: Callable[[], None] = lambda: None
    failed: bool = False

    async def mark_sending(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            self.during()
            raise StoreError("store write failed: disk I/O error")
        return await self.outbox.mark_sending(*args, **kwargs)


async def test_a_row_handed_over_while_its_guests_earlier_row_is_being_marked_waits_behind_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    transport = ScriptedTransport(clock)
    async with open_store(tmp_path / "p.db") as store:
        outbox = FailingOnce(store.outbox)
        async with open_pacer(transport, outbox, store.windows, clock,
                              settings=PacerSettings(recovery_every=5.0)) as pacer:
            rig = Rig(store, clock, transport, pacer)
            guest = "34670000001"
            await rig.wrote(guest)
            first, second = await rig.commit(guest, "first", "second")
            outbox.during = lambda: pacer.submit([second])  # its commit returned meanwhile
            pacer.submit([first])
            await rig.run_for(3.0)  # the failed round is looked at again after idle_poll
            assert outbox.failed
            assert [s.body["text"] for s in transport.to(guest)] == [
                {"body": "first"}, {"body": "second"}]
            assert await rig.state(first) is OutboundState.SENT
            assert await rig.state(second) is OutboundState.SENT


@dataclass
class HookedPull(CountedOutbox):
    """The outbox whose next pull runs `during` first (as if it happened while it read)."""

    during: Callable[[], None] | None = None

    async def pull(self, *args: Any, **kwargs: Any) -> Any:
        during, self.during = self.during, None
        if during is not None:
            during()
        return await super().pull(*args, **kwargs)


async def test_a_row_handed_over_while_the_start_pulls_waits_behind_the_guests_older_rows(
    tmp_path: Path, clock: FakeClock
) -> None:
    guest = "34680000001"
    older: list[OutboundMessage] = []

    async def before(store: Store) -> None:  # left pending by the previous run
        older.extend(await _commit_raw(store, clock, [guest]))

    transport = ScriptedTransport(clock)
    async with open_store(tmp_path / "p.db") as store:
        await before(store)
        outbox = HookedPull(store.outbox)
        context = Context(hotel_id="demo_hotel", guest_id=guest, phone_number_id=NUMBER,
                          department="front_desk", language="en")
        newer = await store.conversations.commit_step(StepCommit(
            phone_number_id=NUMBER, guest_id=guest, hotel_id="demo_hotel",
            context=context.to_dict(), guest_data={}, language="en", inbound_seq=None,
            outbound=(OutboundMessage(phone_number_id=NUMBER, guest_id=guest,
                                      body={"type": "text", "text": {"body": "newer"}}),),
            at=clock.now(), guest_changed=False,
        ))
        pacer_box: list[Pacer] = []
        outbox.during = lambda: pacer_box[0].submit(newer)  # its submit came during the read
        async with open_pacer(transport, outbox, store.windows, clock,
                              settings=PacerSettings(recovery_every=5.0)) as pacer:
            pacer_box.append(pacer)
            rig = Rig(store, clock, transport, pacer)
            await rig.run_for(1.0)
            assert outbox.during is None and outbox.pulls >= 1
            assert [s.body["text"] for s in transport.to(guest)] == [
                {"body": "hi"}, {"body": "newer"}]  # the older row first
