"""The seed's Day 1-3 example through the real server, the fake Graph API and a fake clock.

Day 1: the PMS sends the stay; the guest checks in through the check-in flow.
Day 2: the scheduler sends "How was breakfast?"; the guest's "Great!" starts the feedback flow.
Day 3: the scheduler sends the checkout reminder; "Can I extend?" starts the stay extension;
       the PMS extends the stay and the next reminder moves with it.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from hotelbot.cli.screen import SendText, message_item
from hotelbot.devtools.fake_graph import RecordedSend
from hotelbot.store import RequestStatus, ScheduledStatus
from tests.fakes.clock import FakeClock
from tests.fakes.hotel import Hotel, HotelFactory, webhook_post
from tests.messages import message_text
from tests.numbers import FRONT_DESK

pytestmark = pytest.mark.e2e

GUEST = "447700900555"
TOKEN = "day-one-pms-token-abcdef"
_ids = itertools.count(1)


class Guest:
    """The guest and the hotel on one fake clock: writes as Meta posts them, at clock time."""

    def __init__(self, hotel: Hotel, clock: FakeClock) -> None:
        self.hotel = hotel
        self.clock = clock

    async def settle(self) -> None:
        core = self.hotel.core
        for _ in range(2000):
            await core.scheduler.wait_idle()
            await core.router.wait_idle()
            await core.pacer.wait_idle()
            if not core.pacer.statistics().buffered:
                return
            self.clock.jump(0.01)

    async def write(self, text: str, *, quoting: str | None = None) -> list[str]:
        """Send `text` to the front desk; the texts of the replies it got."""
        before = len(self.hotel.fake.sent_to(GUEST))
        item = message_item(SendText(text=text), guest=GUEST, wamid=f"wamid.DAY{next(_ids):06d}",
                            now=int(self.clock.now().timestamp()))
        if quoting is not None:
            item["context"] = {"from": "15550000000", "id": quoting}
        assert await self.hotel.post(webhook_post(FRONT_DESK, GUEST, [item])) == 200
        await self.settle()
        return [message_text(s.body) for s in self.hotel.fake.sent_to(GUEST)[before:]]

    async def wait_until(self, when: datetime) -> list[RecordedSend]:
        """Let the clock run to `when`; what the hotel sent meanwhile."""
        before = len(self.hotel.fake.sent_to(GUEST))
        self.clock.jump_to(when)
        await self.settle()
        return self.hotel.fake.sent_to(GUEST)[before:]

    async def pms(self, method: str, body: dict[str, Any] | None = None) -> int:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        path = "/api/v1/hotels/demo_hotel/stays/DAY-1"
        async with self.hotel.client.request(method, path, data=orjson.dumps(body),
                                             headers=headers) as response:
            await response.read()
            return response.status


STAY = {"guest_wa_id": GUEST, "guest_name": "Ana Lopez", "room": "305",
        "check_in": "2026-06-01T14:00:00+01:00", "check_out": "2026-06-03T11:00:00+01:00"}
CHECK_IN = ["Hello", "1", "Ana Lopez", "AB1234", "around 3pm", "skip", "yes"]


@pytest.fixture
async def day(start_hotel: HotelFactory, monkeypatch: pytest.MonkeyPatch) -> Guest:
    monkeypatch.setenv("HOTELBOT_DEMO_PMS_TOKEN", TOKEN)
    clock = FakeClock(start=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    hotel = await start_hotel(clock=clock)
    return Guest(hotel, clock)


async def test_the_seeds_day_one_to_three(day: Guest) -> None:
    # Day 1: the PMS tells hotelbot about the stay; the guest checks in on WhatsApp.
    assert await day.pms("PUT", STAY) == 201
    day.clock.jump_to(datetime(2026, 6, 1, 13, 5, tzinfo=UTC))
    for text in CHECK_IN:
        replies = await day.write(text)
    assert replies == ["Thank you, Ana Lopez. Your check-in details are with the front desk; "
                       "we'll message you once they have checked them. See you soon at Demo "
                       "Hotel!"]
    [check_in] = await day.hotel.store.requests.recent("demo_hotel")
    assert (check_in.flow_id, check_in.status) == ("check_in", RequestStatus.NEW)
    welcome = await day.wait_until(datetime(2026, 6, 1, 14, 0, tzinfo=UTC))
    assert [message_text(s.body) for s in welcome] == [
        "Welcome to Demo Hotel, Ana Lopez! You are in room 305. Reply to this message any time "
        "to reach the front desk."]

    # Day 2: "How was breakfast?" at 10:00 London time (09:00 UTC in June), one-way.
    assert await day.wait_until(datetime(2026, 6, 2, 8, 59, 59, tzinfo=UTC)) == []
    [survey] = await day.wait_until(datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    assert message_text(survey.body) == (
        "Good morning Ana Lopez! How was breakfast today? Reply to this message to rate it.")
    assert await day.hotel.store.conversations.load(FRONT_DESK, GUEST) is not None  # day 1's
    day.clock.jump(300)
    replies = await day.write("Great!")
    assert replies[-1].startswith("How would you rate your experience")
    await day.write("5")
    await day.write("skip")
    feedback = await day.hotel.store.requests.recent("demo_hotel")
    assert [r.flow_id for r in feedback] == ["feedback", "check_in"]
    assert feedback[0].data["rating"] == 5

    # Day 3: the checkout reminder, two hours before 11:00 London time; one-way.
    [reminder] = await day.wait_until(datetime(2026, 6, 3, 8, 0, tzinfo=UTC))
    assert "check-out is today at 11:00" in message_text(reminder.body)
    day.clock.jump(600)
    replies = await day.write("Can I extend?")
    assert replies[-1].startswith("What would be your new checkout date?")
    # The PMS extends the stay: the next checkout reminder moves to the new last morning.
    assert await day.pms("PUT", {**STAY, "check_out": "2026-06-04T11:00:00+01:00"}) == 200
    pending = await day.hotel.store.scheduled.listing("demo_hotel", ScheduledStatus.PENDING, 50)
    assert [(r.message_type, r.scheduled_at) for r in pending
            if r.message_type == "checkout_reminder"] == [
        ("checkout_reminder", datetime(2026, 6, 4, 8, 0, tzinfo=UTC))]


async def test_a_reply_quoting_a_scheduled_message_starts_its_flow_later(day: Guest) -> None:
    assert await day.pms("PUT", {**STAY, "check_in": "2026-06-01T10:00:00+01:00"}) == 201
    await day.write("Hello")  # the window opens; the guest is at the main menu
    [survey] = await day.wait_until(datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    day.clock.jump(60)
    await day.write("menu")  # something else first: the survey is no longer "the last word"
    day.clock.jump(60)
    plain = await day.write("It was lovely")
    assert not plain[-1].startswith("How would you rate")
    quoted = await day.write("It was lovely", quoting=survey.wamid)
    assert quoted[-1].startswith("How would you rate your experience")


async def test_cancelling_the_stay_before_day_two_sends_no_survey(day: Guest) -> None:
    assert await day.pms("PUT", STAY) == 201
    assert await day.pms("DELETE") == 200
    sent = await day.wait_until(datetime(2026, 6, 3, 12, 0, tzinfo=UTC))
    assert sent == []
    await asyncio.sleep(0)
