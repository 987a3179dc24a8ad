"""The `hotelbot` command: argparse subcommands.

Owns: parsing the command line and dispatching to one function per subcommand
(`SUBCOMMANDS`); each returns the process exit code. Must never hold business logic: it
calls into hotelbot's packages and prints their results. To add a subcommand, write
`_add_<name>(subparsers)` and `_run_<name>(args) -> int` and list them in `SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hotelbot.flows.loader import check_config, load_catalog

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
    catalog = load_catalog(config_dir)
    hotels = catalog.hotels.values()
    departments = sum(len(h.departments) for h in hotels)
    flows = len({f for h in hotels for f in h.flows})
    print(f"ok: {len(catalog.hotels)} hotels, {departments} departments, {flows} flows "
          f"in {config_dir}")
    return 0


Adder = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
SUBCOMMANDS: dict[str, tuple[Adder, Callable[[argparse.Namespace], int]]] = {
    "check-config": (_add_check_config, _run_check_config),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `hotelbot` command; returns the exit code."""
    parser = argparse.ArgumentParser(prog="hotelbot", description="WhatsApp hotel front desk")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, _run in SUBCOMMANDS.values():
        add(subparsers)
    args = parser.parse_args(argv)
    return SUBCOMMANDS[args.command][1](args)


if __name__ == "__main__":
    raise SystemExit(main())
