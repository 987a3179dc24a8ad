"""The `hotelbot` command: argparse subcommands (`[project.scripts]` and `python -m hotelbot`).

Owns: parsing the command line and dispatching to one function per subcommand
(`SUBCOMMANDS`); each returns the process exit code. The subcommands' own modules sit
beside it: serve.py (the runner), admin.py (the admin client, its actions built from the
admin command table), say.py and screen.py (the demo guest), chat.py (the flow simulator),
backup.py (backup and restore). Must never hold business
logic: it calls into hotelbot's packages and prints their results. To add a subcommand,
write `_add_<name>(subparsers)` and `_run_<name>(args) -> int` and list them in
`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hotelbot.config import check_config, load_hotels

CONFIG_DIR_ENV = "HOTELBOT_CONFIG_DIR"


def _add_check_config(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check-config", help="validate strings, flow templates and hotel files",
        description="Print every configuration problem as file:line: path: reason.")
    parser.add_argument("config_dir", nargs="?", type=Path, default=None,
                        help=f"configuration directory (default: ${CONFIG_DIR_ENV} or ./config)")


def _run_check_config(args: argparse.Namespace) -> int:
    config_dir: Path = args.config_dir or Path(os.environ.get(CONFIG_DIR_ENV, "config"))
    problems = check_config(config_dir)
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in {config_dir}", file=sys.stderr)
        return 1
    hotels = load_hotels(config_dir).hotels.values()
    departments = sum(len(h.departments) for h in hotels)
    flows = len({f for h in hotels for f in h.flows})
    print(f"ok: {len(hotels)} hotels, {departments} departments, {flows} flows "
          f"in {config_dir}")
    return 0


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the WhatsApp webhook",
        description="Settings come from HOTELBOT_* environment variables; flags override them.")
    parser.add_argument("--host", default=None, help="listen address (HOTELBOT_HOST)")
    parser.add_argument("--port", default=None, help="listen port (HOTELBOT_PORT)")
    parser.add_argument("--config-dir", default=None, help="HOTELBOT_CONFIG_DIR")
    parser.add_argument("--data-dir", default=None, help="HOTELBOT_DATA_DIR")
    parser.add_argument("--graph-url", default=None, help="HOTELBOT_GRAPH_URL")
    parser.add_argument("--log-level", default=None, help="HOTELBOT_LOG_LEVEL")


def _run_serve(args: argparse.Namespace) -> int:
    from hotelbot.cli.serve import run
    from hotelbot.errors import ConfigError, FlowDefinitionError, HotelbotError
    from hotelbot.log import configure_logging
    from hotelbot.settings import SettingError, Settings

    overrides = {
        "host": args.host, "port": args.port, "config_dir": args.config_dir,
        "data_dir": args.data_dir, "graph_url": args.graph_url, "log_level": args.log_level,
    }
    try:
        settings = Settings.from_env(os.environ, **overrides)
    except SettingError as exc:  # every missing or bad setting, each on its line
        for fault in exc.faults:
            print(f"hotelbot serve: {fault.variable}: {fault.reason}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"hotelbot serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(level=settings.log_level)
    try:
        run(settings)
    except FlowDefinitionError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"hotelbot serve: {len(exc.problems)} configuration problem(s)", file=sys.stderr)
        return 1
    except HotelbotError as exc:  # the store, the admin socket, ...: say what, not a traceback
        print(f"hotelbot serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def _add_say(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "say", help="talk to a running hotelbot as a guest (demo)", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)


def _run_say(args: argparse.Namespace) -> int:
    from hotelbot.cli.say import main as say_main

    return say_main(list(args.rest))


def _add_admin(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hotelbot.cli.admin import SOCKET_HELP, actions_summary, add_actions

    parser = subparsers.add_parser(
        "admin", help="ask the running hotelbot through its local admin socket",
        description="Talk to a running `hotelbot serve` over its admin socket (mode 0600). "
        f"Actions: {actions_summary()}. `help` lists them with what they do.")
    parser.add_argument("--socket", type=Path, default=None, help=SOCKET_HELP)
    parser.add_argument("--json", action="store_true",
                        help="print the server's reply as JSON instead of a table")
    add_actions(parser)


def _run_admin(args: argparse.Namespace) -> int:
    from hotelbot.cli.admin import RAW, request_of, run
    from hotelbot.errors import ConfigError
    from hotelbot.settings import Settings

    try:
        request = request_of(args)
        socket_path: Path = args.socket or Settings.from_env(
            os.environ, require_secrets=False).admin_socket
    except (ValueError, ConfigError) as exc:
        print(f"hotelbot admin: {exc}", file=sys.stderr)
        return 2
    return run(socket_path, request, out=sys.stdout, err=sys.stderr,
               as_json=args.json or args.action == RAW)


def _add_backup(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hotelbot.cli.backup import add_backup, add_restore

    add_backup(subparsers)
    add_restore(subparsers)


def _run_backup(args: argparse.Namespace) -> int:
    from hotelbot.cli.backup import run_backup

    return run_backup(args)


def _run_restore(args: argparse.Namespace) -> int:
    from hotelbot.cli.backup import run_restore

    return run_restore(args)


def _add_chat(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hotelbot.cli.chat import add_chat

    add_chat(subparsers)


def _run_chat(args: argparse.Namespace) -> int:
    from hotelbot.cli.chat import run_chat

    return run_chat(args)


def _no_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """A subcommand whose parser another entry's adder made."""
def _add_staff(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hotelbot.cli.staff import add_parser

    add_parser(subparsers)


def _run_staff(args: argparse.Namespace) -> int:
    from hotelbot.cli.staff import run
    from hotelbot.log import configure_logging

    configure_logging(level="warning")  # the store's open/close lines are not for this
    return run(args)
def _add_stays(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "stays", help="import stays from a CSV file into the running hotelbot",
        description="Check every row like the PMS stays API and hand the good ones to the "
        "running server (admin socket); prints FILE:LINE: field: reason for each refused row.")
    sub = parser.add_subparsers(dest="stays_action", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="import a CSV file (header: booking_ref, guest_wa_id, "
                         "guest_name, room, check_in, check_out[, language])")
    imp.add_argument("file", type=Path)
    imp.add_argument("--hotel", required=True, help="the hotel's id")
    imp.add_argument("--config-dir", type=Path, default=None,
                     help=f"configuration directory (default: ${CONFIG_DIR_ENV} or ./config)")
    imp.add_argument("--socket", type=Path, default=None, help="the admin socket (default: "
                     "$HOTELBOT_ADMIN_SOCKET or <$HOTELBOT_DATA_DIR or var>/admin.sock)")


def _run_stays(args: argparse.Namespace) -> int:
    from hotelbot.cli.stays import import_stays
    from hotelbot.errors import ConfigError, FlowDefinitionError
    from hotelbot.settings import Settings
    from hotelbot.typedefs import HotelId

    config_dir: Path = args.config_dir or Path(os.environ.get(CONFIG_DIR_ENV, "config"))
    try:
        hotels = load_hotels(config_dir).hotels
        socket_path: Path = args.socket or Settings.from_env(
            os.environ, require_secrets=False).admin_socket
    except (FlowDefinitionError, ConfigError) as exc:
        print(f"hotelbot stays: {exc}", file=sys.stderr)
        return 2
    hotel = hotels.get(HotelId(args.hotel))
    if hotel is None:
        print(f"hotelbot stays: unknown hotel {args.hotel!r}; known hotels: "
              f"{', '.join(sorted(hotels))}", file=sys.stderr)
        return 2
    return import_stays(args.file, hotel, socket_path, sys.stdout)


Adder = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
SUBCOMMANDS: dict[str, tuple[Adder, Callable[[argparse.Namespace], int]]] = {
    "check-config": (_add_check_config, _run_check_config),
    "serve": (_add_serve, _run_serve),
    "say": (_add_say, _run_say),
    "admin": (_add_admin, _run_admin),
    "backup": (_add_backup, _run_backup),
    "restore": (_no_parser, _run_restore),
    "chat": (_add_chat, _run_chat),
    "staff": (_add_staff, _run_staff),
    "stays": (_add_stays, _run_stays),
}


def build_parser() -> argparse.ArgumentParser:
    """The `hotelbot` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="hotelbot", description="WhatsApp hotel front desk")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, _run in SUBCOMMANDS.values():
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `hotelbot` command; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["say"]:  # say parses its own flags (--guest, --help, ...)
        return _run_say(argparse.Namespace(rest=args_list[1:]))
    args = build_parser().parse_args(args_list)
    return SUBCOMMANDS[args.command][1](args)


if __name__ == "__main__":
    raise SystemExit(main())
