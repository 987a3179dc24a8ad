"""`hotelbot say` (hotelbot/cli/say.py): webhooks it builds, replies it prints, a loopback talk.

The pure parts are checked against the project's own parser and signature check; the loopback
test runs `converse` against a tiny webhook receiver and the real fake Graph API, both on
ephemeral 127.0.0.1 ports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from hotelbot.cli.say import (
    Choice,
    Help,
    Quit,
    SayError,
    SayOptions,
    SendTap,
    SendText,
    converse,
    format_reply,
    load_numbers,
    main,
    message_item,
    parse_line,
    read_lines,
    resolve_number,
    screen_of,
    webhook_body,
)
from hotelbot.devtools.fake_graph import create_fake_graph
from hotelbot.flows import Event, event_for
from hotelbot.flows.events import OptionChosen, TextReceived
from hotelbot.store import InboundMessage
from hotelbot.whatsapp.payloads import (
    check_message,
    envelope,
    parse_webhook,
    sign,
    verify_signature,
)
from tests.numbers import FRONT_DESK, HOUSEKEEPING, ROOM_SERVICE
from tests.paths import CONFIG

SECRET = "test-app-secret"
NUMBER = ROOM_SERVICE
GUEST = "34600000001"
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

BUTTONS: dict[str, object] = {  # docs/whatsapp-cloud-api.md 4.3
    "type": "interactive",
    "interactive": {
        "type": "button",
        "header": {"type": "text", "text": "Housekeeping"},
        "body": {"text": "Would you like fresh towels delivered to room 412 now?"},
        "footer": {"text": "Reply any time to reach the front desk"},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": "hk:towels:confirm", "title": "Yes, please"}},
            {"type": "reply", "reply": {"id": "hk:towels:later", "title": "Later"}},
            {"type": "reply", "reply": {"id": "menu:main", "title": "Main menu"}},
        ]},
    },
}
LIST: dict[str, object] = {  # docs/whatsapp-cloud-api.md 4.4
    "type": "interactive",
    "interactive": {
        "type": "list",
        "header": {"type": "text", "text": "Room service"},
        "body": {"text": "What would you like to order?"},
        "footer": {"text": "Kitchen open 07:00-23:00"},
        "action": {"button": "See menu", "sections": [
            {"title": "Food", "rows": [
                {"id": "fb:room_service:breakfast", "title": "Breakfast in room",
                 "description": "Served 07:00-11:00"},
                {"id": "fb:room_service:club", "title": "Club sandwich"}]},
            {"title": "Other", "rows": [{"id": "menu:frontdesk", "title": "Talk to front desk"}]},
        ]},
    },
}
TEXT = {"type": "text", "text": {"body": "Your room 412 is ready.\nEnjoy!", "preview_url": False}}


def event_of(line: SendText | SendTap, wamid: str = "wamid.T1") -> Event:
    """Build, sign, verify and parse the webhook for one line, as hotelbot's webhook would."""
    raw = webhook_body(NUMBER, GUEST, message_item(line, guest=GUEST, wamid=wamid, now=1760000000))
    assert verify_signature(raw, sign(raw, SECRET.encode()), SECRET.encode())
    assert not verify_signature(raw, sign(raw, b"other-secret"), SECRET.encode())
    parsed = parse_webhook(raw)
    assert len(parsed.messages) == 1
    message = parsed.messages[0]
    assert (message.phone_number_id, message.guest_id, message.wamid) == (NUMBER, GUEST, wamid)
    assert message.profile_name == "Demo Guest"
    return _event(message)


# --- parsing typed lines ---------------------------------------------------------------------


def test_plain_line_becomes_a_text_message() -> None:
    line = parse_line("  I need towels \n", None)
    assert line == SendText(text="I need towels")
    assert event_of(line) == TextReceived(text="I need towels")


def test_hash_number_taps_the_button_on_screen() -> None:
    screen = screen_of(BUTTONS, "wamid.MENU")
    assert screen is not None and screen.kind == "button"
    line = parse_line("#2", screen)
    assert isinstance(line, SendTap)
    assert line.context_wamid == "wamid.MENU"
    assert event_of(line) == OptionChosen(reply_id="hk:towels:later", title="Later")
    item = message_item(line, guest=GUEST, wamid="w", now=1)
    assert item["context"] == {"from": "15550783881", "id": "wamid.MENU"}


def test_hash_number_taps_a_list_row_across_sections() -> None:
    screen = screen_of(LIST, "wamid.LIST")
    assert screen is not None and screen.kind == "list" and len(screen.choices) == 3
    line = parse_line("# 3", screen)
    assert event_of(line) == OptionChosen(reply_id="menu:frontdesk", title="Talk to front desk")
    tap = parse_line("/tap 1", screen)
    item = message_item(tap, guest=GUEST, wamid="w", now=1)  # type: ignore[arg-type]
    assert item["interactive"] == {"type": "list_reply", "list_reply": {
        "id": "fb:room_service:breakfast", "title": "Breakfast in room",
        "description": "Served 07:00-11:00"}}


def test_hash_number_without_a_menu_on_screen_sends_the_number_as_text() -> None:
    assert parse_line("#7", None) == SendText(text="7")


@pytest.mark.parametrize("typed", ["#4", "#0", "/tap 9"])
def test_hash_number_beyond_the_options_on_screen_is_refused(typed: str) -> None:
    with pytest.raises(SayError) as caught:
        parse_line(typed, screen_of(BUTTONS))
    assert caught.value.kind == "input"


def test_tap_by_reply_id_uses_the_title_on_screen_or_the_id() -> None:
    screen = screen_of(LIST, "wamid.LIST")
    known = parse_line("/tap fb:room_service:club", screen)
    assert event_of(known) == OptionChosen(reply_id="fb:room_service:club", title="Club sandwich")
    unknown = parse_line("/tap rs.menu:dinner", None)
    assert unknown == SendTap(kind="button", choice=Choice(reply_id="rs.menu:dinner",
                                                           title="rs.menu:dinner"))
    assert event_of(unknown) == OptionChosen(reply_id="rs.menu:dinner", title="rs.menu:dinner")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("", None), ("   ", None), ("/help", Help()), ("/quit", Quit()), ("/exit", Quit()),
     ("\\#1", SendText(text="#1")), ("\\/help", SendText(text="/help")),
     ("menu", SendText(text="menu"))],
)
def test_commands_escapes_and_blank_lines(typed: str, expected: object) -> None:
    assert parse_line(typed, screen_of(BUTTONS)) == expected


def test_unknown_slash_command_is_refused_with_a_hint() -> None:
    with pytest.raises(SayError) as caught:
        parse_line("/frobnicate now", None)
    assert caught.value.kind == "input" and "/help" in caught.value.detail


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=300).filter(lambda s: s.strip() == s and s.strip()))
def test_any_text_survives_signing_and_parsing(text: str) -> None:
    assert event_of(SendText(text=text)) == TextReceived(text=text)


# --- formatting replies ----------------------------------------------------------------------


def test_text_reply_is_its_body() -> None:
    assert format_reply(TEXT) == "Your room 412 is ready.\nEnjoy!"
    assert screen_of(TEXT) is None


def test_buttons_read_as_numbered_brackets_with_header_and_footer() -> None:
    assert check_message(envelope(GUEST, BUTTONS)) == []
    assert format_reply(BUTTONS).splitlines() == [
        "*Housekeeping*",
        "Would you like fresh towels delivered to room 412 now?",
        "[1] Yes, please  [2] Later  [3] Main menu",
        "_Reply any time to reach the front desk_",
    ]


def test_list_rows_read_as_numbered_lines_with_descriptions() -> None:
    assert check_message(envelope(GUEST, LIST)) == []
    assert format_reply(LIST).splitlines() == [
        "*Room service*",
        "What would you like to order?",
        "≡ See menu",
        "Food:",
        "1. Breakfast in room — Served 07:00-11:00",
        "2. Club sandwich",
        "Other:",
        "3. Talk to front desk",
        "_Kitchen open 07:00-23:00_",
    ]


def test_template_and_other_types_are_named() -> None:
    template = {"type": "template", "template": {"name": "checkout_reminder_v2",
                                                  "language": {"code": "en_US"}}}
    assert format_reply(template) == "[template checkout_reminder_v2 (en_US)]"
    assert format_reply({"type": "image", "image": {"id": "1"}}) == "[image message]"


# --- departments -----------------------------------------------------------------------------

NUMBERS = {
    "100000000000001": ("demo_hotel", "front_desk"),
    "100000000000002": ("demo_hotel", "room_service"),
    "200000000000002": ("other_hotel", "room_service"),
}


def test_department_names_resolve_through_the_configured_numbers() -> None:
    assert resolve_number("front_desk", NUMBERS) == ("100000000000001", "front_desk")
    assert resolve_number("other_hotel:room_service", NUMBERS) == ("200000000000002",
                                                                    "room_service")
    assert resolve_number("100000000000002", NUMBERS) == ("100000000000002", "room_service")
    assert resolve_number("999", {}) == ("999", "999")


def test_a_department_of_several_hotels_means_the_default_hotels() -> None:
    assert resolve_number("room_service", NUMBERS) == ("100000000000002", "room_service")
    assert resolve_number("room_service", NUMBERS, "other_hotel") == ("200000000000002",
                                                                       "room_service")


@pytest.mark.parametrize("target", ["spa", "room_service", "demo_hotel:spa"])
def test_unknown_or_ambiguous_department_is_refused_listing_the_known_ones(target: str) -> None:
    with pytest.raises(SayError) as caught:
        resolve_number(target, NUMBERS, hotel="third_hotel")
    assert caught.value.kind == "target"
    assert "demo_hotel:front_desk" in caught.value.detail


def test_demo_departments_resolve_from_a_configuration() -> None:
    numbers = load_numbers(CONFIG)
    assert resolve_number("front_desk", numbers) == (FRONT_DESK, "front_desk")
    assert resolve_number("room_service", numbers) == (ROOM_SERVICE, "room_service")
    assert resolve_number("housekeeping", numbers) == (HOUSEKEEPING, "housekeeping")


def test_an_unreadable_configuration_is_refused_naming_the_directory(tmp_path: Path) -> None:
    with pytest.raises(SayError) as caught:
        load_numbers(tmp_path / "missing")
    assert caught.value.kind == "target" and str(tmp_path / "missing") in caught.value.detail


def test_unknown_department_on_the_command_line_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["spa", "--config-dir", str(CONFIG)]) == 2
    assert "no department 'spa'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["123", "--guest", "abc"], ["123", "--wait", "0"],
                                  ["123", "--bogus"]])
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err


# --- loopback: say -> receiver -> fake Graph API -> say --------------------------------------


@dataclass
class Receiver:
    """A tiny stand-in for hotelbot: checks the signature, answers through the fake."""

    graph_url: str = ""
    status: int = 200
    delay: float = 0.0  # answer the webhook at once, reply through the fake this much later
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_signature(raw, request.headers.get("X-Hub-Signature-256"), SECRET.encode()):
            return web.Response(status=401)
        if self.status != 200:
            return web.Response(status=self.status, text="overloaded")
        message = parse_webhook(raw).messages[0]
        event = _event(message)
        self.events.append(event)
        reply: Mapping[str, object] = BUTTONS if isinstance(event, TextReceived) else {
            "type": "text", "text": {"body": f"You chose {getattr(event, 'title', '?')}"}}
        url = f"{self.graph_url}/v25.0/{message.phone_number_id}/messages"
        task = asyncio.create_task(self.reply(url, envelope(message.guest_id, reply)))
        self.tasks.add(task)
        if not self.delay:
            await task
        return web.Response(text="ok")

    async def reply(self, url: str, body: Mapping[str, object]) -> None:
        await asyncio.sleep(self.delay)
        async with aiohttp.ClientSession() as session, session.post(url, json=body) as answer:
            assert answer.status == 200, await answer.text()


async def lines(*typed: str, pause: float = 0.0) -> AsyncIterator[str]:
    for line in typed:
        yield line + "\n"
        await asyncio.sleep(pause)


async def test_read_lines_yields_every_line_of_a_pipe_then_stops() -> None:
    got = [line async for line in read_lines(io.StringIO("hi\n\n#2\nlast"))]
    assert got == ["hi\n", "\n", "#2\n", "last"]


def options(receiver: TestServer, graph: TestServer, secret: str = SECRET) -> SayOptions:
    return SayOptions(phone_number_id=NUMBER, label="room_service", guest=GUEST,
                      webhook_url=str(receiver.make_url("/webhook")),
                      graph_url=str(graph.make_url("/")).rstrip("/"), app_secret=secret,
                      wait=2.0, settle=0.1)


@pytest.fixture
async def servers(aiohttp_server: ServerFactory) -> tuple[Receiver, TestServer, TestServer]:
    graph = await aiohttp_server(create_fake_graph())
    receiver = Receiver(graph_url=str(graph.make_url("/")).rstrip("/"))
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    return receiver, await aiohttp_server(app), graph


async def test_say_sends_text_then_a_tap_and_prints_the_replies(
    servers: tuple[Receiver, TestServer, TestServer],
) -> None:
    receiver, hotel, graph = servers
    out = io.StringIO()
    shown = await converse(options(hotel, graph), lines("hi", "#9", "#1"), out)
    assert shown == 2
    assert receiver.events == [TextReceived(text="hi"),
                               OptionChosen(reply_id="hk:towels:confirm", title="Yes, please")]
    printed = out.getvalue()
    assert "room_service> *Housekeeping*" in printed
    assert "              [1] Yes, please  [2] Later  [3] Main menu" in printed
    assert "room_service> You chose Yes, please" in printed
    assert "(no option 9 on screen (1-3))" in printed  # refused locally, nothing sent


async def test_say_reports_a_refused_signature(
    servers: tuple[Receiver, TestServer, TestServer],
) -> None:
    _, hotel, graph = servers
    with pytest.raises(SayError) as caught:
        await converse(options(hotel, graph, secret="wrong"), lines("hi"), io.StringIO())
    assert caught.value.kind == "refused" and "--app-secret" in caught.value.detail


async def test_say_reports_an_overloaded_server(
    servers: tuple[Receiver, TestServer, TestServer],
) -> None:
    receiver, hotel, graph = servers
    receiver.status = 503
    with pytest.raises(SayError) as caught:
        await converse(options(hotel, graph), lines("hi"), io.StringIO())
    assert caught.value.kind == "refused" and "503" in caught.value.detail


async def test_say_reports_a_server_that_is_not_running(
    servers: tuple[Receiver, TestServer, TestServer],
) -> None:
    _, _, graph = servers
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = SayOptions(phone_number_id=NUMBER, label="x", guest=GUEST,
                      webhook_url=f"http://127.0.0.1:{port}/webhook",
                      graph_url=str(graph.make_url("/")).rstrip("/"), app_secret=SECRET)
    with pytest.raises(SayError) as caught:
        await converse(dead, lines("hi"), io.StringIO())
    assert caught.value.kind == "unreachable" and "scripts/run" in caught.value.detail


async def test_a_late_reply_is_printed_before_the_next_line_is_handled(
    servers: tuple[Receiver, TestServer, TestServer],
) -> None:
    receiver, hotel, graph = servers
    receiver.delay = 0.3
    out = io.StringIO()
    quick = dataclasses.replace(options(hotel, graph), wait=0.1)
    assert await converse(quick, lines("hi", "/help", pause=0.6), out) == 1
    printed = out.getvalue()
    assert "(no reply within 0.1 s)" in printed
    assert printed.index("room_service> *Housekeeping*") < printed.index("#N ")


def _event(message: InboundMessage) -> Event:
    """The engine's event for a parsed message (what the inbox computes)."""
    return event_for(message.kind, message.payload)
