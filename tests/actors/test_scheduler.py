"""The scheduler on a real store and the real pacer, on a fake clock (issue 10).

Stays are applied through the scheduler's API, time moves only when the test jumps it, and
sends are recorded by the harness's transport: what fired, when, as text or as its template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotelbot.flows import template_object
from hotelbot.scheduler import Segment, broadcast, delete_stay, put_stay
from hotelbot.store import Fired, OutboundMessage, Priority, ScheduledStatus, StayRecord
from tests.actors.harness import Harness, open_harness
from tests.fakes.clock import FakeClock

FRONT_DESK = "100000000000001"
ROOM_SERVICE = "100000000000002"
GUEST = "447700900123"
# London leaves GMT for BST at 01:00 UTC on Sunday 29 March 2026.
DST_START = datetime(2026, 3, 27, 6, 0, tzinfo=UTC)


def stay(**changes: object) -> StayRecord:
    base = StayRecord(
        hotel_id="demo_hotel", booking_ref="BK-1", guest_id=GUEST, guest_name="Maria",
        room="412", check_in=datetime.fromisoformat("2026-03-27T15:00:00+00:00"),
        check_out=datetime.fromisoformat("2026-03-30T11:00:00+01:00"))
    return replace(base, **changes)  # type: ignore[arg-type]


async def apply(h: Harness, record: StayRecord) -> None:
    await put_stay(h.scheduler, h.store, h.hotels.hotels["demo_hotel"], record, h.clock.now())
    await h.settle()


def kind_of(body: Mapping[str, object]) -> str:
    """"template:<name>" or "text"."""
    template = body.get("template")
    if isinstance(template, dict):
        return f"template:{template['name']}"
    return str(body.get("type"))


async def sends_at(h: Harness, when: datetime) -> list[tuple[str, str, str]]:
    """Jump to `when`; what went out on the way, as (number, guest, kind)."""
    before = len(h.transport.sent)
    h.clock.jump_to(when)
    await h.settle()
    return [(n, g, kind_of(b)) for n, g, b in h.transport.sent[before:]]


async def test_a_stays_messages_fire_at_their_local_times_across_dst_and_not_before(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start=DST_START)
    async with open_harness(tmp_path / "s.db", clock) as h:
        await apply(h, stay())
        expected = [  # (UTC due, what goes out): the guest never wrote, so templates
            (datetime(2026, 3, 27, 16, 0, tzinfo=UTC), "template:welcome_v1"),
            (datetime(2026, 3, 28, 10, 0, tzinfo=UTC), "template:breakfast_survey_v1"),  # GMT
            (datetime(2026, 3, 29, 9, 0, tzinfo=UTC), "template:breakfast_survey_v1"),  # BST
            (datetime(2026, 3, 30, 8, 0, tzinfo=UTC), "template:checkout_reminder_v1"),
            (datetime(2026, 3, 30, 9, 0, tzinfo=UTC), "template:breakfast_survey_v1"),
        ]
        for due, what in expected:
            assert await sends_at(h, due - timedelta(seconds=1)) == []
            assert await sends_at(h, due) == [(FRONT_DESK, GUEST, what)]
        guest = await h.store.guests.load("demo_hotel", GUEST)
        assert guest is not None and guest.data["room"] == "412"
        assert await sends_at(h, datetime(2026, 3, 30, 10, 0, tzinfo=UTC)) == []
        guest = await h.store.guests.load("demo_hotel", GUEST)  # checked out: room cleared
        assert guest is not None and "room" not in guest.data
        assert guest.data["guest_name"] == "Maria"
        record = await h.store.stays.get("demo_hotel", "BK-1")
        assert record is not None and record.state == "checked_out"


async def test_inside_the_window_the_text_goes_in_the_guests_words(tmp_path: Path) -> None:
    clock = FakeClock(start=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    async with open_harness(tmp_path / "s.db", clock) as h:
        await h.say(FRONT_DESK, GUEST, "hello")
        await h.settle()
        await apply(h, stay(check_in=datetime(2026, 6, 1, 12, 30, tzinfo=UTC),
                            check_out=datetime(2026, 6, 3, 10, 0, tzinfo=UTC)))
        assert await sends_at(h, datetime(2026, 6, 1, 13, 30, tzinfo=UTC)) == [
            (FRONT_DESK, GUEST, "text")]
        assert h.transport.texts_to(GUEST)[-1] == (
            "Welcome to Demo Hotel, Maria! You are in room 412. Reply to this message any "
            "time to reach the front desk.")
        # The guest writes again on the last morning; checkout 10:00 UTC is 11:00 in London
        # (BST): the reminder names the hotel's time.
        assert await sends_at(h, datetime(2026, 6, 2, 9, 0, tzinfo=UTC)) == [
            (FRONT_DESK, GUEST, "text")]  # the 2 June breakfast survey, inside the window
        assert await sends_at(h, datetime(2026, 6, 3, 7, 0, tzinfo=UTC)) == []
        await h.say(FRONT_DESK, GUEST, "hello")
        await h.settle()
        assert await sends_at(h, datetime(2026, 6, 3, 8, 0, tzinfo=UTC)) == [
            (FRONT_DESK, GUEST, "text")]
        assert "check-out is today at 11:00" in h.transport.texts_to(GUEST)[-1]


async def test_an_extension_moves_the_reminder_and_an_early_checkout_cancels_the_rest(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start=DST_START)
    async with open_harness(tmp_path / "s.db", clock) as h:
        await apply(h, stay())
        pending = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.PENDING, 100)
        assert sorted(r.message_type for r in pending) == [
            "breakfast_survey", "breakfast_survey", "breakfast_survey", "checkout",
            "checkout_reminder", "welcome"]
        await apply(h, stay(check_out=datetime.fromisoformat("2026-03-31T11:00:00+01:00")))
        pending = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.PENDING, 100)
        reminder = next(r for r in pending if r.message_type == "checkout_reminder")
        assert reminder.scheduled_at == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
        assert len([r for r in pending if r.message_type == "breakfast_survey"]) == 4
        # Early checkout on the 28th at 09:00: only the welcome and the checkout remain.
        await apply(h, stay(check_out=datetime(2026, 3, 28, 9, 0, tzinfo=UTC)))
        pending = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.PENDING, 100)
        assert sorted(r.message_type for r in pending) == ["checkout", "checkout_reminder",
                                                            "welcome"]
        skipped = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.SKIPPED, 100)
        assert {r.skip_reason for r in skipped} == {"stay_changed"}
        assert await sends_at(h, datetime(2026, 3, 29, 12, 0, tzinfo=UTC)) == [
            (FRONT_DESK, GUEST, "template:welcome_v1"),
            (FRONT_DESK, GUEST, "template:checkout_reminder_v1")]


async def test_a_cancelled_stay_sends_nothing(tmp_path: Path) -> None:
    clock = FakeClock(start=DST_START)
    async with open_harness(tmp_path / "s.db", clock) as h:
        await apply(h, stay())
        applied = await delete_stay(h.scheduler, h.store, "demo_hotel", "BK-1", clock.now())
        assert applied is not None and len(applied.skipped_ids) == 6
        assert await delete_stay(h.scheduler, h.store, "demo_hotel", "NOPE", clock.now()) is None
        assert await sends_at(h, datetime(2026, 4, 2, tzinfo=UTC)) == []
        skipped = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.SKIPPED, 100)
        assert {r.skip_reason for r in skipped} == {"stay_cancelled"}


async def test_marketing_waits_for_the_morning_and_service_goes_at_night(tmp_path: Path) -> None:
    # 23:30 in London (GMT in January): quiet hours for marketing are 21:00-09:00.
    clock = FakeClock(start=datetime(2026, 1, 15, 23, 30, tzinfo=UTC))
    async with open_harness(tmp_path / "s.db", clock) as h:
        hotel = h.hotels.hotels["demo_hotel"]
        await h.say(ROOM_SERVICE, GUEST, "hi")  # both numbers' windows open: texts go
        await h.say(FRONT_DESK, GUEST, "hi")
        await h.settle()
        result = await broadcast(h.scheduler, h.store, hotel, message_type="spa_offer",
                                 segment=Segment.NUMBERS, numbers=[GUEST, "not-a-number"],
                                 broadcast_id="b1", now=clock.now())
        assert result.due == datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
        assert result.refused == ("not-a-number",) and result.rows == 1
        await h.scheduler.request_changed(hotel_id="demo_hotel", request_id=7, guest_id=GUEST,
                                          flow_id="room_service_order", status="done",
                                          at=clock.now())
        # The feedback request (service) goes at 01:30, the promo (marketing) at 09:00.
        assert await sends_at(h, datetime(2026, 1, 16, 1, 29, 59, tzinfo=UTC)) == []
        assert await sends_at(h, datetime(2026, 1, 16, 1, 30, tzinfo=UTC)) == [
            (ROOM_SERVICE, GUEST, "text")]
        assert await sends_at(h, datetime(2026, 1, 16, 8, 59, tzinfo=UTC)) == []
        assert await sends_at(h, datetime(2026, 1, 16, 9, 0, tzinfo=UTC)) == [
            (FRONT_DESK, GUEST, "text")]
        again = await broadcast(h.scheduler, h.store, hotel, message_type="spa_offer",
                                segment=Segment.NUMBERS, numbers=[GUEST], broadcast_id="b1",
                                now=clock.now())
        assert again.rows == 0  # the same broadcast id adds nothing


async def test_stop_skips_marketing_but_not_service_and_start_undoes_it(tmp_path: Path) -> None:
    clock = FakeClock(start=datetime(2026, 1, 15, 10, 0, tzinfo=UTC))
    async with open_harness(tmp_path / "s.db", clock) as h:
        hotel = h.hotels.hotels["demo_hotel"]
        await h.say(ROOM_SERVICE, GUEST, "hi")
        await h.say(FRONT_DESK, GUEST, "STOP")
        await h.settle()
        assert h.transport.texts_to(GUEST)[-1].startswith(
            "You will no longer receive offers from Demo Hotel.")
        assert await h.store.opt_outs.opted_out("demo_hotel", [GUEST]) == {GUEST}
        assert await h.store.opt_outs.opted_out("other_hotel", [GUEST]) == set()
        await broadcast(h.scheduler, h.store, hotel, message_type="spa_offer",
                        segment=Segment.NUMBERS, numbers=[GUEST], broadcast_id="b1",
                        now=clock.now())
        await h.scheduler.request_changed(hotel_id="demo_hotel", request_id=1, guest_id=GUEST,
                                          flow_id="room_service_order", status="done",
                                          at=clock.now())
        sent = await sends_at(h, datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
        assert sent == [(ROOM_SERVICE, GUEST, "text")]  # the feedback request, not the promo
        skipped = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.SKIPPED, 10)
        assert [(r.message_type, r.skip_reason) for r in skipped] == [("spa_offer", "opted_out")]
        await h.say(FRONT_DESK, GUEST, "start")
        await h.settle()
        assert await h.store.opt_outs.opted_out("demo_hotel", [GUEST]) == set()
        await broadcast(h.scheduler, h.store, hotel, message_type="spa_offer",
                        segment=Segment.NUMBERS, numbers=[GUEST], broadcast_id="b2",
                        now=clock.now())
        assert await sends_at(h, clock.now() + timedelta(seconds=1)) == [
            (FRONT_DESK, GUEST, "text")]


async def test_outside_the_window_a_message_without_template_is_skipped(tmp_path: Path) -> None:
    clock = FakeClock(start=datetime(2026, 1, 15, 10, 0, tzinfo=UTC))
    async with open_harness(tmp_path / "s.db", clock) as h:
        hotel = h.hotels.hotels["demo_hotel"]
        spec = hotel.scheduled["spa_offer"]
        h.hotels.hotels["demo_hotel"].scheduled["spa_offer"] = replace(  # type: ignore[index]
            spec, template=None)
        await broadcast(h.scheduler, h.store, hotel, message_type="spa_offer",
                        segment=Segment.NUMBERS, numbers=[GUEST], broadcast_id="b",
                        now=clock.now())
        assert await sends_at(h, clock.now() + timedelta(seconds=1)) == []
        [row] = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.SKIPPED, 10)
        assert row.skip_reason == "outside_window"


async def test_a_restart_in_the_middle_of_a_broadcast_neither_loses_nor_repeats(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start=datetime(2026, 1, 15, 10, 0, tzinfo=UTC))
    guests = [f"4477009{n:05d}" for n in range(30)]
    path = tmp_path / "s.db"
    async with open_harness(path, clock) as h:
        hotel = h.hotels.hotels["demo_hotel"]
        result = await broadcast(h.scheduler, h.store, hotel, message_type="spa_offer",
                                 segment=Segment.NUMBERS, numbers=guests, broadcast_id="b",
                                 now=clock.now() + timedelta(hours=2))
        assert result.rows == 30
    # The process died while firing: ten rows were decided (their outbox rows committed,
    # never sent), ten were claimed and not decided, ten were still pending.
    async with open_harness(path, clock) as h:
        await h.scheduler.close()  # this process only plays the crashed one's store writes
        rows = await h.store.scheduled.pending()
        claimed = await h.store.scheduled.claim([r.id for r in rows[:20]], clock.now())
        hotel = h.hotels.hotels["demo_hotel"]
        fired = []
        for row in claimed[:10]:
            template = template_object(hotel, "spa_offer", {}, "en")
            fired.append(Fired(id=row.id, status=ScheduledStatus.SENT, outbound=OutboundMessage(
                phone_number_id=FRONT_DESK, guest_id=row.guest_id, template=template,
                body={"type": "text", "text": {"body": "offer"}}, priority=Priority.MARKETING)))
        await h.store.scheduled.complete(fired, clock.now())
        assert len(await h.store.scheduled.due()) == 10
    clock.jump(2 * 3600)
    async with open_harness(path, clock) as h:
        await h.settle()
        assert sorted(g for _n, g, _b in h.transport.sent) == sorted(guests)
        assert await h.store.scheduled.due() == [] and await h.store.scheduled.pending() == []
        sent = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.SENT, 100)
        assert len(sent) == 30 and all(r.outbox_id for r in sent)


async def test_a_reply_to_a_scheduled_message_starts_its_flow_and_mid_flow_keeps_the_flow(
    tmp_path: Path,
) -> None:
    clock = FakeClock(start=datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    async with open_harness(tmp_path / "s.db", clock) as h:
        await h.say(FRONT_DESK, GUEST, "hello")  # opens the window: the survey goes as text
        await h.settle()
        await apply(h, stay(check_in=datetime(2026, 5, 31, 15, 0, tzinfo=UTC),
                            check_out=datetime(2026, 6, 3, 10, 0, tzinfo=UTC)))
        await sends_at(h, datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
        # 10:00 London = 09:00 UTC in June: the survey has gone.
        assert "How was breakfast today?" in h.transport.texts_to(GUEST)[-1]
        clock.jump(600)
        await h.say(FRONT_DESK, GUEST, "Great!")
        await h.settle()
        assert h.transport.texts_to(GUEST)[-1].startswith("How would you rate your experience")
        # Mid-flow, the next day's survey does not take the guest out of their flow.
        clock.jump_to(datetime(2026, 6, 2, 8, 58, tzinfo=UTC))
        await h.say(FRONT_DESK, GUEST, "menu")
        await h.say(FRONT_DESK, GUEST, "Extend my stay")
        await h.settle()
        assert h.transport.texts_to(GUEST)[-1].startswith("What would be your new checkout date?")
        assert await sends_at(h, datetime(2026, 6, 2, 9, 0, tzinfo=UTC)) == [
            (FRONT_DESK, GUEST, "text")]
        clock.jump(60)
        await h.say(FRONT_DESK, GUEST, "Great!")
        await h.settle()
        reply = h.transport.texts_to(GUEST)[-1]
        assert "How would you rate" not in reply and "checkout date" in reply


async def test_the_reply_lookup_remembers_per_conversation_and_follows_every_send(
    tmp_path: Path,
) -> None:
    # Issue 13: an idle guest's messages do not each read the store: the lookup is kept per
    # conversation, dropped when a scheduled message is sent there and when the guest is
    # forgotten, so what it answers is always what the store would.
    clock = FakeClock(start=datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    async with open_harness(tmp_path / "s.db", clock) as h:
        await h.say(FRONT_DESK, GUEST, "hello")  # opens the window: the survey goes as text
        await h.settle()
        await h.say(FRONT_DESK, GUEST, "Great!")  # before any send: answers nothing
        await h.settle()
        assert not h.transport.texts_to(GUEST)[-1].startswith("How would you rate")
        assert await h.scheduler.answered(FRONT_DESK, GUEST, "", clock.now()) is None
        await apply(h, stay(check_in=datetime(2026, 5, 31, 15, 0, tzinfo=UTC),
                            check_out=datetime(2026, 6, 3, 10, 0, tzinfo=UTC)))
        await sends_at(h, datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
        clock.jump(600)
        answered = await h.scheduler.answered(FRONT_DESK, GUEST, "", clock.now())
        assert answered is not None and answered.recent and answered.reply_flow
        [survey] = [r for r in await h.store.scheduled.listing(
            "demo_hotel", ScheduledStatus.SENT, 100) if r.reply_flow]
        assert (answered.reply_flow, answered.sent_at) == (survey.reply_flow, survey.done_at)
        await h.say(FRONT_DESK, GUEST, "Great!")
        await h.settle()
        assert h.transport.texts_to(GUEST)[-1].startswith("How would you rate your experience")
        numbers = [d.phone_number_id for d in h.hotels.hotels["demo_hotel"].departments.values()]
        await h.store.guest_data.forget("demo_hotel", GUEST, numbers)
        h.scheduler.forget_guest(numbers, GUEST)
        assert await h.scheduler.answered(FRONT_DESK, GUEST, "", clock.now()) is None


async def test_broadcast_segments_in_house_and_arriving_tomorrow(tmp_path: Path) -> None:
    clock = FakeClock(start=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    async with open_harness(tmp_path / "s.db", clock) as h:
        hotel = h.hotels.hotels["demo_hotel"]
        await apply(h, stay(check_in=datetime(2026, 1, 14, 15, 0, tzinfo=UTC),
                            check_out=datetime(2026, 1, 17, 11, 0, tzinfo=UTC)))
        await apply(h, stay(booking_ref="BK-2", guest_id="447700900222", room="210",
                            check_in=datetime(2026, 1, 16, 23, 30, tzinfo=UTC),
                            check_out=datetime(2026, 1, 18, 11, 0, tzinfo=UTC)))
        await apply(h, stay(booking_ref="BK-3", guest_id="447700900333", room="310",
                            check_in=datetime(2026, 1, 17, 0, 30, tzinfo=UTC),
                            check_out=datetime(2026, 1, 18, 11, 0, tzinfo=UTC)))
        for segment, guests in [(Segment.IN_HOUSE, {GUEST}),
                                (Segment.ARRIVING_TOMORROW, {"447700900222"})]:
            result = await broadcast(h.scheduler, h.store, hotel, message_type="spa_offer",
                                     segment=segment, numbers=(), broadcast_id=segment.value,
                                     now=clock.now())
            assert result.rows == len(guests)
            rows = await h.store.scheduled.listing("demo_hotel", ScheduledStatus.PENDING, 100)
            assert {r.guest_id for r in rows if r.message_type == "spa_offer"
                    and r.trigger_key and r.trigger_key.startswith(
                        f"broadcast:{segment.value}:")} == guests
