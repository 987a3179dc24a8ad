"""`hotelbot chat`: the real engine, actors and store on a temporary database, driven through
stdin; no server, no Graph API."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotelbot.cli.chat import ChatOptions, chat
from hotelbot.cli.screen import SayError
from tests.paths import CONFIG

ROOT = Path(__file__).resolve().parents[2]
# Order, Drinks, Coffee, 2, review the basket, no special request, room 305, confirm.
ORDER = ["hi", "#1", "#4", "#1", "2", "#2", "skip", "305", "#1"]


def _open_all_day(tmp_path: Path) -> Path:
    """The tests' configuration without opening hours: the simulator runs on the real clock,
    and an order must not depend on the time of day the suite runs at (the hours have their
    own tests on a fixed clock)."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "demo_hotel.yaml"
    text = hotel.read_text(encoding="utf-8")
    start = text.index("opening_hours:")
    end = text.index("message_templates:", start)
    hotel.write_text(text[:start] + text[end:], encoding="utf-8")
    return config


def test_chat_through_stdin_completes_an_order(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTELBOT_")}
    config, cwd = _open_all_day(tmp_path), tmp_path / "cwd"
    cwd.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "hotelbot", "chat", "--hotel", "demo_hotel",
         "--department", "room_service", "--config-dir", str(config)],
        input="\n".join([*ORDER, "/quit"]) + "\n", capture_output=True, text=True,
        timeout=120, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[1] Confirm  [2] Change" in out  # buttons as numbered choices
    assert "1. Order food & drinks" in out and "4. Drinks" in out  # a list's rows numbered
    assert "Please confirm your order to room 305:" in out and "2 × Coffee — £7.00" in out
    assert ("Your order is with the kitchen; we'll message you when it's on its way to room 305."
            in out)
    assert "[request #1 order for room_service: room=305" in out and "total=£7.00" in out
    assert not list(cwd.iterdir())  # nothing written where it ran


async def _lines(items: list[str], before: dict[int, object]) -> AsyncIterator[str]:
    for n, item in enumerate(items):
        action = before.get(n)
        if callable(action):
            action()
        yield item + "\n"
        await asyncio.sleep(0)


async def test_chat_reloads_the_configuration_when_a_file_changes(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    flow = config / "flows" / "room_service_menu.yaml"
    hotel = config / "hotels" / "demo_hotel.yaml"

    def edit_welcome() -> None:
        flow.write_text(flow.read_text().replace("What would you like?",
                                                 "What may we bring you?"))

    def break_hotel() -> None:
        hotel.write_text(hotel.read_text().replace("main_flow: room_service_menu",
                                                   "main_flow: nope"))

    out = io.StringIO()
    options = ChatOptions(config_dir=config, hotel="demo_hotel", department="room_service")
    await chat(options, _lines(["hi", "menu", "menu"], {1: edit_welcome, 2: break_hotel}), out)
    text = out.getvalue()
    first, second, third = text.split("Room service is available")[1:4]
    assert "What would you like?" in first
    assert "(configuration reloaded)" in text and "What may we bring you?" in second
    assert "configuration refused, the previous one stays" in text and "nope" in text
    assert "What may we bring you?" in third  # the last good configuration answered


async def test_chat_names_what_exists_for_a_wrong_department() -> None:
    options = ChatOptions(config_dir=CONFIG, hotel="demo_hotel", department="spa")
    with pytest.raises(SayError) as caught:
        await chat(options, _lines([], {}), io.StringIO())
    assert "no department 'spa'" in caught.value.detail and "room_service" in caught.value.detail
