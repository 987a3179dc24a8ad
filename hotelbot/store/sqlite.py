"""The durable store: one SQLite file in WAL mode, behind the Store API the other packages use.

Owns: opening and closing the database (`open_store`), every query of the hotelbot tables and
the mapping between rows and the records of records.py. Must never write except through the
group-commit writer (writer.py), never read the clock (times come in as values) and never log
message bodies, payloads or full phone numbers.

Durability (DESIGN.md "Durability"):
- Every write is a writer job; the caller's await returns only after its transaction committed.
- `synchronous` defaults to FULL. In WAL mode NORMAL already survives a crash of the process
  (a committed transaction is in the WAL file, the OS writes it out), but a power loss or kernel
  crash can lose the last commits, i.e. guest messages the webhook already acknowledged with a
  200, which Meta then never re-sends. FULL fsyncs the WAL at every commit so an acknowledged
  message survives that too. Group commit is what makes FULL affordable: one fsync per batch,
  not per message. NORMAL is there for benchmarks and for disks whose fsync is the bottleneck.
- Reads share the connection: aiosqlite runs everything on one thread, and a batch runs in ONE
  hand-off (BEGIN ... COMMIT inside it), so a read never sees a half-written transaction.

Times are stored as fixed-width UTC ISO 8601 text (codec.py); JSON columns are orjson text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from hotelbot.errors import StoreError
from hotelbot.store import codec
from hotelbot.store.codec import InboundParams, PreparedStep, encode_optional_time, encode_time
from hotelbot.store.records import (
    REJECTED_KIND,
    REJECTED_PREFIX,
    DeliveryStatus,
    GuestRecord,
    InboundMessage,
    OutboundMessage,
    RecordedWebhook,
    RejectedPart,
    RequestRecord,
    RequestStatus,
    StepCommit,
)
from hotelbot.store.schema import Synchronous, configure, migrate
from hotelbot.store.writer import StoreStatistics, Writer, on_thread

log = structlog.get_logger(__name__)

T = TypeVar("T")

# A delivery status only moves forward; `failed` ends it whatever came before (Cloud API 1.7).
STATUS_RANK: Mapping[str, int] = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 9}


@asynccontextmanager
async def open_store(
    path: Path, *, max_pending: int = 10_000, synchronous: Synchronous = "FULL"
) -> AsyncIterator[Store]:
    """Open (creating it and its directory if needed) and migrate the database; start the writer.

    On exit: commit every queued write, `PRAGMA wal_checkpoint(TRUNCATE)`, close.

    Raises:
        StoreError: the file cannot be opened, its schema is newer than this code, or a
            migration failed.
    """
    if max_pending < 1:
        raise StoreError(f"max_pending must be at least 1, not {max_pending}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        version = await _read(conn, lambda c: _prepare(c, synchronous))
        writer = Writer(conn, max_pending=max_pending)
        writer.start()
        log.info("store_opened", path=str(path), version=version, synchronous=synchronous)
        try:
            yield Store(conn, writer, version)
        finally:
            await writer.close()
            await _read(conn, _checkpoint)
            log.info("store_closed", **_stats_fields(writer.statistics()))
    finally:
        await conn.close()


class Store:
    """The store API (see the module docstring). Create it with `open_store`."""

    def __init__(self, conn: aiosqlite.Connection, writer: Writer, version: int) -> None:
        self._conn = conn
        self._writer = writer
        self._version = version

    # --- inbound -----------------------------------------------------------------------

    async def record_inbound(
        self, messages: Sequence[InboundMessage], *, at: datetime, hotel_of: Mapping[str, str]
    ) -> list[InboundMessage | None]:
        """Record webhook messages in one transaction, deduplicated by wamid.

        Also moves each known guest's last_inbound_at (never backwards) and profile name; a
        message to a number missing from `hotel_of` is recorded without a guest update.

        Returns:
            For each message in order: the message with its `seq`, or None for a duplicate.
        Raises:
            StoreOverloaded: the writer's queue is full (answer 503).
        """
        if not messages:
            return []
        received_at = encode_time(at)
        params = [codec.inbound_params(m, received_at, hotel_of) for m in messages]
        seqs = await self._writer.submit(lambda c: _insert_inbound(c, params), admit=True)
        return [
            None if seq is None else replace(m, seq=seq)
            for m, seq in zip(messages, seqs, strict=True)
        ]

    async def record_webhook(
        self,
        messages: Sequence[InboundMessage],
        statuses: Sequence[DeliveryStatus],
        rejected: Sequence[RejectedPart],
        *,
        at: datetime,
        hotel_of: Mapping[str, str],
    ) -> RecordedWebhook:
        """Record everything one webhook POST carried in ONE transaction (issue 14).

        Messages are deduplicated by wamid (and touch their guest, as `record_inbound`);
        statuses are recorded; rejected parts, and any message or status that cannot be
        stored as given (not JSON-writable, over MAX_PAYLOAD_BYTES), are recorded parked
        with their reason. One bad part never costs the others; either all of it commits
        or none of it does.

        Raises:
            StoreOverloaded: the writer's queue is full (answer 503, nothing written).
            StoreError: the database failed (nothing written).
        """
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
        for status in statuses:
            try:
                status_rows.append(codec.status_params(status))
            except StoreError as exc:
                parked.append(_unstorable(f"{REJECTED_PREFIX}status.{status.wamid}.{status.status}",
                                          "status", exc))
        parked_rows = [codec.rejected_params(part, received_at) for part in parked]
        if not (inbound or status_rows or parked_rows):
            return RecordedWebhook(fresh=(), parked=(), duplicates=0)

        def record(conn: sqlite3.Connection) -> tuple[list[int | None], list[bool]]:
            seqs = _insert_inbound(conn, inbound)
            conn.executemany(_INSERT_STATUS, status_rows)
            new = [conn.execute(_INSERT_REJECTED, row).rowcount == 1 for row in parked_rows]
            return seqs, new

        seqs, new_parked = await self._writer.submit(record, admit=True)
        fresh = tuple(replace(m, seq=s) for m, s in zip(kept, seqs, strict=True) if s is not None)
        return RecordedWebhook(
            fresh=fresh,
            parked=tuple(p for p, new in zip(parked, new_parked, strict=True) if new),
            duplicates=len(kept) - len(fresh),
        )

    async def mark_inbound_done(self, seq: int) -> None:
        sql = "UPDATE inbound SET state = 'done' WHERE seq = ?"
        await self._update_one(f"inbound message with seq {seq}", sql, (seq,))

    async def list_parked(self, limit: int = 50) -> list[tuple[InboundMessage, str]]:
        """Parked messages (newest first) with the error that set each aside."""
        sql = (
            f"SELECT {codec.INBOUND_COLUMNS}, error FROM inbound WHERE state = 'parked' "
            "ORDER BY seq DESC LIMIT ?"
        )
        rows = await self._fetchall(sql, (limit,))
        return [(codec.inbound_from_row(row[:-1]), row[-1] or "") for row in rows]

    async def unpark_inbound(self, seq: int) -> InboundMessage:
        """Put a parked message back to `received` (attempts reset) for another try.

        Raises:
            StoreError: no parked message has this seq, or it is a part rejected at the
                webhook (it never was a readable message: there is nothing to replay).
        """
        sql = (
            "UPDATE inbound SET state = 'received', attempts = 0, error = NULL "
            f"WHERE seq = ? AND state = 'parked' AND kind != '{REJECTED_KIND}'"
            f" RETURNING {codec.INBOUND_COLUMNS}"
        )
        row = await self._writer.submit(lambda c: c.execute(sql, (seq,)).fetchone())
        if row is None:
            rejected = await self._fetchall(
                "SELECT 1 FROM inbound WHERE seq = ? AND kind = ?", (seq, REJECTED_KIND)
            )
            if rejected:
                raise StoreError(f"inbound {seq} was rejected at the webhook: nothing to replay")
            raise StoreError(f"no parked inbound message with seq {seq}")
        return codec.inbound_from_row(row)

    async def park_inbound(
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
        row = None if reply is None else codec.outbound_params(reply, encode_optional_time(at))

        def park(conn: sqlite3.Connection) -> int | None:
            changed = conn.execute(_PARK_INBOUND, (error, seq)).rowcount
            if changed != 1:
                raise StoreError(f"no inbound message with seq {seq}")
            return None if row is None else _lastrowid(conn.execute(_INSERT_OUTBOUND, row))

        reply_id = await self._writer.submit(park)
        return () if reply is None or reply_id is None else (replace(reply, id=reply_id),)

    async def bump_inbound_attempts(self, seq: int) -> int:
        """Count one more processing attempt; return the new count."""
        sql = "UPDATE inbound SET attempts = attempts + 1 WHERE seq = ? RETURNING attempts"
        found = await self._writer.submit(lambda c: c.execute(sql, (seq,)).fetchone())
        if found is None:
            raise StoreError(f"no inbound message with seq {seq}")
        return int(found[0])

    async def pending_inbound(self) -> list[InboundMessage]:
        """Messages recorded but not processed (state received), oldest first: the replay."""
        sql = f"SELECT {codec.INBOUND_COLUMNS} FROM inbound WHERE state = 'received' ORDER BY seq"
        return [codec.inbound_from_row(r) for r in await self._fetchall(sql, ())]

    # --- statuses ------------------------------------------------------------------------

    async def record_statuses(self, statuses: Sequence[DeliveryStatus]) -> None:
        """Record delivery statuses; a (wamid, status) seen before is ignored."""
        if not statuses:
            return
        params = [codec.status_params(s) for s in statuses]
        await self._writer.submit(
            lambda c: c.executemany(_INSERT_STATUS, params).rowcount, admit=True
        )

    async def latest_status(self, wamid: str) -> str | None:
        """The furthest status of a sent message (sent < delivered < read; failed is final)."""
        sql = "SELECT status, at FROM delivery_statuses WHERE wamid = ?"
        found = await self._fetchall(sql, (wamid,))
        if not found:
            return None
        status, _ = max(found, key=lambda r: (STATUS_RANK.get(r[0], 0), r[1]))
        return str(status)

    # --- conversations and guests ----------------------------------------------------------

    async def load_context(self, phone_number_id: str, guest_id: str) -> dict[str, object] | None:
        """The conversation's snapshot dict (Context.to_dict()), or None when there is none."""
        sql = "SELECT snapshot FROM conversations WHERE phone_number_id = ? AND guest_id = ?"
        found = await self._fetchall(sql, (phone_number_id, guest_id))
        return codec.decode_object(found[0][0]) if found else None

    async def load_guest(self, hotel_id: str, guest_id: str) -> GuestRecord | None:
        sql = f"SELECT {codec.GUEST_COLUMNS} FROM guests WHERE hotel_id = ? AND guest_id = ?"
        found = await self._fetchall(sql, (hotel_id, guest_id))
        return codec.guest_from_row(found[0]) if found else None

    async def commit_step(self, commit: StepCommit) -> tuple[OutboundMessage, ...]:
        """Commit one engine step atomically (the outbox rule).

        Upserts the conversation snapshot and the guest's data and language, inserts the
        outbound rows, requests and scheduled messages, and marks `inbound_seq` done; if any of
        it fails, none of it is kept.

        Returns:
            The outbound rows with their store ids, in the commit's order.
        Raises:
            StoreError: bad input (naive time, non-JSON data) or the SQL failed (e.g. an
                unknown inbound_seq); nothing was written.
        """
        prepared = codec.prepare_step(commit)
        ids = await self._writer.submit(lambda c: _write_step(c, prepared))
        return tuple(replace(o, id=i) for o, i in zip(commit.outbound, ids, strict=True))

    async def expire_contexts(self, idle_before: datetime) -> int:
        """Delete conversation snapshots idle since before `idle_before`; return how many."""
        cutoff = encode_time(idle_before)
        sql = "DELETE FROM conversations WHERE last_activity IS NULL OR last_activity < ?"
        deleted: int = await self._writer.submit(lambda c: c.execute(sql, (cutoff,)).rowcount)
        log.info("contexts_expired", deleted=deleted)
        return deleted

    async def purge_inbound(self, received_before: datetime) -> int:
        """Delete processed inbound rows (state done) received before `received_before`.

        The wamid dedupe needs them only as long as Meta may redeliver (up to 7 days,
        whatsapp-cloud-api.md section 3); parked rows are kept for inspection. seq grows with
        received_at, so the subquery walks only the old rows it is about to delete: cheap
        when run regularly, no extra index on the hot insert.
        """
        cutoff = encode_time(received_before)
        sql = (
            "DELETE FROM inbound WHERE state = 'done' AND seq < COALESCE("
            "(SELECT seq FROM inbound WHERE received_at >= ? ORDER BY seq LIMIT 1),"
            " (SELECT COALESCE(max(seq), 0) + 1 FROM inbound))"
        )
        deleted: int = await self._writer.submit(lambda c: c.execute(sql, (cutoff,)).rowcount)
        if deleted:
            log.info("inbound_purged", deleted=deleted)
        return deleted

    # --- outbound --------------------------------------------------------------------------

    async def pending_outbound(self) -> list[OutboundMessage]:
        """Outbox rows not yet sent (state pending), by priority then id: sent at start-up."""
        sql = (
            f"SELECT {codec.OUTBOUND_COLUMNS} FROM outbound WHERE state = 'pending'"
            " ORDER BY priority, id"
        )
        return [codec.outbound_from_row(r) for r in await self._fetchall(sql, ())]

    async def mark_outbound_sent(self, id: int, wamid: str, at: datetime) -> None:
        sql = "UPDATE outbound SET state = 'sent', wamid = ?, sent_at = ? WHERE id = ?"
        await self._update_one(f"outbound with id {id}", sql, (wamid, encode_time(at), id))

    async def mark_outbound_sent_many(self, sent: Sequence[tuple[int, str, datetime]]) -> None:
        """Mark several rows sent (id, wamid, at) in one write: the sender batches its marks."""
        if not sent:
            return
        sql = "UPDATE outbound SET state = 'sent', wamid = ?, sent_at = ? WHERE id = ?"
        params = [(wamid, encode_time(at), id) for id, wamid, at in sent]
        await self._writer.submit(lambda c: c.executemany(sql, params).rowcount)

    async def mark_outbound_failed(self, id: int, code: int, detail: str, at: datetime) -> None:
        """A permanent failure: keep Meta's error code and details."""
        sql = (
            "UPDATE outbound SET state = 'failed', error_code = ?, error_detail = ?,"
            " failed_at = ? WHERE id = ?"
        )
        await self._update_one(f"outbound with id {id}", sql, (code, detail, encode_time(at), id))

    async def reschedule_outbound(
        self, id: int, not_before: datetime, attempts: int, code: int
    ) -> None:
        """A retryable failure: stays pending, not to be sent before `not_before`."""
        sql = "UPDATE outbound SET not_before = ?, attempts = ?, error_code = ? WHERE id = ?"
        params = (encode_time(not_before), attempts, code, id)
        await self._update_one(f"outbound with id {id}", sql, params)

    # --- requests --------------------------------------------------------------------------

    async def list_requests(
        self, hotel_id: str, status: RequestStatus | str | None = None, limit: int = 100
    ) -> list[RequestRecord]:
        """A hotel's requests, newest first, optionally of one status.

        Raises:
            ValueError: unknown status or a limit below 1.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        where, params = "hotel_id = ?", [hotel_id]
        if status is not None:
            where += " AND status = ?"
            params.append(RequestStatus(status).value)
        sql = f"SELECT {codec.REQUEST_COLUMNS} FROM requests WHERE {where} ORDER BY id DESC LIMIT ?"
        return [codec.request_from_row(r) for r in await self._fetchall(sql, (*params, limit))]

    async def set_request_status(
        self, id: int, status: RequestStatus | str, *, at: datetime | None = None
    ) -> None:
        """Move a request to `status` (staff acknowledged it, did it, cancelled it).

        Raises:
            ValueError: unknown status.
            StoreError: no request has this id.
        """
        value = RequestStatus(status).value
        sql = "UPDATE requests SET status = ?, updated_at = coalesce(?, updated_at) WHERE id = ?"
        await self._update_one(f"request with id {id}", sql, (value, encode_optional_time(at), id))

    # --- introspection ---------------------------------------------------------------------

    def schema_version(self) -> int:
        return self._version

    @property
    def writable(self) -> bool:
        """True while the writer takes jobs (for /readyz)."""
        return self._writer.accepting

    def statistics(self) -> StoreStatistics:
        return self._writer.statistics()

    # --- internals -------------------------------------------------------------------------

    async def _update_one(self, row: str, sql: str, params: tuple[Any, ...]) -> None:
        """Run an UPDATE of one row by key; a key that matches no row is the caller's error."""
        changed = await self._writer.submit(lambda c: c.execute(sql, params).rowcount)
        if changed != 1:
            raise StoreError(f"no {row}")

    async def _fetchall(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        def fetch(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        return await _read(self._conn, fetch)


async def _read(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run a read (or the open/close steps) on the connection thread; wrap sqlite3 errors."""
    try:
        return await on_thread(conn, fn)
    except sqlite3.Error as exc:
        raise StoreError(f"store read failed: {exc}") from exc


# --- writer jobs: run on the connection thread inside the writer's transaction -------------

_INSERT_INBOUND = (
    "INSERT OR IGNORE INTO inbound (wamid, phone_number_id, guest_id, kind, payload,"
    " profile_name, sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_REJECTED = (
    "INSERT OR IGNORE INTO inbound (wamid, phone_number_id, guest_id, kind, payload,"
    " sent_at, received_at, state, error) VALUES (?, ?, ?, ?, ?, ?, ?, 'parked', ?)"
)
# Text comparison is time order: timestamps are fixed-width UTC (codec.py).
_PARK_INBOUND = "UPDATE inbound SET state = 'parked', error = ? WHERE seq = ?"
_TOUCH_GUEST = (
    "INSERT INTO guests (hotel_id, guest_id, profile_name, last_inbound_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (hotel_id, guest_id) DO UPDATE SET"
    " profile_name = coalesce(excluded.profile_name, guests.profile_name),"
    " last_inbound_at = max(coalesce(guests.last_inbound_at, ''), excluded.last_inbound_at)"
)
_INSERT_STATUS = (
    "INSERT OR IGNORE INTO delivery_statuses"
    " (wamid, status, at, recipient_id, error_code, payload) VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_CONVERSATION = (
    "INSERT INTO conversations"
    " (phone_number_id, guest_id, hotel_id, snapshot, updated_at, last_activity)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (phone_number_id, guest_id) DO UPDATE SET"
    " hotel_id = excluded.hotel_id, snapshot = excluded.snapshot,"
    " updated_at = excluded.updated_at, last_activity = excluded.last_activity"
)
_UPSERT_GUEST_DATA = (
    "INSERT INTO guests (hotel_id, guest_id, data, language) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (hotel_id, guest_id) DO UPDATE SET"
    " data = excluded.data, language = excluded.language"
)
_INSERT_OUTBOUND = (
    "INSERT INTO outbound (phone_number_id, guest_id, body, priority, attempts, not_before,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_REQUEST = (
    "INSERT INTO requests (hotel_id, department, guest_id, flow_id, kind, data, status,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SCHEDULED = (
    "INSERT INTO scheduled_messages (hotel_id, phone_number_id, guest_id, message_type,"
    " scheduled_at, data, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _insert_inbound(conn: sqlite3.Connection, params: Sequence[InboundParams]) -> list[int | None]:
    seqs: list[int | None] = []
    for row, guest in params:
        cursor = conn.execute(_INSERT_INBOUND, row)
        if cursor.rowcount != 1:  # ignored: this wamid is already recorded
            seqs.append(None)
            continue
        seqs.append(cursor.lastrowid)
        if guest is not None:
            conn.execute(_TOUCH_GUEST, guest)
    return seqs


def _write_step(conn: sqlite3.Connection, step: PreparedStep) -> list[int]:
    conn.execute(_UPSERT_CONVERSATION, step.conversation)
    if step.guest is not None:
        conn.execute(_UPSERT_GUEST_DATA, step.guest)
    ids = [_lastrowid(conn.execute(_INSERT_OUTBOUND, row)) for row in step.outbound]
    conn.executemany(_INSERT_REQUEST, step.requests)
    conn.executemany(_INSERT_SCHEDULED, step.scheduled)
    if step.inbound_seq is not None:
        marked = conn.execute(
            "UPDATE inbound SET state = 'done' WHERE seq = ?", (step.inbound_seq,)
        ).rowcount
        if marked != 1:
            raise StoreError(f"no inbound message with seq {step.inbound_seq}")
    return ids


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


def _lastrowid(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:
        raise StoreError("insert returned no row id")
    return cursor.lastrowid


def _prepare(conn: sqlite3.Connection, synchronous: Synchronous) -> int:
    configure(conn, synchronous)
    return migrate(conn)


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _stats_fields(stats: StoreStatistics) -> dict[str, int]:
    return {
        "batches": stats.batches_committed,
        "jobs": stats.jobs_committed,
        "failed": stats.jobs_failed,
        "max_batch": stats.max_batch_size,
    }
