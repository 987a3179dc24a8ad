"""`hotelbot staff`: the console's accounts (add, list, disable, enable, passwd).

Owns: the subcommand's arguments and reading a password. Works on the database file directly
(HOTELBOT_DATA_DIR), so it needs no running server; SQLite's WAL lets it write while one runs.

Passwords: on a terminal they are prompted (getpass, twice); otherwise the first line of
standard input is the password, for scripts: `printf '%s\\n' "$PW" | hotelbot staff add ...`.
A password never comes from an argument (it would show in `ps` and the shell history).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import datetime
from typing import TextIO

from hotelbot.config import load_hotels
from hotelbot.errors import HotelbotError
from hotelbot.settings import Settings
from hotelbot.store import StaffRecord, StaffRole, open_store
from hotelbot.web import MIN_PASSWORD, hash_password

ACTIONS = ("add", "list", "disable", "enable", "passwd")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "staff", help="staff accounts of the web console",
        description="Accounts of the staff console (/console/). Passwords are prompted, or "
        "read from the first line of standard input when it is not a terminal.")
    actions = parser.add_subparsers(dest="staff_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account: HOTEL USER")
    add.add_argument("hotel")
    add.add_argument("user")
    add.add_argument("--department", action="append", default=[], metavar="D",
                     help="limit the account to this department (repeat for more); "
                     "default: every department")
    add.add_argument("--role", choices=[r.value for r in StaffRole], default="staff")
    listing = actions.add_parser("list", help="list accounts (of one hotel)")
    listing.add_argument("hotel", nargs="?")
    for name, text in (("disable", "disable an account (logs it out everywhere)"),
                       ("enable", "enable a disabled account"),
                       ("passwd", "set a new password (logs the account out everywhere)")):
        actions.add_parser(name, help=text).add_argument("user")


def run(args: argparse.Namespace, *, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    try:
        settings = Settings.from_env(os.environ, require_secrets=False)
        return asyncio.run(_run(args, settings, stdin, out))
    except (HotelbotError, ValueError) as exc:
        print(f"hotelbot staff: {exc}", file=err)
        return 1


async def _run(args: argparse.Namespace, settings: Settings, stdin: TextIO,
               out: TextIO) -> int:
    action = args.staff_action
    if action == "add":
        record = _new_account(args, settings, _password(stdin))
    elif action == "passwd":
        new_hash = hash_password(_password(stdin))
    async with open_store(settings.database_path) as store:
        if action == "add":
            await store.staff.add(record, _now())
            print(f"added {record.username} ({record.role}) to {record.hotel_id}", file=out)
        elif action == "list":
            for s in await store.staff.of_hotel(args.hotel):
                print(f"{s.hotel_id}\t{s.username}\t{s.role}\t"
                      f"{','.join(s.departments) or '(all departments)'}\t"
                      f"{'disabled' if s.disabled else 'active'}", file=out)
        elif action in ("disable", "enable"):
            await store.staff.set_disabled(args.user, action == "disable")
            print(f"{args.user} {action}d", file=out)
        else:
            await store.staff.set_password(args.user, new_hash)
            print(f"password of {args.user} changed", file=out)
    return 0


def _new_account(args: argparse.Namespace, settings: Settings, password: str) -> StaffRecord:
    hotels = load_hotels(settings.config_dir).hotels
    hotel = hotels.get(args.hotel)
    if hotel is None:
        raise ValueError(f"no hotel {args.hotel!r} in {settings.config_dir} "
                         f"(hotels: {', '.join(sorted(hotels))})")
    unknown = [d for d in args.department if d not in hotel.departments]
    if unknown:
        raise ValueError(f"{args.hotel} has no department {', '.join(unknown)} "
                         f"(departments: {', '.join(sorted(hotel.departments))})")
    if not args.user.strip() or len(args.user) > 64 or any(c.isspace() for c in args.user):
        raise ValueError("a username is 1-64 characters without spaces")
    return StaffRecord(username=args.user, hotel_id=args.hotel,
                       password_hash=hash_password(password), role=StaffRole(args.role),
                       departments=tuple(dict.fromkeys(args.department)))


def _password(stdin: TextIO) -> str:
    if stdin.isatty():
        first = getpass.getpass(f"Password (at least {MIN_PASSWORD} characters): ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the passwords differ")
        return first
    line = stdin.readline()
    if not line:
        raise ValueError("no password on standard input")
    return line.rstrip("\r\n")


def _now() -> datetime:
    from hotelbot.clock import SystemClock

    return SystemClock().now()
