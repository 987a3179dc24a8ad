"""`hotelbot backup` under write load, and `hotelbot restore`: the restored copy serves and
keeps everything the backup held."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest

from hotelbot import cli
from hotelbot.store import InboundState
from tests.fakes.hotel import HotelFactory, text_item
from tests.numbers import FRONT_DESK


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)  # reads only; a running server's WAL is read as well
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


async def test_backup_under_write_load_restores_to_a_consistent_database(
    start_hotel: HotelFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hotel = await start_hotel()
    guests = [f"3461{n:07d}" for n in range(30)]
    stop, busy = asyncio.Event(), asyncio.Event()
    sent: list[int] = []

    async def talk(guest: str) -> None:
        for n in range(12):
            if stop.is_set():
                return
            status = await hotel.send_items(FRONT_DESK, guest, [
                text_item(guest, "menu" if n % 3 == 0 else "hello")])
            sent.append(status)
            if len(sent) >= 60:
                busy.set()

    talkers = [asyncio.create_task(talk(g)) for g in guests]
    await asyncio.wait_for(busy.wait(), 30)  # the backup starts in the middle of the traffic
    backup = tmp_path / "backups" / "mid-load.sqlite3"
    assert await _cli("backup", "--data-dir", str(tmp_path / "var"), str(backup)) == 0
    stop.set()
    await asyncio.gather(*talkers)
    await hotel.settle()
    assert "schema" in capsys.readouterr().out

    # The copy is one commit's database: every processed message has its step committed.
    assert _rows(backup, "PRAGMA integrity_check") == [("ok",)]
    held = dict(_rows(backup, "SELECT wamid, state FROM inbound"))
    assert 0 < len(held) < len(sent) + 1
    done_guests = {g for (g,) in _rows(backup, "SELECT DISTINCT guest_id FROM inbound"
                                               " WHERE state = 'done'")}
    snapshots = {g for (g,) in _rows(backup, "SELECT guest_id FROM conversations")}
    assert done_guests <= snapshots
    for guest, snapshot in _rows(backup, "SELECT guest_id, snapshot FROM conversations"):
        context = orjson.loads(str(snapshot))
        assert context["guest_id"] == guest

    # Restored into a fresh data directory, it serves: nothing the backup held is lost,
    # what it had not processed yet is replayed and answered.
    restored = tmp_path / "restored"
    assert await _cli("restore", "--data-dir", str(restored), str(backup)) == 0
    again = await start_hotel(data_dir=restored)
    await again.settle()
    rows = dict(_rows(restored / "hotelbot.sqlite3", "SELECT wamid, state FROM inbound"))
    assert set(held) <= set(rows)
    assert InboundState.RECEIVED not in {rows[wamid] for wamid in held}
    assert await again.store.outbox.pending() == []
    replies = await again.say(FRONT_DESK, guests[0], "menu")
    assert replies, "the restored server answers a guest of the backup"


async def test_restore_is_refused_while_the_server_runs(
    start_hotel: HotelFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hotel = await start_hotel()
    await hotel.say(FRONT_DESK, "34600000001", "hello")
    backup = tmp_path / "b.sqlite3"
    assert await _cli("backup", "--data-dir", str(tmp_path / "var"), str(backup)) == 0
    assert await _cli("restore", "--data-dir", str(tmp_path / "var"), str(backup)) == 1
    assert "a server is running" in capsys.readouterr().err


async def test_restore_refuses_a_damaged_backup_and_keeps_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "var"
    data.mkdir()
    (data / "hotelbot.sqlite3").write_bytes(b"")
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    assert await _cli("restore", "--data-dir", str(data), str(bad)) == 1
    assert "not a readable SQLite database" in capsys.readouterr().err
    assert (data / "hotelbot.sqlite3").exists()


async def test_dated_backups_in_a_directory_and_old_ones_pruned(
    start_hotel: HotelFactory, tmp_path: Path
) -> None:
    hotel = await start_hotel()
    await hotel.say(FRONT_DESK, "34600000001", "hello")
    folder = tmp_path / "backups"
    folder.mkdir()
    old = folder / "hotelbot-2020-01-01T033000Z.sqlite3"
    old.write_bytes(b"old")
    mine = folder / "notes.sqlite3"
    mine.write_bytes(b"not ours")
    assert await _cli("backup", "--data-dir", str(tmp_path / "var"), "--keep-days", "14",
                      str(folder)) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert not old.exists() and mine.exists()
    assert len([n for n in names if n.startswith("hotelbot-")]) == 1


async def test_a_new_directory_ending_in_a_slash_gets_a_dated_backup(
    start_hotel: HotelFactory, tmp_path: Path
) -> None:
    hotel = await start_hotel()
    await hotel.say(FRONT_DESK, "34600000001", "hello")
    folder = tmp_path / "nightly"
    assert await _cli("backup", "--data-dir", str(tmp_path / "var"), f"{folder}/") == 0
    (made,) = folder.iterdir()
    assert made.name.startswith("hotelbot-") and made.suffix == ".sqlite3"
    assert _rows(made, "SELECT count(*) FROM inbound") == [(1,)]
