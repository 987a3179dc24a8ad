"""Every shipped flow, end to end: signed webhooks in, replies read at the fake Graph API.

Plays the shipped-config dialogues of tests/unit/dialogues/ (the data the pure engine tests
use) through the real HTTP path: webhook -> store -> router -> actor -> engine -> outbox ->
sender -> fake Graph API (which refuses any payload outside WhatsApp's limits). Each turn's
replies are checked as the guest would receive them; end steps are checked in the store.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from hotelbot.config import load_hotels
from hotelbot.flows import Context
from hotelbot.flows.remembered import mark
from hotelbot.store.records import StepCommit
from tests.fakes.clock import ShiftedClock
from tests.fakes.hotel import Hotel, HotelFactory, new_wamid, text_item
from tests.messages import message_kind, message_text
from tests.paths import CONFIG
from tests.unit.dialogues.test_dialogues import START

pytestmark = pytest.mark.e2e
DIALOGUES = Path(__file__).resolve().parents[1] / "unit" / "dialogues"
_guests = itertools.count(1)


def _cases() -> list[Any]:
    cases = []
    for name in ("demo_hotel.yaml", "seaside_inn.yaml"):
        document = yaml.safe_load((DIALOGUES / name).read_text(encoding="utf-8"))
        for dialogue in document["dialogues"]:
            turns = dialogue["script"]
            if all(set(t) - {"expect"} <= {"say", "choose"} for t in turns):
                cases.append(pytest.param(document, dialogue,
                                          id=f"{document['hotel']}: {dialogue['name']}"))
    return cases


def _tap(guest: str, last: Mapping[str, Any], wamid: str, title: str) -> dict[str, object]:
    """The webhook item for tapping the option titled `title` in the message `last`."""
    interactive = last.get("interactive")
    if interactive is None:  # a numbered text menu: the guest types the title
        return text_item(guest, title)
    action = interactive["action"]
    if interactive["type"] == "button":
        reply = next(b["reply"] for b in action["buttons"] if b["reply"]["title"] == title)
        kind, content = "button_reply", {"id": reply["id"], "title": reply["title"]}
    else:
        rows = [r for s in action["sections"] for r in s["rows"]]
        row = next(r for r in rows if r["title"] == title)
        kind, content = "list_reply", {"id": row["id"], "title": row["title"]}
    return {"context": {"from": "15550000000", "id": wamid}, "from": guest, "id": new_wamid(),
            "timestamp": str(int(time.time())), "type": "interactive",
            "interactive": {"type": kind, kind: content}}


async def _seed(hotel: Hotel, number: str, guest: str, hotel_id: str, dept: str,
                start: Mapping[str, Any]) -> None:
    """Give the guest what the dialogue starts with (remembered data, a language)."""
    language = start.get("language") or ("pt" if hotel_id == "seaside_inn" else "en")
    known = dict(start.get("remember", {}))  # told earlier today: already confirmed
    today = START.astimezone(ZoneInfo(load_hotels(CONFIG).hotels[hotel_id].timezone)).date()
    known |= {mark(key): today.isoformat() for key in known}
    known |= start.get("remembered_before", {})
    context = Context(hotel_id=hotel_id, guest_id=guest, phone_number_id=number,
                      department=dept, language=language, accumulated_data=known)
    await hotel.store.conversations.commit_step(StepCommit(
        phone_number_id=number, guest_id=guest, hotel_id=hotel_id, context=context.to_dict(),
        guest_data=context.accumulated_data, language=language, inbound_seq=None,
    ))


def _number(document: Mapping[str, Any], dialogue: Mapping[str, Any]) -> tuple[str, str]:
    hotels = load_hotels(CONFIG)
    dept = dialogue.get("department", document.get("department"))
    hotel = hotels.hotels[document["hotel"]]
    return hotel.departments[dept].phone_number_id, dept


@pytest.mark.parametrize(("document", "dialogue"), _cases())
async def test_shipped_dialogue_through_the_webhook(
    start_hotel: HotelFactory, document: dict[str, Any], dialogue: dict[str, Any]
) -> None:
    # The dialogues' time of day (opening hours, times resolved to today or tomorrow).
    hotel = await start_hotel(clock=ShiftedClock(START))
    number, dept = _number(document, dialogue)
    guest = f"4479{next(_guests):08d}"
    if "start" in dialogue:
        await _seed(hotel, number, guest, document["hotel"], dept, dialogue["start"])
    for index, turn in enumerate(dialogue["script"], 1):
        where = f"turn {index}: {turn}"
        before = len(hotel.fake.sent_to(guest))
        if "say" in turn:
            item = text_item(guest, str(turn["say"]))
        else:
            last = hotel.fake.sent_to(guest)[-1]
            item = _tap(guest, last.body, last.wamid, str(turn["choose"]))
        assert await hotel.send_items(number, guest, [item]) == 200, where
        await hotel.settle()
        replies = hotel.fake.sent_to(guest)[before:]
        _check(hotel, replies, turn.get("expect", {}), where)
        if "request" in turn.get("expect", {}):
            await _check_request(hotel, document["hotel"], guest, turn["expect"], where)
    assert hotel.fake.refused == []  # every payload passed the fake's WhatsApp checks


def _check(hotel: Hotel, replies: list[Any], expect: Mapping[str, Any], where: str) -> None:
    text = "\n".join(message_text(r.body) for r in replies)
    if expect.get("silence"):
        assert replies == [], where
        return
    assert replies, where  # never silent outside a cooloff
    if "kind" in expect:
        assert message_kind(replies[-1].body) == expect["kind"], (where, text)
    wanted = expect.get("reply_contains", [])
    for fragment in [wanted] if isinstance(wanted, str) else wanted:
        assert fragment in text, (where, fragment, text)


async def _check_request(hotel: Hotel, hotel_id: str, guest: str, expect: Mapping[str, Any],
                         where: str) -> None:
    mine = [r for r in await hotel.store.requests.recent(hotel_id) if r.guest_id == guest]
    assert mine and mine[0].kind == expect["request"], where
    for key, value in expect.get("request_data", {}).items():
        assert mine[0].data.get(key) == value, (where, key, dict(mine[0].data))


def test_the_dialogues_reach_every_shipped_request_kind() -> None:
    from hotelbot.config import load_hotels

    hotels = load_hotels(CONFIG)
    shipped = {
        step.request
        for hotel in hotels.hotels.values()
        for flow in hotel.flows.values()
        for step in flow.steps.values()
        if step.request
    }
    played = {
        turn["expect"]["request"]
        for case in _cases()
        for turn in case.values[1]["script"]
        if "request" in turn.get("expect", {})
    }
    assert shipped <= played, shipped - played
