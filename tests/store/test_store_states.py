"""Every state enum and its table's CHECK constraint name exactly the same values; no SQL text
of a repository spells a state (they are bound parameters).

The migrations are history and never change; the enums in records.py are what the code binds as
parameters. A value the CHECK refuses would fail a transaction at run time, and a value the CHECK
accepts but no enum names would be a state no code can read back: both are caught here.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from enum import StrEnum
from types import ModuleType

import pytest

from hotelbot.store import (
    InboundState,
    OutboundState,
    RequestStatus,
    ScheduledStatus,
    conversations,
    guests,
    inbound,
    outbox,
    requests,
    scheduled,
    statuses,
)
from hotelbot.store.schema import migrate

# (table, state column, its enum, the other NOT NULL columns of a minimal row)
STATES: list[tuple[str, str, type[StrEnum], dict[str, object]]] = [
    ("inbound", "state", InboundState, {
        "wamid": "w", "phone_number_id": "p", "guest_id": "g", "kind": "text",
        "payload": "{}", "sent_at": "t", "received_at": "t",
    }),
    ("outbound", "state", OutboundState, {
        "phone_number_id": "p", "guest_id": "g", "body": "{}", "priority": 0,
    }),
    ("requests", "status", RequestStatus, {
        "hotel_id": "h", "department": "d", "guest_id": "g", "flow_id": "f", "kind": "k",
        "data": "{}",
    }),
    ("scheduled_messages", "status", ScheduledStatus, {
        "hotel_id": "h", "phone_number_id": "p", "guest_id": "g", "message_type": "m",
        "scheduled_at": "t", "data": "{}",
    }),
]
IDS = [table for table, *_ in STATES]
# Every state string any table knows, plus some near misses: each must be refused where it is
# not a member.
ENUM_VALUES = {s.value for _, _, enum, _ in STATES for s in enum}
EVERY_STATE = ENUM_VALUES | {"", "PENDING", "bogus"}


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    migrate(connection)
    yield connection
    connection.close()


def check_values(conn: sqlite3.Connection, table: str, column: str) -> tuple[set[str], str]:
    """The values of the column's `CHECK (column IN (...))` and its DEFAULT, from the schema."""
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    check = re.search(rf"CHECK \({column} IN \(([^)]*)\)\)", sql)
    default = re.search(rf"\b{column} TEXT NOT NULL DEFAULT '([^']*)'", sql)
    assert check is not None and default is not None, f"{table}.{column} has no CHECK/DEFAULT"
    return set(re.findall(r"'([^']*)'", check.group(1))), default.group(1)


def insert(conn: sqlite3.Connection, table: str, row: dict[str, object]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))


@pytest.mark.parametrize(("table", "column", "enum", "row"), STATES, ids=IDS)
def test_the_check_lists_exactly_the_enum_and_defaults_to_a_member(
    conn: sqlite3.Connection, table: str, column: str, enum: type[StrEnum], row: dict[str, object]
) -> None:
    allowed, default = check_values(conn, table, column)
    assert allowed == {s.value for s in enum}
    assert default in allowed


@pytest.mark.parametrize(("table", "column", "enum", "row"), STATES, ids=IDS)
def test_every_member_is_accepted_and_nothing_else(
    conn: sqlite3.Connection, table: str, column: str, enum: type[StrEnum], row: dict[str, object]
) -> None:
    def unique(n: int) -> dict[str, object]:  # inbound's wamid is its dedupe key
        return {**row, "wamid": f"w{n}"} if "wamid" in row else dict(row)

    for n, state in enumerate(enum):  # bound as the enum itself, as the repositories do
        insert(conn, table, {**unique(n), column: state})
    stored = {value for (value,) in conn.execute(f"SELECT {column} FROM {table}")}
    assert stored == {s.value for s in enum}
    for other in sorted(EVERY_STATE - stored):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            insert(conn, table, {**unique(-1), column: other})


REPOSITORIES = [conversations, guests, inbound, outbox, requests, scheduled, statuses]


@pytest.mark.parametrize("module", REPOSITORIES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_no_state_is_a_literal_in_the_sql(module: ModuleType) -> None:
    statements = [v for v in vars(module).values() if isinstance(v, str) and _is_sql(v)]
    assert statements, f"{module.__name__} holds no SQL?"
    for sql in statements:
        quoted = set(re.findall(r"'([^']*)'", sql))
        assert not quoted & ENUM_VALUES, f"state literal in {module.__name__}: {sql}"


@pytest.mark.parametrize(("sql", "state", "index"), [
    (inbound._PENDING, InboundState.RECEIVED, "inbound_received"),
    (outbox._PENDING, OutboundState.PENDING, "outbound_pending"),
    (scheduled._PENDING, ScheduledStatus.PENDING, "scheduled_by_status_time"),
], ids=["inbound", "outbound", "scheduled"])
def test_a_bound_state_still_uses_its_index(
    conn: sqlite3.Connection, sql: str, state: StrEnum, index: str
) -> None:
    # A partial index (WHERE state = 'pending') serves `state = ?` only because SQLite
    # re-plans with the bound value; this keeps start-up replay off a full scan.
    plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", (state,)))
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan


@pytest.mark.parametrize(("sql", "params", "index"), [
    (outbox._NEXT_BATCH, (OutboundState.PENDING, "pn1", "t", "[]", "[]", 10), "outbound_pending"),
    (outbox._NUMBERS_WITH_PENDING, (OutboundState.PENDING,), "outbound_pending"),
    (outbox._SENDING, (OutboundState.SENDING,), "outbound_sending"),
    (outbox._RELEASE, (OutboundState.PENDING, OutboundState.SENDING, "t"), "outbound_sending"),
    (outbox._BY_WAMID, ("wamid.x",), "outbound_by_wamid"),
], ids=["next_batch", "numbers_with_pending", "sending", "release_sending", "status_by_wamid"])
def test_the_pacers_queries_use_their_index(
    conn: sqlite3.Connection, sql: str, params: tuple[object, ...], index: str
) -> None:
    plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the index gives the order: no sort of the queue


def _is_sql(text: str) -> bool:
    return text.lstrip().split(" ", 1)[0] in {"SELECT", "INSERT", "UPDATE", "DELETE"}
