"""Conversations: each (number, guest) conversation's context snapshot, and the step transaction.

Owns: the SQL of the conversations table, its repository seam (`ConversationRepository`) and
the SQLite implementation, including `commit_step`: the ONE transaction of an engine step
(docs/design.md "Durability", the outbox rule), composed of the statements of the tables it writes:

    commit_step ─▶ one writer job: BEGIN
                     conversations  upsert the snapshot
                     guests         upsert data and language (unless the step left them alone)
                     outbound       insert the replies (pending; the first `sending` when
                                    the pacer reserved its POST: StepCommit.first_sending)
                     requests       insert what the flow asked of the hotel
                     scheduled      insert the messages for later
                     inbound        mark the message done (none such: the whole step fails)
                   COMMIT
    commit_recorded_step: the same, the message recorded `done` first in the same
                   transaction (the webhook's 200 waits for it); a wamid already recorded
                   writes nothing at all (a redelivery is never answered twice)

Must never commit part of a step, never write except through the group-commit writer, and never
read the clock (times come in as values).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Protocol

import structlog

from hotelbot.errors import StoreError
from hotelbot.store import codec
from hotelbot.store.codec import InboundParams, PreparedStep, encode_time
from hotelbot.store.database import Database
from hotelbot.store.guests import load_guest_row, set_guest_cooloff, upsert_guest_data
from hotelbot.store.inbound import mark_inbound_done, record_handled
from hotelbot.store.optouts import set_opt_out
from hotelbot.store.outbox import insert_outbound, insert_outbound_sending
from hotelbot.store.records import GuestRecord, OutboundMessage, RecordedStep, StepCommit
from hotelbot.store.requests import insert_requests
from hotelbot.store.scheduled import insert_scheduled

log = structlog.get_logger(__name__)


class ConversationRepository(Protocol):
    """The conversations' snapshots (the seam: a PostgreSQL one can stand beside)."""

    async def load(self, phone_number_id: str, guest_id: str) -> dict[str, object] | None:
        """The conversation's snapshot dict (Context.to_dict()), or None when there is none."""
        ...

    async def load_with_guest(
        self, phone_number_id: str, guest_id: str, hotel_id: str
    ) -> tuple[dict[str, object] | None, GuestRecord | None]:
        """The conversation's snapshot (as `load`) and its guest's row in `hotel_id` (None for
        a guest never seen there), in ONE read: what a conversation needs to take its first
        step in memory."""
        ...

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
        ...

    async def commit_recorded_step(
        self, commit: StepCommit, record: InboundParams
    ) -> RecordedStep:
        """Commit one engine step together with the inbound message it answers, recorded `done`
        in the same transaction (the message was not recorded before: the webhook's 200 waits
        for this commit). `commit.inbound_seq` must be None.

        Returns:
            The message's seq and the outbound rows with their ids; seq None when the wamid was
            recorded already (Meta's redelivery): then NOTHING of the step was written.
        Raises:
            StoreError: as commit_step; nothing was written.
        """
        ...

    async def expire(self, idle_before: datetime) -> int:
        """Delete snapshots idle since before `idle_before`; return how many."""
        ...


class SqliteConversations:
    """ConversationRepository on the SQLite file."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, phone_number_id: str, guest_id: str) -> dict[str, object] | None:
        found = await self._db.fetchone(_LOAD, (phone_number_id, guest_id))
        return None if found is None else codec.decode_object(found[0])

    async def load_with_guest(
        self, phone_number_id: str, guest_id: str, hotel_id: str
    ) -> tuple[dict[str, object] | None, GuestRecord | None]:
        def both(conn: sqlite3.Connection) -> tuple[Any, Any]:
            return (conn.execute(_LOAD, (phone_number_id, guest_id)).fetchone(),
                    load_guest_row(conn, hotel_id, guest_id))

        snapshot, guest = await self._db.read(both)
        return (None if snapshot is None else codec.decode_object(snapshot[0]),
                None if guest is None else codec.guest_from_row(guest))

    async def commit_step(self, commit: StepCommit) -> tuple[OutboundMessage, ...]:
        prepared = codec.prepare_step(commit)
        ids = await self._db.write(lambda conn: _write_step(conn, prepared))
        with_id = codec.outbound_with_id
        return tuple(with_id(o, i) for o, i in zip(commit.outbound, ids, strict=True))

    async def commit_recorded_step(
        self, commit: StepCommit, record: InboundParams
    ) -> RecordedStep:
        if commit.inbound_seq is not None:
            raise StoreError("a step recorded with its message has no inbound_seq to mark")
        prepared = codec.prepare_step(commit)

        def job(conn: sqlite3.Connection) -> tuple[int | None, list[int]]:
            seq = record_handled(conn, record)
            if seq is None:  # handled before: write nothing of this step
                return None, []
            return seq, _write_step(conn, prepared)

        seq, ids = await self._db.write(job)
        if seq is None:
            return RecordedStep(seq=None)
        return RecordedStep(
            seq=seq,
            outbound=tuple(codec.outbound_with_id(o, i)
                           for o, i in zip(commit.outbound, ids, strict=True)),
        )

    async def expire(self, idle_before: datetime) -> int:
        cutoff = encode_time(idle_before)
        params = (codec.activity_span(cutoff), cutoff)
        deleted: int = await self._db.write(lambda conn: conn.execute(_EXPIRE, params).rowcount)
        log.info("contexts_expired", deleted=deleted)
        return deleted


# --- statements: run on the connection thread inside a writer job ------------------------------

_LOAD = "SELECT snapshot FROM conversations WHERE phone_number_id = ? AND guest_id = ?"
# The span column is left out of the update: SQLite re-writes an index entry whenever the
# statement sets one of its columns, even to the same value. _MOVE_SPAN sets it only when the
# span changed: most steps then leave conversations_by_activity unwritten (schema.py, v8).
_UPSERT = (
    "INSERT INTO conversations (phone_number_id, guest_id, hotel_id, snapshot, updated_at,"
    " last_activity, activity_span) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (phone_number_id, guest_id) DO UPDATE SET"
    " hotel_id = excluded.hotel_id, snapshot = excluded.snapshot,"
    " updated_at = excluded.updated_at, last_activity = excluded.last_activity"
)
_MOVE_SPAN = (
    "UPDATE conversations SET activity_span = ?"
    " WHERE phone_number_id = ? AND guest_id = ? AND activity_span != ?"
)
# Text comparison is time order: timestamps are fixed-width UTC (codec.py). The spans up to the
# cutoff's are read from conversations_by_activity; the exact time decides (none: expired).
_EXPIRE = (
    "DELETE FROM conversations WHERE activity_span <= ?"
    " AND (last_activity IS NULL OR last_activity < ?)"
)


def _write_step(conn: sqlite3.Connection, step: PreparedStep) -> list[int]:
    """The step transaction's statements, in order (see the module docstring)."""
    conn.execute(_UPSERT, step.conversation)
    number, guest_id, span = step.conversation[0], step.conversation[1], step.conversation[6]
    conn.execute(_MOVE_SPAN, (span, number, guest_id, span))
    if step.guest is not None:
        upsert_guest_data(conn, step.guest)
    # The first row's POST was reserved (first_sending): it is written `sending` at once.
    ids = [insert_outbound_sending(conn, row) if k == 0 and step.first_sending
           else insert_outbound(conn, row) for k, row in enumerate(step.outbound)]
    insert_requests(conn, step.requests)
    insert_scheduled(conn, step.scheduled)
    if step.opt_out is not None:
        hotel_id, guest_id, at = step.conversation[2], step.conversation[1], step.conversation[4]
        set_opt_out(conn, str(hotel_id), str(guest_id), step.opt_out, str(at))
    if step.cooloff is not None:
        set_guest_cooloff(conn, (step.conversation[2], step.conversation[1], step.cooloff[0]))
    if step.inbound_seq is not None:
        mark_inbound_done(conn, step.inbound_seq)
    return ids
