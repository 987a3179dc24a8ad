"""No log line carries a guest's full phone number: a real server with the configured JSON log
chain (the one `hotelbot serve` uses) writing to a stream, guests played through the signed
webhook, staff acting in the console and on the admin socket, a cooloff started and lifted.

Every line is read back: the full numbers never appear in any of them, and the masked form
(`mask_guest`, the last 4 characters) does, under the keys that identify a guest.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import structlog

from hotelbot.app import ADMIN
from hotelbot.log import configure_logging, mask_guest
from tests.console.staff import CONSOLE_SECRET, DAYTIME, ORDER, Browserless, add_staff
from tests.fakes.clock import ShiftedClock
from tests.fakes.hotel import HotelFactory
from tests.numbers import FRONT_DESK, ROOM_SERVICE

pytestmark = pytest.mark.e2e

ORDERING = "34600777018"
COOLING = "447700900018"


@pytest.fixture
def stream() -> Iterator[io.TextIOWrapper]:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    configure_logging(json=True, level="debug", stream=out)
    yield out
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hb"))  # AF_UNIX paths are short
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _admin(path: Path, request: dict[str, object]) -> dict[str, object]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(orjson.dumps(request) + b"\n")
        await writer.drain()
        reply = orjson.loads(await asyncio.wait_for(reader.readline(), 10))
        assert isinstance(reply, dict)
        return reply
    finally:
        writer.close()


async def test_no_log_line_carries_a_full_guest_number(
        start_hotel: HotelFactory, stream: io.TextIOWrapper, sock_dir: Path) -> None:
    hotel = await start_hotel(console_secret=CONSOLE_SECRET, clock=ShiftedClock(DAYTIME),
                              admin_socket=sock_dir / "a.sock")
    for text in ORDER:  # a room-service order: steps, sends, a request
        await hotel.say(ROOM_SERVICE, ORDERING, text)
    [request] = await hotel.store.requests.recent("demo_hotel")
    await add_staff(hotel, "alice")
    alice = Browserless(hotel)
    try:
        board = await alice.login("alice")
        for action in ("acknowledge", "done"):  # the guest is told; done fires the hooks
            page = await alice.post(f"/console/requests/{request.id}/{action}",
                                    {"csrf": board.csrf})
            assert page.status == 200
        await hotel.settle()
    finally:
        await alice.close()

    await hotel.say(FRONT_DESK, COOLING, "Hello")  # five wrong answers: a cooloff
    await hotel.say(FRONT_DESK, COOLING, "late checkout")
    for wrong in ("one", "two", "three", "four", "five"):
        await hotel.say(FRONT_DESK, COOLING, wrong)
    socket = hotel.app[ADMIN].path
    unlocked = await _admin(socket, {"cmd": "unlock", "phone_number_id": FRONT_DESK,
                                     "guest": COOLING})
    assert unlocked["ok"] is True, unlocked
    exported = await _admin(socket, {"cmd": "guest", "action": "export",
                                     "hotel": "demo_hotel", "number": COOLING})
    assert exported["ok"] is True, exported

    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    lines = [orjson.loads(line) for line in raw.splitlines()]
    events = {line["event"] for line in lines}
    assert {"step_committed", "request_moved", "cooloff_lifted"} <= events, events
    for guest in (ORDERING, COOLING):
        assert guest.encode() not in raw
        assert guest[-7:].encode() not in raw  # nor a longer tail of it
        masked = [line for line in lines if mask_guest(guest) in line.values()]
        assert masked, f"no line names {mask_guest(guest)}"
        assert {key for line in masked for key, value in line.items()
                if value == mask_guest(guest)} <= {"guest", "guest_id", "to", "wa_id", "from"}
