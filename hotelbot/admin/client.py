"""The client side of the admin socket, for `hotelbot admin`: one request, one readable answer.

Owns: connecting to the Unix socket (blocking, with a timeout: the command is a short-lived
process), sending one JSON line and reading one back, and printing the reply for a person
(requests as a table, statistics grouped by component, a refused reload's problems).
Must never: retry or change the request, print a reply it could not parse as if it were good,
or exit zero when the socket is missing or the server answered ok=false.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from hotelbot.errors import HotelbotError

TIMEOUT = 10.0
MAX_REPLY = 16 * 1024 * 1024
SUMMARY_WIDTH = 48
EXIT_REFUSED = 1  # the server answered ok=false
EXIT_UNAVAILABLE = 2  # no server at the socket, or no readable answer


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
    path: Path, request: Mapping[str, object], *, out: TextIO, err: TextIO, raw: bool = False
) -> int:
    """Send `request`, print the reply readably (or as JSON when `raw`); the exit code."""
    try:
        reply = call(path, request)
    except AdminUnavailable as exc:
        print(f"hotelbot admin: {exc}", file=err)
        return EXIT_UNAVAILABLE
    if raw:
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
    """A successful reply as text for a person."""
    if cmd == "stats":
        return format_stats(reply["stats"])
    if cmd == "requests":
        return format_requests(reply["requests"])
    if cmd == "request_status":
        return f"request {reply['id']}: {reply['status']}"
    if cmd == "context":
        return format_context(reply["source"], reply["context"])
    if cmd == "parked":
        rows = reply["parked"]
        return "\n".join(
            f"{r['seq']:>6}  {r['sent_at'][:19]}  {r['phone_number_id']}  {r['guest']}  "
            f"{r['kind']:<12} {r['error']}" for r in rows
        ) or "no parked messages"
    if cmd == "replay":
        return f"message {reply['seq']} handed to its conversation again"
    if cmd == "reload":
        return f"configuration reloaded: {', '.join(reply['hotels'])}"
    if cmd == "help":
        return "\n".join(f"{name:<16}{doc}" for name, doc in reply["commands"].items())
    return orjson.dumps(dict(reply), option=orjson.OPT_INDENT_2).decode()


def format_stats(stats: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for component, values in stats.items():
        lines.append(component)
        lines += [f"  {name:<20}{value}" for name, value in values.items()]
    return "\n".join(lines)


def format_requests(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "no requests"
    header = ("ID", "TIME", "DEPARTMENT", "KIND", "STATUS", "DATA")
    table = [header] + [
        (str(r["id"]), _time(r.get("created_at")), str(r["department"]), str(r["kind"]),
         str(r["status"]), summary(r.get("data") or {}))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in table
    ).rstrip()


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


def _time(value: object) -> str:
    """ISO 8601 -> `YYYY-MM-DD HH:MM` (as stored: UTC)."""
    if not isinstance(value, str) or len(value) < 16:
        return "-"
    return value[:10] + " " + value[11:16]
