"""The outbox: every message hotelbot sends is a row here before it is sent (the outbox rule).

Owns: the SQL of the outbound table, its repository seam (`OutboxRepository`) and the SQLite
implementation, the insert statement the step and park transactions compose, and the forward-
only moves a delivery status makes (`apply_status`, composed by inbound.record_webhook). Must
never insert a row outside the transaction of what caused it (a step, a park: see
conversations.py and inbound.py), never move a row backwards (below), and never write except
through the group-commit writer.

    pending ──mark_sending──▶ sending ──mark_sent(_many)──▶ sent ──▶ delivered ──▶ read
     ▲ │ ▲                     │ │ │                         (statuses only: Cloud API 1.7)
     │ │ └──reschedule─────────┘ │ └──release_sending: no answer, no status in time
     │ │   (retryable: attempts, │
     │ │    not_before)          └──mark_failed (permanent)──▶ failed ──skip──▶ skipped
     │ └──skip (e.g. outside the 24-hour window)────────────────────────────────▶ skipped
     └──release_sending

A delivery status names its row by `biz_opaque_callback_data` "outbox:<id>" (records.
outbox_callback), else by wamid, and moves it forward only: pending/sending/sent/delivered
go up to the status (sent < delivered < read; `read` may come without `delivered`), and
`failed` ends any of them. A `sent` status for a row still `sending` marks it sent: this is
how a crash between Meta's answer and our mark is resolved (docs/design.md "Outbound pacing").
The pacer's own marks never undo a status: `mark_sent_many`, `mark_failed` and `reschedule`
act on pending and sending rows only, and leave a row a status already moved as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from hotelbot.errors import StoreError
from hotelbot.store import codec
from hotelbot.store.codec import encode_json, encode_time
from hotelbot.store.database import Database, lastrowid
from hotelbot.store.records import (
    DeliveryStatus,
    OutboundMessage,
    OutboundRow,
    OutboundState,
    outbox_id_of,
)

S = OutboundState
UNSENT = (S.PENDING, S.SENDING)  # what the pacer's own marks act on
_NOT_FINAL = (S.PENDING, S.SENDING, S.SENT, S.DELIVERED)  # what a status may still move
_RANK: Mapping[OutboundState, int] = {
    S.PENDING: 0, S.SENDING: 0, S.SENT: 1, S.DELIVERED: 2, S.READ: 3,
}
# The statuses that move a row, and where to (`played` and unknown ones are only recorded).
_STATUS_STATE: Mapping[str, OutboundState] = {
    "sent": S.SENT, "delivered": S.DELIVERED, "read": S.READ, "failed": S.FAILED,
}


class OutboxRepository(Protocol):
    """The outbound rows (the seam: a PostgreSQL one can stand beside)."""

    async def pending(self) -> list[OutboundMessage]:
        """Rows not yet sent (state pending), every number, by priority then id."""
        ...

    async def numbers_with_pending(self) -> list[str]:
        """The sending numbers (phone_number_id) that have pending rows: a pacer each, at start."""
        ...

    async def next_batch(
        self,
        phone_number_id: str,
        *,
        now: datetime,
        limit: int,
        exclude_ids: Collection[int] = (),
        exclude_guests: Collection[str] = (),
    ) -> list[OutboundMessage]:
        """The next pending rows of one number whose `not_before` is unset or has come.

        By priority then id, at most `limit`, leaving out the rows `exclude_ids` names and
        the rows to the guests `exclude_guests` names.

        Raises:
            ValueError: a limit below 1.
        """
        ...

    async def pull(
        self,
        phone_number_id: str,
        *,
        now: datetime,
        limit: int,
        exclude_ids: Collection[int] = (),
        exclude_guests: Collection[str] = (),
    ) -> tuple[list[OutboundMessage], set[str] | None]:
        """`next_batch`, and who else has pending rows of that number, in one read.

        The second item is the guests of every pending row (due or not) outside `exclude_ids`
        and outside the rows returned; None when the batch filled `limit` (more may be due:
        the caller pulls again rather than listing a broadcast's guests).

        Raises:
            ValueError: a limit below 1.
        """
        ...

    async def earliest_due(self, phone_number_id: str, *, after: datetime) -> datetime | None:
        """The earliest `not_before` later than `after` among one number's pending rows (when
        a row waiting for a retry becomes due), or None."""
        ...

    async def mark_sending(
        self, ids: Sequence[int], at: datetime, *, sent: Sequence[tuple[int, str, datetime]] = ()
    ) -> set[int]:
        """Pending rows are handed to the Graph API (sending, sending_since `at`): one write,
        which also carries `sent` marks (as `mark_sent_many`) of earlier rows.

        A row no longer pending (a status moved it, or it is already sending) is left as it
        is: the ids returned are the rows this call moved, the only ones the caller may POST.
        """
        ...

    async def sending(self) -> list[OutboundMessage]:
        """Rows in `sending` (with `sending_since`), oldest first: what a crash left open."""
        ...

    async def release_sending(self, before: datetime) -> list[int]:
        """Rows still `sending` since before `before` go back to pending (to be sent again).

        Returns:
            Their ids.
        """
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
        """The Graph API accepted a pending or sending row and named it `wamid`.

        A row a status already moved is left as it is.

        Raises:
            StoreError: no row has this id.
        """
        ...

    async def mark_sent_many(self, sent: Sequence[tuple[int, str, datetime]]) -> None:
        """Mark several pending or sending rows sent (id, wamid, at) in one write.

        A row a status already moved (delivered, read, failed) is never moved back.
        """
        ...

    async def mark_failed(
        self, id: int, code: int, detail: str, at: datetime, *, title: str = ""
    ) -> None:
        """A permanent failure of a pending or sending row: keep Meta's code, title, details.

        Raises:
            StoreError: no row has this id.
        """
        ...

    async def reschedule(self, id: int, not_before: datetime, attempts: int, code: int) -> None:
        """A retryable failure: a pending or sending row is pending, not before `not_before`.

        Raises:
            StoreError: no row has this id.
        """
        ...

    async def resend_as_template(self, id: int) -> str | None:
        """A failed row whose message Meta refused as outside the window (131047) goes back
        to pending with its template as the body (and no template left: a second refusal
        skips it). Returns the row's phone_number_id, or None when the row is not failed or
        has no template.
        """
        ...

    async def skip(self, id: int, reason: str, at: datetime) -> None:
        """Never send this row (e.g. "outside_window"): pending, sending or failed -> skipped.

        A failed row keeps its error (a 131047 the pacer could not answer with a template).

        Raises:
            StoreError: no row has this id.
        """
        ...

    async def in_work(self) -> tuple[dict[str, int], datetime | None]:
        """Rows not sent yet by state (pending, sending), and the creation time of the oldest
        pending row (metrics, read at each scrape: both through the states' partial indexes,
        never the whole table)."""
        ...


    async def add(self, message: OutboundMessage, at: datetime) -> OutboundMessage:
        """Commit one message outside a conversation step (a staff reply); returns it with
        its outbox id, for the pacer."""
        ...


class SqliteOutbox:
    """OutboxRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def pending(self) -> list[OutboundMessage]:
        rows = await self._db.fetchall(_PENDING, (S.PENDING,))
        return [codec.outbound_from_row(row) for row in rows]

    async def numbers_with_pending(self) -> list[str]:
        rows = await self._db.fetchall(_NUMBERS_WITH_PENDING, (S.PENDING,))
        return [str(number) for (number,) in rows]

    async def next_batch(
        self,
        phone_number_id: str,
        *,
        now: datetime,
        limit: int,
        exclude_ids: Collection[int] = (),
        exclude_guests: Collection[str] = (),
    ) -> list[OutboundMessage]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        params = (
            S.PENDING,
            phone_number_id,
            encode_time(now),
            encode_json(sorted(exclude_ids)),
            encode_json(sorted(exclude_guests)),
            limit,
        )
        rows = await self._db.fetchall(_NEXT_BATCH, params)
        return [codec.outbound_from_row(row) for row in rows]

    async def pull(
        self,
        phone_number_id: str,
        *,
        now: datetime,
        limit: int,
        exclude_ids: Collection[int] = (),
        exclude_guests: Collection[str] = (),
    ) -> tuple[list[OutboundMessage], set[str] | None]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        params = (
            S.PENDING,
            phone_number_id,
            encode_time(now),
            encode_json(sorted(exclude_ids)),
            encode_json(sorted(exclude_guests)),
            limit,
        )

        def both(conn: sqlite3.Connection) -> tuple[list[Any], set[str] | None]:
            rows = conn.execute(_NEXT_BATCH, params).fetchall()
            if len(rows) >= limit:
                return rows, None
            taken = encode_json(sorted({*exclude_ids, *(int(row[0]) for row in rows)}))
            waiting = conn.execute(_WAITING_GUESTS, (S.PENDING, phone_number_id, taken))
            return rows, {str(guest) for (guest,) in waiting}

        rows, waiting = await self._db.read(both)
        return [codec.outbound_from_row(row) for row in rows], waiting

    async def earliest_due(self, phone_number_id: str, *, after: datetime) -> datetime | None:
        found = await self._db.fetchall(_EARLIEST_DUE, (S.PENDING, phone_number_id,
                                                         encode_time(after)))
        return codec.decode_optional_time(found[0][0]) if found and found[0][0] else None

    async def mark_sending(
        self, ids: Sequence[int], at: datetime, *, sent: Sequence[tuple[int, str, datetime]] = ()
    ) -> set[int]:
        if not ids and not sent:
            return set()
        params = (S.SENDING, encode_time(at), encode_json(list(ids)), S.PENDING)
        marks = [(S.SENT, wamid, encode_time(when), id, *UNSENT) for id, wamid, when in sent]

        def job(conn: sqlite3.Connection) -> list[Any]:
            if marks:
                conn.executemany(_MARK_SENT, marks)
            return conn.execute(_MARK_SENDING, params).fetchall() if ids else []

        return {int(id) for (id,) in await self._db.write(job)}

    async def sending(self) -> list[OutboundMessage]:
        rows = await self._db.fetchall(_SENDING, (S.SENDING,))
        return [codec.outbound_from_row(row) for row in rows]

    async def release_sending(self, before: datetime) -> list[int]:
        params = (S.PENDING, S.SENDING, encode_time(before))
        rows = await self._db.write(lambda conn: conn.execute(_RELEASE, params).fetchall())
        return sorted(int(id) for (id,) in rows)

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
        await self._update(id, _MARK_SENT, (S.SENT, wamid, encode_time(at), id, *UNSENT))

    async def mark_sent_many(self, sent: Sequence[tuple[int, str, datetime]]) -> None:
        if not sent:
            return
        params = [(S.SENT, wamid, encode_time(at), id, *UNSENT) for id, wamid, at in sent]
        # lazy: rides with the next batch. A mark a crash loses leaves the row `sending`,
        # which Meta's status naming it resolves (the pacer's recovery), never a resend.
        await self._db.write(lambda conn: conn.executemany(_MARK_SENT, params).rowcount,
                             lazy=True)

    async def mark_failed(
        self, id: int, code: int, detail: str, at: datetime, *, title: str = ""
    ) -> None:
        params = (S.FAILED, code, title or None, detail, encode_time(at), id, *UNSENT)
        await self._update(id, _MARK_FAILED, params)

    async def reschedule(self, id: int, not_before: datetime, attempts: int, code: int) -> None:
        params = (S.PENDING, encode_time(not_before), attempts, code, id, *UNSENT)
        await self._update(id, _RESCHEDULE, params)

    async def resend_as_template(self, id: int) -> str | None:
        params = (S.PENDING, id, S.FAILED)
        found = await self._db.write(lambda conn: conn.execute(_RESEND_AS_TEMPLATE, params)
                                     .fetchone())
        return None if found is None else str(found[0])

    async def skip(self, id: int, reason: str, at: datetime) -> None:
        params = (S.SKIPPED, reason, encode_time(at), id, *UNSENT, S.FAILED)
        await self._update(id, _SKIP, params)

    async def in_work(self) -> tuple[dict[str, int], datetime | None]:
        found = await self._db.fetchone(_IN_WORK, (S.PENDING, S.SENDING, S.PENDING))
        pending, sending, oldest = found if found is not None else (0, 0, None)
        return ({S.PENDING.value: int(pending), S.SENDING.value: int(sending)},
                codec.decode_optional_time(oldest))
    async def add(self, message: OutboundMessage, at: datetime) -> OutboundMessage:
        params = codec.outbound_params(message, codec.encode_time(at))
        row_id = await self._db.write(lambda conn: insert_outbound(conn, params))
        return replace(message, id=row_id)

    async def _update(self, id: int, sql: str, params: tuple[object, ...]) -> None:
        """Run a guarded UPDATE of one row; a row in another state is left alone, no row fails.

        The existence check runs inside the job but raises outside it: a job that raised
        would roll back the whole batch it shares (writer.py).
        """

        def update(conn: sqlite3.Connection) -> bool:
            if conn.execute(sql, params).rowcount == 1:
                return True
            return conn.execute(_EXISTS, (id,)).fetchone() is not None

        if not await self._db.write(update):
            raise StoreError(f"no outbound with id {id}")


# --- statements: run on the connection thread inside a writer job ------------------------------

_INSERT = (
    "INSERT INTO outbound (phone_number_id, guest_id, body, priority, attempts, not_before,"
    " template, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SENDING = (
    "INSERT INTO outbound (phone_number_id, guest_id, body, priority, attempts, not_before,"
    " template, created_at, state, sending_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PENDING = (
    f"SELECT {codec.OUTBOUND_COLUMNS} FROM outbound WHERE state = ? ORDER BY priority, id"
)
# Served by the partial index outbound_pending (phone_number_id, priority, id) WHERE pending.
_NUMBERS_WITH_PENDING = (
    "SELECT DISTINCT phone_number_id FROM outbound WHERE state = ? ORDER BY phone_number_id"
)
# Exclusions are JSON arrays (json_each): one statement text whatever their length.
_NEXT_BATCH = (
    f"SELECT {codec.OUTBOUND_COLUMNS} FROM outbound WHERE state = ? AND phone_number_id = ?"
    " AND (not_before IS NULL OR not_before <= ?)"
    " AND id NOT IN (SELECT value FROM json_each(?))"
    " AND guest_id NOT IN (SELECT value FROM json_each(?))"
    " ORDER BY priority, id LIMIT ?"
)
_EARLIEST_DUE = (
    "SELECT min(not_before) FROM outbound WHERE state = ? AND phone_number_id = ?"
    " AND not_before > ?"
)
_WAITING_GUESTS = (
    "SELECT DISTINCT guest_id FROM outbound WHERE state = ? AND phone_number_id = ?"
    " AND id NOT IN (SELECT value FROM json_each(?))"
)
_MARK_SENDING = (
    "UPDATE outbound SET state = ?, sending_since = ?"
    " WHERE id IN (SELECT value FROM json_each(?)) AND state = ? RETURNING id"
)
# Served by the partial index outbound_sending (sending_since) WHERE state = 'sending'.
_SENDING = (
    f"SELECT {codec.OUTBOUND_COLUMNS} FROM outbound WHERE state = ? ORDER BY sending_since, id"
)
_RELEASE = (
    "UPDATE outbound SET state = ?, sending_since = NULL WHERE state = ? AND sending_since < ?"
    " RETURNING id"
)
# Each through its state's partial index (SQLite plans with the bound state): a scrape every
# few seconds must not read an outbox of months.
_IN_WORK = (
    "SELECT (SELECT count(*) FROM outbound WHERE state = ?),"
    " (SELECT count(*) FROM outbound WHERE state = ?),"
    " (SELECT min(created_at) FROM outbound WHERE state = ?)"
)
_GET = f"SELECT {codec.OUTBOUND_ROW_COLUMNS} FROM outbound WHERE id = ?"
_EXISTS = "SELECT 1 FROM outbound WHERE id = ?"
_RECENT = f"SELECT {codec.OUTBOUND_ROW_COLUMNS} FROM outbound ORDER BY id DESC LIMIT ?"
_RECENT_TO_GUEST = (
    f"SELECT {codec.OUTBOUND_ROW_COLUMNS} FROM outbound WHERE guest_id = ?"
    " ORDER BY id DESC LIMIT ?"
)
_MARK_SENT = (
    "UPDATE outbound SET state = ?, wamid = ?, sent_at = ?, sending_since = NULL"
    " WHERE id = ? AND state IN (?, ?)"
)
_MARK_FAILED = (
    "UPDATE outbound SET state = ?, error_code = ?, error_title = ?, error_detail = ?,"
    " failed_at = ?, sending_since = NULL WHERE id = ? AND state IN (?, ?)"
)
_RESCHEDULE = (
    "UPDATE outbound SET state = ?, not_before = ?, attempts = ?, error_code = ?,"
    " sending_since = NULL WHERE id = ? AND state IN (?, ?)"
)
# The template object becomes the body of a template message (a Graph API `type: template`).
_RESEND_AS_TEMPLATE = (
    "UPDATE outbound SET state = ?, body = json_object('type', 'template', 'template',"
    " json(template)), template = NULL, not_before = NULL, sending_since = NULL"
    " WHERE id = ? AND state = ? AND template IS NOT NULL RETURNING phone_number_id"
)
_SKIP = (
    "UPDATE outbound SET state = ?, skip_reason = ?, skipped_at = ?, sending_since = NULL"
    " WHERE id = ? AND state IN (?, ?, ?)"
)
# A status's moves (apply_status): find the row, then a guarded UPDATE (the state it was read in).
_BY_ID = "SELECT id, state FROM outbound WHERE id = ?"
_BY_WAMID = "SELECT id, state FROM outbound WHERE wamid = ? ORDER BY id LIMIT 1"
_STATUS_FORWARD = (
    "UPDATE outbound SET state = ?, wamid = coalesce(wamid, ?), sending_since = NULL,"
    " sent_at = coalesce(sent_at, ?),"
    " delivered_at = CASE WHEN ? THEN coalesce(delivered_at, ?) ELSE delivered_at END,"
    " read_at = CASE WHEN ? THEN coalesce(read_at, ?) ELSE read_at END"
    " WHERE id = ? AND state = ?"
)
_STATUS_FAILED = (
    "UPDATE outbound SET state = ?, wamid = coalesce(wamid, ?), sending_since = NULL,"
    " error_code = ?, error_title = ?, failed_at = ? WHERE id = ? AND state = ?"
)


def insert_outbound(conn: sqlite3.Connection, row: tuple[object, ...]) -> int:
    """Insert one row (codec.outbound_params) as pending; return its id."""
    return lastrowid(conn.execute(_INSERT, row))


def insert_outbound_sending(conn: sqlite3.Connection, row: tuple[object, ...]) -> int:
    """Insert one row (codec.outbound_params, `at` given) as `sending` since its creation,
    for a POST the pacer reserved to follow the commit at once; return its id."""
    return lastrowid(conn.execute(_INSERT_SENDING, (*row, S.SENDING, row[-1])))


def status_move(current: OutboundState, status: str) -> OutboundState | None:
    """Where a delivery status moves a row in `current`, or None: it stays (never backwards)."""
    target = _STATUS_STATE.get(status)
    if target is None or current not in _NOT_FINAL:
        return None
    if target is S.FAILED:
        return target
    return target if _RANK[target] > _RANK[current] else None


def apply_status(conn: sqlite3.Connection, status: DeliveryStatus) -> int | None:
    """Move the outbound row a new status names (callback first, else wamid) forward.

    Returns:
        The row's id when this status just failed it, else None (moved forward, already
        further, or no row named: the status is only recorded).
    """
    found = None
    named = outbox_id_of(status.callback)
    if named is not None:
        found = conn.execute(_BY_ID, (named,)).fetchone()
    if found is None:
        found = conn.execute(_BY_WAMID, (status.wamid,)).fetchone()
    if found is None:
        return None
    row_id, state = int(found[0]), S(found[1])
    target = status_move(state, status.status)
    if target is None:
        return None
    at = encode_time(status.at)
    if target is S.FAILED:
        params: tuple[object, ...] = (
            target, status.wamid, status.error_code, status.error_title, at, row_id, state
        )
        return row_id if conn.execute(_STATUS_FAILED, params).rowcount == 1 else None
    delivered, read = target is S.DELIVERED, target is S.READ
    params = (target, status.wamid, at, delivered, at, read, at, row_id, state)
    conn.execute(_STATUS_FORWARD, params)
    return None
