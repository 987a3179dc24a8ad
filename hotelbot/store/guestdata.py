"""Guest data rights: everything stored about one guest at one hotel, exported or erased.

Owns: GUEST_TABLES, the ONE list of the tables that hold a guest's data, how a row of each
belongs to a hotel, and what erasing does to it; `export_guest` and `forget_guest` built on
it. A table added with a guest column (guest_id, recipient_id) must get a line here:
tests/ops/test_guest_data.py fails otherwise. Must never touch another hotel's rows (every
statement is scoped to the hotel), and never leave an erasure half done (one transaction).

What erasing keeps (the hotel must keep its records of what it sold and did): `requests` rows
stay, with the guest's id replaced by a random pseudonym and every value the guest gave about
themselves (the keys of their shared guest data: name, room, email, ...) dropped from the
request's data. Everything else about the guest at that hotel is deleted: their shared
record, conversations, messages in and out, delivery statuses, 24-hour windows and
scheduled messages. Funnel counts hold no identity and stay.

Every erasing statement finds the guest's rows through an index (tests/ops/test_guest_data.py
reads the query plans): retention erases idle guests a hundred at a time inside one writer
job, so a table read whole per guest would hold every conversation's commit behind it. Rows
kept per (number, guest) are found through the hotel's numbers, like the rows that have no
hotel of their own: a row left on a number a reload took from the hotel is not found there
(a conversation expires after its timeout, a staff hand-off at its end).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import orjson

from hotelbot.store.database import Database

Scope = Literal["hotel", "hotel_number", "number", "sent_to"]
OnForget = Literal["delete", "anonymise"]
GUEST_COLUMNS = frozenset({"guest_id", "recipient_id"})  # columns that name a guest


@dataclass(frozen=True, slots=True)
class GuestTable:
    """A table holding guest data. `scope`: how a row belongs to a hotel: its `hotel_id`
    column ("hotel"), that column and its `phone_number_id` being one of the hotel's numbers
    ("hotel_number": tables keyed by number and guest), its `phone_number_id` alone
    ("number"), or its `wamid` being a message the hotel sent to the guest ("sent_to",
    delivery statuses)."""

    table: str
    guest_column: str
    scope: Scope
    on_forget: OnForget = "delete"
    # The index every statement about the guest must read (SQLite's INDEXED BY), where the
    # planner, knowing nothing of the data, would take the hotel's whole range instead.
    index: str | None = None

    @property
    def source(self) -> str:
        """The table, with its index when it names one (a missing index is an error)."""
        return self.table if self.index is None else f"{self.table} INDEXED BY {self.index}"


# Order matters for erasure: statuses are found through the outbound rows they name.
GUEST_TABLES: tuple[GuestTable, ...] = (
    GuestTable("guests", "guest_id", "hotel"),
    GuestTable("conversations", "guest_id", "hotel_number"),
    GuestTable("inbound", "guest_id", "number"),
    GuestTable("delivery_statuses", "recipient_id", "sent_to"),
    GuestTable("outbound", "guest_id", "number"),
    GuestTable("windows", "guest_id", "number"),
    GuestTable("handoffs", "guest_id", "hotel_number"),
    GuestTable("stays", "guest_id", "hotel", index="stays_by_guest"),
    GuestTable("opt_outs", "guest_id", "hotel"),
    GuestTable("scheduled_messages", "guest_id", "hotel"),
    GuestTable("requests", "guest_id", "hotel", "anonymise"),
)

_JSON_COLUMNS = frozenset({"data", "snapshot", "payload", "body", "template"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgetReport:
    deleted: dict[str, int]  # rows deleted per table
    anonymised: dict[str, int]  # rows kept under a pseudonym per table
    pseudonym: str


def _where(spec: GuestTable, numbers: Sequence[str]) -> tuple[str, tuple[object, ...]]:
    """The WHERE clause (after the guest's column) and its extra parameters."""
    marks = ", ".join("?" for _ in numbers) or "NULL"
    if spec.scope == "hotel":
        return "hotel_id = ?", ()
    if spec.scope == "hotel_number":
        return f"hotel_id = ? AND phone_number_id IN ({marks})", tuple(numbers)
    if spec.scope == "number":
        return f"phone_number_id IN ({marks})", tuple(numbers)
    return (f"wamid IN (SELECT wamid FROM outbound WHERE wamid IS NOT NULL AND guest_id = ?"
            f" AND phone_number_id IN ({marks}))"), tuple(numbers)


def _params(spec: GuestTable, hotel_id: str, guest_id: str,
            extra: tuple[object, ...]) -> tuple[object, ...]:
    if spec.scope == "hotel":
        return (guest_id, hotel_id)
    if spec.scope == "hotel_number":
        return (guest_id, hotel_id, *extra)
    if spec.scope == "number":
        return (guest_id, *extra)
    return (guest_id, guest_id, *extra)


def _select(conn: sqlite3.Connection, spec: GuestTable, hotel_id: str, guest_id: str,
            numbers: Sequence[str]) -> list[dict[str, object]]:
    clause, extra = _where(spec, numbers)
    cursor = conn.execute(
        f"SELECT * FROM {spec.source} WHERE {spec.guest_column} = ? AND {clause}",
        _params(spec, hotel_id, guest_id, extra))
    names = [d[0] for d in cursor.description]
    return [{name: _decoded(name, value) for name, value in zip(names, row, strict=True)}
            for row in cursor.fetchall()]


def _decoded(name: str, value: object) -> object:
    if name in _JSON_COLUMNS and isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


class GuestDataRepository(Protocol):
    """Export and erasure of one guest at one hotel (the seam for another database)."""

    async def export(
        self, hotel_id: str, guest_id: str, numbers: Sequence[str]
    ) -> dict[str, list[dict[str, object]]]: ...

    async def forget(
        self, hotel_id: str, guest_id: str, numbers: Sequence[str]
    ) -> ForgetReport: ...


class SqliteGuestData:
    """Export and erasure over GUEST_TABLES."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def export(
        self, hotel_id: str, guest_id: str, numbers: Sequence[str]
    ) -> dict[str, list[dict[str, object]]]:
        """Every row about the guest at the hotel, per table (JSON columns decoded).

        `numbers`: the hotel's department numbers (phone_number_id), which scope the tables
        keyed by number.
        """
        return await self._db.read(
            lambda conn: read_guest(conn, hotel_id, guest_id, numbers))

    async def forget(
        self, hotel_id: str, guest_id: str, numbers: Sequence[str]
    ) -> ForgetReport:
        """Erase the guest at the hotel in one transaction (see the module docstring)."""
        pseudonym = f"forgotten-{secrets.token_hex(8)}"
        return await self._db.write(
            lambda conn: erase_guest(conn, hotel_id, guest_id, numbers, pseudonym))


def read_guest(conn: sqlite3.Connection, hotel_id: str, guest_id: str,
               numbers: Sequence[str]) -> dict[str, list[dict[str, object]]]:
    """On the connection thread: every row about one guest at one hotel, per table."""
    return {spec.table: _select(conn, spec, hotel_id, guest_id, numbers)
            for spec in GUEST_TABLES}


def erase_guest(conn: sqlite3.Connection, hotel_id: str, guest_id: str,
                numbers: Sequence[str], pseudonym: str) -> ForgetReport:
    """On the connection thread, inside a writer job: erase one guest at one hotel."""
    found = conn.execute("SELECT data FROM guests WHERE hotel_id = ? AND guest_id = ?",
                         (hotel_id, guest_id)).fetchone()
    personal = set(orjson.loads(found[0])) if found and found[0] else set()
    deleted: dict[str, int] = {}
    anonymised: dict[str, int] = {}
    for spec in GUEST_TABLES:
        clause, extra = _where(spec, numbers)
        params = _params(spec, hotel_id, guest_id, extra)
        if spec.on_forget == "delete":
            deleted[spec.table] = conn.execute(
                f"DELETE FROM {spec.source} WHERE {spec.guest_column} = ? AND {clause}",
                params).rowcount
            continue
        rows = conn.execute(
            f"SELECT rowid, data FROM {spec.source} WHERE {spec.guest_column} = ?"
            f" AND {clause}", params).fetchall()
        for rowid, data in rows:
            kept = {k: v for k, v in orjson.loads(data or "{}").items()
                    if k not in personal and v != guest_id}
            conn.execute(
                f"UPDATE {spec.table} SET {spec.guest_column} = ?, data = ?"
                " WHERE rowid = ?", (pseudonym, orjson.dumps(kept).decode(), rowid))
        anonymised[spec.table] = len(rows)
    return ForgetReport(deleted=deleted, anonymised=anonymised, pseudonym=pseudonym)
