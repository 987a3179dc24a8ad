"""`hotelbot backup DEST` and `hotelbot restore BACKUP`: the database, copied and put back.

Owns: the two subcommands' arguments and what they print. The copying is the store's
(store/backup.py: SQLite's online backup API). `backup` runs while the server serves (it only
reads); `restore` refuses while a server answers on the admin socket (stop it first:
`systemctl stop hotelbot`), and keeps the database it replaces beside it.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from hotelbot.errors import ConfigError, StoreError
from hotelbot.settings import Settings
from hotelbot.store import backup_database, dated_backup_name, prune_backups, restore_database

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_backup(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "backup", help="copy the database consistently, also while the server runs",
        description="A consistent copy of <HOTELBOT_DATA_DIR>/hotelbot.sqlite3 (SQLite's "
        "online backup API). DEST is a file, or a directory (existing, or ending in /) that "
        "gets hotelbot-<UTC time>.sqlite3.")
    parser.add_argument("dest", help="backup file, or a directory for dated ones (an existing "
                        "one, one ending in /, or any with --keep-days; created if needed)")
    parser.add_argument("--data-dir", type=Path, default=None, help="HOTELBOT_DATA_DIR")
    parser.add_argument("--keep-days", type=int, default=None, metavar="N",
                        help="with a directory: delete its dated backups older than N days")


def run_backup(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ, require_secrets=False, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"hotelbot backup: {exc}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    dest = Path(args.dest)  # (Path drops a trailing slash: look at the text first)
    folder = args.dest.endswith("/") or dest.is_dir() or args.keep_days is not None
    if args.keep_days is not None and args.keep_days < 1:
        print("hotelbot backup: --keep-days needs N >= 1", file=sys.stderr)
        return 2
    if folder and dest.exists() and not dest.is_dir():
        print(f"hotelbot backup: {dest} is a file, not a directory", file=sys.stderr)
        return 2
    target = dest / dated_backup_name(now) if folder else dest
    try:
        info = backup_database(settings.database_path, target)
    except StoreError as exc:
        print(f"hotelbot backup: {exc}", file=sys.stderr)
        return 1
    rows = sum(info.tables.values())
    print(f"backup: {info.path} ({info.bytes} bytes, schema {info.schema_version}, "
          f"{rows} rows in {len(info.tables)} tables)")
    if args.keep_days is not None:
        for old in prune_backups(dest, now - timedelta(days=args.keep_days)):
            print(f"removed: {old}")
    return 0


def add_restore(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "restore", help="put a backup in place as the database (server stopped)",
        description="Check BACKUP, then make it <HOTELBOT_DATA_DIR>/hotelbot.sqlite3. The "
        "database it replaces is kept as hotelbot.sqlite3.before-restore-<time>. Refused "
        "while a server answers on the admin socket.")
    parser.add_argument("backup", type=Path, help="a file `hotelbot backup` wrote")
    parser.add_argument("--data-dir", type=Path, default=None, help="HOTELBOT_DATA_DIR")


def run_restore(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ, require_secrets=False, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"hotelbot restore: {exc}", file=sys.stderr)
        return 2
    if _server_answers(settings.admin_socket):
        print(f"hotelbot restore: a server is running (it answers on {settings.admin_socket});"
              " stop it first, e.g. systemctl stop hotelbot", file=sys.stderr)
        return 1
    try:
        kept = restore_database(args.backup, settings.database_path, datetime.now(UTC))
    except StoreError as exc:
        print(f"hotelbot restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored: {args.backup} -> {settings.database_path}")
    if kept is not None:
        print(f"kept the replaced database as {kept}")
    return 0


def _server_answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
