"""Guest data rights: `admin guest export` holds every table with the guest's data, `guest
forget` erases it (requests kept, anonymised), another hotel's guest of the same number is
untouched, and every table with a guest column is in the one list."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from hotelbot.app import ADMIN
from hotelbot.cli.admin import call
from hotelbot.store import GUEST_COLUMNS, GUEST_TABLES
from hotelbot.store.guestdata import erase_guest, read_guest
from hotelbot.store.schema import MIGRATIONS, migrate
from tests.fakes.hotel import Hotel, HotelFactory
from tests.numbers import FRONT_DESK, ROOM_SERVICE, SEASIDE_FRONT_DESK

GUEST = "34600111222"
CHECK_IN = ["Hello", "1", "Ana Lopez", "AB1234", "around 3pm", "skip", "yes"]


def test_every_table_with_a_guest_column_is_in_the_guest_data_list(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "schema.sqlite3", isolation_level=None)
    migrate(conn, MIGRATIONS)
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    holding = {}
    for table in tables:
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        if columns & GUEST_COLUMNS:
            holding[table] = columns & GUEST_COLUMNS
    listed = {spec.table: spec.guest_column for spec in GUEST_TABLES}
    missing = sorted(set(holding) - set(listed))
    assert not missing, f"add these tables to store/guestdata.py GUEST_TABLES: {missing}"
    for table, column in listed.items():
        assert column in holding.get(table, set()), f"{table}.{column} does not exist"
    conn.close()


def test_erasing_a_guest_finds_their_rows_through_indexes(tmp_path: Path) -> None:
    """Retention erases idle guests a hundred at a time inside one writer job: a statement
    reading a whole table, or a hotel's whole history, per guest would hold every commit
    behind it. The statements `erase_guest` runs each search by the guest; an export reads
    no table whole. (The plans of the very statements run, traced with their values.)"""
    conn = sqlite3.connect(tmp_path / "schema.sqlite3", isolation_level=None)
    migrate(conn, MIGRATIONS)
    ran: list[str] = []
    conn.set_trace_callback(ran.append)
    erase_guest(conn, "seaside", GUEST, ("111", "222"), "forgotten-1")
    erasing = [sql for sql in ran if f"'{GUEST}'" in sql]
    ran.clear()
    read_guest(conn, "seaside", GUEST, ("111", "222"))
    exporting = [sql for sql in ran if f"'{GUEST}'" in sql]
    conn.set_trace_callback(None)
    assert len(erasing) == len(exporting) + 1 == len(GUEST_TABLES) + 1  # + the shared data read
    for sql in erasing + exporting:
        plan = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not [step for step in plan if step.startswith("SCAN ")], (sql, plan)
    for sql in erasing:
        plan = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        # (delivery statuses: by wamid, through the guest's outbound rows)
        assert any("guest_id=?" in step for step in plan if step.startswith("SEARCH ")), (
            sql, plan)
    conn.close()


async def _ask(server: Hotel, **request: object) -> dict[str, Any]:
    reply = await asyncio.to_thread(call, server.app[ADMIN].path, request)
    assert reply["ok"] is True, reply
    return reply


@pytest.fixture
async def guest_hotel(start_hotel: HotelFactory, tmp_path: Path) -> Hotel:
    import tempfile

    sock = Path(tempfile.mkdtemp(prefix="hb")) / "a.sock"
    hotel = await start_hotel(admin_socket=sock)
    for text in CHECK_IN:
        await hotel.say(FRONT_DESK, GUEST, text)
    await hotel.say(ROOM_SERVICE, GUEST, "hi")
    await hotel.say(SEASIDE_FRONT_DESK, GUEST, "hello")  # the same person at another hotel
    return hotel


async def test_export_holds_every_guest_table_and_nothing_of_another_hotel(
    guest_hotel: Hotel,
) -> None:
    with structlog.testing.capture_logs() as logs:
        reply = await _ask(guest_hotel, cmd="guest", action="export", hotel="demo_hotel",
                           number="+34 600111222")
    tables = reply["tables"]
    assert set(tables) == {spec.table for spec in GUEST_TABLES}
    assert tables["guests"][0]["data"]["guest_name"] == "Ana Lopez"
    assert {r["phone_number_id"] for r in tables["conversations"]} == {FRONT_DESK, ROOM_SERVICE}
    assert len(tables["inbound"]) == len(CHECK_IN) + 1
    assert tables["outbound"] and tables["windows"]
    assert [r["kind"] for r in tables["requests"]] == ["check_in"]
    assert all(r.get("phone_number_id") != SEASIDE_FRONT_DESK
               for rows in tables.values() for r in rows)
    assert tables["inbound"][0]["received_at"].endswith(("+00:00", "+01:00"))  # Europe/London
    assert reply["timezone"] == "Europe/London"
    exported = [e for e in logs if e["event"] == "guest_exported"]
    assert exported and exported[0]["guest"] == GUEST  # the processor masks it in the log file


async def test_forget_erases_the_guest_keeps_requests_anonymised(guest_hotel: Hotel) -> None:
    with structlog.testing.capture_logs() as logs:
        reply = await _ask(guest_hotel, cmd="guest", action="forget", hotel="demo_hotel",
                           number=GUEST)
    assert reply["guest"].endswith("1222") and GUEST not in orjson.dumps(reply).decode()
    assert reply["anonymised"] == {"requests": 1}
    assert reply["deleted"]["inbound"] == len(CHECK_IN) + 1
    assert [e for e in logs if e["event"] == "guest_forgotten"]
    after = await _ask(guest_hotel, cmd="guest", action="export", hotel="demo_hotel",
                       number=GUEST)
    assert all(rows == [] for rows in after["tables"].values())
    kept = await guest_hotel.store.requests.recent("demo_hotel")
    assert len(kept) == 1 and kept[0].guest_id == reply["kept_as"]
    assert "guest_name" not in kept[0].data and "Ana Lopez" not in orjson.dumps(
        dict(kept[0].data)).decode()
    assert kept[0].data.get("booking_reference") == "AB1234"  # what was asked stays
    other = await _ask(guest_hotel, cmd="guest", action="export", hotel="seaside_inn",
                       number=GUEST)
    assert other["tables"]["conversations"] and other["tables"]["inbound"]
    # The guest writes again: a fresh start, nothing of the erased data comes back.
    replies = await guest_hotel.say(FRONT_DESK, GUEST, "Hello")
    assert replies and "Ana" not in orjson.dumps([r.body for r in replies]).decode()


async def test_guest_commands_refuse_bad_input(guest_hotel: Hotel) -> None:
    reply = await asyncio.to_thread(call, guest_hotel.app[ADMIN].path,
                                    {"cmd": "guest", "action": "export", "hotel": "nope",
                                     "number": GUEST})
    assert reply["ok"] is False and "unknown hotel" in reply["error"]
    reply = await asyncio.to_thread(call, guest_hotel.app[ADMIN].path,
                                    {"cmd": "guest", "action": "burn", "hotel": "demo_hotel",
                                     "number": GUEST})
    assert reply["ok"] is False and "export or forget" in reply["error"]
