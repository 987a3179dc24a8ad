"""Scheduled messages: what the hotel will send a guest later (reminders, surveys, promos).

Owns: the SQL of the scheduled_messages table, its repository seam (`ScheduledRepository`) and
the SQLite implementation, and the statements other transactions compose (a step's insert, a
stay's plan in stays.py). Must never write except through the group-commit writer, never
mark a row sent without committing its outbox row in the same transaction, and never move a
row out of sent / skipped / failed.

    pending ──claim──▶ due ──complete──▶ sent (outbox row, same transaction)
       │                 └──────────────▶ skipped (reason) / failed (reason)
       └──cancel / a stay's re-plan──────▶ skipped (reason)

Due times are `scheduled_at`, fixed-width UTC text (codec.py): text order is time order, and
the index scheduled_by_status_time (status, scheduled_at) serves "pending rows due before t".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from hotelbot.store import codec
from hotelbot.store.codec import encode_json, encode_time
from hotelbot.store.database import Database, lastrowid
from hotelbot.store.guests import upsert_guest_data
from hotelbot.store.outbox import insert_outbound
from hotelbot.store.records import (
    GuestRecord,
    OutboundMessage,
    ScheduledMessage,
    ScheduledStatus,
    StayState,
)

S = ScheduledStatus
OPEN = (S.PENDING, S.DUE)  # not yet decided


@dataclass(frozen=True, slots=True, kw_only=True)
class Fired:
    """What became of one due row: sent as `outbound`, or skipped / failed with `reason`.

    `guest` (hotel_id, guest_id, data, language) replaces the guest's shared data in the same
    transaction (a checkout clears the room); `stay_checked_out` names the stay it ends.
    """

    id: int
    status: ScheduledStatus
    outbound: OutboundMessage | None = None
    reason: str | None = None
    reply_flow: str | None = None
    guest: tuple[str, str, str, str | None] | None = None
    stay_checked_out: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FireContext:
    """What deciding a batch of due rows reads, in one hop: the guests' shared data, their
    marketing opt-outs, and when each last wrote to the sending number (the 24-hour window)."""

    guests: dict[tuple[str, str], GuestRecord]  # (hotel_id, guest_id)
    opted_out: set[tuple[str, str]]  # (hotel_id, guest_id)
    last_inbound: dict[tuple[str, str], datetime]  # (phone_number_id, guest_id)


class ScheduledRepository(Protocol):
    """The scheduled messages (the seam: a PostgreSQL one can stand beside)."""

    async def pending(self) -> list[ScheduledMessage]:
        """Messages waiting to fire (status pending), by scheduled time then id."""
        ...

    async def pending_before(self, until: datetime, *, after_id: int = 0,
                             limit: int = 1_000_000) -> list[ScheduledMessage]:
        """Pending rows due before `until` with an id above `after_id`, by due time."""
        ...

    async def due(self) -> list[ScheduledMessage]:
        """Rows claimed (due) but not decided: what a crash left between claim and complete."""
        ...

    async def claim(self, ids: Sequence[int], at: datetime) -> list[ScheduledMessage]:
        """Pending rows among `ids` become due (one write); returns those it moved."""
        ...

    async def complete(self, fired: Sequence[Fired], at: datetime) -> list[OutboundMessage]:
        """Decide due rows in ONE transaction: outbox rows inserted for the sent ones.

        A row no longer due (cancelled meanwhile) is left as it is and gets no outbox row.

        Returns:
            The outbox rows committed (with their ids), for the pacer.
        """
        ...

    async def insert(self, rows: Sequence[ScheduledMessage], at: datetime) -> list[int]:
        """Insert rows (broadcasts, request triggers); a trigger_key already there is kept
        and its id is not returned (a trigger fires once)."""
        ...

    async def cancel(self, id: int, reason: str, at: datetime) -> bool:
        """A pending or due row becomes skipped with `reason`; False when it was not open."""
        ...

    async def get(self, id: int) -> ScheduledMessage | None: ...

    async def listing(self, hotel_id: str, status: ScheduledStatus | None,
                      limit: int) -> list[ScheduledMessage]:
        """A hotel's rows, by due time (pending/due) or newest first (others)."""
        ...

    async def last_sent(self, phone_number_id: str, guest_id: str) -> ScheduledMessage | None:
        """The latest row sent to the guest from this number (replies to scheduled sends)."""
        ...

    async def by_wamid(self, wamid: str) -> ScheduledMessage | None:
        """The sent row whose outbox row WhatsApp named `wamid` (a quoted reply's context.id)."""
        ...

    async def count_open(self) -> int: ...

    async def fire_context(self, guests: Collection[tuple[str, str]],
                           windows: Collection[tuple[str, str]]) -> FireContext:
        """The guests ((hotel_id, guest_id)) and windows ((phone_number_id, guest_id)) a
        batch of due rows needs, read in one hop."""
        ...


class SqliteScheduled:
    """ScheduledRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def pending(self) -> list[ScheduledMessage]:
        rows = await self._db.fetchall(_PENDING, (S.PENDING,))
        return [codec.scheduled_from_row(row) for row in rows]

    async def pending_before(self, until: datetime, *, after_id: int = 0,
                             limit: int = 1_000_000) -> list[ScheduledMessage]:
        rows = await self._db.fetchall(_PENDING_BEFORE,
                                       (S.PENDING, encode_time(until), after_id, limit))
        return [codec.scheduled_from_row(row) for row in rows]

    async def due(self) -> list[ScheduledMessage]:
        rows = await self._db.fetchall(_PENDING, (S.DUE,))
        return [codec.scheduled_from_row(row) for row in rows]

    async def claim(self, ids: Sequence[int], at: datetime) -> list[ScheduledMessage]:
        if not ids:
            return []
        wanted = sorted(set(ids))

        def claim(conn: sqlite3.Connection) -> list[ScheduledMessage]:
            # One primary-key UPDATE a row: `id IN (...) AND status = ?` would let the
            # planner walk the status index's million pending entries instead.
            found = []
            for id_ in wanted:
                row = conn.execute(_CLAIM, (S.DUE, id_, S.PENDING)).fetchone()
                if row is not None:
                    found.append(codec.scheduled_from_row(row))
            return found

        return sorted(await self._db.write(claim), key=lambda m: (m.scheduled_at, m.id))

    async def complete(self, fired: Sequence[Fired], at: datetime) -> list[OutboundMessage]:
        if not fired:
            return []
        when = encode_time(at)
        prepared = [(f, None if f.outbound is None else codec.outbound_params(f.outbound, when))
                    for f in fired]

        def complete(conn: sqlite3.Connection) -> list[OutboundMessage]:
            sent: list[OutboundMessage] = []
            for f, params in prepared:
                changed = conn.execute(_DECIDE, (f.status, f.reason, f.reply_flow, when, f.id,
                                                 S.DUE)).rowcount
                if changed != 1:
                    continue
                if f.outbound is not None and params is not None:
                    out_id = insert_outbound(conn, params)
                    conn.execute(_SET_OUTBOX, (out_id, f.id))
                    sent.append(_with_id(f.outbound, out_id))
                if f.guest is not None:
                    upsert_guest_data(conn, f.guest)
                if f.stay_checked_out is not None:
                    conn.execute(_STAY_STATE, (StayState.CHECKED_OUT, when,
                                               *f.stay_checked_out, StayState.BOOKED))
            return sent

        return await self._db.write(complete)

    async def insert(self, rows: Sequence[ScheduledMessage], at: datetime) -> list[int]:
        when = encode_time(at)
        params = [full_params(r, when) for r in rows]

        def insert(conn: sqlite3.Connection) -> list[int]:
            ids = []
            for p in params:
                cursor = conn.execute(_INSERT_FULL, p)
                if cursor.rowcount == 1:
                    ids.append(lastrowid(cursor))
            return ids

        return await self._db.write(insert)

    async def cancel(self, id: int, reason: str, at: datetime) -> bool:
        params = (S.SKIPPED, reason, encode_time(at), id, S.PENDING, S.DUE)
        changed: int = await self._db.write(lambda conn: conn.execute(_CANCEL, params).rowcount)
        return changed == 1

    async def get(self, id: int) -> ScheduledMessage | None:
        found = await self._db.fetchone(_GET, (id,))
        return None if found is None else codec.scheduled_from_row(found)

    async def listing(self, hotel_id: str, status: ScheduledStatus | None,
                      limit: int) -> list[ScheduledMessage]:
        if status is None:
            rows = await self._db.fetchall(_LIST_ALL, (hotel_id, limit))
        else:
            rows = await self._db.fetchall(_LIST, (hotel_id, status, limit))
        return [codec.scheduled_from_row(row) for row in rows]

    async def last_sent(self, phone_number_id: str, guest_id: str) -> ScheduledMessage | None:
        found = await self._db.fetchone(_LAST_SENT, (phone_number_id, guest_id, S.SENT))
        return None if found is None else codec.scheduled_from_row(found)

    async def by_wamid(self, wamid: str) -> ScheduledMessage | None:
        found = await self._db.fetchone(_BY_WAMID, (wamid, S.SENT))
        return None if found is None else codec.scheduled_from_row(found)

    async def fire_context(self, guests: Collection[tuple[str, str]],
                           windows: Collection[tuple[str, str]]) -> FireContext:
        by_hotel = _grouped(guests)
        by_number = _grouped(windows)

        def read(conn: sqlite3.Connection) -> FireContext:
            found: dict[tuple[str, str], GuestRecord] = {}
            opted: set[tuple[str, str]] = set()
            last: dict[tuple[str, str], datetime] = {}
            for hotel_id, ids in by_hotel.items():
                listed = encode_json(ids)
                for row in conn.execute(_GUESTS, (hotel_id, listed)):
                    found[(hotel_id, row[1])] = codec.guest_from_row(row)
                opted.update((hotel_id, g) for (g,) in conn.execute(_OPTED, (hotel_id, listed)))
            for number, ids in by_number.items():
                for guest, at in conn.execute(_WINDOWS, (number, encode_json(ids))):
                    last[(number, guest)] = codec.decode_time(at)
            return FireContext(guests=found, opted_out=opted, last_inbound=last)

        return await self._db.read(read)

    async def count_open(self) -> int:
        (count,) = await self._db.fetchone(_COUNT_OPEN, (S.PENDING, S.DUE))
        return int(count)


def _grouped(pairs: Collection[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, set[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, set()).add(value)
    return {key: sorted(values) for key, values in grouped.items()}


def _with_id(message: OutboundMessage, id: int) -> OutboundMessage:
    return replace(message, id=id)


def full_params(row: ScheduledMessage, at: str) -> tuple[object, ...]:
    """A row's values for _INSERT_FULL (also stays.py's plan)."""
    return (
        row.hotel_id, row.phone_number_id, row.guest_id, row.message_type,
        encode_time(row.scheduled_at), encode_json(row.data), row.status, at, row.kind,
        row.trigger_key, row.booking_ref,
    )


# --- statements: run on the connection thread inside a writer job ------------------------------

_COLUMNS = codec.SCHEDULED_COLUMNS
_INSERT = (
    "INSERT INTO scheduled_messages (hotel_id, phone_number_id, guest_id, message_type,"
    " scheduled_at, data, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_FULL = (
    "INSERT INTO scheduled_messages (hotel_id, phone_number_id, guest_id, message_type,"
    " scheduled_at, data, status, created_at, kind, trigger_key, booking_ref)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (hotel_id, trigger_key) WHERE trigger_key IS NOT NULL DO NOTHING"
)
# Served by the index scheduled_by_status_time (status, scheduled_at).
_PENDING = (
    f"SELECT {_COLUMNS} FROM scheduled_messages WHERE status = ? ORDER BY scheduled_at, id"
)
_PENDING_BEFORE = (
    f"SELECT {_COLUMNS} FROM scheduled_messages WHERE status = ? AND scheduled_at < ?"
    " AND id > ? ORDER BY scheduled_at, id LIMIT ?"
)
_CLAIM = (
    f"UPDATE scheduled_messages SET status = ? WHERE id = ? AND status = ? RETURNING {_COLUMNS}"
)
_DECIDE = (
    "UPDATE scheduled_messages SET status = ?, skip_reason = ?, reply_flow = ?, done_at = ?"
    " WHERE id = ? AND status = ?"
)
_SET_OUTBOX = "UPDATE scheduled_messages SET outbox_id = ? WHERE id = ?"
_STAY_STATE = (
    "UPDATE stays SET state = ?, updated_at = ? WHERE hotel_id = ? AND booking_ref = ?"
    " AND state = ?"
)
_CANCEL = (
    "UPDATE scheduled_messages SET status = ?, skip_reason = ?, done_at = ?"
    " WHERE id = ? AND status IN (?, ?)"
)
_GET = f"SELECT {_COLUMNS} FROM scheduled_messages WHERE id = ?"
_LIST = (
    f"SELECT {_COLUMNS} FROM scheduled_messages WHERE hotel_id = ? AND status = ?"
    " ORDER BY scheduled_at, id LIMIT ?"
)
_LIST_ALL = (
    f"SELECT {_COLUMNS} FROM scheduled_messages WHERE hotel_id = ?"
    " ORDER BY scheduled_at DESC, id DESC LIMIT ?"
)
# Served by the partial index scheduled_by_guest (phone_number_id, guest_id, done_at).
_LAST_SENT = (
    f"SELECT {_COLUMNS} FROM scheduled_messages WHERE phone_number_id = ? AND guest_id = ?"
    " AND outbox_id IS NOT NULL AND status = ? ORDER BY done_at DESC, id DESC LIMIT 1"
)
_BY_WAMID = (
    f"SELECT {_COLUMNS} FROM scheduled_messages WHERE outbox_id ="
    " (SELECT id FROM outbound WHERE wamid = ? ORDER BY id LIMIT 1) AND status = ?"
)
_GUESTS = (
    f"SELECT {codec.GUEST_COLUMNS} FROM guests WHERE hotel_id = ?"
    " AND guest_id IN (SELECT value FROM json_each(?))"
)
_OPTED = (
    "SELECT guest_id FROM opt_outs WHERE hotel_id = ? AND guest_id IN (SELECT value FROM"
    " json_each(?))"
)
_WINDOWS = (
    "SELECT guest_id, last_inbound_at FROM windows WHERE phone_number_id = ?"
    " AND guest_id IN (SELECT value FROM json_each(?))"
)
_COUNT_OPEN = "SELECT count(*) FROM scheduled_messages WHERE status IN (?, ?)"


def insert_scheduled(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert a step's scheduled messages (codec.PreparedStep.scheduled)."""
    conn.executemany(_INSERT, rows)
