"""Opening hours and times of day, end to end: signed webhooks in, replies read at the fake
Graph API (which refuses any body outside Meta's schema and WhatsApp's limits), requests
read from the store. The server's wall clock is set to the hotel's evening or night.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotelbot.config import load_hotels
from hotelbot.flows import Context
from hotelbot.flows.remembered import mark
from hotelbot.store.records import StepCommit
from tests.fakes.clock import ShiftedClock
from tests.fakes.hotel import Hotel, HotelFactory
from tests.messages import message_kind, message_text
from tests.paths import CONFIG

pytestmark = pytest.mark.e2e
GUEST = "447700900555"


def _number(dept: str) -> str:
    return load_hotels(CONFIG).hotels["demo_hotel"].departments[dept].phone_number_id  # type: ignore[index]


async def _said(hotel: Hotel, number: str, text: str) -> str:
    replies = await hotel.say(number, GUEST, text)
    assert replies, text
    return "\n".join(message_text(r.body) for r in replies)


async def _remember_room(hotel: Hotel, number: str, dept: str) -> None:
    known = {"room": "412", mark("room"): "2026-11-25"}  # told earlier that day: confirmed
    context = Context(hotel_id="demo_hotel", guest_id=GUEST, phone_number_id=number,
                      department=dept, language="en", accumulated_data=known)
    await hotel.store.conversations.commit_step(StepCommit(
        phone_number_id=number, guest_id=GUEST, hotel_id="demo_hotel",
        context=context.to_dict(), guest_data=context.accumulated_data, language="en",
        inbound_seq=None,
    ))


async def test_room_service_at_night_says_when_it_opens_and_takes_no_order(
    start_hotel: HotelFactory,
) -> None:
    # 23:30 in London (GMT in November): room service serves 07:00-23:00.
    hotel = await start_hotel(clock=ShiftedClock(datetime(2026, 11, 25, 23, 30, tzinfo=UTC)))
    number = _number("room_service")
    menu = await _said(hotel, number, "hi")
    assert "Order food & drinks closed now, opens tomorrow at 07:00" in menu  # a list row
    refused = await _said(hotel, number, "Order food & drinks")
    assert ("Sorry, Order food & drinks is available from 07:00 to 23:00. It opens again "
            "tomorrow at 07:00.") in refused
    assert "What would you like to order?" not in refused
    feedback = await _said(hotel, number, "2")  # what is possible: feedback is always open
    assert "rate" in feedback.lower()
    assert await hotel.store.requests.recent("demo_hotel") == []
    assert hotel.fake.refused == []


async def test_breakfast_closed_mid_morning_the_list_says_so(start_hotel: HotelFactory) -> None:
    hotel = await start_hotel(clock=ShiftedClock(datetime(2026, 11, 25, 11, 0, tzinfo=UTC)))
    number = _number("room_service")
    await _said(hotel, number, "hi")
    await _said(hotel, number, "1")
    last = hotel.fake.sent_to(GUEST)[-1].body
    assert message_kind(last) == "list"
    rows = last["interactive"]["action"]["sections"][0]["rows"]
    breakfast = next(r for r in rows if r["title"] == "Breakfast")
    assert breakfast["description"] == "closed now, opens tomorrow at 07:00"
    refused = await _said(hotel, number, "breakfast")
    assert "Breakfast is available from 07:00 to 10:30" in refused
    assert "Our mains:" in await _said(hotel, number, "mains")


async def test_a_housekeeping_time_past_today_is_booked_for_tomorrow(
    start_hotel: HotelFactory,
) -> None:
    # 20:30 in London: "7pm" has passed today, and housekeeping comes 08:00-20:00.
    hotel = await start_hotel(clock=ShiftedClock(datetime(2026, 11, 25, 20, 30, tzinfo=UTC)))
    number = _number("housekeeping")
    await _remember_room(hotel, number, "housekeeping")
    await _said(hotel, number, "hi")
    await _said(hotel, number, "1")
    assert "When would suit you best?" in await _said(hotel, number, "fresh towels")
    assert "between 08:00 and 20:00" in await _said(hotel, number, "9pm")
    confirm = await _said(hotel, number, "7pm")
    assert "19:00 has already passed today, so we have it for tomorrow." in confirm
    assert "Fresh towels for room 412, Thursday 26 November, 19:00." in confirm
    done = await _said(hotel, number, "yes")
    assert "Thursday 26 November, 19:00" in done
    [request] = await hotel.store.requests.recent("demo_hotel")
    assert request.kind == "housekeeping"
    assert request.data["preferred_time"] == "2026-11-26T19:00"
    assert hotel.fake.refused == []
