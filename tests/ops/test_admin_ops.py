"""`hotelbot admin actors` and `funnel` against the real app, through the CLI and its --json."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from hotelbot import cli
from hotelbot.app import ADMIN
from tests.fakes.hotel import Hotel, HotelFactory
from tests.numbers import FRONT_DESK, ROOM_SERVICE, SEASIDE_FRONT_DESK

CHECK_IN = ["Hello", "1", "Ana Lopez", "AB1234", "around 3pm", "skip", "yes"]


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """The server's log lines are captured, so stdout holds only what the CLI printed."""
    with structlog.testing.capture_logs():
        yield


@pytest.fixture
async def busy_hotel(start_hotel: HotelFactory) -> Hotel:
    hotel = await start_hotel(admin_socket=Path(tempfile.mkdtemp(prefix="hb")) / "a.sock")
    for text in CHECK_IN:  # completes check-in
        await hotel.say(FRONT_DESK, "34600000001", text)
    for text in ["Hello", "1", "Bob", "menu"]:  # leaves it for the main menu
        await hotel.say(FRONT_DESK, "34600000002", text)
    for text in ["Hello", "1", *["x"] * 5]:  # five bad names: a cooloff
        await hotel.say(FRONT_DESK, "34600000003", text)
    await hotel.say(ROOM_SERVICE, "34600000004", "hi")
    await hotel.say(SEASIDE_FRONT_DESK, "34600000005", "hi")
    return hotel


async def _cli_json(hotel: Hotel, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = await asyncio.to_thread(
        cli.main, ["admin", "--socket", str(hotel.app[ADMIN].path), *argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return orjson.loads(out)


async def test_actors_filtered_by_hotel_and_department(
    busy_hotel: Hotel, capsys: pytest.CaptureFixture[str]
) -> None:
    every = await _cli_json(busy_hotel, capsys, "actors")
    assert every["count"] == 5
    demo = await _cli_json(busy_hotel, capsys, "actors", "--hotel", "demo_hotel")
    assert {r["department"] for r in demo["actors"]} == {"front_desk", "room_service"}
    desk = await _cli_json(busy_hotel, capsys, "actors", "--hotel", "demo_hotel",
                           "--department", "front_desk")
    assert [r["guest"][-4:] for r in desk["actors"]] and all(
        r["guest"].startswith("*") for r in desk["actors"])
    assert len(desk["actors"]) == 3 and all(r["queued"] == 0 for r in desk["actors"])
    assert desk["actors"][0]["last_message_at"].endswith(("+00:00", "+01:00"))  # London
    code = await asyncio.to_thread(
        cli.main, ["admin", "--socket", str(busy_hotel.app[ADMIN].path), "actors"])
    table = capsys.readouterr().out
    assert code == 0 and table.startswith("HOTEL") and "seaside_inn" in table


async def test_funnel_counts_reached_completed_abandoned_and_cooloff(
    busy_hotel: Hotel, capsys: pytest.CaptureFixture[str]
) -> None:
    reply = await _cli_json(busy_hotel, capsys, "funnel", "demo_hotel", "--flow", "check_in")
    assert reply["timezone"] == "Europe/London"
    (flow,) = reply["flows"]
    assert (flow["completed"], flow["abandoned"], flow["cooloff"]) == (1, 1, 1)
    reached = {s["step"]: s["reached"] for s in flow["steps"]}
    assert reached["guest_name"] == 3 and reached["booking_reference"] == 2
    assert reached["confirm"] == 1
    assert [s["step"] for s in flow["steps"]][:2] == ["guest_name", "booking_reference"]
    whole = await _cli_json(busy_hotel, capsys, "funnel", "demo_hotel")
    assert {f["flow"] for f in whole["flows"]} >= {"check_in", "front_desk_menu",
                                                    "room_service_menu"}
    seaside = await _cli_json(busy_hotel, capsys, "funnel", "seaside_inn")
    assert {f["flow"] for f in seaside["flows"]}.isdisjoint({"check_in"})
    code = await asyncio.to_thread(
        cli.main, ["admin", "--socket", str(busy_hotel.app[ADMIN].path), "funnel",
                   "demo_hotel", "--flow", "check_in"])
    text = capsys.readouterr().out
    assert code == 0 and "check_in: completed 1, abandoned 1" in text


async def test_funnel_refuses_an_unknown_flow(
    busy_hotel: Hotel, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(
        cli.main, ["admin", "--socket", str(busy_hotel.app[ADMIN].path), "funnel",
                   "demo_hotel", "--flow", "nope"])
    assert code == 1 and "unknown flow" in capsys.readouterr().err
