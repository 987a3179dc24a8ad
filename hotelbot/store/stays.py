"""Stays: the guests' bookings as the hotel's PMS gives them (issue 10).

Owns: the SQL of the stays table, its repository seam (`StayRepository`) and the SQLite
implementation: a stay's upsert with its re-planned scheduled rows and the guest's name and
room in ONE transaction (nothing half-applied), its cancellation, and the segments a broadcast
reaches (in-house, arriving). Must never write except through the group-commit writer, and
never let one hotel's stay touch another hotel's rows (the hotel is part of every key).

A stay's scheduled rows carry its booking_ref and a trigger_key unique per hotel
("stay:<ref>:<message_type>[:<date>]"): an upsert moves a pending row in place (an extension
moves the checkout reminder), revives a row an earlier change had skipped, inserts what is
new, and skips the pending rows the new plan no longer has (reason `stay_changed`); rows
already sent stay sent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from hotelbot.store import codec
from hotelbot.store.codec import encode_json, encode_time
from hotelbot.store.database import Database
from hotelbot.store.records import (
    ScheduledMessage,
    ScheduledStatus,
    StayRecord,
    StayState,
)
from hotelbot.store.scheduled import full_params
from hotelbot.typedefs import JSONScalar

S = ScheduledStatus
STAY_CHANGED = "stay_changed"
STAY_CANCELLED = "stay_cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class StayApplied:
    """What a stay's upsert or cancellation left: its open rows, the rows it skipped, and the
    guest's shared data after it (None: untouched)."""

    open_rows: tuple[ScheduledMessage, ...]
    skipped_ids: tuple[int, ...]
    guest_data: dict[str, JSONScalar] | None = None
    guest_language: str | None = None


class StayRepository(Protocol):
    """The stays (the seam: a PostgreSQL one can stand beside)."""

    async def get(self, hotel_id: str, booking_ref: str) -> StayRecord | None: ...

    async def upsert(self, stay: StayRecord, plan: Sequence[ScheduledMessage], at: datetime,
                     *, set_room: bool, extra: Mapping[str, JSONScalar] | None = None
                     ) -> StayApplied:
        """Store the stay and its re-planned rows in ONE transaction (module docstring).

        `set_room`: the guest's shared data gets the stay's name and room (and language), and
        `extra` (e.g. that the hotel confirmed them for the stay).
        """
        ...

    async def cancel(self, hotel_id: str, booking_ref: str, at: datetime) -> StayApplied | None:
        """The stay is cancelled and its pending rows skipped (stay_cancelled); None: no
        such stay."""
        ...

    async def in_house(self, hotel_id: str, at: datetime) -> list[StayRecord]:
        """Booked stays with check_in <= at < check_out."""
        ...

    async def arriving(self, hotel_id: str, start: datetime, end: datetime) -> list[StayRecord]:
        """Booked stays with start <= check_in < end."""
        ...


class SqliteStays:
    """StayRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, hotel_id: str, booking_ref: str) -> StayRecord | None:
        found = await self._db.fetchone(_GET, (hotel_id, booking_ref))
        return None if found is None else stay_from_row(found)

    async def upsert(self, stay: StayRecord, plan: Sequence[ScheduledMessage], at: datetime,
                     *, set_room: bool, extra: Mapping[str, JSONScalar] | None = None
                     ) -> StayApplied:
        when = encode_time(at)
        more = dict(extra or {})
        stay_row = (stay.hotel_id, stay.booking_ref, stay.guest_id, stay.guest_name, stay.room,
                    encode_time(stay.check_in), encode_time(stay.check_out), stay.language,
                    StayState.BOOKED, when)
        rows = [full_params(r, when) for r in plan]
        keys = encode_json([r.trigger_key for r in plan])
        ref = (stay.hotel_id, stay.booking_ref)
        guest = (stay.hotel_id, stay.guest_id, stay.guest_name, stay.room, stay.language)

        def upsert(conn: sqlite3.Connection) -> StayApplied:
            old = conn.execute(_GET, ref).fetchone()
            if old is not None and old[2] != stay.guest_id:  # the booking moved to another guest
                conn.execute(_SKIP_STAY_ROWS, (S.SKIPPED, STAY_CHANGED, when, *ref, S.PENDING))
            conn.execute(_UPSERT, stay_row)
            for params in rows:
                conn.execute(_PLAN_ROW, (*params, S.PENDING, S.PENDING, S.SKIPPED,
                                         STAY_CHANGED, STAY_CANCELLED))
            skipped = conn.execute(_SKIP_UNPLANNED, (S.SKIPPED, STAY_CHANGED, when, *ref,
                                                     S.PENDING, keys)).fetchall()
            data, language = None, None
            if set_room:
                data, language = _set_guest(conn, guest, more)
            return StayApplied(open_rows=_open_rows(conn, ref),
                               skipped_ids=tuple(i for (i,) in skipped),
                               guest_data=data, guest_language=language)

        return await self._db.write(upsert)

    async def cancel(self, hotel_id: str, booking_ref: str, at: datetime) -> StayApplied | None:
        when = encode_time(at)
        ref = (hotel_id, booking_ref)

        def cancel(conn: sqlite3.Connection) -> StayApplied | None:
            if conn.execute(_SET_STATE, (StayState.CANCELLED, when, *ref)).rowcount != 1:
                return None
            skipped = conn.execute(_SKIP_STAY_ROWS_RETURNING,
                                   (S.SKIPPED, STAY_CANCELLED, when, *ref, S.PENDING)).fetchall()
            return StayApplied(open_rows=(), skipped_ids=tuple(i for (i,) in skipped))

        return await self._db.write(cancel)

    async def in_house(self, hotel_id: str, at: datetime) -> list[StayRecord]:
        when = encode_time(at)
        rows = await self._db.fetchall(_IN_HOUSE, (hotel_id, StayState.BOOKED, when, when))
        return sorted((stay_from_row(row) for row in rows), key=_by_booking)

    async def arriving(self, hotel_id: str, start: datetime, end: datetime) -> list[StayRecord]:
        rows = await self._db.fetchall(
            _ARRIVING, (hotel_id, StayState.BOOKED, encode_time(start), encode_time(end)))
        return sorted((stay_from_row(row) for row in rows), key=_by_booking)


def _by_booking(stay: StayRecord) -> str:
    return stay.booking_ref


def _open_rows(conn: sqlite3.Connection, ref: tuple[str, str]) -> tuple[ScheduledMessage, ...]:
    found = conn.execute(_STAY_ROWS, (*ref, S.PENDING)).fetchall()
    rows = (codec.scheduled_from_row(row) for row in found)
    return tuple(sorted(rows, key=lambda r: (r.scheduled_at, r.id)))


def _set_guest(conn: sqlite3.Connection, guest: tuple[str, str, str, str, str | None],
               extra: Mapping[str, JSONScalar]) -> tuple[dict[str, JSONScalar], str | None]:
    hotel_id, guest_id, name, room, language = guest
    conn.execute(_GUEST_SET, (hotel_id, guest_id, name, room, language))
    for key, value in extra.items():
        conn.execute(_GUEST_EXTRA, ('$."' + key + '"', value, hotel_id, guest_id))
    data, lang = conn.execute(_GUEST_GET, (hotel_id, guest_id)).fetchone()
    return cast(dict[str, JSONScalar], codec.decode_object(data)), lang


STAY_COLUMNS = (
    "hotel_id, booking_ref, guest_id, guest_name, room, check_in, check_out, language, state"
)


def stay_from_row(row: tuple[object, ...]) -> StayRecord:
    hotel_id, ref, guest_id, name, room, check_in, check_out, language, state = row
    return StayRecord(
        hotel_id=str(hotel_id), booking_ref=str(ref), guest_id=str(guest_id),
        guest_name=str(name), room=str(room), check_in=codec.decode_time(str(check_in)),
        check_out=codec.decode_time(str(check_out)),
        language=None if language is None else str(language), state=StayState(str(state)))


# --- statements: run on the connection thread inside a writer job ------------------------------

_GET = f"SELECT {STAY_COLUMNS} FROM stays WHERE hotel_id = ? AND booking_ref = ?"
_UPSERT = (
    f"INSERT INTO stays ({STAY_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (hotel_id, booking_ref) DO UPDATE SET guest_id = excluded.guest_id,"
    " guest_name = excluded.guest_name, room = excluded.room, check_in = excluded.check_in,"
    " check_out = excluded.check_out, language = excluded.language, state = excluded.state,"
    " updated_at = excluded.updated_at"
)
# A planned row: new, or moved in place while pending, or revived when a stay change (not
# an operator, not a send) had skipped it.
_PLAN_ROW = (
    "INSERT INTO scheduled_messages (hotel_id, phone_number_id, guest_id, message_type,"
    " scheduled_at, data, status, created_at, kind, trigger_key, booking_ref)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (hotel_id, trigger_key) WHERE trigger_key IS NOT NULL DO UPDATE SET"
    " phone_number_id = excluded.phone_number_id, guest_id = excluded.guest_id,"
    " scheduled_at = excluded.scheduled_at, data = excluded.data, status = ?,"
    " skip_reason = NULL, done_at = NULL"
    " WHERE scheduled_messages.status = ?"
    " OR (scheduled_messages.status = ? AND scheduled_messages.skip_reason IN (?, ?))"
)
_SKIP_UNPLANNED = (
    "UPDATE scheduled_messages SET status = ?, skip_reason = ?, done_at = ?"
    " WHERE hotel_id = ? AND booking_ref = ? AND status = ?"
    " AND trigger_key NOT IN (SELECT value FROM json_each(?)) RETURNING id"
)
_SKIP_STAY_ROWS = (
    "UPDATE scheduled_messages SET status = ?, skip_reason = ?, done_at = ?"
    " WHERE hotel_id = ? AND booking_ref = ? AND status = ?"
)
_SKIP_STAY_ROWS_RETURNING = f"{_SKIP_STAY_ROWS} RETURNING id"
_STAY_ROWS = (
    f"SELECT {codec.SCHEDULED_COLUMNS} FROM scheduled_messages"
    " WHERE hotel_id = ? AND booking_ref = ? AND status = ?"  # sorted in Python: an ORDER BY
)  # here would make the planner walk the status index (every pending row) for its order
_SET_STATE = "UPDATE stays SET state = ?, updated_at = ? WHERE hotel_id = ? AND booking_ref = ?"
# Sorted by booking in Python: an ORDER BY booking_ref here makes the planner walk the primary
# key (every stay the hotel ever had) for its order instead of searching stays_by_dates.
_IN_HOUSE = (
    f"SELECT {STAY_COLUMNS} FROM stays WHERE hotel_id = ? AND state = ?"
    " AND check_in <= ? AND check_out > ?"
)
_ARRIVING = (
    f"SELECT {STAY_COLUMNS} FROM stays WHERE hotel_id = ? AND state = ?"
    " AND check_in >= ? AND check_in < ?"
)
_GUEST_SET = (
    "INSERT INTO guests (hotel_id, guest_id, data, language)"
    " VALUES (?1, ?2, json_object('guest_name', ?3, 'room', ?4), ?5)"
    " ON CONFLICT (hotel_id, guest_id) DO UPDATE SET"
    " data = json_set(guests.data, '$.guest_name', ?3, '$.room', ?4),"
    " language = coalesce(?5, guests.language)"
)
_GUEST_GET = "SELECT data, language FROM guests WHERE hotel_id = ? AND guest_id = ?"
_GUEST_EXTRA = "UPDATE guests SET data = json_set(data, ?, ?) WHERE hotel_id = ? AND guest_id = ?"
