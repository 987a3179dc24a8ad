"""Delivery statuses: what Meta reported about each message hotelbot sent (Cloud API 1.7).

Owns: the SQL of the delivery_statuses table, its repository seam (`StatusRepository`) and the
SQLite implementation, the forward-only order of statuses, and recording a status together with
the move it makes on its outbound row (outbox.apply_status). Must never let a status move a
message backwards (the latest is chosen by rank, never by arrival) and never write except
through the group-commit writer.

A status's name is Meta's vocabulary, kept as received (the table has no CHECK): an unknown
one is stored and ranks below every known one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Protocol

from hotelbot.store import codec
from hotelbot.store.database import Database
from hotelbot.store.outbox import apply_status
from hotelbot.store.records import DeliveryStatus

# A delivery status only moves forward; `failed` ends it whatever came before (Cloud API 1.7).
STATUS_RANK: Mapping[str, int] = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 9}


class StatusRepository(Protocol):
    """The delivery statuses of sent messages (the seam: a PostgreSQL one can stand beside)."""

    async def record(self, statuses: Sequence[DeliveryStatus]) -> None:
        """Record statuses in one transaction; a (wamid, status) seen before is ignored.

        Each new one moves the outbound row it names forward, as in inbound.record_webhook
        (which also reports the rows a `failed` status failed; this does not).

        Raises:
            StoreOverloaded: the writer's queue is full (answer 503).
        """
        ...

    async def latest(self, wamid: str) -> str | None:
        """The furthest status of a sent message (sent < delivered < read; failed is final)."""
        ...

    async def history(self, wamid: str) -> list[DeliveryStatus]:
        """Every status recorded for a sent message, in the order Meta timed them."""
        ...


class SqliteStatuses:
    """StatusRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, statuses: Sequence[DeliveryStatus]) -> None:
        if not statuses:
            return
        rows = [codec.status_params(s) for s in statuses]
        await self._db.write(lambda conn: record_statuses(conn, statuses, rows), admit=True)

    async def latest(self, wamid: str) -> str | None:
        found = await self._db.fetchall(_RANKABLE, (wamid,))
        if not found:
            return None
        status, _ = max(found, key=lambda r: (STATUS_RANK.get(r[0], 0), r[1]))
        return str(status)

    async def history(self, wamid: str) -> list[DeliveryStatus]:
        rows = await self._db.fetchall(_HISTORY, (wamid,))
        return [codec.status_from_row(row) for row in rows]


# --- statements: run on the connection thread inside a writer job ------------------------------

_INSERT = (
    "INSERT OR IGNORE INTO delivery_statuses (wamid, status, at, recipient_id, error_code,"
    " payload, error_title, callback) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_RANKABLE = "SELECT status, at FROM delivery_statuses WHERE wamid = ?"
_HISTORY = (
    f"SELECT {codec.STATUS_COLUMNS} FROM delivery_statuses WHERE wamid = ? ORDER BY at, status"
)


def record_statuses(
    conn: sqlite3.Connection,
    statuses: Sequence[DeliveryStatus],
    rows: Sequence[tuple[object, ...]],
) -> list[tuple[int, int]]:
    """Insert statuses (rows: their codec.status_params); each new one moves its outbound row.

    Returns:
        (outbound id, error code; 0 when Meta gave none) of each row a `failed` status failed.
    """
    failed: list[tuple[int, int]] = []
    for status, row in zip(statuses, rows, strict=True):
        if conn.execute(_INSERT, row).rowcount != 1:
            continue  # seen before: it already moved its row
        failed_id = apply_status(conn, status)
        if failed_id is not None:
            failed.append((failed_id, status.error_code or 0))
    return failed
