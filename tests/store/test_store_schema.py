"""Opening the store: PRAGMAs, versioned migrations, refusing a newer schema, closing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotelbot.errors import StoreError
from hotelbot.store import (
    ConnectionSettings,
    DeliveryStatus,
    OutboundMessage,
    OutboundState,
    Priority,
    StepCommit,
    Store,
    open_store,
)
from hotelbot.store.schema import (
    _V8_CONVERSATIONS_ROWID,
    CURRENT_VERSION,
    MIGRATIONS,
    WAL_AUTOCHECKPOINT_PAGES,
    migrate,
    statements,
)

ALL_TABLES = {
    "guests",
    "funnel_counts",
    "staff",
    "handoffs",
    "conversations",
    "inbound",
    "requests",
    "outbound",
    "delivery_statuses",
    "scheduled_messages",
    "message_templates",
    "windows",
    "stays",
    "opt_outs",
}


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in found} - {"sqlite_sequence"}


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


async def test_empty_database_gets_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "hotel.db"  # parent directories are created
    async with open_store(path) as store:
        assert store.schema_version() == CURRENT_VERSION == len(MIGRATIONS)
        assert CURRENT_VERSION >= 2
    assert pragma(path, "user_version") == CURRENT_VERSION
    assert tables(path) == ALL_TABLES


async def test_wal_mode_and_connection_pragmas_are_set(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path, synchronous="NORMAL") as store:
        seen = await store.connection_settings()
    assert seen == ConnectionSettings(
        journal_mode="wal", synchronous="NORMAL", foreign_keys=True, busy_timeout_ms=5000,
        wal_autocheckpoint=WAL_AUTOCHECKPOINT_PAGES,
    )
    assert pragma(path, "journal_mode") == "wal"  # WAL is persistent in the file


async def test_synchronous_defaults_to_full(tmp_path: Path) -> None:
    async with open_store(tmp_path / "hotel.db") as store:
        seen = await store.connection_settings()
    assert seen.synchronous == "FULL"


async def test_unknown_synchronous_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="synchronous"):
        async with open_store(tmp_path / "hotel.db", synchronous="OFF"):  # type: ignore[arg-type]
            pass


async def test_v1_database_is_migrated_to_current_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO guests (hotel_id, guest_id, data, language) VALUES ('h1', 'g1', '{}', 'en')"
    )
    conn.close()
    assert pragma(path, "user_version") == 1
    assert "scheduled_messages" not in tables(path)

    async with open_store(path) as store:
        assert store.schema_version() == CURRENT_VERSION
        guest = await store.guests.load("h1", "g1")
    assert guest is not None and guest.language == "en"
    assert tables(path) == ALL_TABLES
    assert pragma(path, "user_version") == CURRENT_VERSION


async def test_v2_outbox_is_rebuilt_keeping_rows_states_ids_and_gaining_windows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:2])
    rows = [  # (id, state, wamid, error_code)
        (1, "sent", "wamid.1", None), (2, "failed", None, 131026), (3, "pending", None, None),
        (4, "pending", None, None),
    ]
    for id_, state, wamid, code in rows:
        conn.execute(
            "INSERT INTO outbound (id, phone_number_id, guest_id, body, priority, state, wamid,"
            " error_code, created_at) VALUES (?, 'pn1', 'g1', '{\"type\": \"text\"}', 1, ?, ?,"
            " ?, '2025-03-01T09:00:00.000000+00:00')",
            (id_, state, wamid, code),
        )
    conn.execute("DELETE FROM outbound WHERE id = 4")  # its id must never come back
    for wamid, number, kind, sent_at in [
        ("w1", "pn1", "text", "2025-03-01T09:00:00.000000+00:00"),
        ("w2", "pn1", "text", "2025-03-01T10:00:00.000000+00:00"),
        ("w3", "pn2", "text", "2025-03-01T08:00:00.000000+00:00"),
        ("!rejected.x", "pn1", "rejected", "2025-03-02T00:00:00.000000+00:00"),
    ]:
        conn.execute(
            "INSERT INTO inbound (wamid, phone_number_id, guest_id, kind, payload, sent_at,"
            " received_at) VALUES (?, ?, 'g1', ?, '{}', ?, ?)",
            (wamid, number, kind, sent_at, sent_at),
        )
    conn.close()

    async with open_store(path) as store:
        assert store.schema_version() == CURRENT_VERSION
        sent, failed, pending = [await store.outbox.get(n) for n in (1, 2, 3)]
        assert sent is not None and failed is not None and pending is not None
        assert (sent.state, sent.wamid) == (OutboundState.SENT, "wamid.1")
        assert (failed.state, failed.error_code) == (OutboundState.FAILED, 131026)
        assert pending.message.priority is Priority.SERVICE and pending.message.template is None
        assert await store.outbox.get(4) is None
        at = datetime(2025, 3, 1, 11, tzinfo=UTC)
        assert [m.id for m in await store.outbox.next_batch("pn1", now=at, limit=9)] == [3]
        [added] = await store.inbound.park(await _seq(store), "x", _reply(), at=at)
        assert added.id == 5  # AUTOINCREMENT's counter survived the rebuild
        assert await store.windows.last_inbound_many("pn1", ["g1"]) == {
            "g1": datetime(2025, 3, 1, 10, tzinfo=UTC)  # the rejected part opened nothing
        }
        assert await store.windows.last_inbound("pn2", "g1") == datetime(2025, 3, 1, 8, tzinfo=UTC)
    with sqlite3.connect(path) as check:
        indexes = {name for (name,) in check.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbound'")}
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert indexes == {"outbound_pending", "outbound_sending", "outbound_by_wamid",
                       "outbound_by_conversation"}  # v4: the console reads a conversation
    assert tables(path) == ALL_TABLES


async def test_conversations_become_a_rowid_table_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "before.db"
    conn = sqlite3.connect(path, isolation_level=None)
    before = MIGRATIONS.index(_V8_CONVERSATIONS_ROWID)  # the migration before it
    migrate(conn, MIGRATIONS[:before])
    stored = [  # (number, guest, hotel, snapshot, updated_at, last_activity)
        ("pn1", "g1", "h1", '{"v": 1}', "2025-03-01T09:00:00.000000+00:00",
         "2025-03-01T09:00:00.000000+00:00"),
        ("pn1", "g2", "h1", '{"v": 2}', "2025-03-01T10:00:00.000000+00:00",
         "2025-03-01T11:00:00.000000+00:00"),
        ("pn2", "g1", "h1", '{"v": 3}', None, None),
        ("pn9", "g3", "h2", '{"v": 4, "text": "' + "x" * 3000 + '"}',
         "2025-03-01T12:00:00.000000+00:00", "2025-03-01T12:00:00.000000+00:00"),
    ]
    conn.executemany("INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?)", stored)
    assert "WITHOUT ROWID" in _table_sql(conn, "conversations")
    conn.close()

    async with open_store(path) as store:
        assert store.schema_version() == CURRENT_VERSION
        assert await store.conversations.load("pn1", "g2") == {"v": 2}
        exported = await store.guest_data.export("h1", "g1", ["pn1", "pn2"])
        assert sorted((c["phone_number_id"], c["snapshot"]) for c in exported["conversations"]) \
            == [("pn1", {"v": 1}), ("pn2", {"v": 3})]  # the same columns, no rowid among them
        # The upsert still finds its row by (number, guest): updated in place, not doubled.
        await store.conversations.commit_step(StepCommit(
            phone_number_id="pn1", guest_id="g1", hotel_id="h1", context={"v": 5},
            guest_data={}, language="en", inbound_seq=None,
            at=datetime(2025, 3, 1, 13, tzinfo=UTC), guest_changed=False))
        assert await store.conversations.load("pn1", "g1") == {"v": 5}
        # Idle since before 11:30: g2 at 11:00, and the row with no activity at all.
        assert await store.conversations.expire(datetime(2025, 3, 1, 11, 30, tzinfo=UTC)) == 2
    with sqlite3.connect(path) as check:
        assert "WITHOUT ROWID" not in _table_sql(check, "conversations")
        kept = check.execute("SELECT phone_number_id, guest_id, hotel_id, snapshot, updated_at,"
                             " last_activity FROM conversations ORDER BY 1, 2").fetchall()
        spans = check.execute("SELECT activity_span FROM conversations ORDER BY phone_number_id,"
                              " guest_id").fetchall()
        indexes = {name for (name,) in check.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'conversations'")}
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert kept == [("pn1", "g1", "h1", '{"v":5}', "2025-03-01T13:00:00.000000+00:00",
                     "2025-03-01T13:00:00.000000+00:00"), stored[3]]
    assert spans == [("2025-03-01T13:0",), ("2025-03-01T12:0",)]  # derived when copied
    assert indexes == {"sqlite_autoindex_conversations_1", "conversations_by_activity"}
    assert tables(path) == ALL_TABLES


def _table_sql(conn: sqlite3.Connection, table: str) -> str:
    found = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                         (table,)).fetchone()
    return str(found[0])


async def _seq(store: Store) -> int:
    [first, *_] = await store.inbound.pending()
    return first.seq


def _reply() -> OutboundMessage:
    return OutboundMessage(phone_number_id="pn1", guest_id="g1", body={"type": "text"})


async def test_reopening_a_current_database_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    async with open_store(path):
        pass
    async with open_store(path) as store:
        assert store.schema_version() == CURRENT_VERSION


async def test_newer_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {CURRENT_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError) as caught:
        async with open_store(path):
            pass
    message = str(caught.value)
    assert str(CURRENT_VERSION + 5) in message and str(CURRENT_VERSION) in message
    assert pragma(path, "user_version") == CURRENT_VERSION + 5  # left untouched


def test_failing_migration_rolls_back_every_step(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    broken = (*MIGRATIONS, "CREATE TABLE extra (x);\nTHIS IS NOT SQL;\n")
    with pytest.raises(StoreError, match="migration failed"):
        migrate(conn, broken)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    assert not conn.in_transaction
    conn.close()


def test_statements_splits_complete_statements_only() -> None:
    assert statements("CREATE TABLE a (x);\nCREATE TABLE b (\n y\n);\n") == [
        "CREATE TABLE a (x);",
        "CREATE TABLE b (\n y\n);",
    ]
    with pytest.raises(StoreError, match="incomplete"):
        statements("CREATE TABLE a (x);\nCREATE TABLE b (y)\n")


async def test_close_truncates_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    other = sqlite3.connect(path)  # a second connection keeps SQLite from deleting the WAL
    try:
        async with open_store(path) as store:
            await store.conversations.expire(datetime.now(UTC))
            await store.statuses.record([_status()])
            other.execute("SELECT count(*) FROM sqlite_master").fetchone()  # joins the WAL
            assert (tmp_path / "hotel.db-wal").stat().st_size > 0
        assert (tmp_path / "hotel.db-wal").stat().st_size == 0  # wal_checkpoint(TRUNCATE)
        assert other.execute("SELECT count(*) FROM delivery_statuses").fetchone()[0] == 1
    finally:
        other.close()


def _status() -> DeliveryStatus:
    return DeliveryStatus(
        wamid="wamid.out1", status="sent", at=datetime.now(UTC), recipient_id="15550001111"
    )
