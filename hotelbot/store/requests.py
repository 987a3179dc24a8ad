"""Requests: what a finished flow asks of the hotel (the order, the housekeeping job).

Owns: the SQL of the requests table, its repository seam (`RequestRepository`) and the SQLite
implementation, and the insert statement a step's transaction composes. Must never show one
hotel's requests to another (every read is by hotel), never insert a request outside the step
that created it (conversations.py), and never write except through the group-commit writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hotelbot.store import codec
from hotelbot.store.codec import encode_optional_time
from hotelbot.store.database import Database
from hotelbot.store.records import RequestRecord, RequestStatus


class RequestRepository(Protocol):
    """A hotel's requests (the seam: a PostgreSQL one can stand beside)."""

    async def recent(
        self, hotel_id: str, status: RequestStatus | str | None = None, limit: int = 100
    ) -> list[RequestRecord]:
        """A hotel's requests, newest first, optionally of one status.

        Raises:
            ValueError: unknown status or a limit below 1.
        """
        ...

    async def get(self, id: int) -> RequestRecord | None:
        """One request, or None when no request has this id."""
        ...

    async def set_status(
        self, id: int, status: RequestStatus | str, *, at: datetime | None = None
    ) -> None:
        """Move a request to `status` (staff acknowledged it, did it, cancelled it).

        Raises:
            ValueError: unknown status.
            StoreError: no request has this id.
        """
        ...


class SqliteRequests:
    """RequestRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(
        self, hotel_id: str, status: RequestStatus | str | None = None, limit: int = 100
    ) -> list[RequestRecord]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if status is None:
            rows = await self._db.fetchall(_RECENT, (hotel_id, limit))
        else:
            rows = await self._db.fetchall(_RECENT_OF, (hotel_id, RequestStatus(status), limit))
        return [codec.request_from_row(row) for row in rows]

    async def get(self, id: int) -> RequestRecord | None:
        found = await self._db.fetchone(_GET, (id,))
        return None if found is None else codec.request_from_row(found)

    async def set_status(
        self, id: int, status: RequestStatus | str, *, at: datetime | None = None
    ) -> None:
        params = (RequestStatus(status), encode_optional_time(at), id)
        await self._db.update_one(f"request with id {id}", _SET_STATUS, params)


# --- statements: run on the connection thread inside a writer job ------------------------------

_INSERT = (
    "INSERT INTO requests (hotel_id, department, guest_id, flow_id, kind, data, status,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_RECENT = (
    f"SELECT {codec.REQUEST_COLUMNS} FROM requests WHERE hotel_id = ? ORDER BY id DESC LIMIT ?"
)
_RECENT_OF = (
    f"SELECT {codec.REQUEST_COLUMNS} FROM requests WHERE hotel_id = ? AND status = ?"
    " ORDER BY id DESC LIMIT ?"
)
_GET = f"SELECT {codec.REQUEST_COLUMNS} FROM requests WHERE id = ?"
_SET_STATUS = "UPDATE requests SET status = ?, updated_at = coalesce(?, updated_at) WHERE id = ?"


def insert_requests(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert a step's requests (codec.PreparedStep.requests)."""
    conn.executemany(_INSERT, rows)
