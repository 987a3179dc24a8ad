"""Scheduled messages: what the hotel will send a guest later (reminders, feedback requests).

Owns: the SQL of the scheduled_messages table, its repository seam (`ScheduledRepository`) and
the SQLite implementation, and the insert statement a step's transaction composes. Must never
insert outside the step that scheduled the message (conversations.py) and never write except
through the group-commit writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol

from hotelbot.store import codec
from hotelbot.store.database import Database
from hotelbot.store.records import ScheduledMessage, ScheduledStatus


class ScheduledRepository(Protocol):
    """The scheduled messages (the seam: a PostgreSQL one can stand beside)."""

    async def pending(self) -> list[ScheduledMessage]:
        """Messages waiting to fire (status pending), by scheduled time then id."""
        ...


class SqliteScheduled:
    """ScheduledRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def pending(self) -> list[ScheduledMessage]:
        rows = await self._db.fetchall(_PENDING, (ScheduledStatus.PENDING,))
        return [codec.scheduled_from_row(row) for row in rows]


# --- statements: run on the connection thread inside a writer job ------------------------------

_INSERT = (
    "INSERT INTO scheduled_messages (hotel_id, phone_number_id, guest_id, message_type,"
    " scheduled_at, data, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# Served by the index scheduled_by_status_time (status, scheduled_at).
_PENDING = (
    f"SELECT {codec.SCHEDULED_COLUMNS} FROM scheduled_messages WHERE status = ?"
    " ORDER BY scheduled_at, id"
)


def insert_scheduled(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert a step's scheduled messages (codec.PreparedStep.scheduled)."""
    conn.executemany(_INSERT, rows)
