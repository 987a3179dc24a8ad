"""Retention: what a hotel no longer needs is deleted once past the age its file sets.

Owns: the purge statements, per hotel (`Cutoffs`: one moment per kind of row; older rows go).
Must never delete what is still in work: an inbound message not yet processed, an outbound
row not yet sent (pending, sending), an open request, or a guest with any of those, with a
pending scheduled message or with a stay booked or ended less than the guest age ago. Must
never touch another hotel's rows. Each purge is one writer job per kind, so a large purge
never holds the writer long (guests go a batch at a time), and each reads only the rows older
than its cutoff: messages, replies and requests are numbered in the order they were written,
so a purge walks from the oldest row up to the first one written since the cutoff
(`older_rows`), not through every row the hotel keeps.

An idle guest is erased the way `guest forget` erases (guestdata.py): their finished requests
stay, anonymised; everything else about them at that hotel goes.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hotelbot.store.codec import encode_time
from hotelbot.store.database import Database
from hotelbot.store.guestdata import erase_guest
from hotelbot.store.records import InboundState, OutboundState, RequestStatus, ScheduledStatus

GUEST_BATCH = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Cutoffs:
    """Rows older than these moments go (UTC)."""

    inbound: datetime  # processed guest messages (done, parked) received before
    outbound: datetime  # sent / delivered / read / failed / skipped rows last moved before
    requests: datetime  # done / cancelled requests last updated before
    guests: datetime  # guests whose last message came before


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeReport:
    inbound: int
    outbound: int
    statuses: int
    requests: int
    guests: int


class SqliteRetention:
    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge(
        self, hotel_id: str, numbers: Sequence[str], cutoffs: Cutoffs
    ) -> PurgeReport:
        """Delete the hotel's rows past their cutoffs (see the module docstring)."""
        marks = ", ".join("?" for _ in numbers) or "NULL"
        nums = tuple(numbers)
        inbound_cutoff = encode_time(cutoffs.inbound)
        inbound = await self._db.write(lambda c: c.execute(
            f"DELETE FROM inbound WHERE {older_rows('inbound', 'seq', 'received_at')}"
            f" AND +phone_number_id IN ({marks}) AND state IN (?, ?) AND received_at < ?",
            (inbound_cutoff, *nums, InboundState.DONE, InboundState.PARKED, inbound_cutoff),
        ).rowcount)
        statuses, outbound = await self._db.write(
            lambda c: _purge_outbound(c, marks, nums, encode_time(cutoffs.outbound)))
        requests_cutoff = encode_time(cutoffs.requests)
        requests = await self._db.write(lambda c: c.execute(
            f"DELETE FROM requests WHERE {older_rows('requests', 'id', 'created_at')}"
            " AND +hotel_id = ? AND +status IN (?, ?)"
            " AND coalesce(updated_at, created_at, '') < ?",
            (requests_cutoff, hotel_id, RequestStatus.DONE, RequestStatus.CANCELLED,
             requests_cutoff)).rowcount)
        guests = 0
        while True:
            batch = await self._db.write(lambda c: purge_idle_guests(
                c, hotel_id, marks, nums, encode_time(cutoffs.guests)))
            guests += batch
            if batch < GUEST_BATCH:
                break
        return PurgeReport(inbound=inbound, outbound=outbound, statuses=statuses,
                           requests=requests, guests=guests)


_FINAL = (OutboundState.SENT, OutboundState.DELIVERED, OutboundState.READ, OutboundState.FAILED,
          OutboundState.SKIPPED)
_LAST_MOVE = "coalesce(read_at, delivered_at, sent_at, failed_at, skipped_at, created_at, '')"


def older_rows(table: str, key: str, written: str) -> str:
    """A condition (one parameter: the cutoff) true for the rows of `table` written before the
    first row whose `written` time is at or after the cutoff (all of them when none is).

    `key` (the rowid) grows in the order rows are written, and `written` with it: walking
    from the oldest row to the first recent one reads only the old rows, where a condition
    on the time alone would read every row kept. A row written out of order by a moment is
    left for the next purge.
    """
    # The other terms of the purges carry a unary + (`+hotel_id = ?`): it keeps SQLite from
    # taking their index (a hotel's or a number's whole range) instead of this rowid range.
    return (f"{key} < coalesce((SELECT {key} FROM {table} WHERE {written} >= ?"
            f" ORDER BY {key} LIMIT 1), (SELECT coalesce(max({key}), 0) + 1 FROM {table}))")


def _purge_outbound(conn: sqlite3.Connection, marks: str, numbers: tuple[str, ...],
                    cutoff: str) -> tuple[int, int]:
    # A reply's last move (sent, delivered, read, ...) comes after it was written, so a row
    # whose last move is past the cutoff was written before it.
    old = (f"FROM outbound WHERE {older_rows('outbound', 'id', 'created_at')}"
           f" AND +phone_number_id IN ({marks}) AND +state IN (?, ?, ?, ?, ?)"
           f" AND {_LAST_MOVE} < ?")
    params = (cutoff, *numbers, *_FINAL, cutoff)
    statuses = conn.execute(
        f"DELETE FROM delivery_statuses WHERE wamid IN (SELECT wamid {old}"
        " AND wamid IS NOT NULL)", params).rowcount
    outbound = conn.execute(f"DELETE {old}", params).rowcount
    return statuses, outbound


def purge_idle_guests(conn: sqlite3.Connection, hotel_id: str, marks: str,
                      numbers: tuple[str, ...], cutoff: str) -> int:
    """Erase up to GUEST_BATCH idle guests with nothing in work; returns how many."""
    idle = [row[0] for row in conn.execute(
        "SELECT g.guest_id FROM guests g WHERE g.hotel_id = ?"
        " AND coalesce(g.last_inbound_at, '') < ?"
        " AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.hotel_id = g.hotel_id"
        "   AND r.guest_id = g.guest_id AND r.status IN (?, ?))"
        " AND NOT EXISTS (SELECT 1 FROM scheduled_messages s WHERE s.hotel_id = g.hotel_id"
        "   AND s.guest_id = g.guest_id AND s.status = ?)"
        # A guest the PMS told us about is not idle before their stay is over by the age
        # (they may never have written: last_inbound_at is then empty).
        " AND NOT EXISTS (SELECT 1 FROM stays st WHERE st.hotel_id = g.hotel_id"
        "   AND st.guest_id = g.guest_id AND (st.state = 'booked' OR st.check_out >= ?))"
        f" AND NOT EXISTS (SELECT 1 FROM outbound o WHERE o.phone_number_id IN ({marks})"
        "   AND o.guest_id = g.guest_id AND o.state IN (?, ?))"
        f" AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.phone_number_id IN ({marks})"
        "   AND i.guest_id = g.guest_id AND i.state = ?)"
        " LIMIT ?",
        (hotel_id, cutoff, RequestStatus.NEW, RequestStatus.ACKNOWLEDGED,
         ScheduledStatus.PENDING, cutoff, *numbers, OutboundState.PENDING, OutboundState.SENDING,
         *numbers, InboundState.RECEIVED, GUEST_BATCH)).fetchall()]
    for guest_id in idle:
        erase_guest(conn, hotel_id, guest_id, numbers, f"forgotten-{secrets.token_hex(8)}")
    return len(idle)
