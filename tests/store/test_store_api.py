"""The store's repositories on real SQLite files: inbound, steps, outbox, statuses, requests."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotelbot.errors import StoreError
from hotelbot.store import (
    DeliveryStatus,
    InboundMessage,
    InboundState,
    OutboundMessage,
    OutboundState,
    Priority,
    RequestRecord,
    RequestStatus,
    ScheduledMessage,
    ScheduledStatus,
    StepCommit,
    Store,
    conversations,
    open_store,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
HOTELS = {"pn1": "h1", "pn2": "h2"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "hotel.db") as opened:
        yield opened


def inbound(wamid: str, *, guest: str = "g1", number: str = "pn1", **kw: object) -> InboundMessage:
    return InboundMessage(
        wamid=wamid,
        phone_number_id=number,
        guest_id=guest,
        kind="text",
        payload={"text": {"body": "hi"}},
        sent_at=kw.pop("sent_at", T0),  # type: ignore[arg-type]
        profile_name=kw.pop("profile_name", None),  # type: ignore[arg-type]
    )


def reply(text: str, priority: Priority = Priority.REPLY) -> OutboundMessage:
    body = {"type": "text", "text": {"body": text}}
    return OutboundMessage(phone_number_id="pn1", guest_id="g1", body=body, priority=priority)


def request(kind: str = "order", hotel: str = "h1") -> RequestRecord:
    return RequestRecord(
        hotel_id=hotel,
        department="room_service",
        guest_id="g1",
        flow_id="room_service",
        kind=kind,
        data={"dish": "soup", "qty": 2},
    )


def commit(seq: int | None, **kw: object) -> StepCommit:
    fields: dict[str, object] = {
        "phone_number_id": "pn1",
        "guest_id": "g1",
        "hotel_id": "h1",
        "context": {"v": 1, "current_step": "menu", "last_activity": T0.isoformat()},
        "guest_data": {"room": "101"},
        "language": "de",
        "inbound_seq": seq,
        "at": T0,
    }
    fields.update(kw)
    return StepCommit(**fields)  # type: ignore[arg-type]


async def record_one(store: Store, wamid: str = "wamid.a") -> int:
    [message] = await store.inbound.record([inbound(wamid)], at=T0, hotel_of=HOTELS)
    assert message is not None
    return message.seq


# --- inbound ---------------------------------------------------------------------------------


async def test_same_wamid_twice_is_recorded_once(store: Store) -> None:
    first = await store.inbound.record([inbound("wamid.a")], at=T0, hotel_of=HOTELS)
    second = await store.inbound.record([inbound("wamid.a")], at=T0, hotel_of=HOTELS)
    assert first[0] is not None and first[0].seq > 0
    assert second == [None]
    both = await store.inbound.record(
        [inbound("wamid.b"), inbound("wamid.b"), inbound("wamid.a")], at=T0, hotel_of=HOTELS
    )
    assert both[0] is not None and both[1:] == [None, None]


async def test_dedupe_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path) as store:
        [kept] = await store.inbound.record([inbound("wamid.a")], at=T0, hotel_of=HOTELS)
    async with open_store(path) as store:
        assert await store.inbound.record([inbound("wamid.a")], at=T0, hotel_of=HOTELS) == [None]
        [again] = await store.inbound.pending()
    assert again == kept  # every field, payload and seq included


async def test_inbound_moves_the_guest_window_forward_only(store: Store) -> None:
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    await store.inbound.record(
        [inbound("w1", sent_at=later, profile_name="Ana")], at=later, hotel_of=HOTELS
    )
    await store.inbound.record([inbound("w2", sent_at=earlier)], at=later, hotel_of=HOTELS)
    guest = await store.guests.load("h1", "g1")
    assert guest is not None
    assert guest.last_inbound_at == later  # the older message did not move it back
    assert guest.profile_name == "Ana"  # a message without a name keeps the known one
    assert guest.data == {} and guest.language is None


async def test_a_message_handled_in_its_own_transaction_touches_guest_and_window(
    store: Store,
) -> None:
    # commit_recorded_step and park_unrecorded touch the guest without reading the row back:
    # the same write as a recorded webhook's (forward only, a name kept), and none for a
    # wamid recorded before.
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    first = store.inbound.prepare(inbound("w1", sent_at=later, profile_name="Ana"), at=later,
                                  hotel_of=HOTELS)
    done = await store.conversations.commit_recorded_step(commit(None, at=later), first)
    assert done.seq is not None
    older = store.inbound.prepare(inbound("w2", sent_at=earlier), at=later, hotel_of=HOTELS)
    seq, _ = await store.inbound.park_unrecorded(older, "failed")
    assert seq is not None
    other = store.inbound.prepare(inbound("w3", number="pn2", sent_at=earlier,
                                          profile_name="Bea"), at=later, hotel_of=HOTELS)
    again = await store.conversations.commit_recorded_step(
        commit(None, phone_number_id="pn2", hotel_id="h2", at=later), other)
    assert again.seq is not None
    guest = await store.guests.load("h1", "g1")
    assert guest is not None
    assert (guest.last_inbound_at, guest.profile_name) == (later, "Ana")
    assert guest.data == {"room": "101"}  # the step's own upsert
    assert await store.windows.last_inbound("pn1", "g1") == later
    assert await store.windows.last_inbound("pn2", "g1") == earlier
    other_hotel = await store.guests.load("h2", "g1")
    assert other_hotel is not None
    assert (other_hotel.last_inbound_at, other_hotel.profile_name) == (earlier, "Bea")
    # A redelivery of w1 with a newer time and another name writes nothing at all.
    redelivered = store.inbound.prepare(
        inbound("w1", sent_at=later + timedelta(hours=1), profile_name="Zed"),
        at=later, hotel_of=HOTELS)
    assert (await store.conversations.commit_recorded_step(
        commit(None, at=later), redelivered)).seq is None
    assert await store.guests.load("h1", "g1") == guest
    assert await store.windows.last_inbound("pn1", "g1") == later


async def test_a_webhook_returns_its_guests_as_its_transaction_left_them(store: Store) -> None:
    # The guest book is filled from these (no read before the step): they must be the stored
    # rows, data and language of an earlier step included, and only for new messages.
    await store.inbound.record([inbound("w0", sent_at=T0)], at=T0, hotel_of=HOTELS)
    await store.conversations.commit_step(StepCommit(
        phone_number_id="pn1", guest_id="g1", hotel_id="h1", context={"v": 1},
        guest_data={"room": "101"}, language="de", inbound_seq=None, at=T0,
        guest_changed=True))
    later = T0 + timedelta(hours=1)
    recorded = await store.inbound.record_webhook(
        [inbound("w1", sent_at=later, profile_name="Ana"), inbound("w2", number="pn9"),
         inbound("w0")], [], [], at=later, hotel_of=HOTELS)
    assert [m.wamid for m in recorded.fresh] == ["w1", "w2"]  # w0: a duplicate
    assert recorded.guests == (await store.guests.load("h1", "g1"),)  # pn9: no hotel
    [guest] = recorded.guests
    assert (guest.data, guest.language, guest.profile_name) == ({"room": "101"}, "de", "Ana")
    assert guest.last_inbound_at == later


async def test_inbound_to_an_unknown_number_is_recorded_without_a_guest(store: Store) -> None:
    [message] = await store.inbound.record([inbound("w1", number="pn9")], at=T0, hotel_of=HOTELS)
    assert message is not None
    assert await store.guests.load("h1", "g1") is None
    assert [m.wamid for m in await store.inbound.pending()] == ["w1"]


async def test_empty_batches_write_nothing(store: Store) -> None:
    assert await store.inbound.record([], at=T0, hotel_of=HOTELS) == []
    await store.statuses.record([])
    assert store.statistics().jobs_committed == 0


async def test_inbound_lifecycle_done_parked_attempts(store: Store) -> None:
    a, b, c = [await record_one(store, w) for w in ("wa", "wb", "wc")]
    assert [m.seq for m in await store.inbound.pending()] == [a, b, c]
    await store.inbound.mark_done(a)
    assert await store.inbound.bump_attempts(b) == 1
    assert await store.inbound.bump_attempts(b) == 2
    await store.inbound.park(b, "KeyError: 'menu'")
    assert [m.seq for m in await store.inbound.pending()] == [c]
    parked = await store.inbound.get(b)
    assert parked is not None
    assert (parked.state, parked.error, parked.attempts) == (
        InboundState.PARKED, "KeyError: 'menu'", 2
    )
    done = await store.inbound.get(a)
    assert done is not None and done.state is InboundState.DONE and done.error is None
    assert await store.inbound.get(404) is None


async def test_parking_with_an_apology_commits_both_or_neither(store: Store) -> None:
    seq = await record_one(store)
    [apology] = await store.inbound.park(seq, "boom", reply("sorry"), at=T0)
    assert apology.id > 0 and apology.body == reply("sorry").body
    assert await store.outbox.pending() == [apology]
    assert await store.inbound.pending() == []
    with pytest.raises(StoreError, match="seq 404"):
        await store.inbound.park(404, "boom", reply("sorry again"))
    assert await store.outbox.pending() == [apology]  # the second apology was rolled back
    assert await store.inbound.park(seq, "again") == ()


@pytest.mark.parametrize("call", ["mark_done", "bump_attempts", "park"])
async def test_unknown_inbound_seq_is_an_error(store: Store, call: str) -> None:
    with pytest.raises(StoreError, match="seq 42"):
        await getattr(store.inbound, call)(*((42, "error") if call == "park" else (42,)))


# --- commit_step -----------------------------------------------------------------------------


async def test_commit_step_writes_everything_together(store: Store) -> None:
    seq = await record_one(store)
    scheduled = ScheduledMessage(
        hotel_id="h1",
        phone_number_id="pn1",
        guest_id="g1",
        message_type="feedback",
        scheduled_at=T0 + timedelta(hours=2),
        data={"department": "room_service"},
    )
    step = commit(
        seq,
        outbound=(reply("one"), reply("two")),
        requests=(request(),),
        scheduled=(scheduled,),
    )
    rows = await store.conversations.commit_step(step)
    assert [r.body["text"] for r in rows] == [{"body": "one"}, {"body": "two"}]
    assert rows[0].id > 0 and rows[1].id == rows[0].id + 1
    assert await store.conversations.load("pn1", "g1") == step.context
    guest = await store.guests.load("h1", "g1")
    assert guest is not None and guest.data == {"room": "101"} and guest.language == "de"
    assert guest.last_inbound_at == T0  # set by the inbound, kept by the step
    assert await store.inbound.pending() == []
    assert await store.outbox.pending() == list(rows)
    [req] = await store.requests.recent("h1")
    assert (req.kind, req.data, req.status, req.created_at) == (
        "order",
        {"dish": "soup", "qty": 2},
        RequestStatus.NEW,
        T0,
    )
    [due] = await store.scheduled.pending()
    assert due.id > 0 and due == replace(scheduled, id=due.id)
    assert due.status is ScheduledStatus.PENDING


async def test_commit_step_replaces_the_snapshot(store: Store) -> None:
    await store.conversations.commit_step(commit(None))
    newer = {"v": 1, "current_step": "order_qty", "last_activity": T0.isoformat()}
    await store.conversations.commit_step(commit(None, context=newer, guest_data={"room": "202"}))
    assert await store.conversations.load("pn1", "g1") == newer
    guest = await store.guests.load("h1", "g1")
    assert guest is not None and guest.data == {"room": "202"}


async def test_failing_step_leaves_no_part_of_itself(store: Store) -> None:
    seq = await record_one(store)
    bad = ScheduledMessage(
        hotel_id="h1",
        phone_number_id="pn1",
        guest_id="g1",
        message_type="feedback",
        scheduled_at=T0,
        status="bogus",  # type: ignore[arg-type]  # the CHECK refuses it, after the other rows
    )
    step = commit(seq, outbound=(reply("one"),), requests=(request(),), scheduled=(bad,))
    with pytest.raises(StoreError, match="CHECK"):
        await store.conversations.commit_step(step)
    assert await store.conversations.load("pn1", "g1") is None
    assert await store.outbox.pending() == []
    assert await store.requests.recent("h1") == []
    assert [m.seq for m in await store.inbound.pending()] == [seq]  # not marked done
    guest = await store.guests.load("h1", "g1")
    assert guest is not None and guest.data == {}  # the guest upsert was rolled back too


async def test_step_for_an_unknown_inbound_is_refused_whole(store: Store) -> None:
    with pytest.raises(StoreError, match="seq 77"):
        await store.conversations.commit_step(commit(77, outbound=(reply("x"),)))
    assert await store.conversations.load("pn1", "g1") is None
    assert await store.outbox.pending() == []


async def test_naive_time_is_refused_before_writing(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"):
        await store.conversations.commit_step(commit(None, at=datetime(2025, 3, 1, 9, 0)))
    assert store.statistics().jobs_committed == 0


# --- outbox ----------------------------------------------------------------------------------


async def test_outbox_pending_order_and_state_changes(store: Store) -> None:
    rows = await store.conversations.commit_step(
        commit(
            None,
            outbound=(
                reply("promo", Priority.MARKETING),
                reply("hello"),
                reply("reminder", Priority.SERVICE),
                reply("menu"),
            ),
        )
    )
    promo, hello, reminder, menu = rows
    assert [r.id for r in await store.outbox.pending()] == [
        hello.id,
        menu.id,
        reminder.id,
        promo.id,
    ]
    await store.outbox.mark_sent(hello.id, "wamid.out1", T0)
    await store.outbox.mark_failed(promo.id, 131026, "undeliverable", T0)
    retry_at = T0 + timedelta(seconds=30)
    await store.outbox.reschedule(menu.id, retry_at, 2, 131056)
    pending = await store.outbox.pending()
    assert [r.id for r in pending] == [menu.id, reminder.id]
    assert (pending[0].attempts, pending[0].not_before) == (2, retry_at)
    sent, failed = await store.outbox.get(hello.id), await store.outbox.get(promo.id)
    assert sent is not None and failed is not None
    assert (sent.state, sent.wamid, sent.error_code, sent.sent_at) == (
        OutboundState.SENT, "wamid.out1", None, T0
    )
    assert (failed.state, failed.wamid, failed.error_code, failed.error_detail) == (
        OutboundState.FAILED, None, 131026, "undeliverable"
    )
    assert failed.message == promo and failed.failed_at == T0
    assert await store.outbox.get(404) is None
    recent = await store.outbox.recent(limit=3)
    assert [r.message.id for r in recent] == [menu.id, reminder.id, hello.id]
    assert [r.state for r in recent] == [OutboundState.PENDING] * 2 + [OutboundState.SENT]
    assert await store.outbox.recent(guest_id="nobody") == []
    assert await store.outbox.in_work() == ({"pending": 2, "sending": 0}, T0)
    assert await store.outbox.mark_sending([reminder.id], T0) == {reminder.id}
    assert await store.outbox.in_work() == ({"pending": 1, "sending": 1}, T0)
    await store.outbox.mark_sent(menu.id, "wamid.out2", T0)
    assert await store.outbox.in_work() == ({"pending": 0, "sending": 1}, None)


async def test_marking_an_unknown_outbound_row_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="outbound with id 5"):
        await store.outbox.mark_sent(5, "wamid.x", T0)


async def test_crash_recovery_reads_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path) as store:
        done = await record_one(store, "w1")
        waiting = await record_one(store, "w2")
        step = commit(done, outbound=(reply("a"), reply("b")))
        rows = await store.conversations.commit_step(step)
        await store.outbox.mark_sent(rows[0].id, "wamid.out", T0)
    async with open_store(path) as store:
        assert [m.seq for m in await store.inbound.pending()] == [waiting]
        assert await store.outbox.pending() == [rows[1]]


# --- statuses --------------------------------------------------------------------------------


def status(name: str, wamid: str = "wamid.out1", minute: int = 0) -> DeliveryStatus:
    return DeliveryStatus(
        wamid=wamid, status=name, at=T0 + timedelta(minutes=minute), recipient_id="g1"
    )


async def test_statuses_never_regress(store: Store) -> None:
    assert await store.statuses.latest("wamid.out1") is None
    await store.statuses.record([status("read", minute=2)])
    await store.statuses.record([status("delivered", minute=1), status("sent")])
    assert await store.statuses.latest("wamid.out1") == "read"
    await store.statuses.record([status("failed", "wamid.out2"), status("sent", "wamid.out2")])
    assert await store.statuses.latest("wamid.out2") == "failed"


async def test_repeated_status_keeps_the_first(store: Store) -> None:
    await store.statuses.record([status("delivered", minute=1)])
    await store.statuses.record([status("delivered", minute=9)])
    [kept] = await store.statuses.history("wamid.out1")
    assert kept == status("delivered", minute=1)


# --- requests --------------------------------------------------------------------------------


async def test_requests_listing_by_hotel_status_and_limit(store: Store) -> None:
    await store.conversations.commit_step(
        commit(None, requests=(request("a"), request("b"), request("c"), request("x", "h2")))
    )
    listed = await store.requests.recent("h1")
    assert [r.kind for r in listed] == ["c", "b", "a"]  # newest first; h2's not visible
    await store.requests.set_status(listed[1].id, RequestStatus.DONE, at=T0)
    await store.requests.set_status(listed[0].id, "acknowledged")
    assert [r.kind for r in await store.requests.recent("h1", RequestStatus.NEW)] == ["a"]
    assert [r.kind for r in await store.requests.recent("h1", "done")] == ["b"]
    assert [r.kind for r in await store.requests.recent("h1", limit=2)] == ["c", "b"]
    assert [r.kind for r in await store.requests.recent("h2")] == ["x"]


async def test_a_guest_cancels_only_their_own_request_and_only_while_it_is_new(
    store: Store
) -> None:
    await store.conversations.commit_step(
        commit(None, requests=(request("a"), request("b"), request("x", "h2"))))
    b, a = await store.requests.recent("h1")
    [x] = await store.requests.recent("h2")
    assert [r.kind for r in await store.requests.open_for_guest("h1", "g1")] == ["b", "a"]
    await store.requests.set_status(b.id, "acknowledged")
    assert not await store.requests.cancel_by_guest(b.id, "h1", "g1", at=T0)  # staff have it
    assert not await store.requests.cancel_by_guest(a.id, "h1", "g2", at=T0)  # not theirs
    assert not await store.requests.cancel_by_guest(x.id, "h1", "g1", at=T0)  # another hotel
    assert await store.requests.cancel_by_guest(a.id, "h1", "g1", at=T0)
    assert not await store.requests.cancel_by_guest(a.id, "h1", "g1", at=T0)  # once
    [cancelled] = await store.requests.recent("h1", "cancelled")
    assert cancelled.id == a.id and cancelled.data == {"dish": "soup", "qty": 2,
                                                       "cancelled_by": "guest"}
    assert [r.kind for r in await store.requests.open_for_guest("h1", "g1")] == ["b"]
    assert await store.requests.open_for_guest("h2", "g1") == [x]


async def test_bad_request_queries_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.requests.recent("h1", "lost")
    with pytest.raises(ValueError, match="limit"):
        await store.requests.recent("h1", limit=0)
    with pytest.raises(ValueError):
        await store.requests.set_status(1, "lost")
    with pytest.raises(StoreError, match="request with id 1"):
        await store.requests.set_status(1, RequestStatus.DONE)


# --- expiry ----------------------------------------------------------------------------------


async def test_expiry_deletes_only_idle_conversations(store: Store) -> None:
    def context(at: datetime) -> dict[str, object]:
        return {"v": 1, "last_activity": at.isoformat()}

    await store.conversations.commit_step(commit(None, guest_id="old", context=context(T0)))
    recent = T0 + timedelta(hours=3)
    await store.conversations.commit_step(commit(None, guest_id="new", context=context(recent)))
    nolast = commit(None, guest_id="nolast", context={"v": 1}, at=recent)
    await store.conversations.commit_step(nolast)
    assert await store.conversations.expire(T0 + timedelta(hours=1)) == 1
    assert await store.conversations.load("pn1", "old") is None
    assert await store.conversations.load("pn1", "new") is not None
    assert await store.conversations.load("pn1", "nolast") is not None  # its commit time counts
    assert await store.conversations.expire(T0 + timedelta(hours=4)) == 2


async def test_expiry_is_exact_inside_the_ten_minute_span_of_its_cutoff(
    store: Store, tmp_path: Path
) -> None:
    # conversations_by_activity keys rows by ten-minute span (schema v8): the exact time still
    # decides for the rows that share the cutoff's span, on both sides of it.
    cutoff = datetime(2025, 3, 1, 9, 15, tzinfo=UTC)
    times = {
        "earlier_span": datetime(2025, 3, 1, 9, 9, 59, 999999, tzinfo=UTC),
        "span_start": datetime(2025, 3, 1, 9, 10, tzinfo=UTC),
        "just_before": cutoff - timedelta(microseconds=1),
        "at_cutoff": cutoff,
        "span_end": datetime(2025, 3, 1, 9, 19, 59, 999999, tzinfo=UTC),
        "next_span": datetime(2025, 3, 1, 9, 20, tzinfo=UTC),
        "next_day": datetime(2025, 3, 2, 9, 10, tzinfo=UTC),
    }
    for guest, at in times.items():
        await store.conversations.commit_step(commit(None, guest_id=guest, context={"v": 1},
                                                     at=at))
    await store.conversations.commit_step(commit(None, guest_id="never", context={"v": 1},
                                                 at=None))  # no activity at all
    assert await store.conversations.expire(cutoff) == 4
    kept = {guest for guest in [*times, "never"]
            if await store.conversations.load("pn1", guest) is not None}
    assert kept == {"at_cutoff", "span_end", "next_span", "next_day"}
    with sqlite3.connect(tmp_path / "hotel.db") as conn:
        plan = " ".join(row[3] for row in conn.execute(
            f"EXPLAIN QUERY PLAN {conversations._EXPIRE}", ("x", "y")))
    assert "USING INDEX conversations_by_activity" in plan, plan  # no scan of the table


async def test_a_step_moves_its_conversations_activity_span_only_when_it_changed(
    store: Store, tmp_path: Path
) -> None:
    # activity_span (expiry's index key, schema v8) follows last_activity both ways, in the
    # step's own transaction; a step in the same span leaves the row's span as it was.
    def step_at(activity: datetime) -> StepCommit:
        return commit(None, context={"v": 1, "last_activity": activity.isoformat()},
                      at=T0 + timedelta(hours=5))

    def span() -> tuple[str, str]:
        with sqlite3.connect(tmp_path / "hotel.db") as conn:
            found = conn.execute("SELECT activity_span, last_activity FROM conversations"
                                 " WHERE phone_number_id = 'pn1' AND guest_id = 'g1'").fetchone()
        return found[0], found[1][:19]

    await store.conversations.commit_step(step_at(T0 + timedelta(minutes=5)))
    assert span() == ("2025-03-01T09:0", "2025-03-01T09:05:00")
    await store.conversations.commit_step(step_at(T0 + timedelta(minutes=9)))
    assert span() == ("2025-03-01T09:0", "2025-03-01T09:09:00")
    await store.conversations.commit_step(step_at(T0 + timedelta(hours=2, minutes=25)))
    assert span() == ("2025-03-01T11:2", "2025-03-01T11:25:00")
    assert await store.conversations.expire(T0 + timedelta(hours=2)) == 0  # active since
    await store.conversations.commit_step(step_at(T0 + timedelta(minutes=1)))  # back in time
    assert span() == ("2025-03-01T09:0", "2025-03-01T09:01:00")
    assert await store.conversations.expire(T0 + timedelta(hours=1)) == 1


async def test_statistics_count_committed_jobs(store: Store) -> None:
    await record_one(store)
    stats = store.statistics()
    assert (stats.jobs_committed, stats.batches_committed, stats.pending) == (1, 1, 0)



async def test_step_that_leaves_the_guest_alone_keeps_the_guest_row(store: Store) -> None:
    first = commit(await record_one(store, "wamid.g1"))
    await store.conversations.commit_step(first)
    before = await store.guests.load("h1", "g1")
    unchanged = commit(await record_one(store, "wamid.g2"), guest_data={"room": "999"},
                       language="xx", guest_changed=False)
    await store.conversations.commit_step(unchanged)
    assert await store.guests.load("h1", "g1") == before


async def test_sent_marks_are_written_in_one_batch(store: Store) -> None:
    rows = await store.conversations.commit_step(commit(None, outbound=(reply("a"), reply("b"))))
    marks = [(rows[0].id, "wamid.x", T0), (rows[1].id, "wamid.y", T0)]
    await store.outbox.mark_sent_many(marks)
    assert await store.outbox.pending() == []


async def test_purge_drops_only_old_processed_messages(store: Store) -> None:
    old_done = await record_one(store, "wamid.old1")
    old_parked = await record_one(store, "wamid.old2")
    await store.inbound.mark_done(old_done)
    await store.inbound.park(old_parked, "kept for inspection")
    [fresh] = await store.inbound.record([inbound("wamid.new")], at=T0 + timedelta(days=9),
                                         hotel_of=HOTELS)
    assert fresh is not None
    await store.inbound.mark_done(fresh.seq)
    assert await store.inbound.purge(T0 + timedelta(days=1)) == 1
    # the purged wamid could be recorded again; the kept ones still deduplicate
    again = await store.inbound.record([inbound("wamid.old2"), inbound("wamid.new")],
                                       at=T0 + timedelta(days=9), hotel_of=HOTELS)
    assert again == [None, None]
    assert await store.inbound.purge(T0 + timedelta(days=30)) == 1  # the newer done row


async def test_purge_with_nothing_newer_than_the_cutoff(store: Store) -> None:
    seq = await record_one(store, "wamid.only")
    await store.inbound.mark_done(seq)
    assert await store.inbound.purge(T0 + timedelta(days=1)) == 1
    assert await store.inbound.purge(T0 + timedelta(days=1)) == 0


async def test_the_consoles_recent_guests_newest_first_from_the_messages_kept(
        store: Store) -> None:
    """history.guests_of: each (number, guest) once, at its latest message, newest first;
    a guest whose messages retention purged is not listed (their conversation page would be
    empty)."""
    t = [T0 + timedelta(minutes=m) for m in range(4)]
    await store.inbound.record_webhook(
        [inbound("a1", guest="ga", sent_at=t[0]), inbound("b1", guest="gb", sent_at=t[1]),
         inbound("a2", guest="ga", sent_at=t[2]), inbound("c1", guest="gc", number="pn2",
                                                           sent_at=t[3])],
        [], [], at=t[0], hotel_of=HOTELS)
    assert await store.history.guests_of(("pn1", "pn2")) == [
        ("pn2", "gc", t[3]), ("pn1", "ga", t[2]), ("pn1", "gb", t[1])]
    assert await store.history.guests_of(("pn1",), limit=1) == [("pn1", "ga", t[2])]
    for message in await store.inbound.pending():
        await store.inbound.mark_done(message.seq)
    assert await store.inbound.purge(t[0] + timedelta(seconds=1)) == 4  # all received at t0
    assert await store.history.guests_of(("pn1", "pn2")) == []
    assert await store.history.guests_of(()) == []
