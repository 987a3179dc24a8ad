"""Inbound messages: every guest message as the webhook recorded it, and where it stands.

Owns: the SQL of the inbound table, its repository seam (`InboundRepository`) and the SQLite
implementation, including the two transactions that start at an inbound row: recording a
webhook POST (inbound rows, parked parts, delivery statuses and the outbound rows they move,
guest touches and 24-hour windows together) and
parking a message with an apology (the inbound row and the outbox row together). Must never
answer a webhook before its rows committed, never process a wamid twice (the UNIQUE key is the
dedupe), never replay a part rejected at the webhook, and never write except through the
group-commit writer (each transaction above is ONE writer job).

    received ──its step committed (conversations.commit_step) or none needed──▶ done
        └────kept failing / unroutable──▶ parked ──unpark (staff)──▶ received
    a part rejected at the webhook is recorded parked (kind "rejected") and stays parked
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import structlog

from hotelbot.errors import StoreError
from hotelbot.store import codec
from hotelbot.store.codec import InboundParams, encode_optional_time, encode_time
from hotelbot.store.database import Database
from hotelbot.store.guests import touch_guest, touch_guest_only
from hotelbot.store.outbox import insert_outbound
from hotelbot.store.records import (
    REJECTED_KIND,
    REJECTED_PREFIX,
    DeliveryStatus,
    InboundMessage,
    InboundRow,
    InboundState,
    OutboundMessage,
    RecordedWebhook,
    RejectedPart,
)
from hotelbot.store.retention import older_rows
from hotelbot.store.statuses import record_statuses
from hotelbot.store.windows import touch_window
from hotelbot.typedefs import HotelId, NumberId

log = structlog.get_logger(__name__)


class InboundRepository(Protocol):
    """The inbound messages (the seam: a PostgreSQL one can stand beside)."""

    async def record(
        self, messages: Sequence[InboundMessage], *, at: datetime,
        hotel_of: Mapping[NumberId, HotelId],
    ) -> list[InboundMessage | None]:
        """Record messages in one transaction, deduplicated by wamid.

        Also moves each known guest's last_inbound_at (never backwards) and profile name; a
        message to a number missing from `hotel_of` is recorded without a guest update.
        Every new message moves its (number, guest) window (windows.py), never backwards.

        Returns:
            For each message in order: the message with its `seq`, or None for a duplicate.
        Raises:
            StoreOverloaded: the writer's queue is full (answer 503).
        """
        ...

    async def record_webhook(
        self,
        messages: Sequence[InboundMessage],
        statuses: Sequence[DeliveryStatus],
        rejected: Sequence[RejectedPart],
        *,
        at: datetime,
        hotel_of: Mapping[NumberId, HotelId],
    ) -> RecordedWebhook:
        """Record everything one webhook POST carried in ONE transaction (issue 14).

        Messages are deduplicated by wamid (and touch their guest and their window, as
        `record`); statuses are recorded, each new one moving the outbound row it names
        forward (outbox.apply_status); rejected parts, and any message or status that cannot be
        stored as given (not JSON-writable, over MAX_PAYLOAD_BYTES), are recorded parked
        with their reason. One bad part never costs the others; either all of it commits
        or none of it does.

        Raises:
            StoreOverloaded: the writer's queue is full (answer 503, nothing written).
            StoreError: the database failed (nothing written).
        """
        ...

    async def pending(self) -> list[InboundMessage]:
        """Messages recorded but not processed (state received), oldest first: the replay."""
        ...

    async def get(self, seq: int) -> InboundRow | None:
        """One message with its state, attempts and error, or None when no row has this seq."""
        ...

    async def parked(self, limit: int = 50) -> list[tuple[InboundMessage, str]]:
        """Parked messages (newest first) with the error that set each aside."""
        ...

    async def mark_done(self, seq: int) -> None:
        """The message needed no step (or its step wrote nothing).

        Raises:
            StoreError: no message has this seq.
        """
        ...

    async def bump_attempts(self, seq: int) -> int:
        """Count one more processing attempt; return the new count.

        Raises:
            StoreError: no message has this seq.
        """
        ...

    async def park(
        self,
        seq: int,
        error: str,
        reply: OutboundMessage | None = None,
        *,
        at: datetime | None = None,
    ) -> tuple[OutboundMessage, ...]:
        """Set a message aside (state parked) with the error that kept it failing.

        Args:
            reply: an outbound row (an apology to the guest) committed in the same transaction.
            at: the reply's created_at.
        Returns:
            The reply with its store id, or () without one.
        Raises:
            StoreError: no inbound message has this seq (and no reply was written).
        """
        ...

    async def unpark(self, seq: int) -> InboundMessage:
        """Put a parked message back to `received` (attempts reset) for another try.

        Raises:
            StoreError: no parked message has this seq, or it is a part rejected at the
                webhook (it never was a readable message: there is nothing to replay).
        """
        ...

    def admits(self, jobs: int) -> bool:
        """True when `jobs` more writes of new outside work fit under the store's bound
        (beyond it, recording raises StoreOverloaded)."""
        ...

    def prepare(
        self, message: InboundMessage, *, at: datetime, hotel_of: Mapping[NumberId, HotelId]
    ) -> InboundParams:
        """The message encoded for `record_handled` in a step's transaction (received `at`).

        Raises:
            StoreError: it cannot be stored (not JSON, over the size limit): record it through
                record_webhook instead, which parks it with the reason.
        """
        ...

    async def park_unrecorded(
        self, params: InboundParams, error: str, reply: OutboundMessage | None = None
    ) -> tuple[int | None, tuple[OutboundMessage, ...]]:
        """Record a message whose step failed before it was recorded: parked with `error`,
        and `reply` (the apology) queued, in ONE transaction.

        Returns:
            (its seq, None when the wamid was recorded already and nothing was written; the
            reply row with its id, if written).
        """
        ...

    async def purge(self, received_before: datetime) -> int:
        """Delete processed messages (state done) received before `received_before`.

        The wamid dedupe needs them only as long as Meta may retry a webhook (up to 7 days,
        docs/whatsapp-cloud-api.md section 3); parked rows are kept for inspection.

        Returns:
            How many rows were deleted.
        """
        ...


class SqliteInbound:
    """InboundRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self, messages: Sequence[InboundMessage], *, at: datetime,
        hotel_of: Mapping[NumberId, HotelId],
    ) -> list[InboundMessage | None]:
        if not messages:
            return []
        received_at = encode_time(at)
        params = [codec.inbound_params(m, received_at, hotel_of) for m in messages]
        seqs, _ = await self._db.write(lambda conn: insert_inbound(conn, params), admit=True)
        return [
            None if seq is None else m.with_seq(seq)
            for m, seq in zip(messages, seqs, strict=True)
        ]

    async def record_webhook(
        self,
        messages: Sequence[InboundMessage],
        statuses: Sequence[DeliveryStatus],
        rejected: Sequence[RejectedPart],
        *,
        at: datetime,
        hotel_of: Mapping[NumberId, HotelId],
    ) -> RecordedWebhook:
        received_at = encode_time(at)
        kept: list[InboundMessage] = []
        inbound: list[InboundParams] = []
        parked = list(rejected)
        for message in messages:
            try:
                inbound.append(codec.inbound_params(message, received_at, hotel_of))
            except StoreError as exc:
                parked.append(_unstorable(message.wamid, "message", exc, message))
                continue
            kept.append(message)
        status_rows: list[tuple[object, ...]] = []
        kept_statuses: list[DeliveryStatus] = []
        for status in statuses:
            try:
                status_rows.append(codec.status_params(status))
            except StoreError as exc:
                parked.append(_unstorable(f"{REJECTED_PREFIX}status.{status.wamid}.{status.status}",
                                          "status", exc))
                continue
            kept_statuses.append(status)
        parked_rows = [codec.rejected_params(part, received_at) for part in parked]
        if not (inbound or status_rows or parked_rows):
            return RecordedWebhook(fresh=(), parked=(), duplicates=0)

        def record(
            conn: sqlite3.Connection,
        ) -> tuple[list[int | None], list[codec.Row], list[tuple[int, int]], list[bool]]:
            seqs, guests = insert_inbound(conn, inbound)
            failed = record_statuses(conn, kept_statuses, status_rows)
            new = [insert_rejected(conn, row) for row in parked_rows]
            return seqs, guests, failed, new

        seqs, guest_rows, failed_rows, new_parked = await self._db.write(record, admit=True)
        fresh = tuple(m.with_seq(s) for m, s in zip(kept, seqs, strict=True) if s is not None)
        return RecordedWebhook(
            fresh=fresh,
            parked=tuple(p for p, new in zip(parked, new_parked, strict=True) if new),
            duplicates=len(kept) - len(fresh),
            failed_rows=tuple(failed_rows),
            guests=tuple(codec.guest_from_row(row) for row in guest_rows),
        )

    async def pending(self) -> list[InboundMessage]:
        rows = await self._db.fetchall(_PENDING, (InboundState.RECEIVED,))
        return [codec.inbound_from_row(row) for row in rows]

    async def get(self, seq: int) -> InboundRow | None:
        found = await self._db.fetchone(_GET, (seq,))
        return None if found is None else codec.inbound_row_from_row(found)

    async def parked(self, limit: int = 50) -> list[tuple[InboundMessage, str]]:
        rows = await self._db.fetchall(_PARKED, (InboundState.PARKED, limit))
        return [(codec.inbound_from_row(row[:-1]), row[-1] or "") for row in rows]

    async def mark_done(self, seq: int) -> None:
        params = (InboundState.DONE, seq)
        await self._db.update_one(f"inbound message with seq {seq}", _MARK_DONE, params)

    async def bump_attempts(self, seq: int) -> int:
        found = await self._db.write(lambda conn: conn.execute(_BUMP, (seq,)).fetchone())
        if found is None:
            raise StoreError(f"no inbound message with seq {seq}")
        return int(found[0])

    async def park(
        self,
        seq: int,
        error: str,
        reply: OutboundMessage | None = None,
        *,
        at: datetime | None = None,
    ) -> tuple[OutboundMessage, ...]:
        row = None if reply is None else codec.outbound_params(reply, encode_optional_time(at))

        def park(conn: sqlite3.Connection) -> int | None:
            changed = conn.execute(_PARK, (InboundState.PARKED, error, seq)).rowcount
            if changed != 1:
                raise StoreError(f"no inbound message with seq {seq}")
            return None if row is None else insert_outbound(conn, row)

        reply_id = await self._db.write(park)
        if reply is None or reply_id is None:
            return ()
        return (codec.outbound_with_id(reply, reply_id),)

    async def unpark(self, seq: int) -> InboundMessage:
        params = (InboundState.RECEIVED, seq, InboundState.PARKED, REJECTED_KIND)
        row = await self._db.write(lambda conn: conn.execute(_UNPARK, params).fetchone())
        if row is None:
            if await self._db.fetchone(_IS_KIND, (seq, REJECTED_KIND)) is not None:
                raise StoreError(f"inbound {seq} was rejected at the webhook: nothing to replay")
            raise StoreError(f"no parked inbound message with seq {seq}")
        return codec.inbound_from_row(row)

    def admits(self, jobs: int) -> bool:
        return self._db.admits(jobs)

    def prepare(
        self, message: InboundMessage, *, at: datetime, hotel_of: Mapping[NumberId, HotelId]
    ) -> InboundParams:
        return codec.inbound_params(message, encode_time(at), hotel_of)

    async def park_unrecorded(
        self, params: InboundParams, error: str, reply: OutboundMessage | None = None
    ) -> tuple[int | None, tuple[OutboundMessage, ...]]:
        row = None if reply is None else codec.outbound_params(reply, None)

        def park(conn: sqlite3.Connection) -> tuple[int | None, int | None]:
            seq = record_handled(conn, params, error)
            if seq is None or row is None:
                return seq, None
            return seq, insert_outbound(conn, row)

        seq, reply_id = await self._db.write(park)
        if reply is None or reply_id is None:
            return seq, ()
        return seq, (codec.outbound_with_id(reply, reply_id),)

    async def purge(self, received_before: datetime) -> int:
        params = (InboundState.DONE, encode_time(received_before))
        deleted: int = await self._db.write(lambda conn: conn.execute(_PURGE, params).rowcount)
        if deleted:
            log.info("inbound_purged", deleted=deleted)
        return deleted


# --- statements: run on the connection thread inside a writer job ------------------------------

_INSERT = (
    "INSERT OR IGNORE INTO inbound (wamid, phone_number_id, guest_id, kind, payload,"
    " profile_name, sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_STATE = (
    "INSERT OR IGNORE INTO inbound (wamid, phone_number_id, guest_id, kind, payload,"
    " profile_name, sent_at, received_at, state, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_REJECTED = (
    "INSERT OR IGNORE INTO inbound (wamid, phone_number_id, guest_id, kind, payload,"
    " sent_at, received_at, state, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Served by the partial index inbound_received (seq) WHERE state = 'received'.
_PENDING = f"SELECT {codec.INBOUND_COLUMNS} FROM inbound WHERE state = ? ORDER BY seq"
_GET = f"SELECT {codec.INBOUND_ROW_COLUMNS} FROM inbound WHERE seq = ?"
_PARKED = (
    f"SELECT {codec.INBOUND_COLUMNS}, error FROM inbound WHERE state = ? ORDER BY seq DESC LIMIT ?"
)
_MARK_DONE = "UPDATE inbound SET state = ? WHERE seq = ?"
_BUMP = "UPDATE inbound SET attempts = attempts + 1 WHERE seq = ? RETURNING attempts"
_PARK = "UPDATE inbound SET state = ?, error = ? WHERE seq = ?"
_UNPARK = (
    "UPDATE inbound SET state = ?, attempts = 0, error = NULL"
    f" WHERE seq = ? AND state = ? AND kind != ? RETURNING {codec.INBOUND_COLUMNS}"
)
_IS_KIND = "SELECT 1 FROM inbound WHERE seq = ? AND kind = ?"
# seq grows with received_at, so this walks only the old rows it is about to delete: cheap
# when run regularly, no extra index on the hot insert.
_PURGE = f"DELETE FROM inbound WHERE +state = ? AND {older_rows('inbound', 'seq', 'received_at')}"


def insert_inbound(
    conn: sqlite3.Connection, params: Sequence[InboundParams]
) -> tuple[list[int | None], list[codec.Row]]:
    """Insert messages, touch their guests and windows: a seq for each new one (None for a
    duplicate), and the touched guests' rows as this transaction leaves them."""
    seqs: list[int | None] = []
    guests: list[codec.Row] = []
    for row, guest in params:
        seq, touched = _insert(conn, _INSERT, row, guest)
        seqs.append(seq)
        if touched is not None:
            guests.append(touched)
    return seqs, guests


def record_handled(
    conn: sqlite3.Connection, params: InboundParams, error: str | None = None
) -> int | None:
    """Insert a message that the same transaction handles: `done` (its step is committed
    with it), or `parked` with `error` (its step failed). Touches its guest and window like
    insert_inbound. Returns its seq, or None when the wamid is recorded already: then nothing
    is written, and the caller must write nothing else for it (it was handled before)."""
    row, guest = params
    state = (InboundState.DONE, None) if error is None else (InboundState.PARKED, error)
    cursor = conn.execute(_INSERT_STATE, (*row, *state))
    if cursor.rowcount != 1:  # ignored: this wamid is already recorded
        return None
    _touch_window(conn, row)
    if guest is not None:
        touch_guest_only(conn, guest)  # no row back: whoever handled it read the guest
    return cursor.lastrowid


def _insert(
    conn: sqlite3.Connection, sql: str, row: tuple[object, ...], guest: tuple[object, ...] | None
) -> tuple[int | None, codec.Row | None]:
    """One message's INSERT OR IGNORE, and when new its window and guest touches (the guest's
    row as this transaction leaves it)."""
    cursor = conn.execute(sql, row)
    if cursor.rowcount != 1:  # ignored: this wamid is already recorded
        return None, None
    _touch_window(conn, row)
    return cursor.lastrowid, None if guest is None else touch_guest(conn, guest)


def _touch_window(conn: sqlite3.Connection, row: tuple[object, ...]) -> None:
    number, guest_id, sent_at = row[1], row[2], row[6]  # codec.inbound_params' row
    touch_window(conn, str(number), str(guest_id), str(sent_at))


def insert_rejected(conn: sqlite3.Connection, row: tuple[object, ...]) -> bool:
    """Insert a rejected part's parked row (codec.rejected_params); False if seen before."""
    return conn.execute(_INSERT_REJECTED, row).rowcount == 1


def mark_inbound_done(conn: sqlite3.Connection, seq: int) -> None:
    """Mark a message done.

    Raises:
        StoreError: no message has this seq (the transaction must not commit).
    """
    if conn.execute(_MARK_DONE, (InboundState.DONE, seq)).rowcount != 1:
        raise StoreError(f"no inbound message with seq {seq}")


def _unstorable(
    key: str, what: str, exc: StoreError, message: InboundMessage | None = None
) -> RejectedPart:
    return RejectedPart(
        key=key,
        where=what,
        reason=f"{what} cannot be stored: {exc}",
        phone_number_id=message.phone_number_id if message else "",
        guest_id=message.guest_id if message else "",
    )
