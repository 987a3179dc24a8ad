"""Stays from the hotel's PMS: validating one, and applying it to the schedule (issue 10).

Owns: the rules of a stay's fields (the HTTP API and the CSV import share them: every fault
names its field and reason), and applying a stay or its cancellation: the stay, its re-planned
rows and the guest's name and room in one transaction (store.stays), then the wheel. Must never
write SQL (store/) or answer HTTP (web/).

Fields: guest_wa_id (WhatsApp id: digits, 6-15, an optional leading +), guest_name (1-100
characters), room (the hotel's room_pattern), check_in and check_out (ISO 8601 with an offset,
check_out after check_in), language (optional: one the hotel enables). A booking_ref is 1-64
letters, digits, ".", "_" or "-".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from hotelbot.flows import Hotel, remembered_mark
from hotelbot.scheduler.triggers import CHECKOUT, stay_plan, stay_values
from hotelbot.store import (
    ScheduledKind,
    ScheduledMessage,
    StayApplied,
    StayRecord,
    Store,
)
from hotelbot.typedefs import Dept, JSONScalar

FIELDS = ("guest_wa_id", "guest_name", "room", "check_in", "check_out", "language")
REQUIRED = FIELDS[:-1]
_WA_ID = re.compile(r"^\+?[0-9]{6,15}$")
_REF = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_NAME = 100


class Tracker(Protocol):
    """The scheduler's side of a stay change (SchedulerActor): the wheel and the guest book."""

    def track(self, rows: Iterable[ScheduledMessage]) -> None: ...

    def forget(self, ids: Iterable[int]) -> None: ...

    def guest_changed(self, hotel_id: str, guest_id: str, data: dict[str, JSONScalar],
                      language: str | None) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldError:
    field: str
    reason: str


def valid_booking_ref(ref: str) -> bool:
    return bool(_REF.fullmatch(ref))


def parse_stay(hotel: Hotel, booking_ref: str,
               body: Mapping[str, object]) -> StayRecord | list[FieldError]:
    """A stay from its fields, or every fault (field, reason)."""
    faults = [FieldError(field=k, reason="unknown field (allowed: " + ", ".join(FIELDS) + ")")
              for k in body if k not in FIELDS]
    faults += [FieldError(field=k, reason="required") for k in REQUIRED if k not in body]
    if not valid_booking_ref(booking_ref):
        faults.append(FieldError(field="booking_ref",
                                 reason="1-64 letters, digits, '.', '_' or '-'"))
    wa_id = _text(body, "guest_wa_id", faults)
    if wa_id is not None and not _WA_ID.fullmatch(wa_id):
        faults.append(FieldError(field="guest_wa_id", reason="expected a WhatsApp id: 6-15 "
                                 "digits with the country code, e.g. 447700900123"))
    name = _text(body, "guest_name", faults)
    if name is not None and len(name) > MAX_NAME:
        faults.append(FieldError(field="guest_name", reason=f"at most {MAX_NAME} characters"))
    room = _text(body, "room", faults)
    if room is not None and not re.fullmatch(hotel.room_pattern, room):
        faults.append(FieldError(field="room", reason="not a room number of this hotel"))
    check_in = _moment(body, "check_in", faults)
    check_out = _moment(body, "check_out", faults)
    if check_in is not None and check_out is not None and check_out <= check_in:
        faults.append(FieldError(field="check_out", reason="must be after check_in"))
    language = body.get("language")
    if language is not None and language not in hotel.languages:
        faults.append(FieldError(field="language", reason="expected one of the hotel's "
                                 f"languages: {', '.join(hotel.languages)}"))
    if faults or None in (wa_id, name, room, check_in, check_out):
        return faults
    assert wa_id is not None and name is not None and room is not None
    assert check_in is not None and check_out is not None
    return StayRecord(hotel_id=hotel.hotel_id, booking_ref=booking_ref,
                      guest_id=wa_id.removeprefix("+"), guest_name=name.strip(),
                      room=room, check_in=check_in, check_out=check_out,
                      language=str(language) if language is not None else None)


def _text(body: Mapping[str, object], key: str, faults: list[FieldError]) -> str | None:
    value = body.get(key)
    if key not in body:
        return None
    if not isinstance(value, str) or not value.strip():
        faults.append(FieldError(field=key, reason="expected a non-empty string"))
        return None
    return value.strip()


def _moment(body: Mapping[str, object], key: str, faults: list[FieldError]) -> datetime | None:
    value = _text(body, key, faults)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        faults.append(FieldError(field=key, reason="expected ISO 8601, e.g. "
                                 "2026-11-28T15:00:00+00:00"))
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        faults.append(FieldError(field=key, reason="needs a UTC offset, e.g. +01:00 or Z"))
        return None
    return moment


async def put_stay(scheduler: Tracker, store: Store, hotel: Hotel,
                   stay: StayRecord, now: datetime) -> StayApplied:
    """Store the stay and re-plan its rows (one transaction); the wheel follows. A stay whose
    check_out has passed is checked out at once (its checkout row is due now)."""
    values = stay_values(guest_name=stay.guest_name, room=stay.room, check_in=stay.check_in,
                         check_out=stay.check_out)
    if stay.language is not None:
        values["language"] = stay.language
    plan = [
        ScheduledMessage(
            hotel_id=stay.hotel_id, guest_id=stay.guest_id, message_type=due.message_type,
            phone_number_id=hotel.departments[Dept(due.department)].phone_number_id
            if due.department else "",
            scheduled_at=max(due.at, now) if due.message_type == CHECKOUT else due.at,
            data=values, trigger_key=due.key, booking_ref=stay.booking_ref,
            kind=ScheduledKind.CHECKOUT if due.message_type == CHECKOUT
            else ScheduledKind.MESSAGE)
        for due in stay_plan(hotel, booking_ref=stay.booking_ref, check_in=stay.check_in,
                             check_out=stay.check_out, now=now)
    ]
    in_house = stay.check_out > now
    # The hotel told us the room and name: no need to ask the guest to confirm them during
    # the stay (the engine's remembered-data check, flows/remembered.py).
    last_day = stay.check_out.astimezone(ZoneInfo(hotel.timezone)).date().isoformat()
    confirmed: dict[str, JSONScalar] = {remembered_mark("room"): last_day,
                                        remembered_mark("guest_name"): last_day}
    applied = await store.stays.upsert(stay, plan, now, set_room=in_house, extra=confirmed)
    scheduler.forget(applied.skipped_ids)
    scheduler.track(applied.open_rows)
    if applied.guest_data is not None:
        scheduler.guest_changed(stay.hotel_id, stay.guest_id, applied.guest_data,
                                applied.guest_language)
    return applied


async def delete_stay(scheduler: Tracker, store: Store, hotel_id: str,
                      booking_ref: str, now: datetime) -> StayApplied | None:
    """Cancel the stay: its pending rows are skipped (stay_cancelled). None: no such stay."""
    applied = await store.stays.cancel(hotel_id, booking_ref, now)
    if applied is not None:
        scheduler.forget(applied.skipped_ids)
    return applied
