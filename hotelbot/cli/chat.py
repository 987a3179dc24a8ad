"""`hotelbot chat --hotel H --department D`: try flows from a terminal, no server, no Meta.

Owns: a session of the real core (open_core: configuration, store, pacer, router, actors,
inbox, the engine) on a temporary database, with a transport that keeps each send instead of
POSTing it; turning each typed line into the webhook Meta would send (screen.py: text, `#N`
taps of the last buttons/list shown) and handing it to the inbox as the webhook would; printing
the replies (screen.py's rendering: buttons `[1] Title`, list rows `1. Title`), the requests a
finished flow created, and reloading the configuration when a file of it changed (a bad edit is
refused with its problems; the last good configuration stays). For someone editing flows.
Must never open a listening socket, talk to the Graph API or keep the temporary database.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from hotelbot.cli.screen import (
    SayError,
    Screen,
    SendTap,
    SendText,
    format_reply,
    message_item,
    screen_of,
    typed_sends,
    webhook_body,
)
from hotelbot.config import load_hotels
from hotelbot.errors import FlowDefinitionError
from hotelbot.outbound import PacingPolicy
from hotelbot.settings import Settings
from hotelbot.whatsapp import parse_webhook

if TYPE_CHECKING:
    from hotelbot.app import Core

HELP = """\
Type what a guest would type; the bot's replies follow.
  #N              choose button/row N of the last menu shown (typing N works too)
  /tap REPLY-ID   tap a button/row by its reply id
  \\TEXT           send TEXT literally (e.g. \\#1)
  /help, /quit    this help; leave (Ctrl-D works too)
Edit the configuration files while chatting: they are reloaded before your next line."""
DEFAULT_GUEST = "34600000099"
# No pacing in the simulator: Meta's per-guest pace (one message per 6 s) would make a
# person editing flows wait for nothing.
UNPACED = PacingPolicy(per_second=1000, pair_interval=0.001, pair_burst=45)


@dataclass(frozen=True, slots=True)
class Kept:
    phone_number_id: str
    guest_id: str
    body: Mapping[str, object]
    wamid: str


@dataclass
class KeepingTransport:
    """Where the simulator's sends go: kept in order, each given a wamid."""

    sent: list[Kept] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        wamid = f"wamid.CHAT{next(self._ids):08d}"
        self.sent.append(Kept(phone_number_id, guest_id, dict(body), wamid))
        return wamid

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatOptions:
    config_dir: Path
    hotel: str
    department: str
    guest: str = DEFAULT_GUEST


class ConfigWatch:
    """Notices a change to any file of the configuration directory (by mtime and size)."""

    def __init__(self, config_dir: Path) -> None:
        self._dir = config_dir
        self._seen = self._stamp()

    def _stamp(self) -> frozenset[tuple[str, int, int]]:
        return frozenset((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                         for p in self._dir.rglob("*.y*ml") if p.is_file())

    def changed(self) -> bool:
        now = self._stamp()
        if now == self._seen:
            return False
        self._seen = now
        return True


def target_number(config_dir: Path, hotel: str, department: str) -> str:
    """The department's phone_number_id. Raises SayError naming what exists."""
    try:
        hotels = load_hotels(config_dir).hotels
    except FlowDefinitionError as exc:
        problems = "\n".join(str(p) for p in exc.problems)
        raise SayError("target", f"the configuration has problems:\n{problems}") from None
    found = hotels.get(hotel)  # type: ignore[call-overload]
    if found is None:
        raise SayError("target", f"no hotel {hotel!r}; hotels: {', '.join(sorted(hotels))}")
    dept = found.departments.get(department)
    if dept is None:
        raise SayError("target", f"{hotel} has no department {department!r}; its departments: "
                       f"{', '.join(sorted(found.departments))}")
    return str(dept.phone_number_id)


class _Chat:
    def __init__(self, core: Core, transport: KeepingTransport, options: ChatOptions,
                 number: str, out: TextIO) -> None:
        self.core, self.transport, self.options, self.number = core, transport, options, number
        self.out = out
        self.screen: Screen | None = None
        self.shown = 0
        self.requests: set[int] = set()
        self.watch = ConfigWatch(options.config_dir)

    def reload_if_changed(self) -> None:
        if not self.watch.changed():
            return
        try:
            self.core.config.reload()
        except FlowDefinitionError as exc:
            self.out.write(f"  (configuration refused, the previous one stays: "
                           f"{len(exc.problems)} problem(s))\n")
            for problem in exc.problems:
                self.out.write(f"    {problem}\n")
            return
        self.out.write("  (configuration reloaded)\n")

    async def say(self, line: SendText | SendTap) -> None:
        wamid = f"wamid.GUEST{time.time_ns():x}"
        item = message_item(line, guest=self.options.guest, wamid=wamid, now=int(time.time()))
        parsed = parse_webhook(webhook_body(self.number, self.options.guest, item))
        await self.core.inbox.accept(parsed.messages, parsed.statuses, parsed.rejected)
        await self.settle()
        self.show()
        await self.show_requests()

    async def settle(self) -> None:
        for _ in range(500):  # bounded: each round waits for the step and its sends
            await self.core.router.wait_idle()
            await self.core.pacer.wait_idle()
            if not self.core.pacer.statistics().buffered:
                return
            await asyncio.sleep(0.01)

    def show(self) -> None:
        label = f"{self.options.department}> "
        for kept in self.transport.sent[self.shown:]:
            if kept.guest_id != self.options.guest or kept.phone_number_id != self.number:
                continue
            self.screen = screen_of(kept.body, kept.wamid) or (
                None if kept.body.get("type") in ("text", "interactive") else self.screen)
            text = format_reply(kept.body).splitlines() or [""]
            self.out.write(label + text[0] + "\n")
            self.out.writelines(" " * len(label) + rest + "\n" for rest in text[1:])
        self.shown = len(self.transport.sent)

    async def show_requests(self) -> None:
        rows = await self.core.store.requests.recent(self.options.hotel)
        for row in reversed(rows):
            if row.id in self.requests:
                continue
            self.requests.add(row.id)
            data = ", ".join(f"{k}={v}" for k, v in row.data.items())
            self.out.write(f"  [request #{row.id} {row.kind} for {row.department}: {data}]\n")


async def chat(options: ChatOptions, lines: AsyncIterator[str], out: TextIO) -> int:
    """Run the session until /quit or the end of `lines`; returns how many replies were shown.

    Raises:
        SayError: the hotel or department does not exist, or the configuration is invalid.
    """
    from hotelbot.app import open_core

    number = target_number(options.config_dir, options.hotel, options.department)
    transport = KeepingTransport()
    with tempfile.TemporaryDirectory(prefix="hotelbot-chat-") as data_dir:
        settings = Settings(app_secret="chat", verify_token="chat", access_token="chat",
                            config_dir=options.config_dir, data_dir=Path(data_dir),
                            metrics_port=None)
        async with open_core(settings, transport=transport,
                             policy_of=lambda _number: UNPACED) as core:
            session = _Chat(core, transport, options, number, out)

            async def reload() -> None:  # the files may have changed since the last line
                session.reload_if_changed()

            async for line in typed_sends(lines, lambda: session.screen, out, HELP, reload):
                await session.say(line)
                out.flush()
            return session.shown


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotelbot chat", description="Chat with a department as a guest, on the real "
        "engine and a temporary database: no server, no WhatsApp.", epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hotel", required=True, help="the hotel's id")
    parser.add_argument("--department", required=True, help="the department's id")
    parser.add_argument("--config-dir", type=Path,
                        default=Path(os.environ.get("HOTELBOT_CONFIG_DIR", "config")),
                        help="the configuration (default $HOTELBOT_CONFIG_DIR or ./config)")
    parser.add_argument("--guest", default=DEFAULT_GUEST, help="the guest's number (digits)")
    return parser


def add_chat(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    subparsers.add_parser("chat", parents=[_parser()], add_help=False,
                          help="try a department's flows in the terminal (no server)",
                          description=_parser().description)


def run_chat(args: argparse.Namespace) -> int:
    """`hotelbot chat`: 0 when done, 1 on a bad hotel/department/configuration."""
    from hotelbot.cli.say import read_lines
    from hotelbot.log import configure_logging

    configure_logging(level="warning", stream=sys.stderr)
    options = ChatOptions(config_dir=args.config_dir, hotel=args.hotel,
                          department=args.department, guest=args.guest)
    try:
        if sys.stdin.isatty():
            print(f"chatting with {args.hotel}/{args.department} as +{args.guest} "
                  "(temporary database; /help, Ctrl-D to leave)")
        asyncio.run(chat(options, read_lines(sys.stdin), sys.stdout))
    except SayError as exc:
        print(f"chat: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
