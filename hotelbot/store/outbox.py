"""The outbox: every message hotelbot sends is a row here before it is sent (the outbox rule).

Owns: the SQL of the outbound table, its repository seam (`OutboxRepository`) and the SQLite
implementation, and the insert statement the step and park transactions compose. Must never
insert a row outside the transaction of what caused it (a step, a park: see conversations.py
and inbound.py), never move a row out of `failed` or `sent` back to `pending`, and never write
except through the group-commit writer.

    pending ──accepted by the Graph API──▶ sent (wamid kept)
       │  └─retryable error──▶ pending (attempts, not_before)
       └────permanent error──▶ failed (Meta's code and details kept)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hotelbot.store import codec
from hotelbot.store.codec import encode_time
from hotelbot.store.database import Database, lastrowid
from hotelbot.store.records import OutboundMessage, OutboundRow, OutboundState


class OutboxRepository(Protocol):
    """The outbound rows (the seam: a PostgreSQL one can stand beside)."""

    async def pending(self) -> list[OutboundMessage]:
        """Rows not yet sent (state pending), by priority then id: sent at start-up."""
        ...

    async def get(self, id: int) -> OutboundRow | None:
        """One row with its state, wamid and error, or None when no row has this id."""
        ...

    async def recent(self, *, guest_id: str | None = None, limit: int = 100) -> list[OutboundRow]:
        """Rows newest first, optionally only those to one guest.

        Raises:
            ValueError: a limit below 1.
        """
        ...

    async def mark_sent(self, id: int, wamid: str, at: datetime) -> None:
        """The Graph API accepted the row and named it `wamid`.

        Raises:
            StoreError: no row has this id.
        """
        ...

    async def mark_sent_many(self, sent: Sequence[tuple[int, str, datetime]]) -> None:
        """Mark several rows sent (id, wamid, at) in one write: the sender batches its marks."""
        ...

    async def mark_failed(self, id: int, code: int, detail: str, at: datetime) -> None:
        """A permanent failure: keep Meta's error code and details.

        Raises:
            StoreError: no row has this id.
        """
        ...

    async def reschedule(self, id: int, not_before: datetime, attempts: int, code: int) -> None:
        """A retryable failure: stays pending, not to be sent before `not_before`.

        Raises:
            StoreError: no row has this id.
        """
        ...


class SqliteOutbox:
    """OutboxRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def pending(self) -> list[OutboundMessage]:
        rows = await self._db.fetchall(_PENDING, (OutboundState.PENDING,))
        return [codec.outbound_from_row(row) for row in rows]

    async def get(self, id: int) -> OutboundRow | None:
        found = await self._db.fetchone(_GET, (id,))
        return None if found is None else codec.outbound_row_from_row(found)

    async def recent(self, *, guest_id: str | None = None, limit: int = 100) -> list[OutboundRow]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if guest_id is None:
            rows = await self._db.fetchall(_RECENT, (limit,))
        else:
            rows = await self._db.fetchall(_RECENT_TO_GUEST, (guest_id, limit))
        return [codec.outbound_row_from_row(row) for row in rows]

    async def mark_sent(self, id: int, wamid: str, at: datetime) -> None:
        params = (OutboundState.SENT, wamid, encode_time(at), id)
        await self._db.update_one(f"outbound with id {id}", _MARK_SENT, params)

    async def mark_sent_many(self, sent: Sequence[tuple[int, str, datetime]]) -> None:
        if not sent:
            return
        params = [(OutboundState.SENT, wamid, encode_time(at), id) for id, wamid, at in sent]
        await self._db.write(lambda conn: conn.executemany(_MARK_SENT, params).rowcount)

    async def mark_failed(self, id: int, code: int, detail: str, at: datetime) -> None:
        params = (OutboundState.FAILED, code, detail, encode_time(at), id)
        await self._db.update_one(f"outbound with id {id}", _MARK_FAILED, params)

    async def reschedule(self, id: int, not_before: datetime, attempts: int, code: int) -> None:
        params = (encode_time(not_before), attempts, code, id)
        await self._db.update_one(f"outbound with id {id}", _RESCHEDULE, params)


# --- statements: run on the connection thread inside a writer job ------------------------------

_INSERT = (
    "INSERT INTO outbound (phone_number_id, guest_id, body, priority, attempts, not_before,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# Served by the partial index outbound_pending (priority, id) WHERE state = 'pending'.
_PENDING = (
    f"SELECT {codec.OUTBOUND_COLUMNS} FROM outbound WHERE state = ? ORDER BY priority, id"
)
_GET = f"SELECT {codec.OUTBOUND_ROW_COLUMNS} FROM outbound WHERE id = ?"
_RECENT = f"SELECT {codec.OUTBOUND_ROW_COLUMNS} FROM outbound ORDER BY id DESC LIMIT ?"
_RECENT_TO_GUEST = (
    f"SELECT {codec.OUTBOUND_ROW_COLUMNS} FROM outbound WHERE guest_id = ?"
    " ORDER BY id DESC LIMIT ?"
)
_MARK_SENT = "UPDATE outbound SET state = ?, wamid = ?, sent_at = ? WHERE id = ?"
_MARK_FAILED = (
    "UPDATE outbound SET state = ?, error_code = ?, error_detail = ?, failed_at = ? WHERE id = ?"
)
_RESCHEDULE = "UPDATE outbound SET not_before = ?, attempts = ?, error_code = ? WHERE id = ?"


def insert_outbound(conn: sqlite3.Connection, row: tuple[object, ...]) -> int:
    """Insert one row (codec.outbound_params) as pending; return its id."""
    return lastrowid(conn.execute(_INSERT, row))
