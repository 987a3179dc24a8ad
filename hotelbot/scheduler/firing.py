"""A batch of due rows, decided: what becomes of each (no I/O; the actor reads and writes).

Owns: turning the rows the wheel fired, with what the store read for them in one hop
(store.FireContext: the guests, their opt-outs, their windows), into the store's `Fired`
records (an outbox row to send, or a skip or failure with its reason) and the guest-book
updates a checkout makes. The rules themselves are triggers.decide's. Must never read the
clock, the store or the network: `now` comes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from hotelbot.flows import Category, Hotels
from hotelbot.scheduler.triggers import Send, Skip, decide
from hotelbot.store import (
    FireContext,
    Fired,
    GuestRecord,
    OutboundMessage,
    Priority,
    ScheduledKind,
    ScheduledMessage,
    ScheduledStatus,
)
from hotelbot.typedefs import HotelId, JSONScalar

# The 24-hour window as the pacer keeps it (a minute of margin): outside it, the template.
WINDOW = timedelta(hours=24) - timedelta(minutes=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestUpdate:
    """A guest's shared data after a checkout removed the stay's room (for the guest book)."""

    hotel_id: str
    guest_id: str
    data: dict[str, JSONScalar]
    language: str


def windows_needed(hotels: Hotels, rows: Sequence[ScheduledMessage]) -> set[tuple[str, str]]:
    """(sending number, guest) of every message row: whose 24-hour windows to read."""
    return {(number_of(hotels, row), row.guest_id) for row in rows
            if row.kind is ScheduledKind.MESSAGE}


def decide_rows(hotels: Hotels, rows: Sequence[ScheduledMessage], context: FireContext,
                now: datetime) -> tuple[list[Fired], list[GuestUpdate]]:
    """What becomes of each row, and the guest-book updates its checkouts make."""
    fired: list[Fired] = []
    updates: list[GuestUpdate] = []
    open_after = now - WINDOW
    for row in rows:
        hotel = hotels.hotels.get(HotelId(row.hotel_id))
        if hotel is None:
            fired.append(Fired(id=row.id, status=ScheduledStatus.FAILED, reason="unknown_hotel"))
            continue
        guest = context.guests.get((row.hotel_id, row.guest_id)) or GuestRecord(
            hotel_id=row.hotel_id, guest_id=row.guest_id, data={})
        if row.kind is ScheduledKind.CHECKOUT:
            fired.append(_checkout(row, guest, updates))
            continue
        last = context.last_inbound.get((number_of(hotels, row), row.guest_id))
        outcome = decide(
            hotel, message_type=row.message_type,
            from_stay_or_trigger=row.trigger_key is not None,
            language=str(guest.language or row.data.get("language") or ""),
            data=row.data, guest=guest.data,
            opted_out=(row.hotel_id, row.guest_id) in context.opted_out,
            window_open=last is not None and last > open_after)
        fired.append(_fired(row, outcome))
    return fired, updates


def _checkout(row: ScheduledMessage, guest: GuestRecord, updates: list[GuestUpdate]) -> Fired:
    """The stay ended: its room leaves the guest's data (only if it is still that room: a
    new stay's room stays)."""
    ended = (row.hotel_id, str(row.booking_ref))
    data = dict(guest.data)
    room = row.data.get("room")
    if room is None or data.get("room") != room:
        return Fired(id=row.id, status=ScheduledStatus.SENT, stay_checked_out=ended)
    data.pop("room")
    updates.append(GuestUpdate(hotel_id=row.hotel_id, guest_id=row.guest_id, data=data,
                               language=guest.language or ""))
    return Fired(id=row.id, status=ScheduledStatus.SENT, stay_checked_out=ended,
                 guest=(row.hotel_id, row.guest_id, orjson.dumps(data).decode(),
                        guest.language))


def number_of(hotels: Hotels, row: ScheduledMessage) -> str:
    """The number that sends a row: its message type's department's (the row's own else)."""
    hotel = hotels.hotels.get(HotelId(row.hotel_id))
    if hotel is None:
        return row.phone_number_id
    spec = hotel.scheduled.get(row.message_type)
    department = hotel.departments.get(spec.department) if spec is not None else None
    return department.phone_number_id if department is not None else row.phone_number_id


def _fired(row: ScheduledMessage, outcome: Send | Skip) -> Fired:
    if isinstance(outcome, Skip):
        status = ScheduledStatus.FAILED if outcome.failed else ScheduledStatus.SKIPPED
        return Fired(id=row.id, status=status, reason=outcome.reason)
    priority = Priority.MARKETING if outcome.category is Category.MARKETING else Priority.SERVICE
    message = OutboundMessage(phone_number_id=outcome.phone_number_id, guest_id=row.guest_id,
                              body=outcome.body, priority=priority, template=outcome.template)
    return Fired(id=row.id, status=ScheduledStatus.SENT, outbound=message,
                 reply_flow=outcome.reply_flow)
