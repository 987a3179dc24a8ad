"""`hotelbot say`: be a guest of the demo hotel from a terminal.

Owns: turning each typed line into a Meta-shaped webhook (a text message, or a button/list
tap), signing it with X-Hub-Signature-256 like Meta (docs/whatsapp-cloud-api.md sections 1-2),
POSTing it to hotelbot's /webhook, then printing the replies the fake Graph API recorded for
that guest (its test-only `GET /_sent?to=+<guest>`), readably: text bodies, buttons as
`[1] Title  [2] Title`, list rows as `1. Title — description`, header and footer.

Typing a tap: `#2` taps the 2nd button or row of the last menu shown (after a numbered text
menu it sends "2", which the engine accepts anyway); `/tap <reply-id>` taps an id verbatim;
a line starting with a backslash is sent as literal text (`\\#2`). `/help`, `/quit`.

The pure half (line parsing, webhook shapes, reply rendering, SayError) is screen.py;
its names are re-exported here. This module signs, sends, polls, reads stdin and parses flags.

Must never: talk to the real Graph API (the replies come from the fake's test-only route),
print the app secret, or run anything at import.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import aiohttp
import orjson

from hotelbot.cli.screen import (
    DISPLAY_NUMBER,
    Choice,
    Help,
    Line,
    Quit,
    SayError,
    SayErrorKind,
    Screen,
    SendTap,
    SendText,
    format_reply,
    message_item,
    obj_of,
    objs_of,
    parse_line,
    screen_of,
    str_of,
    typed_sends,
    webhook_body,
)
from hotelbot.errors import FlowDefinitionError
from hotelbot.whatsapp import sign

__all__ = [
    "DISPLAY_NUMBER",
    "Choice",
    "Help",
    "Line",
    "Quit",
    "SayError",
    "SayErrorKind",
    "SayOptions",
    "Screen",
    "SendTap",
    "SendText",
    "converse",
    "format_reply",
    "load_numbers",
    "main",
    "message_item",
    "parse_line",
    "read_lines",
    "resolve_number",
    "screen_of",
    "webhook_body",
]

DEFAULT_DEPT = "front_desk"
DEFAULT_HOTEL = "demo_hotel"  # what a bare department name means when several hotels have it
DEFAULT_GUEST = "34600000001"
DEMO_APP_SECRET = "demo-app-secret"  # the demo's value (scripts/run), not a real secret
HELP = """\
Type what a guest would type; the bot's replies are printed below your line.
  #N              tap button/row N of the last menu shown (typing N works too)
  /tap REPLY-ID   tap a button/row by its reply id
  \\TEXT           send TEXT literally (e.g. \\#1)
  /help, /quit    this help; leave (Ctrl-D works too)"""
_GUEST = re.compile(r"[0-9]{6,15}")

# --- which number (department) to talk to ----------------------------------------------------


def resolve_number(
    target: str, numbers: Mapping[str, tuple[str, str]], hotel: str = DEFAULT_HOTEL
) -> tuple[str, str]:
    """(phone_number_id, label) for a department name, `hotel:dept`, or a raw number id.

    Args:
        target: "room_service", "demo_hotel:room_service" or "100000000000002".
        numbers: phone_number_id -> (hotel_id, dept), as in Hotels.numbers.
        hotel: the hotel a bare department name means when several hotels have it.
    Raises:
        SayError(kind="target"): no such department, or the name is ambiguous.
    """
    if target.isdigit():
        hotel_dept = numbers.get(target)
        return target, hotel_dept[1] if hotel_dept else target
    named, _, dept = target.rpartition(":")
    found = {n: h for n, (h, d) in numbers.items() if d == dept and named in ("", h)}
    if len(found) > 1:
        found = {n: h for n, h in found.items() if h == hotel}
    if len(found) == 1:
        return next(iter(found)), dept
    known = ", ".join(sorted(f"{h}:{d}" for h, d in numbers.values())) or "none"
    if not found:
        raise SayError("target", f"no department {target!r}; known: {known}")
    raise SayError("target", f"{target!r} is in several hotels; use hotel:dept ({known})")


def load_numbers(config_dir: Path) -> dict[str, tuple[str, str]]:
    """The configuration's phone_number_id -> (hotel_id, dept) mapping.

    Raises:
        SayError(kind="target"): the configuration cannot be read or is invalid.
    """
    from hotelbot.config import load_hotels

    try:
        hotels = load_hotels(config_dir)
    except FlowDefinitionError as exc:
        raise SayError("target", f"the configuration in {config_dir} is invalid:\n{exc}") from None
    except OSError as exc:
        raise SayError("target", f"cannot read the configuration in {config_dir}: {exc}") from None
    return {str(n): (str(h), str(d)) for n, (h, d) in hotels.numbers.items()}


# --- talking to hotelbot and the fake --------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SayOptions:
    phone_number_id: str
    label: str  # how the department's replies are prefixed
    guest: str  # digits, no +
    webhook_url: str
    graph_url: str
    app_secret: str
    name: str = "Demo Guest"
    wait: float = 3.0  # seconds to wait for the first reply
    settle: float = 0.4  # quiet seconds after a reply before the next prompt


@dataclass(slots=True)
class _Session:
    options: SayOptions
    http: aiohttp.ClientSession
    out: TextIO
    seen: set[str]
    screen: Screen | None = None

    async def post(self, line: SendText | SendTap) -> None:
        wamid = "wamid.SAY" + secrets.token_hex(12).upper()
        item = message_item(line, guest=self.options.guest, wamid=wamid, now=int(time.time()))
        raw = webhook_body(self.options.phone_number_id, self.options.guest, item,
                           self.options.name)
        headers = {"Content-Type": "application/json",
                   "X-Hub-Signature-256": sign(raw, self.options.app_secret.encode())}
        url = self.options.webhook_url
        try:
            async with self.http.post(url, data=raw, headers=headers) as response:
                status, text = response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SayError("unreachable", f"hotelbot is not answering at {url} ({_why(exc)}); "
                           "is scripts/run running?") from None
        if status in (401, 403):
            raise SayError("refused", f"hotelbot refused the signature ({status}): pass the "
                           "server's HOTELBOT_APP_SECRET with --app-secret")
        if status != 200:
            raise SayError("refused", f"hotelbot answered {status}: {text[:200]}")

    async def sends(self) -> list[Mapping[str, object]]:
        """Every send the fake recorded from this department to this guest, oldest first."""
        url = self.options.graph_url.rstrip("/") + "/_sent"
        try:
            async with self.http.get(url, params={"to": "+" + self.options.guest}) as response:
                if response.status != 200:
                    raise SayError("graph", f"the fake Graph API answered {response.status}")
                records: object = orjson.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise SayError("graph", f"the fake Graph API is not answering at {url} ({_why(exc)}); "
                           "is scripts/run running?") from None
        return [r for r in objs_of(records)
                if r.get("phone_number_id") == self.options.phone_number_id]

    async def wait_replies(self, wait: float) -> int:
        """Print new replies; wait up to `wait` s for the first, then until quiet."""
        deadline = time.monotonic() + wait
        shown = 0
        quiet_since = time.monotonic()
        while True:
            fresh = self.show(await self.sends())
            shown += fresh
            now = time.monotonic()
            if fresh:
                quiet_since = now
            if shown and now - quiet_since >= self.options.settle:
                return shown
            if not shown and now >= deadline:
                return 0
            await asyncio.sleep(0.05)

    def show(self, records: Sequence[Mapping[str, object]]) -> int:
        fresh = [r for r in records if str_of(r.get("wamid")) not in self.seen]
        for record in fresh:
            wamid = str_of(record.get("wamid"))
            self.seen.add(wamid)
            body = obj_of(record.get("body"))
            self.screen = screen_of(body, wamid) or (
                None if body.get("type") in ("text", "interactive") else self.screen)
            self.out.write(_indent(f"{self.options.label}> ", format_reply(body)) + "\n")
        self.out.flush()
        return len(fresh)


def _why(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _indent(prefix: str, text: str) -> str:
    pad = " " * len(prefix)
    lines = text.splitlines() or [""]
    rest = [(pad + line).rstrip() for line in lines[1:]]
    return "\n".join([prefix + lines[0], *rest])


async def converse(options: SayOptions, lines: AsyncIterator[str], out: TextIO) -> int:
    """Send every line as the guest and print the replies; returns how many were shown.

    Raises:
        SayError: hotelbot or the fake is unreachable, or hotelbot refused a webhook.
    """
    timeout = aiohttp.ClientTimeout(total=10.0, connect=2.0)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        session = _Session(options=options, http=http, out=out, seen=set())
        session.seen.update(str_of(r.get("wamid")) for r in await session.sends())
        shown = 0

        async def late_replies() -> None:  # to the last line, before the next is read
            nonlocal shown
            shown += session.show(await session.sends())

        async for line in typed_sends(lines, lambda: session.screen, out, HELP, late_replies):
            await session.post(line)
            got = await session.wait_replies(options.wait)
            shown += got
            if not got:
                out.write(f"  (no reply within {options.wait:g} s)\n")
            out.flush()
        return shown


async def read_lines(stdin: TextIO) -> AsyncIterator[str]:
    """Lines from stdin, with a `you> ` prompt on a terminal, each read when asked for.

    A daemon thread reads (not the loop's executor, which asyncio.run would wait for on
    Ctrl-C while `input()` still blocks).
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    asked = threading.Semaphore(0)
    tty = stdin.isatty()

    def read() -> None:
        line: str | None = ""
        while line is not None:
            asked.acquire()
            try:
                line = input("you> ") + "\n" if tty else (stdin.readline() or None)
            except EOFError:
                line = None
            loop.call_soon_threadsafe(lines.put_nowait, line)

    threading.Thread(target=read, name="say-stdin", daemon=True).start()
    while True:
        asked.release()
        line = await lines.get()
        if line is None:
            return
        yield line


# --- command line ----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="hotelbot say", description="Talk to a running hotelbot as a guest (demo).",
        epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?", default=DEFAULT_DEPT, metavar="DEPT|PHONE_NUMBER_ID",
                        help=f"department (or hotel:dept) or a raw phone_number_id "
                        f"(default {DEFAULT_DEPT})")
    parser.add_argument("--hotel", default=DEFAULT_HOTEL,
                        help=f"the hotel a bare DEPT means if several have it ({DEFAULT_HOTEL})")
    parser.add_argument("--guest", default=DEFAULT_GUEST, help="the guest's phone (digits)")
    parser.add_argument("--name", default="Demo Guest", help="the guest's profile name")
    parser.add_argument("--url", default=f"http://127.0.0.1:{env('HOTELBOT_PORT', '8080')}/webhook",
                        help="hotelbot's webhook URL")
    parser.add_argument("--graph", default=f"http://127.0.0.1:{env('FAKE_GRAPH_PORT', '8090')}",
                        help="the fake Graph API's base URL")
    parser.add_argument("--app-secret", default=env("HOTELBOT_APP_SECRET", DEMO_APP_SECRET),
                        help="the App Secret webhooks are signed with (default: the demo's)")
    parser.add_argument("--config-dir", default=env("HOTELBOT_CONFIG_DIR", "config"),
                        help="where department names are looked up")
    parser.add_argument("--wait", type=float, default=3.0,
                        help="seconds to wait for a reply (default 3)")
    return parser


def _options(args: argparse.Namespace) -> SayOptions:
    guest = re.sub(r"[\s+()\-]", "", args.guest)
    if not _GUEST.fullmatch(guest):
        raise SayError("input", f"--guest must be a phone number (6-15 digits), not {args.guest!r}")
    if args.wait <= 0:
        raise SayError("input", "--wait must be positive")
    numbers = {} if args.target.isdigit() else load_numbers(Path(args.config_dir))
    number, label = resolve_number(args.target, numbers, args.hotel)
    return SayOptions(phone_number_id=number, label=label, guest=guest, webhook_url=args.url,
                      graph_url=args.graph, app_secret=args.app_secret, name=args.name,
                      wait=args.wait)


def main(argv: list[str] | None = None) -> int:
    """`hotelbot say`: 0 when done, 1 when hotelbot/the fake failed, 2 on bad arguments."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or argparse's own usage error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        options = _options(args)
        if sys.stdin.isatty():
            print(f"talking to {options.label} ({options.phone_number_id}) as "
                  f"+{options.guest}; /help for taps, Ctrl-D to leave")
        asyncio.run(converse(options, read_lines(sys.stdin), sys.stdout))
    except SayError as exc:
        print(f"say: {exc.detail}", file=sys.stderr)
        return 2 if exc.kind in ("input", "target") else 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
