"""Handoffs: the conversations a staff member has taken over (issue 11).

Owns: the SQL of the handoffs table and its repository. While a row holds (phone_number_id,
guest_id) and `until` is ahead, the conversation actor records what the guest writes without
stepping the engine: the bot stays silent for that guest on that number. Must never decide
what the guest reads (the release notice comes from the hotel's strings, through flows/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hotelbot.store.codec import decode_time, encode_time
from hotelbot.store.database import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class Handoff:
    phone_number_id: str
    guest_id: str
    hotel_id: str
    staff: str  # the username who took it
    taken_at: datetime
    until: datetime  # released by itself then (the timeout), unless staff release it first


class HandoffRepository(Protocol):
    async def take(self, handoff: Handoff) -> None:
        """Hold the conversation for `handoff.staff` (a later take renews it)."""
        ...

    async def release(self, phone_number_id: str, guest_id: str) -> Handoff | None:
        """End the hold; returns it (None: none was held)."""
        ...

    async def active(self) -> list[Handoff]:
        """Every hold, oldest first (the actors' cache is loaded from this at start)."""
        ...

    async def get(self, phone_number_id: str, guest_id: str) -> Handoff | None: ...


class SqliteHandoffs:
    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, handoff: Handoff) -> None:
        params = (handoff.phone_number_id, handoff.guest_id, handoff.hotel_id, handoff.staff,
                  encode_time(handoff.taken_at), encode_time(handoff.until))
        await self._db.write(lambda conn: conn.execute(_TAKE, params).rowcount)

    async def release(self, phone_number_id: str, guest_id: str) -> Handoff | None:
        rows = await self._db.write(
            lambda conn: conn.execute(_RELEASE, (phone_number_id, guest_id)).fetchall())
        return _from_row(rows[0]) if rows else None

    async def active(self) -> list[Handoff]:
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM handoffs ORDER BY taken_at", ())
        return [_from_row(row) for row in rows]

    async def get(self, phone_number_id: str, guest_id: str) -> Handoff | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM handoffs WHERE phone_number_id = ? AND guest_id = ?",
            (phone_number_id, guest_id))
        return None if row is None else _from_row(row)


_COLUMNS = "phone_number_id, guest_id, hotel_id, staff, taken_at, until"
_TAKE = (
    f"INSERT INTO handoffs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (phone_number_id, guest_id) DO UPDATE SET staff = excluded.staff,"
    " until = excluded.until"
)
_RELEASE = f"DELETE FROM handoffs WHERE phone_number_id = ? AND guest_id = ? RETURNING {_COLUMNS}"


def _from_row(row: tuple[str, ...]) -> Handoff:
    number, guest, hotel, staff, taken_at, until = row
    return Handoff(phone_number_id=number, guest_id=guest, hotel_id=hotel, staff=staff,
                   taken_at=decode_time(taken_at), until=decode_time(until))
