"""Opening the store: PRAGMAs, versioned migrations, refusing a newer schema, closing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotelbot.errors import StoreError
from hotelbot.store import ConnectionSettings, DeliveryStatus, open_store
from hotelbot.store.schema import CURRENT_VERSION, MIGRATIONS, migrate, statements

ALL_TABLES = {
    "guests",
    "conversations",
    "inbound",
    "requests",
    "outbound",
    "delivery_statuses",
    "scheduled_messages",
    "message_templates",
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
        journal_mode="wal", synchronous="NORMAL", foreign_keys=True, busy_timeout_ms=5000
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
