"""Broadcasts: one scheduled message to a segment of a hotel's guests (issue 10).

Owns: resolving a segment (in-house guests, guests arriving tomorrow in the hotel's time zone,
a list of numbers) into rows, one per guest, due now or at the end of the category's quiet
hours. Must never send: the rows go through the scheduler like any other (opt-out, window,
templates, pacing are decided when they fire). A broadcast's rows share a trigger key prefix
("broadcast:<id>:"), so a repeated request with the same id adds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from hotelbot.flows import Hotel
from hotelbot.scheduler.triggers import local_moment, quiet_adjusted, stay_values
from hotelbot.store import ScheduledMessage, StayRecord, StayRepository
from hotelbot.typedefs import Dept, JSONScalar

_WA_ID = re.compile(r"^[0-9]{6,15}$")
MAX_NUMBERS = 10_000


class Segment(StrEnum):
    IN_HOUSE = "in_house"  # stays with check_in <= now < check_out
    ARRIVING_TOMORROW = "arriving_tomorrow"  # check_in on tomorrow's date, hotel time
    NUMBERS = "numbers"  # the numbers given


@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastResult:
    broadcast_id: str
    rows: int  # rows added (a repeated id adds none)
    due: datetime  # when they fire (quiet hours moved it to the morning)
    refused: tuple[str, ...] = ()  # numbers that are not WhatsApp ids


class BroadcastError(ValueError):
    """A broadcast the scheduler refuses; the message says why (shown to the operator)."""


class Inserter(Protocol):
    async def insert(self, rows: Sequence[ScheduledMessage]) -> list[int]: ...


class HasStays(Protocol):
    @property
    def stays(self) -> StayRepository: ...


async def broadcast(scheduler: Inserter, store: HasStays, hotel: Hotel, *, message_type: str,
                    segment: Segment, numbers: Sequence[str], broadcast_id: str,
                    now: datetime) -> BroadcastResult:
    """Add one row per guest of the segment.

    Raises:
        BroadcastError: unknown or inactive message type, no numbers for `numbers`, too many.
    """
    spec = hotel.scheduled.get(message_type)
    if spec is None:
        known = ", ".join(sorted(hotel.scheduled)) or "none"
        raise BroadcastError(f"unknown message type {message_type!r} (this hotel's: {known})")
    if not spec.active:
        raise BroadcastError(f"message type {message_type!r} is not active")
    guests, refused = await _guests(store, hotel, segment, numbers, now)
    due = quiet_adjusted(hotel, spec.category, now)
    number = hotel.departments[Dept(spec.department)].phone_number_id
    rows = [ScheduledMessage(
        hotel_id=hotel.hotel_id, phone_number_id=number, guest_id=guest,
        message_type=message_type, scheduled_at=due, data=data,
        trigger_key=f"broadcast:{broadcast_id}:{guest}") for guest, data in guests.items()]
    ids = await scheduler.insert(rows)
    return BroadcastResult(broadcast_id=broadcast_id, rows=len(ids), due=due,
                           refused=tuple(refused))


async def _guests(store: HasStays, hotel: Hotel, segment: Segment, numbers: Sequence[str],
                  now: datetime) -> tuple[dict[str, dict[str, JSONScalar]], list[str]]:
    if segment is Segment.NUMBERS:
        if not numbers:
            raise BroadcastError("give the numbers to send to")
        if len(numbers) > MAX_NUMBERS:
            raise BroadcastError(f"at most {MAX_NUMBERS} numbers in one broadcast")
        cleaned = [n.strip().removeprefix("+") for n in numbers]
        refused = [n for n in cleaned if not _WA_ID.fullmatch(n)]
        return {n: {} for n in cleaned if _WA_ID.fullmatch(n)}, refused
    if segment is Segment.IN_HOUSE:
        stays = await store.stays.in_house(hotel.hotel_id, now)
    else:
        zone = ZoneInfo(hotel.timezone)
        tomorrow = now.astimezone(zone).date() + timedelta(days=1)
        start = local_moment(zone, tomorrow, datetime.min.time())
        end = local_moment(zone, tomorrow + timedelta(days=1), datetime.min.time())
        stays = await store.stays.arriving(hotel.hotel_id, start, end)
    return {s.guest_id: _stay_data(s) for s in stays}, []


def _stay_data(stay: StayRecord) -> dict[str, JSONScalar]:
    values = stay_values(guest_name=stay.guest_name, room=stay.room, check_in=stay.check_in,
                         check_out=stay.check_out)
    if stay.language is not None:
        values["language"] = stay.language
    return values
