"""`hotelbot admin`: its actions come from the admin command table; no socket here."""

from __future__ import annotations

import pytest

from hotelbot.admin import COMMANDS
from hotelbot.cli.admin import FORMATS, format_help, request_of
from hotelbot.cli.main import build_parser


def _request(*argv: str) -> dict[str, object]:
    return request_of(build_parser().parse_args(["admin", *argv]))


@pytest.mark.parametrize(("argv", "expected"), [
    (["stats"], {"cmd": "stats"}),
    (["help"], {"cmd": "help"}),
    (["reload"], {"cmd": "reload"}),
    (["requests", "demo_hotel"], {"cmd": "requests", "hotel": "demo_hotel"}),
    (["requests", "demo_hotel", "--status", "new", "--limit", "5", "--full"],
     {"cmd": "requests", "hotel": "demo_hotel", "status": "new", "limit": 5, "full": True}),
    (["ack", "7"], {"cmd": "request_status", "id": 7, "status": "acknowledged"}),
    (["done", "7"], {"cmd": "request_status", "id": 7, "status": "done"}),
    (["cancel", "7"], {"cmd": "request_status", "id": 7, "status": "cancelled"}),
    (["cancel", "7", "--reason", "moved"],
     {"cmd": "request_status", "id": 7, "status": "cancelled", "reason": "moved"}),
    (["context", "100000000000001", "34600111222"],
     {"cmd": "context", "phone_number_id": "100000000000001", "guest": "34600111222"}),
    (["parked"], {"cmd": "parked"}),
    (["parked", "--limit", "3"], {"cmd": "parked", "limit": 3}),
    (["replay", "12"], {"cmd": "replay", "seq": 12}),
    (["raw", '{"cmd": "stats", "x": 1}'], {"cmd": "stats", "x": 1}),
    (["--json", "stats"], {"cmd": "stats"}),
])
def test_each_action_sends_its_commands_request(
    argv: list[str], expected: dict[str, object]
) -> None:
    assert _request(*argv) == expected


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_in_the_table_is_an_action_with_a_readable_reply(name: str) -> None:
    command = COMMANDS[name]
    for action in command.actions():
        required = [p.choices[0] if p.choices else "1"
                    for p in command.action_params(action) if p.required]
        request = _request(action.name, *required)
        assert request["cmd"] == name
        assert {k: request[k] for k, _ in action.fixed} == dict(action.fixed)
    assert name in FORMATS


@pytest.mark.parametrize("argv", [
    ["ack"], ["ack", "x"], ["requests", "demo_hotel", "--status", "lost"],
    ["requests", "demo_hotel", "--limit", "many"], ["explode"], ["context", "1"],
])
def test_bad_arguments_are_refused_before_the_socket(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["admin", *argv])
    assert caught.value.code == 2
    assert "usage: hotelbot admin" in capsys.readouterr().err


def test_a_bad_raw_request_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        _request("raw", "[1]")


def test_help_names_each_command_with_the_actions_that_send_it() -> None:
    text = format_help({name: c.summary() for name, c in sorted(COMMANDS.items())})
    lines = text.splitlines()
    assert lines[0].split() == ["COMMAND", "ACTION", "WHAT"]
    status_line = next(line for line in lines if line.startswith("request_status"))
    assert "ack ID" in status_line and "acknowledged|done|cancelled" in status_line
    assert any(line.split() == ["done", "ID", "[--reason", "R]"] for line in lines)
    assert "requests HOTEL [--status S] [--limit N] [--full]" in text
    assert "context NUMBER GUEST" in text and "raw JSON" in text
    for name in COMMANDS:
        assert any(line.startswith(name + " ") for line in lines), name


def test_a_command_this_client_does_not_know_is_offered_as_raw() -> None:
    text = format_help({"vacuum": "compact the database"})
    assert any(line.split()[:3] == ["vacuum", "raw", "JSON"] for line in text.splitlines())
