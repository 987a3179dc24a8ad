"""`hotelbot admin`: the client side of the admin socket: one request, one readable answer.

Owns: the `admin` subcommand's actions, built from the admin command table
(hotelbot/admin/commands.py `COMMANDS`: each command's CLI actions and params), plus `raw`;
connecting to the Unix socket (blocking, with a timeout: the command is a short-lived
process), sending one JSON line and reading one back, and printing the reply for a person
(requests as a table, statistics grouped by component, `help` from the table, a refused
reload's problems) or as JSON (`--json`, `raw`).
Must never: retry or change the request, print a reply it could not parse as if it were good,
or exit zero when the socket is missing or the server answered ok=false.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from hotelbot.admin import COMMANDS, CliAction, Command, Param
from hotelbot.errors import HotelbotError

TIMEOUT = 10.0
MAX_REPLY = 16 * 1024 * 1024
SUMMARY_WIDTH = 48
EXIT_REFUSED = 1  # the server answered ok=false
EXIT_UNAVAILABLE = 2  # no server at the socket, or no readable answer
RAW = "raw"  # the one action that is not a command: send JSON as typed
SOCKET_HELP = ("socket path (default: $HOTELBOT_ADMIN_SOCKET or "
               "<$HOTELBOT_DATA_DIR or var>/admin.sock)")


class AdminUnavailable(HotelbotError):
    """No usable answer from the admin socket at `path`; `reason` says why."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"admin socket {path}: {reason}")


def call(path: Path, request: Mapping[str, object], *, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Send one request to the admin socket at `path` and return its reply object.

    Raises:
        AdminUnavailable: the socket is missing, refuses, times out, or the reply is not a
            JSON object.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(orjson.dumps(request) + b"\n")
        line = _read_line(sock, path)
    except FileNotFoundError:
        raise AdminUnavailable(path, "no such socket (is hotelbot serve running?)") from None
    except ConnectionRefusedError:
        raise AdminUnavailable(path, "connection refused (is hotelbot serve running?)") from None
    except TimeoutError:
        raise AdminUnavailable(path, f"no answer within {timeout:g} s") from None
    except OSError as exc:
        raise AdminUnavailable(path, exc.strerror or str(exc)) from None
    finally:
        sock.close()
    try:
        reply = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise AdminUnavailable(path, "the answer is not JSON") from None
    if not isinstance(reply, dict):
        raise AdminUnavailable(path, "the answer is not a JSON object")
    return reply


def _read_line(sock: socket.socket, path: Path) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise AdminUnavailable(path, "the server closed the connection without answering")
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk:
            return b"".join(chunks).split(b"\n", 1)[0]
        if size > MAX_REPLY:
            raise AdminUnavailable(path, f"answer longer than {MAX_REPLY} bytes")


# --- the actions, from the command table ----------------------------------------------------


def add_actions(parser: argparse.ArgumentParser) -> None:
    """Give `parser` a subparser per CLI action of every command in the table, and `raw`."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for command in COMMANDS.values():
        for action in command.actions():
            sub = actions.add_parser(action.name, help=action.help, description=action.help)
            sub.set_defaults(admin_command=command.name, admin_fixed=dict(action.fixed))
            sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                             help="print the server's reply as JSON (also before ACTION)")
            for param in command.action_params(action):
                _add_param(sub, param)
    raw = actions.add_parser(RAW, help="send one JSON request, print the JSON reply")
    raw.add_argument("raw_json", metavar="JSON", help='a JSON object such as \'{"cmd": "help"}\'')
    raw.set_defaults(admin_command=None, admin_fixed={})


def _add_param(parser: argparse.ArgumentParser, param: Param) -> None:
    types: dict[str, Callable[[str], object]] = {"text": str, "int": int}
    choices = param.choices or None
    help_ = f"{param.help} ({', '.join(param.choices)})" if param.choices else param.help
    if param.required:
        parser.add_argument(param.key, metavar=param.metavar or param.key.upper(),
                            type=types.get(param.kind, str), choices=choices, help=help_)
    elif param.kind == "bool":
        parser.add_argument(f"--{param.key}", action="store_true", default=None, help=help_)
    else:
        parser.add_argument(f"--{param.key}", type=types[param.kind], choices=choices,
                            default=None, metavar=param.metavar or param.key[0].upper(),
                            help=help_)


def request_of(args: argparse.Namespace) -> dict[str, object]:
    """The socket request of a parsed action. Raises ValueError for a bad `raw` JSON."""
    if args.admin_command is None:
        return parse_raw(args.raw_json)
    command = COMMANDS[args.admin_command]
    request: dict[str, object] = {"cmd": command.name, **args.admin_fixed}
    for param in command.params:
        value = getattr(args, param.key, None)
        if value is not None:
            request[param.key] = value
    return request


def usage(command: Command, action: CliAction) -> str:
    """An action as typed: `requests HOTEL [--status S] [--limit N] [--full]`."""
    return " ".join([action.name, *(p.shown for p in command.action_params(action))])


def actions_summary() -> str:
    """Every action on one line: the admin parser's description."""
    typed = [usage(c, a) for c in COMMANDS.values() for a in c.actions()]
    return "|".join([*typed, f"{RAW} JSON"])


# --- the socket --------------------------------------------------------------------------------


def parse_raw(text: str) -> dict[str, object]:
    """The request of `hotelbot admin raw JSON`. Raises ValueError when it is no JSON object."""
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ValueError('expected a JSON object such as {"cmd": "help"}')
    return request


def run(
    path: Path, request: Mapping[str, object], *, out: TextIO, err: TextIO,
    as_json: bool = False,
) -> int:
    """Send `request`, print the reply readably (or as JSON when `as_json`); the exit code."""
    try:
        reply = call(path, request)
    except AdminUnavailable as exc:
        print(f"hotelbot admin: {exc}", file=err)
        return EXIT_UNAVAILABLE
    if as_json:
        print(orjson.dumps(reply, option=orjson.OPT_INDENT_2).decode(), file=out)
        return 0 if reply.get("ok") is True else EXIT_REFUSED
    if reply.get("ok") is not True:
        print(f"hotelbot admin: {reply.get('error', 'refused (no reason given)')}", file=err)
        for problem in reply.get("problems", []):
            print(f"  {problem}", file=err)
        return EXIT_REFUSED
    print(format_reply(str(request.get("cmd")), reply), file=out)
    return 0


def format_reply(cmd: str, reply: Mapping[str, Any]) -> str:
    """A successful reply as text for a person; JSON for a command with no table here."""
    formatter = FORMATS.get(cmd)
    if formatter is None:
        return orjson.dumps(dict(reply), option=orjson.OPT_INDENT_2).decode()
    return formatter(reply)


def format_help(commands: Mapping[str, str]) -> str:
    """The server's commands (name -> summary), each with the actions that send it here."""
    rows = [("COMMAND", "ACTION", "WHAT")]
    for name, summary in commands.items():
        command = COMMANDS.get(name)
        typed = [usage(command, a) for a in command.actions()] if command else [f"{RAW} JSON"]
        rows += [(name if k == 0 else "", action, summary if k == 0 else "")
                 for k, action in enumerate(typed)]
    rows.append(("", f"{RAW} JSON", "any request as JSON; the reply as JSON"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(
        f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}".rstrip()
        for row in rows
    )


def format_parked(rows: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        f"{r['seq']:>6}  {r['sent_at'][:19]}  {r['phone_number_id']}  {r['guest']}  "
        f"{r['kind']:<12} {r['error']}" for r in rows
    ) or "no parked messages"


def format_stats(stats: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for component, values in stats.items():
        lines.append(component)
        lines += [f"  {name:<20}{value}" for name, value in values.items()]
    return "\n".join(lines)


def format_requests(rows: Sequence[Mapping[str, Any]], timezone: str | None = None,
                    full: bool = False) -> str:
    """A table; TIME in the hotel's timezone (UTC when unknown); with `full`, DATA is every
    collected value in full (and why a cancelled request was cancelled)."""
    if not rows:
        return "no requests"
    header = ("ID", "TIME", "GUEST", "DEPARTMENT", "KIND", "STATUS", "DATA")
    table = [header] + [
        (str(r["id"]), _time(r.get("created_at"), timezone), str(r.get("guest", "")),
         str(r["department"]), str(r["kind"]), str(r["status"]),
         _full_data(r) if full else summary(r.get("data") or {}))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in table
    ).rstrip()


def format_queue(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "no scheduled messages"
    header = ("ID", "DUE (UTC)", "TYPE", "GUEST", "STATUS", "REASON")
    table = [header] + [
        (str(r["id"]), _time(r.get("due")), str(r["type"]), str(r["guest"]), str(r["status"]),
         str(r.get("reason") or ""))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in table)


def format_context(source: str, context: Mapping[str, Any]) -> str:
    where = "active, in memory" if source == "memory" else "stored snapshot"
    lines = [f"context ({where})"]
    for key, value in context.items():
        if key == "v":
            continue
        shown = orjson.dumps(value).decode() if isinstance(value, dict | list) else value
        lines.append(f"  {key:<18}{'-' if value is None else shown}")
    return "\n".join(lines)


def summary(data: Mapping[str, Any], width: int = SUMMARY_WIDTH) -> str:
    """`key=value, ...` cut to `width` characters with an ellipsis."""
    text = ", ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def _full_data(row: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in (row.get("data") or {}).items()]
    if row.get("note"):
        parts.append(f"cancelled because: {row['note']}")
    return "; ".join(parts)


def _time(value: object, timezone: str | None = None) -> str:
    """ISO 8601 (stored in UTC) -> `YYYY-MM-DD HH:MM` in `timezone` (UTC when None)."""
    if not isinstance(value, str) or len(value) < 16:
        return "-"
    try:
        moment = datetime.fromisoformat(value)
        if timezone:
            moment = moment.astimezone(ZoneInfo(timezone))
    except (ValueError, ZoneInfoNotFoundError):
        return value[:10] + " " + value[11:16]
    return moment.strftime("%Y-%m-%d %H:%M")


def format_actors(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "no conversations in memory"
    header = ("HOTEL", "DEPARTMENT", "GUEST", "QUEUED", "LAST MESSAGE")
    table = [header] + [(str(r["hotel"]), str(r["department"]), str(r["guest"]),
                         str(r["queued"]), str(r["last_message_at"])[:19].replace("T", " "))
                        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in table)


def format_funnel(reply: Mapping[str, Any]) -> str:
    lines = [f"{reply['hotel']}: {reply['since']} to {reply['until']} ({reply['timezone']})"]
    for flow in reply["flows"]:
        lines.append(f"{flow['flow']}: completed {flow['completed']}, abandoned "
                     f"{flow['abandoned']}, expired {flow['expired']}, cooloff {flow['cooloff']}")
        lines += [f"  {s['step']:<28}{s['reached']:>8}" for s in flow["steps"]]
    return "\n".join(lines) if reply["flows"] else lines[0] + "\nno steps recorded"


def format_guest(reply: Mapping[str, Any]) -> str:
    """An export is the guest's data: JSON as it is. A forget: what went and what stayed."""
    if "tables" in reply:
        return orjson.dumps(dict(reply), option=orjson.OPT_INDENT_2).decode()
    deleted = ", ".join(f"{t} {n}" for t, n in reply["deleted"].items() if n) or "nothing"
    kept = ", ".join(f"{t} {n}" for t, n in reply["anonymised"].items() if n) or "nothing"
    return (f"guest {reply['guest']} forgotten at {reply['hotel']}: deleted {deleted}; kept "
            f"anonymised as {reply['kept_as']}: {kept}")


FORMATS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "help": lambda reply: format_help(reply["commands"]),
    "stats": lambda reply: format_stats(reply["stats"]),
    "requests": lambda reply: format_requests(reply["requests"], reply.get("timezone"),
                                              bool(reply.get("full"))),
    "request_status": lambda reply: f"request {reply['id']}: {reply['status']}",
    "context": lambda reply: format_context(reply["source"], reply["context"]),
    "parked": lambda reply: format_parked(reply["parked"]),
    "replay": lambda reply: f"message {reply['seq']} handed to its conversation again",
    "unlock": lambda reply: (
        f"guest {reply['guest']}: cooloff lifted, they may write again"
        if reply["status"] == "lifted" else
        f"guest {reply['guest']}: no cooloff in force (error count reset)"),
    "reload": lambda reply: f"configuration reloaded: {', '.join(reply['hotels'])}",
    "actors": lambda reply: format_actors(reply["actors"]),
    "funnel": format_funnel,
    "guest": lambda reply: format_guest(reply),
    "queue": lambda reply: format_queue(reply["queue"]),
    "stay_put": lambda reply: f"stay {reply['booking_ref']}: {reply['pending']} pending",
    "queue_cancel": lambda reply: f"scheduled message {reply['id']}: cancelled",
    "broadcast": lambda reply: (
        f"broadcast {reply['broadcast_id']}: {reply['rows']} messages due {reply['due'][:16]}"
        + (f"; refused: {', '.join(reply['refused'])}" if reply["refused"] else "")),
}
