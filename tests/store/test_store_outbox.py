"""The outbox for the pacer on a real SQLite file: batches, sending, the marks, statuses that
move rows forward only, and the 24-hour windows' data."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotelbot.errors import StoreError
from hotelbot.store import (
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    OutboundRow,
    OutboundState,
    Priority,
    RecordedWebhook,
    StepCommit,
    Store,
    open_store,
    outbox_callback,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
HOTELS = {"pn1": "h1", "pn2": "h1"}
S = OutboundState
TEMPLATE: dict[str, object] = {
    "name": "checkout_reminder_v2",
    "language": {"code": "en_US", "policy": "deterministic"},
    "components": [{"type": "body", "parameters": [{"type": "text", "text": "Maria"}]}],
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "hotel.db", synchronous="NORMAL") as opened:
        yield opened


def message(
    text: str,
    *,
    number: str = "pn1",
    guest: str = "g1",
    priority: Priority = Priority.REPLY,
    not_before: datetime | None = None,
    template: dict[str, object] | None = None,
) -> OutboundMessage:
    return OutboundMessage(
        phone_number_id=number,
        guest_id=guest,
        body={"type": "text", "text": {"body": text}},
        priority=priority,
        not_before=not_before,
        template=template,
    )


async def add(store: Store, *messages: OutboundMessage) -> tuple[OutboundMessage, ...]:
    """Commit outbox rows as a step does (one transaction), with their ids."""
    step = StepCommit(
        phone_number_id="pn1", guest_id="g1", hotel_id="h1", context={"v": 1}, guest_data={},
        language="en", inbound_seq=None, outbound=messages, at=T0, guest_changed=False,
    )
    return await store.conversations.commit_step(step)


async def row(store: Store, id: int) -> OutboundRow:
    found = await store.outbox.get(id)
    assert found is not None
    return found


def status(
    name: str,
    *,
    wamid: str = "wamid.A",
    callback: str | None = None,
    minute: int = 0,
    code: int | None = None,
) -> DeliveryStatus:
    return DeliveryStatus(
        wamid=wamid,
        status=name,
        at=T0 + timedelta(minutes=minute),
        recipient_id="1555",
        error_code=code,
        error_title="Re-engagement message" if code else None,
        callback=callback,
        payload={"id": wamid, "status": name},
    )


async def webhook(store: Store, *statuses: DeliveryStatus,
                  messages: Sequence[InboundMessage] = ()) -> RecordedWebhook:
    return await store.inbound.record_webhook(messages, statuses, (), at=T0, hotel_of=HOTELS)


# --- next_batch ------------------------------------------------------------------------------


async def test_next_batch_is_one_numbers_due_rows_by_priority_then_id(store: Store) -> None:
    later = T0 + timedelta(minutes=5)
    promo, hello, reminder, other, waiting, due, bye = await add(
        store,
        message("promo", priority=Priority.MARKETING),
        message("hello"),
        message("reminder", priority=Priority.SERVICE),
        message("other number", number="pn2"),
        message("retry later", not_before=later),
        message("retry now", not_before=T0),
        message("bye", guest="g2"),
    )
    assert await store.outbox.numbers_with_pending() == ["pn1", "pn2"]

    async def batch(**kw: object) -> list[int]:
        found = await store.outbox.next_batch("pn1", now=T0, limit=10, **kw)  # type: ignore[arg-type]
        return [m.id for m in found]

    assert await batch() == [hello.id, due.id, bye.id, reminder.id, promo.id]
    found = await store.outbox.next_batch("pn1", now=later, limit=3)
    assert found == [hello, waiting, due]  # not_before has come; the rows read back whole
    assert await batch(exclude_ids={hello.id, reminder.id}) == [due.id, bye.id, promo.id]
    assert await batch(exclude_guests=["g1"]) == [bye.id]
    assert await batch(exclude_ids=[bye.id], exclude_guests=("g2", "nobody")) == [
        hello.id, due.id, reminder.id, promo.id
    ]
    assert [m.id for m in await store.outbox.next_batch("pn2", now=T0, limit=5)] == [other.id]
    assert await store.outbox.next_batch("pn3", now=T0, limit=5) == []
    with pytest.raises(ValueError, match="limit"):
        await store.outbox.next_batch("pn1", now=T0, limit=0)

    await store.outbox.mark_sending([other.id], T0)
    assert await store.outbox.numbers_with_pending() == ["pn1"]


async def test_template_and_priority_round_trip(store: Store) -> None:
    [reminder] = await add(store, message("reminder", priority=Priority.SERVICE,
                                          template=TEMPLATE))
    [found] = await store.outbox.next_batch("pn1", now=T0, limit=1)
    assert found.template == TEMPLATE and found.priority is Priority.SERVICE
    assert (await row(store, reminder.id)).message == reminder


# --- sending ---------------------------------------------------------------------------------


async def test_mark_sending_then_release_what_got_no_answer(store: Store) -> None:
    a, b, c = await add(store, message("a"), message("b"), message("c"))
    early, late = T0, T0 + timedelta(minutes=2)
    await store.outbox.mark_sending([a.id, b.id], early)
    await store.outbox.mark_sending([c.id], late)
    await store.outbox.mark_sending([a.id], late)  # not pending any more: left alone
    assert await store.outbox.next_batch("pn1", now=late, limit=10) == []
    sending = await store.outbox.sending()
    assert [(m.id, m.sending_since) for m in sending] == [(a.id, early), (b.id, early),
                                                          (c.id, late)]
    assert (await row(store, a.id)).state is S.SENDING

    await store.outbox.mark_sent_many([(b.id, "wamid.b", late)])
    assert await store.outbox.release_sending(T0 + timedelta(minutes=1)) == [a.id]
    released = await row(store, a.id)
    assert (released.state, released.message.sending_since) == (S.PENDING, None)
    assert [m.id for m in await store.outbox.next_batch("pn1", now=late, limit=10)] == [a.id]
    assert [m.id for m in await store.outbox.sending()] == [c.id]
    assert await store.outbox.release_sending(T0) == []


async def test_the_marks_act_on_unsent_rows_and_never_undo_a_status(store: Store) -> None:
    a, b, c, d = await add(store, message("a"), message("b"), message("c"), message("d"))
    await store.outbox.mark_sending([a.id, b.id, c.id, d.id], T0)
    await webhook(store, status("delivered", wamid="wamid.b", callback=outbox_callback(b.id)))
    await webhook(store, status("failed", wamid="wamid.c", callback=outbox_callback(c.id),
                                code=131026))
    later = T0 + timedelta(minutes=1)
    await store.outbox.mark_sent_many([(a.id, "wamid.a", later), (b.id, "wamid.other", later),
                                       (c.id, "wamid.c", later)])
    got_a, got_b, got_c = [await row(store, r.id) for r in (a, b, c)]
    assert (got_a.state, got_a.wamid, got_a.sent_at, got_a.message.sending_since) == (
        S.SENT, "wamid.a", later, None
    )
    assert (got_b.state, got_b.wamid, got_b.delivered_at) == (S.DELIVERED, "wamid.b", T0)
    assert (got_c.state, got_c.error_code) == (S.FAILED, 131026)

    await store.outbox.mark_failed(a.id, 131000, "late answer", later, title="Something")
    await store.outbox.reschedule(b.id, later, 2, 131056)
    assert (await row(store, a.id)).state is S.SENT
    assert (await row(store, b.id)).state is S.DELIVERED

    await store.outbox.mark_failed(d.id, 131026, "undeliverable", later, title="Undeliverable")
    failed = await row(store, d.id)
    assert (failed.state, failed.error_code, failed.error_title, failed.error_detail,
            failed.failed_at) == (S.FAILED, 131026, "Undeliverable", "undeliverable", later)
    for mark in (store.outbox.mark_sent(404, "w", T0), store.outbox.mark_failed(404, 1, "", T0),
                 store.outbox.reschedule(404, T0, 1, 1), store.outbox.skip(404, "x", T0)):
        with pytest.raises(StoreError, match="outbound with id 404"):
            await mark


async def test_reschedule_puts_a_sending_row_back_with_its_not_before(store: Store) -> None:
    [a] = await add(store, message("a"))
    await store.outbox.mark_sending([a.id], T0)
    retry_at = T0 + timedelta(seconds=30)
    await store.outbox.reschedule(a.id, retry_at, 2, 131056)
    got = await row(store, a.id)
    assert (got.state, got.message.attempts, got.message.not_before, got.error_code) == (
        S.PENDING, 2, retry_at, 131056
    )
    assert await store.outbox.next_batch("pn1", now=T0, limit=5) == []
    assert [m.id for m in await store.outbox.next_batch("pn1", now=retry_at, limit=5)] == [a.id]


async def test_skip_records_why_and_ends_unsent_or_failed_rows_only(store: Store) -> None:
    pending, sending, failed, sent = await add(store, *(message(t) for t in "abcd"))
    await store.outbox.mark_sending([sending.id, failed.id, sent.id], T0)
    await webhook(store, status("failed", wamid="wamid.c", callback=outbox_callback(failed.id),
                                code=131047))
    await store.outbox.mark_sent(sent.id, "wamid.d", T0)
    for r in (pending, sending, failed, sent):
        await store.outbox.skip(r.id, "outside_window", T0)
    got = [await row(store, r.id) for r in (pending, sending, failed, sent)]
    assert [g.state for g in got] == [S.SKIPPED, S.SKIPPED, S.SKIPPED, S.SENT]
    assert [g.skip_reason for g in got] == ["outside_window"] * 3 + [None]
    assert got[0].skipped_at == T0
    assert got[2].error_code == 131047  # why it was skipped stays readable


# --- statuses move rows forward --------------------------------------------------------------

STATUSES = ("sent", "delivered", "read", "failed")
ORDERS = [
    order
    for size in range(1, len(STATUSES) + 1)
    for subset in itertools.combinations(STATUSES, size)
    for order in itertools.permutations(subset)
]


def expected_state(order: Sequence[str]) -> OutboundState:
    """`read` and `failed` end a row: the first of them to arrive wins; else the furthest."""
    final = [name for name in order if name in ("read", "failed")]
    if final:
        return S(final[0])
    return S.DELIVERED if "delivered" in order else S.SENT


@pytest.mark.parametrize("start", [S.SENDING, S.PENDING])
async def test_statuses_move_rows_forward_only_whatever_the_arrival_order(
    store: Store, start: OutboundState
) -> None:
    rows = await add(store, *(message(f"m{n}") for n in range(len(ORDERS))))
    if start is S.SENDING:
        await store.outbox.mark_sending([r.id for r in rows], T0)
    for r, order in zip(rows, ORDERS, strict=True):
        reported: list[tuple[int, int]] = []
        for minute, name in enumerate(order):  # one webhook per status, in arrival order
            code = 131047 if name == "failed" else None
            recorded = await webhook(store, status(
                name, wamid=f"wamid.{r.id}", callback=outbox_callback(r.id), minute=minute,
                code=code,
            ))
            reported.extend(recorded.failed_rows)
        got = await row(store, r.id)
        want = expected_state(order)
        assert got.state is want, order
        assert got.wamid == f"wamid.{r.id}", order
        assert reported == ([(r.id, 131047)] if want is S.FAILED else []), order
        if want is S.FAILED:
            assert (got.error_code, got.error_title) == (131047, "Re-engagement message")
        if "read" in order and want is S.READ:
            assert got.read_at == T0 + timedelta(minutes=order.index("read"))


async def test_a_sent_status_resolves_a_row_left_sending(store: Store) -> None:
    """A crash between Meta's answer and our mark: the status names the row and its wamid."""
    [a] = await add(store, message("a"))
    await store.outbox.mark_sending([a.id], T0)
    await webhook(store, status("sent", wamid="wamid.from-meta", callback=outbox_callback(a.id)))
    got = await row(store, a.id)
    assert (got.state, got.wamid, got.sent_at, got.message.sending_since) == (
        S.SENT, "wamid.from-meta", T0, None
    )
    assert await store.outbox.sending() == []
    assert await store.outbox.release_sending(T0 + timedelta(days=1)) == []


async def test_callback_beats_wamid_and_wamid_is_the_fallback(store: Store) -> None:
    a, b, c = await add(store, message("a"), message("b"), message("c"))
    await store.outbox.mark_sending([a.id, b.id, c.id], T0)
    await store.outbox.mark_sent_many([(a.id, "wamid.a", T0), (c.id, "wamid.c", T0)])
    # the callback names b although the wamid is a's: b moves, a does not
    await webhook(store, status("delivered", wamid="wamid.a", callback=outbox_callback(b.id)))
    assert [(await row(store, r.id)).state for r in (a, b)] == [S.SENT, S.DELIVERED]
    assert (await row(store, b.id)).wamid == "wamid.a"
    # no callback, a callback that is not hotelbot's, or one naming no row: the wamid decides
    await webhook(store, status("read", wamid="wamid.c", callback="job=checkout-reminder:88"))
    await webhook(store, status("read", wamid="wamid.a", callback=outbox_callback(9999)))
    assert [(await row(store, r.id)).state for r in (a, c)] == [S.READ, S.READ]


async def test_a_status_naming_no_row_is_only_recorded(store: Store) -> None:
    recorded = await webhook(store, status("failed", wamid="wamid.nobody", code=131026))
    assert recorded.failed_rows == ()
    [kept] = await store.statuses.history("wamid.nobody")
    assert (kept.status, kept.error_code, kept.error_title) == (
        "failed", 131026, "Re-engagement message"
    )


async def test_a_repeated_failed_status_is_reported_once(store: Store) -> None:
    [a] = await add(store, message("a"))
    await store.outbox.mark_sending([a.id], T0)
    failed = status("failed", callback=outbox_callback(a.id), code=131047)
    assert (await webhook(store, failed, failed)).failed_rows == ((a.id, 131047),)
    assert (await webhook(store, failed)).failed_rows == ()


async def test_a_failed_status_without_a_code_reports_zero(store: Store) -> None:
    [a] = await add(store, message("a"))
    await store.outbox.mark_sent(a.id, "wamid.A", T0)
    assert (await webhook(store, status("failed"))).failed_rows == ((a.id, 0),)


async def test_statuses_record_moves_rows_too(store: Store) -> None:
    [a] = await add(store, message("a"))
    await store.outbox.mark_sent(a.id, "wamid.A", T0)
    await store.statuses.record([status("read", callback=outbox_callback(a.id))])
    assert (await row(store, a.id)).state is S.READ
    [kept] = await store.statuses.history("wamid.A")
    assert kept.callback == outbox_callback(a.id)


# --- windows ---------------------------------------------------------------------------------


def inbound(wamid: str, *, number: str = "pn1", guest: str = "g1", minute: int = 0,
            ) -> InboundMessage:
    return InboundMessage(
        wamid=wamid, phone_number_id=number, guest_id=guest, kind="text",
        payload={"text": {"body": "hi"}}, sent_at=T0 + timedelta(minutes=minute),
    )


async def test_windows_are_per_number_and_never_move_backwards(store: Store) -> None:
    assert await store.windows.last_inbound("pn1", "g1") is None
    await webhook(store, messages=[inbound("w1", minute=10), inbound("w2", number="pn2")])
    await webhook(store, messages=[inbound("w3", minute=5)])  # older, arrived later
    await store.inbound.record([inbound("w4", guest="g2", minute=7), inbound("w5", minute=99)],
                               at=T0, hotel_of={})  # a number of no known hotel counts too
    assert await store.windows.last_inbound("pn1", "g1") == T0 + timedelta(minutes=99)
    assert await store.windows.last_inbound("pn2", "g1") == T0
    assert await store.windows.last_inbound("pn2", "g2") is None
    # a duplicate (Meta's redelivery) is not a new message: it moves nothing
    await webhook(store, messages=[inbound("w2", number="pn2", minute=500)])
    assert await store.windows.last_inbound("pn2", "g1") == T0
    assert await store.windows.last_inbound_many("pn1", ["g1", "g2", "g3"]) == {
        "g1": T0 + timedelta(minutes=99), "g2": T0 + timedelta(minutes=7),
    }
    assert await store.windows.last_inbound_many("pn1", []) == {}


async def test_a_window_moves_in_the_webhooks_transaction(store: Store) -> None:
    bad = InboundMessage(wamid="w-bad", phone_number_id="pn1", guest_id="g9", kind="text",
                         payload={"x": object()}, sent_at=T0)  # cannot be stored: parked
    recorded = await webhook(store, messages=[inbound("w1", guest="g8"), bad])
    assert len(recorded.fresh) == 1 and len(recorded.parked) == 1
    assert await store.windows.last_inbound_many("pn1", ["g8", "g9"]) == {"g8": T0}
