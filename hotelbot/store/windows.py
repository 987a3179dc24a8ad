"""Windows: when each guest last wrote to each department number (the 24-hour window's data).

Owns: the SQL of the windows table, its repository seam (`WindowRepository`) and the SQLite
implementation, and the upsert an inbound message's transaction composes (inbound.py). Must
never move last_inbound_at backwards, never share a window between two numbers (Meta's window
is per business number and user, docs/whatsapp-cloud-api.md 5.6: a department's window does not
cover another department), and never write except through the group-commit writer.

The time is the guest's own message time (Meta's `timestamp`), not the time hotelbot received
it, like the guest touch (guests.py). Whether a window is open is the pacer's rule
(outbound/window.py): this module only keeps the data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from hotelbot.store.codec import decode_time, encode_json
from hotelbot.store.database import Database


class WindowRepository(Protocol):
    """The guests' last messages per department number (the seam: a PostgreSQL one can stand
    beside)."""

    async def last_inbound(self, phone_number_id: str, guest_id: str) -> datetime | None:
        """When the guest last wrote to this number (Meta's time), or None: never."""
        ...

    async def last_inbound_many(
        self, phone_number_id: str, guest_ids: Collection[str]
    ) -> dict[str, datetime]:
        """`last_inbound` for several guests of one number; a guest who never wrote is absent."""
        ...


class SqliteWindows:
    """WindowRepository on the SQLite file. Its rows are written by inbound transactions."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def last_inbound(self, phone_number_id: str, guest_id: str) -> datetime | None:
        found = await self._db.fetchone(_ONE, (phone_number_id, guest_id))
        return None if found is None else decode_time(found[0])

    async def last_inbound_many(
        self, phone_number_id: str, guest_ids: Collection[str]
    ) -> dict[str, datetime]:
        if not guest_ids:
            return {}
        params = (phone_number_id, encode_json(sorted(set(guest_ids))))
        rows = await self._db.fetchall(_MANY, params)
        return {str(guest): decode_time(at) for guest, at in rows}


# --- statements: run on the connection thread inside a writer job ------------------------------

_ONE = "SELECT last_inbound_at FROM windows WHERE phone_number_id = ? AND guest_id = ?"
_MANY = (
    "SELECT guest_id, last_inbound_at FROM windows WHERE phone_number_id = ?"
    " AND guest_id IN (SELECT value FROM json_each(?))"
)
# Text comparison is time order: timestamps are fixed-width UTC (codec.py).
_UPSERT = (
    "INSERT INTO windows (phone_number_id, guest_id, last_inbound_at) VALUES (?, ?, ?)"
    " ON CONFLICT (phone_number_id, guest_id) DO UPDATE SET"
    " last_inbound_at = max(windows.last_inbound_at, excluded.last_inbound_at)"
)


def touch_window(conn: sqlite3.Connection, phone_number_id: str, guest_id: str, at: str) -> None:
    """A new guest message to this number (at: its encoded time) opens or extends the window."""
    conn.execute(_UPSERT, (phone_number_id, guest_id, at))
