"""Scripted dialogues, kept as data (*.yaml beside this file), played against the real engine.

A file names its hotel (`hotel: fixture` for tests/unit/fixtures.py, or `hotel: <id>` for the
tests' configuration, tests/data/config, whose flow templates are the shipped ones; with
`department: <id>` in the file or per dialogue) and holds `dialogues`,
each a `script` of turns (and optionally `start: {language, remember, remembered_before}`:
`remember` is what the guest told earlier today (confirmed), `remembered_before` what they
told on an earlier day (confirmed again before use, "Room 205 — is that right?").
A turn is one action, plus an optional `expect`:
  say: "2"                 the guest types text
  tap: "flow.step:option"  the guest taps a button/row with that reply id
  choose: "Title"          tap the button/row titled so in the last message we sent
  unsupported: image       the guest sends something menus cannot read
  notice: reaction         a reaction, deletion, edit or system notice (NoticeReceived)
  chat_opened: true        the guest opened the chat (request_welcome)
  flow: feedback           a FlowRequested (a reply to a scheduled message)
  template: {payload, text}  a template quick-reply button
  advance_minutes: 61      time passes (no event)
expect keys: step ("flow.step" or "idle"), kind (text|button|list), reply_contains (text or
list), reply_lacks, silence (true), errors, language, data (step data subset), data_lacks
(keys not in the step data), remember (accumulated data subset), request (kind), request_data
(subset), request_lacks (keys the request does not carry), schedule (message type), stack (list
of refs).
Every turn also checks that each message we send respects WhatsApp's limits.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotelbot.config import load_hotels
from hotelbot.flows import (
    CancelRequest,
    ChatOpened,
    Context,
    CreateRequest,
    Event,
    FlowRequested,
    Hotel,
    Hotels,
    ListRequests,
    NoticeReceived,
    OptionChosen,
    Outcome,
    ScheduleMessage,
    SendMessage,
    Silence,
    SilenceReason,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
    new_context,
    step,
)
from hotelbot.flows.remembered import mark
from hotelbot.whatsapp.limits import check_message
from hotelbot.whatsapp.payloads import envelope
from tests.messages import message_kind, message_text
from tests.paths import CONFIG
from tests.unit.fixtures import DEPT, GUEST, NUMBER, build_hotel

HERE = Path(__file__).parent
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _cases() -> list[Any]:
    cases = []
    for path in sorted(HERE.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for dialogue in document["dialogues"]:
            case_id = f"{path.stem}:{dialogue['name']}"
            cases.append(pytest.param(document, dialogue, id=case_id))
    return cases


def _hotel(document: dict[str, Any], dialogue: dict[str, Any]) -> tuple[Hotel, str, str]:
    if document["hotel"] == "fixture":
        return build_hotel(), DEPT, NUMBER
    hotel = _configured_hotels().hotels[document["hotel"]]
    department = hotel.departments[dialogue.get("department", document.get("department"))]
    return hotel, department.id, department.phone_number_id


@functools.cache
def _configured_hotels() -> Hotels:
    return load_hotels(CONFIG)


class Player:
    """Plays one dialogue: keeps the context, the clock and the last message sent."""

    def __init__(self, hotel: Hotel, context: Context) -> None:
        self.hotel = hotel
        self.context = context
        self.now = START
        self.last_message: SendMessage | None = None

    def event(self, turn: dict[str, Any]) -> Event | None:
        if "say" in turn:
            return TextReceived(text=str(turn["say"]))
        if "tap" in turn:
            return OptionChosen(reply_id=turn["tap"])
        if "choose" in turn:
            return OptionChosen(reply_id=self.reply_id_titled(turn["choose"]))
        if "unsupported" in turn:
            return UnsupportedReceived(kind=turn["unsupported"])
        if "notice" in turn:
            return NoticeReceived(kind=turn["notice"])
        if "chat_opened" in turn:
            return ChatOpened()
        if "flow" in turn:
            return FlowRequested(flow_id=turn["flow"])
        if "template" in turn:
            return TemplateButtonPressed(**turn["template"])
        if "advance_minutes" in turn:
            self.now += timedelta(minutes=turn["advance_minutes"])
            return None
        raise AssertionError(f"turn without an action: {turn}")

    def reply_id_titled(self, title: str) -> str:
        assert self.last_message is not None, "choose: nothing was sent yet"
        action = self.last_message.body["interactive"]["action"]  # type: ignore[index]
        choices = [b["reply"] for b in action.get("buttons", [])]
        choices += [row for s in action.get("sections", []) for row in s["rows"]]
        found = [c["id"] for c in choices if c["title"] == title]
        assert found, f"no button/row titled {title!r} in {[c['title'] for c in choices]}"
        return str(found[0])

    def play(self, turn: dict[str, Any]) -> Outcome | None:
        event = self.event(turn)
        if event is None:
            return None
        self.now += timedelta(seconds=10)
        outcome = step(self.hotel, self.context, event, self.now)
        self.context = outcome.context
        sends = [e for e in outcome.effects if isinstance(e, SendMessage)]
        for send in sends:
            assert check_message(envelope(GUEST, send.body)) == [], send.body
        if sends:
            self.last_message = sends[-1]
        documented = {(Silence(reason=r),) for r in (SilenceReason.COOLOFF, SilenceReason.NOTICE,
                                                     SilenceReason.LOOP)}
        asked = any(isinstance(e, ListRequests | CancelRequest) for e in outcome.effects)
        assert sends or asked or outcome.effects in documented, outcome
        assert self.context.last_activity == self.now
        return outcome


def _check(outcome: Outcome | None, player: Player, expect: dict[str, Any], where: str) -> None:
    ctx = player.context
    effects = outcome.effects if outcome is not None else ()
    sends = [e for e in effects if isinstance(e, SendMessage)]
    text = "\n".join(message_text(s.body) for s in sends)
    if "step" in expect:
        here = f"{ctx.current_flow}.{ctx.current_step}" if ctx.current_flow else "idle"
        assert here == expect["step"], where
    if "kind" in expect:
        assert sends and message_kind(sends[-1].body) == expect["kind"], (where, text)
    wanted = expect.get("reply_contains", [])
    for fragment in [wanted] if isinstance(wanted, str) else wanted:
        assert fragment in text, (where, fragment, text)
    lacks = expect.get("reply_lacks", [])
    for fragment in [lacks] if isinstance(lacks, str) else lacks:
        assert fragment not in text, (where, fragment, text)
    if "silence" in expect:
        silent = bool(effects) and all(isinstance(e, Silence) for e in effects)
        assert silent is expect["silence"], (where, effects)
    if "errors" in expect:
        assert ctx.error_count == expect["errors"], where
    if "language" in expect:
        assert ctx.language == expect["language"], where
    for key, value in expect.get("data", {}).items():
        assert ctx.step_data.get(key) == value, (where, key, dict(ctx.step_data))
    for key in expect.get("data_lacks", []):
        assert key not in ctx.step_data, (where, key, dict(ctx.step_data))
    for key, value in expect.get("remember", {}).items():
        assert ctx.accumulated_data.get(key) == value, (where, key)
    if "stack" in expect:
        assert list(ctx.navigation_stack) == expect["stack"], where
    _check_effects(effects, expect, where)


def _check_effects(effects: tuple[object, ...], expect: dict[str, Any], where: str) -> None:
    requests = [e for e in effects if isinstance(e, CreateRequest)]
    if "request" in expect:
        assert [r.kind for r in requests] == [expect["request"]], (where, requests)
        for key, value in expect.get("request_data", {}).items():
            assert requests[0].data.get(key) == value, (where, key, dict(requests[0].data))
        for key in expect.get("request_lacks", []):
            assert key not in requests[0].data, (where, key, dict(requests[0].data))
    elif requests:
        raise AssertionError(f"{where}: unexpected request {requests}")
    schedules = [e.message_type for e in effects if isinstance(e, ScheduleMessage)]
    if "schedule" in expect:
        assert schedules == [expect["schedule"]], where


@pytest.mark.parametrize(("document", "dialogue"), _cases())
def test_dialogue(document: dict[str, Any], dialogue: dict[str, Any]) -> None:
    hotel, department, number = _hotel(document, dialogue)
    start = dialogue.get("start", {})
    known = dict(start.get("remember", {}))  # told earlier today: already confirmed
    known |= {mark(key): START.date().isoformat() for key in known}
    known |= start.get("remembered_before", {})  # told on an earlier day: confirmed before use
    context = new_context(hotel, guest_id="351910000000", phone_number_id=number,
                          department=department, language=start.get("language"),
                          accumulated_data=known)
    player = Player(hotel, context)
    for index, turn in enumerate(dialogue["script"], 1):
        outcome = player.play(turn)
        _check(outcome, player, turn.get("expect", {}), f"turn {index}: {turn}")
