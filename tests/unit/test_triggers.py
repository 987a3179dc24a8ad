"""The scheduler's pure rules (scheduler/triggers.py): plans, DST, quiet hours, decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from hotelbot.config import load_hotels
from hotelbot.flows import Category, QuietHours
from hotelbot.scheduler import after_quiet, stay_plan
from hotelbot.scheduler.triggers import Send, Skip, decide
from hotelbot.typedefs import HotelId
from tests.paths import CONFIG

HOTEL = load_hotels(CONFIG).hotels[HotelId("demo_hotel")]
LONDON = ZoneInfo("Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def plan(check_in: datetime, check_out: datetime, now: datetime) -> list[tuple[str, datetime]]:
    return [(d.message_type, d.at) for d in stay_plan(HOTEL, booking_ref="B", check_in=check_in,
                                                       check_out=check_out, now=now)]


def test_ten_oclock_stays_ten_oclock_across_both_dst_changes() -> None:
    # Spring (29 March 2026) and autumn (25 October 2026) in London.
    spring = plan(utc(2026, 3, 28, 15), utc(2026, 3, 30, 11), utc(2026, 3, 28, 12))
    assert [at for kind, at in spring if kind == "breakfast_survey"] == [
        utc(2026, 3, 29, 9), utc(2026, 3, 30, 9)]  # 10:00 BST
    autumn = plan(utc(2026, 10, 24, 15), utc(2026, 10, 26, 12), utc(2026, 10, 24, 12))
    assert [at for kind, at in autumn if kind == "breakfast_survey"] == [
        utc(2026, 10, 25, 10), utc(2026, 10, 26, 10)]  # 10:00 GMT
    for _kind, at in spring + autumn:
        if _kind == "breakfast_survey":
            assert at.astimezone(LONDON).time() == time(10, 0)


def test_a_stays_plan_keeps_to_the_stay_and_leaves_out_the_past() -> None:
    full = plan(utc(2026, 1, 10, 15), utc(2026, 1, 12, 9, 30), utc(2026, 1, 10, 12))
    assert full == [
        ("welcome", utc(2026, 1, 10, 16)),
        ("breakfast_survey", utc(2026, 1, 11, 10)),
        ("checkout_reminder", utc(2026, 1, 12, 7, 30)),
        ("checkout", utc(2026, 1, 12, 9, 30)),  # no survey at 10:00: the guest left at 09:30
    ]
    late = plan(utc(2026, 1, 10, 15), utc(2026, 1, 12, 9, 30), utc(2026, 1, 11, 12))
    assert [k for k, _ in late] == ["checkout_reminder", "checkout"]


@pytest.mark.parametrize(("local", "moved"), [
    (datetime(2026, 1, 15, 20, 59, tzinfo=LONDON), None),
    (datetime(2026, 1, 15, 21, 0, tzinfo=LONDON), datetime(2026, 1, 16, 9, 0, tzinfo=LONDON)),
    (datetime(2026, 1, 16, 3, 0, tzinfo=LONDON), datetime(2026, 1, 16, 9, 0, tzinfo=LONDON)),
    (datetime(2026, 1, 16, 9, 0, tzinfo=LONDON), None),
    # The night of the spring change: 09:00 BST is 08:00 UTC.
    (datetime(2026, 3, 28, 23, 0, tzinfo=LONDON), datetime(2026, 3, 29, 9, 0, tzinfo=LONDON)),
])
def test_quiet_hours_wrap_midnight_and_end_at_local_morning(
    local: datetime, moved: datetime | None
) -> None:
    quiet = QuietHours(start=time(21, 0), end=time(9, 0))
    assert after_quiet(quiet, LONDON, local) == (moved or local).astimezone(UTC)


def _decide(message_type: str, **changes: object) -> Send | Skip:
    args: dict[str, object] = {
        "message_type": message_type, "from_stay_or_trigger": True, "language": "en",
        "data": {"guest_name": "Ana", "room": "101", "check_out": "2026-06-03T10:00:00+00:00"},
        "guest": {}, "opted_out": False, "window_open": True, **changes}
    return decide(HOTEL, **args)  # type: ignore[arg-type]


def test_deciding_a_due_row() -> None:
    sent = _decide("checkout_reminder")
    assert isinstance(sent, Send) and sent.category is Category.SERVICE
    assert "check-out is today at 11:00" in str(sent.body)
    assert sent.template is not None and sent.template["name"] == "checkout_reminder_v1"
    assert sent.reply_flow == "stay_extension"
    assert _decide("spa_offer", opted_out=True) == Skip(reason="opted_out")
    assert isinstance(_decide("checkout_reminder", opted_out=True), Send)  # service goes
    assert _decide("nope") == Skip(reason="unknown_message_type", failed=True)
    assert _decide("feedback_request", from_stay_or_trigger=False) == Skip(
        reason="awaits_request")
    closed = _decide("checkout_reminder", window_open=False, data={})
    assert isinstance(closed, Skip) and closed.failed and "guest_name" in closed.reason
    hotel = replace(HOTEL, scheduled={**HOTEL.scheduled, "spa_offer": replace(
        HOTEL.scheduled["spa_offer"], template=None, active=True)})
    assert decide(hotel, message_type="spa_offer", from_stay_or_trigger=True, language="en",
                  data={}, guest={}, opted_out=False, window_open=False) == Skip(
        reason="outside_window")
    inactive = replace(HOTEL, scheduled={**HOTEL.scheduled, "welcome": replace(
        HOTEL.scheduled["welcome"], active=False)})
    assert decide(inactive, message_type="welcome", from_stay_or_trigger=True, language="en",
                  data={}, guest={}, opted_out=False, window_open=True) == Skip(
        reason="inactive_template")
