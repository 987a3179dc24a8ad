"""Marketing opt-outs: guests who said STOP to a hotel (issue 8 point 18).

Owns: the SQL of the opt_outs table, its repository seam (`OptOutRepository`) and the SQLite
implementation, and the statement a step's transaction composes (conversations.py: the
engine's OptOutChanged effect is stored with the step). Must never write except through the
group-commit writer. A row means: no marketing to this guest from this hotel; service
messages (a checkout reminder) still go.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Protocol

from hotelbot.store.codec import encode_json
from hotelbot.store.database import Database


class OptOutRepository(Protocol):
    async def opted_out(self, hotel_id: str, guest_ids: Collection[str]) -> set[str]:
        """Which of `guest_ids` opted out of this hotel's marketing."""
        ...


class SqliteOptOuts:
    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def opted_out(self, hotel_id: str, guest_ids: Collection[str]) -> set[str]:
        if not guest_ids:
            return set()
        rows = await self._db.fetchall(_OPTED_OUT, (hotel_id, encode_json(list(guest_ids))))
        return {guest for (guest,) in rows}


_OPTED_OUT = (
    "SELECT guest_id FROM opt_outs WHERE hotel_id = ?"
    " AND guest_id IN (SELECT value FROM json_each(?))"
)
_SET = (
    "INSERT INTO opt_outs (hotel_id, guest_id, at) VALUES (?, ?, ?)"
    " ON CONFLICT (hotel_id, guest_id) DO NOTHING"
)
_CLEAR = "DELETE FROM opt_outs WHERE hotel_id = ? AND guest_id = ?"


def set_opt_out(conn: sqlite3.Connection, hotel_id: str, guest_id: str, opted_out: bool,
                at: str) -> None:
    """Record (True) or undo (False) a guest's marketing opt-out, inside a step."""
    if opted_out:
        conn.execute(_SET, (hotel_id, guest_id, at))
    else:
        conn.execute(_CLEAR, (hotel_id, guest_id))
