"""Requests: what a finished flow asks of the hotel (the order, the housekeeping job).

Owns: the SQL of the requests table, its repository seam (`RequestRepository`) and the SQLite
implementation, and the insert statement a step's transaction composes. Must never show one
hotel's requests to another (every read is by hotel), never insert a request outside the step
that created it (conversations.py), and never write except through the group-commit writer.

Staff move a request through its states (issue 11), checked here so that no caller can skip
the rules:

    new ──▶ acknowledged ──▶ done
     │            │            │ (only with a reason: cancelling finished work is a decision)
     └────────────┴────────────┴──▶ cancelled

A done request never goes back to acknowledged or new, and a cancelled one never moves again.
A move commits in ONE transaction with the guest's notice (an outbox row), guarded by the
state the caller saw: two staff acting at once cannot both move it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hotelbot.errors import StoreError
from hotelbot.store import codec
from hotelbot.store.codec import encode_optional_time, encode_time, outbound_params
from hotelbot.store.database import Database
from hotelbot.store.outbox import insert_outbound
from hotelbot.store.records import OutboundMessage, RequestRecord, RequestStatus

S = RequestStatus
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    S.NEW: frozenset({S.ACKNOWLEDGED, S.DONE, S.CANCELLED}),
    S.ACKNOWLEDGED: frozenset({S.DONE, S.CANCELLED}),
    S.DONE: frozenset({S.CANCELLED}),  # with a reason
    S.CANCELLED: frozenset(),
}


class TransitionRefused(StoreError):
    """A request cannot move as asked. `reason`: "not_allowed" (the rules above),
    "reason_required" (cancelling a done request), "stale" (it moved meanwhile), "missing"."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def check_transition(current: RequestStatus, target: RequestStatus, note: str) -> None:
    """Raises TransitionRefused when `current` may not move to `target` (pure)."""
    if target not in TRANSITIONS[current]:
        raise TransitionRefused("not_allowed", f"a {current} request cannot become {target}")
    if current is S.DONE and not note.strip():
        raise TransitionRefused("reason_required", "cancelling a done request needs a reason")


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

    async def set_status(
        self, id: int, status: RequestStatus | str, *, at: datetime | None = None
    ) -> None:
        """Move a request to `status` by the console's rules (TRANSITIONS), without a notice
        to the guest (fixtures, imports; staff and the admin socket go through the console's
        desk, `transition`, which tells the guest).

        Raises:
            ValueError: unknown status.
            TransitionRefused: the rules refuse the move (a done request stays done unless
                cancelled with a reason, which this has not).
            StoreError: no request has this id.
        """
        ...

    async def open_for_guest(self, hotel_id: str, guest_id: str, limit: int = 10
                             ) -> list[RequestRecord]:
        """One guest's requests at one hotel that staff have not finished (new or
        acknowledged), newest first: what "my requests" shows the guest."""
        ...

    async def cancel_by_guest(
        self, id: int, hotel_id: str, guest_id: str, *, at: datetime | None = None
    ) -> bool:
        """The guest cancels their own request: only while it is `new` (staff have not
        acknowledged it), only their own at this hotel. Staff see it cancelled, with
        `cancelled_by: guest` in its data. One conditional UPDATE: a request acknowledged
        meanwhile is left alone.

        Returns:
            True if it was cancelled, False if it is not theirs or no longer new.
        """
        ...

    async def get(self, hotel_id: str, id: int) -> RequestRecord | None:
        """One request of the hotel (None: no such request, or another hotel's)."""
        ...

    async def transition(
        self, hotel_id: str, id: int, *, seen: RequestStatus, to: RequestStatus, at: datetime,
        note: str = "", notice: OutboundMessage | None = None,
    ) -> OutboundMessage | None:
        """Move a request from `seen` to `to` with the guest's `notice`, in one transaction.

        Returns: the notice as committed (with its outbox id), for the pacer.
        Raises:
            TransitionRefused: the rules refuse it, or the request is no longer `seen`.
        """
        ...

    async def stamp(self, hotel_id: str, departments: Sequence[str] = (), *,
                    window: int) -> tuple[int, str]:
        """(newest id, a digest) of what a board of the hotel's `window` newest requests
        shows (those of `departments` among them, when given): changes when one of them is
        added, moved or removed. Reads those rows only, newest first through an index."""
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

    async def set_status(
        self, id: int, status: RequestStatus | str, *, at: datetime | None = None
    ) -> None:
        target = RequestStatus(status)
        row = await self._db.fetchone("SELECT status FROM requests WHERE id = ?", (id,))
        if row is None:
            raise StoreError(f"no request with id {id}")
        current = RequestStatus(row[0])
        check_transition(current, target, "")
        params = (target, encode_optional_time(at), id, current)
        await self._db.update_one(f"request with id {id} in status {current}", _SET_STATUS,
                                  params)


    async def get(self, hotel_id: str, id: int) -> RequestRecord | None:
        row = await self._db.fetchone(_GET, (id, hotel_id))
        return None if row is None else codec.request_from_row(row)

    async def transition(
        self, hotel_id: str, id: int, *, seen: RequestStatus, to: RequestStatus, at: datetime,
        note: str = "", notice: OutboundMessage | None = None,
    ) -> OutboundMessage | None:
        check_transition(seen, to, note)
        params = (to, encode_time(at), note.strip() or None, id, hotel_id, seen)
        notice_row = None if notice is None else outbound_params(notice, encode_time(at))

        def move(conn: sqlite3.Connection) -> int | None:
            if conn.execute(_TRANSITION, params).rowcount != 1:
                return -1  # raised outside the job: a raising job rolls back its whole batch
            return None if notice_row is None else insert_outbound(conn, notice_row)

        outbox_id = await self._db.write(move)
        if outbox_id == -1:
            raise TransitionRefused("stale", f"request {id} is no longer {seen}")
        if notice is None or outbox_id is None:
            return None
        return OutboundMessage(phone_number_id=notice.phone_number_id,
                               guest_id=notice.guest_id, body=notice.body,
                               priority=notice.priority, template=notice.template,
                               id=outbox_id)

    async def stamp(self, hotel_id: str, departments: Sequence[str] = (), *,
                    window: int) -> tuple[int, str]:
        if departments:
            marks = ", ".join("?" * len(departments))
            row = await self._db.fetchone(f"{_STAMP} WHERE department IN ({marks})",
                                          (*_STAMP_STATES, hotel_id, window, *departments))
        else:
            row = await self._db.fetchone(_STAMP, (*_STAMP_STATES, hotel_id, window))
        return (int(row[0] or 0), str(row[1] or "")) if row else (0, "")

    async def open_for_guest(self, hotel_id: str, guest_id: str, limit: int = 10
                             ) -> list[RequestRecord]:
        params = (hotel_id, guest_id, RequestStatus.NEW, RequestStatus.ACKNOWLEDGED, limit)
        rows = await self._db.fetchall(_OPEN_FOR_GUEST, params)
        return [codec.request_from_row(row) for row in rows]

    async def cancel_by_guest(
        self, id: int, hotel_id: str, guest_id: str, *, at: datetime | None = None
    ) -> bool:
        params = (RequestStatus.CANCELLED, encode_optional_time(at), id, hotel_id, guest_id,
                  RequestStatus.NEW)
        changed = await self._db.write(lambda conn: conn.execute(_CANCEL_BY_GUEST,
                                                                  params).rowcount)
        return bool(changed == 1)


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
_OPEN_FOR_GUEST = (
    f"SELECT {codec.REQUEST_COLUMNS} FROM requests WHERE hotel_id = ? AND guest_id = ?"
    " AND status IN (?, ?) ORDER BY id DESC LIMIT ?"
)
_CANCEL_BY_GUEST = (
    "UPDATE requests SET status = ?, data = json_set(data, '$.cancelled_by', 'guest'),"
    " updated_at = coalesce(?, updated_at)"
    " WHERE id = ? AND hotel_id = ? AND guest_id = ? AND status = ?"
)
_GET = f"SELECT {codec.REQUEST_COLUMNS} FROM requests WHERE id = ? AND hotel_id = ?"
_TRANSITION = (
    "UPDATE requests SET status = ?, updated_at = ?, note = coalesce(?, note)"
    " WHERE id = ? AND hotel_id = ? AND status = ?"
)
# Over the board's window (the newest requests, through requests_newest): a new request moves
# max(id), a removed one min(id) or the count, and every move changes the count of some
# status, even one within the same microsecond.
_STAMP = (
    "SELECT max(id), min(id) || '|' || count(*) || '|' || coalesce(max(updated_at), '')"
    " || '|' || sum(status = ?) || '|' || sum(status = ?) || '|' || sum(status = ?)"
    " FROM (SELECT id, department, status, updated_at FROM requests WHERE hotel_id = ?"
    " ORDER BY id DESC LIMIT ?)"
)
_STAMP_STATES = (S.NEW, S.ACKNOWLEDGED, S.DONE)
_SET_STATUS = (
    "UPDATE requests SET status = ?, updated_at = coalesce(?, updated_at) WHERE id = ?"
    " AND status = ?"
)


def insert_requests(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert a step's requests (codec.PreparedStep.requests)."""
    conn.executemany(_INSERT, rows)
