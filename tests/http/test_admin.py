"""The admin socket against the real app: a guest checks in, staff look and act over the socket.

The app runs on loopback with the tests' config (tests/fakes/hotel.py), its admin socket in
a short private directory under /tmp (AF_UNIX paths are limited to ~107 bytes). Requests are
JSON lines on a real Unix socket; the CLI client runs in-process (in a thread, since it
blocks) against the same socket.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import structlog

from hotelbot import cli
from hotelbot.admin import AdminSocketError, open_admin_server
from hotelbot.admin.commands import mask_guest
from hotelbot.app import ADMIN, CORE
from hotelbot.store import RequestRecord, RequestStatus, StepCommit
from tests.fakes.hotel import Hotel, HotelFactory
from tests.messages import message_text
from tests.numbers import FRONT_DESK, ROOM_SERVICE
from tests.paths import CONFIG

GUEST = "34600111222"
CHECK_IN = ["Hello", "1", "Ana Lopez", "AB1234", "around 3pm", "skip", "yes"]


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hb"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    return target


@pytest.fixture
async def admin_hotel(start_hotel: HotelFactory, sock_dir: Path) -> Hotel:
    return await start_hotel(admin_socket=sock_dir / "a.sock")


class Conn:
    """One admin connection: write a line, read a line."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def line(self, raw: bytes) -> dict[str, Any]:
        self.writer.write(raw + b"\n")
        await self.writer.drain()
        reply = await asyncio.wait_for(self.reader.readline(), 10)
        decoded = orjson.loads(reply)
        assert isinstance(decoded, dict)
        return decoded

    async def ask(self, request: Mapping[str, object]) -> dict[str, Any]:
        return await self.line(orjson.dumps(request))


@pytest.fixture
async def conn(admin_hotel: Hotel) -> AsyncIterator[Conn]:
    reader, writer = await asyncio.open_unix_connection(str(admin_hotel.app[ADMIN].path))
    yield Conn(reader, writer)
    writer.close()


async def _check_in(hotel: Hotel) -> None:
    for text in CHECK_IN:
        await hotel.say(FRONT_DESK, GUEST, text)


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """The server's log events, captured (so stdout holds only what the CLI printed)."""
    with structlog.testing.capture_logs() as captured:
        yield captured


async def _admin_cli(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, ["admin", *argv])


# --- the socket file ---------------------------------------------------------------------


async def test_socket_file_is_private_and_removed_on_shutdown(
    start_hotel: HotelFactory, sock_dir: Path
) -> None:
    path = sock_dir / "a.sock"
    hotel = await start_hotel(admin_socket=path)
    mode = path.lstat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    await hotel.client.close()
    assert not path.exists()


async def test_default_socket_lives_in_the_data_dir(hotel: Hotel, tmp_path: Path) -> None:
    assert hotel.app[ADMIN].path == tmp_path / "var" / "admin.sock"


async def test_stale_socket_is_replaced_and_a_live_one_refused(sock_dir: Path) -> None:
    path = sock_dir / "s.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a crashed process's socket

    async def echo(request: Mapping[str, object]) -> Mapping[str, object]:
        return {"ok": True, "echo": request}

    async with open_admin_server(path, echo):
        with pytest.raises(AdminSocketError) as caught:
            async with open_admin_server(path, echo):
                pass
        assert "another process" in caught.value.reason
        assert path.exists()  # the live server's socket was left alone
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"cmd": "x"}\n')
        assert orjson.loads(await reader.readline()) == {"ok": True, "echo": {"cmd": "x"}}
        writer.close()
    assert not path.exists()


async def test_a_regular_file_in_the_way_is_never_deleted(sock_dir: Path) -> None:
    path = sock_dir / "notes.txt"
    path.write_text("keep me")

    async def never(request: Mapping[str, object]) -> Mapping[str, object]:
        raise AssertionError("not reached")

    with pytest.raises(AdminSocketError, match="not a socket"):
        async with open_admin_server(path, never):
            pass
    assert path.read_text() == "keep me"


async def test_too_long_a_path_is_refused_with_the_reason(sock_dir: Path) -> None:
    async def never(request: Mapping[str, object]) -> Mapping[str, object]:
        raise AssertionError("not reached")

    with pytest.raises(AdminSocketError, match="AF_UNIX"):
        async with open_admin_server(sock_dir / ("x" * 120), never):
            pass


# --- framing -----------------------------------------------------------------------------


async def test_malformed_json_is_refused_and_the_connection_stays_usable(conn: Conn) -> None:
    bad = await conn.line(b'{"cmd": "stats"')
    assert bad["ok"] is False and "malformed JSON" in bad["error"]
    not_object = await conn.line(b'["stats"]')
    assert not_object["ok"] is False and "JSON object" in not_object["error"]
    unknown = await conn.ask({"cmd": "explode"})
    assert unknown["ok"] is False and "explode" in unknown["error"] and "stats" in unknown["error"]
    assert (await conn.ask({"cmd": "stats"}))["ok"] is True


async def test_a_too_long_line_is_refused_and_the_server_keeps_serving(
    admin_hotel: Hotel, conn: Conn
) -> None:
    reply = await conn.line(b'{"cmd": "' + b"x" * (70 * 1024) + b'"}')
    assert reply["ok"] is False and "longer than" in reply["error"]
    reader, writer = await asyncio.open_unix_connection(str(admin_hotel.app[ADMIN].path))
    assert (await Conn(reader, writer).ask({"cmd": "help"}))["ok"] is True
    writer.close()
    assert admin_hotel.app[ADMIN].statistics().refused == 1


async def test_help_lists_every_command(conn: Conn) -> None:
    reply = await conn.ask({"cmd": "help"})
    assert set(reply["commands"]) == {
        "help", "stats", "requests", "request_status", "context", "reload", "parked", "replay",
        "actors", "funnel", "guest", "unlock", "queue", "queue_cancel", "broadcast", "stay_put"}


# --- the commands, after a real check-in --------------------------------------------------


async def test_stats_count_the_conversation(admin_hotel: Hotel, conn: Conn) -> None:
    await _check_in(admin_hotel)
    stats = (await conn.ask({"cmd": "stats"}))["stats"]
    assert set(stats) == {"inbox", "router", "store", "pacer", "graph", "scheduler"}
    assert stats["inbox"]["accepted"] == stats["router"]["dispatched"] == len(CHECK_IN)
    assert stats["router"]["active"] == 1
    assert stats["pacer"]["sent"] == len(admin_hotel.fake.sent_to(GUEST)) >= len(CHECK_IN)
    assert stats["graph"]["sent"] == stats["pacer"]["sent"]
    assert stats["store"]["jobs_committed"] > 0


async def test_requests_list_the_check_in_with_its_data_guest_masked(
    admin_hotel: Hotel, conn: Conn
) -> None:
    await _check_in(admin_hotel)
    reply = await conn.ask({"cmd": "requests", "hotel": "demo_hotel"})
    [row] = reply["requests"]
    assert row["kind"] == "check_in" and row["department"] == "front_desk"
    assert row["status"] == "new" and row["flow"] == "check_in"
    assert row["data"]["guest_name"] == "Ana Lopez"
    assert row["data"]["booking_reference"] == "AB1234"
    assert row["data"]["arrival_time"] == "15:00"
    assert row["guest"] == "*******1222" and GUEST not in orjson.dumps(reply).decode()
    assert row["created_at"].startswith("20")
    full = await conn.ask({"cmd": "requests", "hotel": "demo_hotel", "full": True})
    assert full["requests"][0]["guest"] == GUEST
    other = await conn.ask({"cmd": "requests", "hotel": "demo_hotel", "status": "done"})
    assert other["requests"] == []


@pytest.mark.parametrize(("request_", "reason"), [
    ({"cmd": "requests"}, "'hotel' is required"),
    ({"cmd": "requests", "hotel": "ritz"}, "unknown hotel 'ritz'"),
    ({"cmd": "requests", "hotel": "demo_hotel", "status": "lost"}, "'status' must be"),
    ({"cmd": "requests", "hotel": "demo_hotel", "limit": 0}, "'limit'"),
    ({"cmd": "requests", "hotel": "demo_hotel", "full": "yes"}, "'full'"),
    ({"cmd": "request_status", "id": "3", "status": "done"}, "'id'"),
    ({"cmd": "request_status", "id": 3, "status": "new"}, "'status' must be"),
    ({"cmd": "request_status", "id": 3}, "'status' is required"),
    ({"cmd": "request_status", "id": 999, "status": "done"}, "no request with id 999"),
    ({"cmd": "context", "phone_number_id": FRONT_DESK}, "'guest' is required"),
    ({"cmd": "context", "phone_number_id": FRONT_DESK, "guest": "111"}, "no conversation"),
    ({"cmd": "unlock", "phone_number_id": FRONT_DESK}, "'guest' is required"),
    ({"cmd": "unlock", "phone_number_id": FRONT_DESK, "guest": "111"}, "no conversation"),
    ({"cmd": "unlock", "phone_number_id": "999", "guest": "111"}, "no department has"),
])
async def test_bad_arguments_are_refused_with_the_reason(
    conn: Conn, request_: dict[str, object], reason: str
) -> None:
    reply = await conn.ask(request_)
    assert reply["ok"] is False
    assert reason in reply["error"]


async def test_ack_changes_the_request_status(admin_hotel: Hotel, conn: Conn) -> None:
    await _check_in(admin_hotel)
    [row] = (await conn.ask({"cmd": "requests", "hotel": "demo_hotel"}))["requests"]
    reply = await conn.ask({"cmd": "request_status", "id": row["id"], "status": "acknowledged"})
    assert reply == {"ok": True, "id": row["id"], "status": "acknowledged", "scheduled": []}
    [stored] = await admin_hotel.store.requests.recent("demo_hotel")
    assert stored.status is RequestStatus.ACKNOWLEDGED


async def test_context_shows_the_step_in_memory_then_from_the_snapshot(
    admin_hotel: Hotel, conn: Conn, start_hotel: HotelFactory, sock_dir: Path
) -> None:
    for text in CHECK_IN[:3]:
        await admin_hotel.say(FRONT_DESK, GUEST, text)
    ask = {"cmd": "context", "phone_number_id": FRONT_DESK, "guest": GUEST}
    live = await conn.ask(ask)
    assert live["source"] == "memory"
    assert live["context"]["current_flow"] == "check_in"
    assert live["context"]["current_step"] == "booking_reference"
    assert live["context"]["step_data"]["guest_name"] == "Ana Lopez"
    await admin_hotel.client.close()  # no actor in memory after a restart: the snapshot
    again = await start_hotel(admin_socket=sock_dir / "a.sock")
    reader, writer = await asyncio.open_unix_connection(str(again.app[ADMIN].path))
    stored = await Conn(reader, writer).ask(ask)
    writer.close()
    assert stored["source"] == "store"
    assert stored["context"]["current_step"] == "booking_reference"
    assert stored["context"]["step_data"]["guest_name"] == "Ana Lopez"


async def test_reload_refuses_a_broken_config_and_the_old_one_keeps_working(
    admin_hotel: Hotel, conn: Conn, config_dir: Path
) -> None:
    admin_hotel.app[CORE].config.config_dir = config_dir  # a copy this test may break
    assert (await conn.ask({"cmd": "reload"})) == {"ok": True, "hotels": ["demo_hotel",
                                                                       "seaside_inn"]}
    hotel_file = config_dir / "hotels" / "demo_hotel.yaml"
    hotel_file.write_text(
        hotel_file.read_text().replace("main_flow: front_desk_menu", "main_flow: nope"))
    before = admin_hotel.app[CORE].config.get()
    reply = await conn.ask({"cmd": "reload"})
    assert reply["ok"] is False and "previous configuration" in reply["error"]
    assert any("demo_hotel.yaml" in p and "nope" in p for p in reply["problems"])
    assert admin_hotel.app[CORE].config.get() is before
    replies = await admin_hotel.say(FRONT_DESK, GUEST, "Hello")
    assert replies and "How can we help you today?" in orjson.dumps(replies[0].body).decode()


async def test_unlock_lifts_a_cooloff_so_the_guest_is_answered_again(
    admin_hotel: Hotel, sock_dir: Path, capsys: pytest.CaptureFixture[str],
    logs: list[dict[str, Any]],
) -> None:
    """Five wrong answers start the cooloff (silence, even to "menu"); `hotelbot admin unlock`
    goes socket -> router -> the conversation's actor -> the engine, and "menu" works again."""
    await admin_hotel.say(FRONT_DESK, GUEST, "Hello")
    await admin_hotel.say(FRONT_DESK, GUEST, "late checkout")
    for wrong in ("one", "two", "three", "four", "five"):
        await admin_hotel.say(FRONT_DESK, GUEST, wrong)
    assert await admin_hotel.say(FRONT_DESK, GUEST, "menu") == []  # cooling off: silence
    sock = str(sock_dir / "a.sock")
    assert await _admin_cli("--socket", sock, "unlock", FRONT_DESK, GUEST) == 0
    lifted = "guest *******1222: cooloff lifted, they may write again"
    assert capsys.readouterr().out.strip() == lifted
    context = await admin_hotel.core.router.ask_context(FRONT_DESK, GUEST)  # type: ignore[arg-type]
    assert context.cooloff_until is None and context.error_count == 0  # type: ignore[attr-defined]
    replies = await admin_hotel.say(FRONT_DESK, GUEST, "menu")
    assert replies and "How can we help you today?" in message_text(replies[0].body)
    assert await _admin_cli("--socket", sock, "unlock", FRONT_DESK, GUEST) == 0
    assert "no cooloff in force" in capsys.readouterr().out
    stored = await admin_hotel.store.conversations.load(FRONT_DESK, GUEST)
    assert stored is not None and stored["cooloff_until"] is None


# --- the CLI client ------------------------------------------------------------------------


async def test_cli_prints_requests_as_a_table_and_acks(
    admin_hotel: Hotel, sock_dir: Path, capsys: pytest.CaptureFixture[str],
    logs: list[dict[str, Any]],
) -> None:
    await _check_in(admin_hotel)
    sock = str(sock_dir / "a.sock")
    assert await _admin_cli("--socket", sock, "requests", "demo_hotel") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:7] == ["ID", "TIME", "GUEST", "DEPARTMENT", "KIND", "STATUS",
                                    "DATA"]
    cells = lines[1].split()
    request_id = cells[0]
    assert cells[4:7] == ["front_desk", "check_in", "new"]
    assert cells[3] == mask_guest(GUEST)
    assert "guest_name=Ana Lopez" in lines[1]
    assert await _admin_cli("--socket", sock, "requests", "demo_hotel", "--full") == 0
    full = capsys.readouterr().out.splitlines()[1]
    assert GUEST in full and "; " in full and "…" not in full  # every value, in full
    [stored] = await admin_hotel.store.requests.recent("demo_hotel")
    assert stored.created_at is not None
    london = stored.created_at.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d %H:%M")
    assert full.split("  ")[1].strip() == london  # the hotel's timezone
    assert await _admin_cli("--socket", sock, "ack", request_id) == 0
    assert capsys.readouterr().out.strip() == f"request {request_id}: acknowledged"
    assert await _admin_cli("--socket", sock, "requests", "demo_hotel", "--status", "new") == 0
    assert capsys.readouterr().out.strip() == "no requests"
    commands = [e for e in logs if e["event"] == "admin_command"]
    assert [e["cmd"] for e in commands] == ["requests", "requests", "request_status", "requests"]
    assert "Ana Lopez" not in repr(commands) and GUEST not in repr(commands)


async def test_cli_stats_context_and_raw(
    admin_hotel: Hotel, sock_dir: Path, capsys: pytest.CaptureFixture[str],
    logs: list[dict[str, Any]],
) -> None:
    await admin_hotel.say(FRONT_DESK, GUEST, "Hello")
    sock = str(sock_dir / "a.sock")
    assert await _admin_cli("--socket", sock, "stats") == 0
    out = capsys.readouterr().out
    assert "router\n" in out and "dispatched" in out and "graph\n" in out
    assert await _admin_cli("--socket", sock, "context", FRONT_DESK, GUEST) == 0
    out = capsys.readouterr().out
    assert "active, in memory" in out and "front_desk_menu" in out
    assert await _admin_cli("--socket", sock, "raw", '{"cmd": "help"}') == 0
    assert orjson.loads(capsys.readouterr().out)["ok"] is True
    assert await _admin_cli("--socket", sock, "--json", "requests", "demo_hotel") == 0
    assert orjson.loads(capsys.readouterr().out) == {
        "ok": True, "hotel": "demo_hotel", "timezone": "Europe/London", "full": False,
        "requests": []}
    assert await _admin_cli("--socket", sock, "--json", "ack", "99") == 1
    assert orjson.loads(capsys.readouterr().out)["ok"] is False
    assert await _admin_cli("--socket", sock, "help") == 0
    out = capsys.readouterr().out
    assert "ack ID" in out and "requests HOTEL [--status S]" in out and "raw JSON" in out


async def test_cli_fails_clearly_on_refusal_missing_socket_and_bad_raw(
    admin_hotel: Hotel, sock_dir: Path, capsys: pytest.CaptureFixture[str],
    logs: list[dict[str, Any]],
) -> None:
    sock = str(sock_dir / "a.sock")
    assert await _admin_cli("--socket", sock, "done", "4242") == 1
    assert "no request with id 4242" in capsys.readouterr().err
    assert await _admin_cli("--socket", str(sock_dir / "none.sock"), "stats") == 2
    assert "no such socket" in capsys.readouterr().err
    assert await _admin_cli("--socket", sock, "raw", "[1, 2") == 2
    assert "not JSON" in capsys.readouterr().err


async def test_cli_default_socket_comes_from_the_environment(
    admin_hotel: Hotel, sock_dir: Path, capsys: pytest.CaptureFixture[str],
    logs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTELBOT_ADMIN_SOCKET", str(sock_dir / "a.sock"))
    assert await _admin_cli("help") == 0
    assert "request_status" in capsys.readouterr().out
    monkeypatch.delenv("HOTELBOT_ADMIN_SOCKET")
    monkeypatch.setenv("HOTELBOT_DATA_DIR", str(sock_dir / "elsewhere"))
    assert await _admin_cli("stats") == 2
    assert str(sock_dir / "elsewhere" / "admin.sock") in capsys.readouterr().err


async def test_a_parked_message_is_listed_and_replayed_once(
    admin_hotel: Hotel, conn: Conn
) -> None:
    from hotelbot.whatsapp.payloads import parse_webhook
    from tests.fakes.hotel import text_item, webhook_post

    guest = "34600000077"
    [message] = parse_webhook(webhook_post(FRONT_DESK, guest, [text_item(guest, "hi")])).messages
    [recorded] = await admin_hotel.store.inbound.record(
        [message], at=message.sent_at, hotel_of=admin_hotel.app[CORE].router.hotel_of())
    assert recorded is not None
    await admin_hotel.store.inbound.park(recorded.seq, "Traceback...\nStoreError: injected")
    listed = await conn.ask({"cmd": "parked"})
    assert [(r["seq"], r["error"]) for r in listed["parked"]] == [
        (recorded.seq, "StoreError: injected")]
    assert listed["parked"][0]["guest"].endswith("0077") and guest not in str(listed)
    assert (await conn.ask({"cmd": "replay", "seq": recorded.seq}))["ok"] is True
    await admin_hotel.settle()
    assert len(admin_hotel.fake.sent_to(guest)) == 1  # the guest is answered now
    again = await conn.ask({"cmd": "replay", "seq": recorded.seq})
    assert again["ok"] is False and "no parked" in again["error"]
    assert (await conn.ask({"cmd": "parked"}))["parked"] == []


async def test_cli_parked_and_replay(
    admin_hotel: Hotel, sock_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sock = str(sock_dir / "a.sock")
    assert await _admin_cli("--socket", sock, "parked") == 0
    assert "no parked messages" in capsys.readouterr().out
    assert await _admin_cli("--socket", sock, "replay", "999") == 1
    assert "no parked inbound message with seq 999" in capsys.readouterr().err


async def test_done_on_a_room_service_order_schedules_the_feedback_request_in_the_queue(
    admin_hotel: Hotel, conn: Conn
) -> None:
    now = admin_hotel.core.clock.now()
    await admin_hotel.store.conversations.commit_step(StepCommit(
        phone_number_id=ROOM_SERVICE, guest_id=GUEST, hotel_id="demo_hotel", context={},
        guest_data={}, language="en", inbound_seq=None, guest_changed=False, at=now,
        requests=(RequestRecord(hotel_id="demo_hotel", department="room_service",
                                guest_id=GUEST, flow_id="room_service_order", kind="order",
                                data={"item": "Club sandwich"}, created_at=now),)))
    [order] = await admin_hotel.store.requests.recent("demo_hotel")
    reply = await conn.ask({"cmd": "request_status", "id": order.id, "status": "done"})
    assert reply["ok"] is True and len(reply["scheduled"]) == 1
    again = await conn.ask({"cmd": "request_status", "id": order.id, "status": "done"})
    assert again["ok"] is False  # already done: refused, and nothing scheduled twice
    queue = await conn.ask({"cmd": "queue", "hotel": "demo_hotel"})
    [row] = queue["queue"]
    assert (row["type"], row["status"], row["guest"]) == ("feedback_request", "pending",
                                                          "*******1222")
    assert row["due"][:16] == (now + timedelta(hours=2)).isoformat()[:16]
    cancelled = await conn.ask({"cmd": "queue_cancel", "id": row["id"]})
    assert cancelled == {"ok": True, "id": row["id"], "status": "skipped", "reason": "cancelled"}
    refused = await conn.ask({"cmd": "queue_cancel", "id": row["id"]})
    assert refused["ok"] is False and "is skipped, not pending" in refused["error"]
    assert (await conn.ask({"cmd": "queue", "hotel": "demo_hotel"}))["queue"] == []


async def test_broadcast_to_numbers_through_the_socket_refuses_bad_input(
    admin_hotel: Hotel, conn: Conn
) -> None:
    reply = await conn.ask({"cmd": "broadcast", "hotel": "demo_hotel",
                            "message_type": "spa_offer", "segment": "numbers",
                            "numbers": "34600111222, +34600111333, 12x", "id": "spring"})
    assert (reply["ok"], reply["rows"], reply["refused"]) == (True, 2, ["12x"])
    assert (await conn.ask({"cmd": "broadcast", "hotel": "demo_hotel",
                            "message_type": "spa_offer", "segment": "numbers",
                            "numbers": "34600111222", "id": "spring"}))["rows"] == 0
    for bad, reason in [
        ({"message_type": "nope", "segment": "in_house"}, "unknown message type 'nope'"),
        ({"message_type": "spa_offer", "segment": "everyone"}, "'segment' must be one of"),
        ({"message_type": "spa_offer", "segment": "numbers"}, "give the numbers"),
    ]:
        refused = await conn.ask({"cmd": "broadcast", "hotel": "demo_hotel", **bad})
        assert refused["ok"] is False and reason in refused["error"]


async def test_stays_import_reports_refused_lines_and_applies_the_rest(
    admin_hotel: Hotel, sock_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    csv_file = tmp_path / "stays.csv"
    csv_file.write_text(
        "booking_ref,guest_wa_id,guest_name,room,check_in,check_out,language\n"
        "A-1,34600111222,Ana Lopez,101,2030-05-01T15:00:00+01:00,2030-05-03T11:00:00+01:00,en\n"
        "A-2,34600111333,Bo,9999,2030-05-01T15:00:00+01:00,2030-05-03T11:00:00+01:00,\n"
        "A-3,34600111444,Cy,102,2030-05-01T15:00:00,2030-05-03T11:00:00+01:00,\n",
        encoding="utf-8")
    argv = ["stays", "import", str(csv_file), "--hotel", "demo_hotel", "--config-dir",
            str(CONFIG), "--socket", str(sock_dir / "a.sock")]
    assert await asyncio.to_thread(cli.main, argv) == 1
    out = [line for line in capsys.readouterr().out.splitlines() if "[info" not in line]
    assert out == [f"{csv_file}:3: room: not a room number of this hotel",
                   f"{csv_file}:4: check_in: needs a UTC offset, e.g. +01:00 or Z",
                   "1 accepted, 2 refused"]
    stay = await admin_hotel.store.stays.get("demo_hotel", "A-1")
    assert stay is not None and stay.guest_name == "Ana Lopez"
    assert await admin_hotel.store.stays.get("demo_hotel", "A-2") is None
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("booking_ref,phone\nX,1\n", encoding="utf-8")
    assert await asyncio.to_thread(cli.main, [*argv[:2], str(bad_header), *argv[3:]]) == 1
    assert "missing column guest_wa_id" in capsys.readouterr().out


async def test_ack_done_and_cancel_tell_the_guest_like_the_console(
    admin_hotel: Hotel, conn: Conn, sock_dir: Path
) -> None:
    """ack and done over the socket send the guest the same notices as the console (through
    the pacer, committed with the move); done fires the after-request trigger; a done request
    is cancelled only with a reason, which the guest reads."""
    await _check_in(admin_hotel)
    [row] = (await conn.ask({"cmd": "requests", "hotel": "demo_hotel"}))["requests"]

    async def moved(status: str, **extra: str) -> tuple[dict[str, Any], list[str]]:
        before = len(admin_hotel.fake.sent_to(GUEST))
        reply = await conn.ask({"cmd": "request_status", "id": row["id"], "status": status,
                                **extra})
        await admin_hotel.settle()
        return reply, [message_text(s.body) for s in admin_hotel.fake.sent_to(GUEST)[before:]]

    reply, told = await moved("acknowledged")
    assert reply["ok"] is True
    assert told == ["Front desk has your request and is on it."]
    reply, told = await moved("done")
    assert reply["ok"] is True
    assert told == ["Your request to Front desk is done. Thank you!"]
    reply, told = await moved("cancelled")
    assert reply["ok"] is False and "reason" in reply["error"] and told == []
    reply, told = await moved("cancelled", reason="the booking was moved")
    assert reply["ok"] is True
    assert told == ["Sorry, Front desk had to cancel your request: the booking was moved"]
    stored = await admin_hotel.store.requests.get("demo_hotel", row["id"])
    assert stored is not None and stored.status is RequestStatus.CANCELLED
    # the command line takes the same path
    await _check_in(admin_hotel)
    newest = (await conn.ask({"cmd": "requests", "hotel": "demo_hotel"}))["requests"][0]
    before = len(admin_hotel.fake.sent_to(GUEST))
    assert await _admin_cli("--socket", str(sock_dir / "a.sock"), "ack", str(newest["id"])) == 0
    await admin_hotel.settle()
    assert [message_text(s.body) for s in admin_hotel.fake.sent_to(GUEST)[before:]] == [
        "Front desk has your request and is on it."]
