"""Backups: a consistent copy of the database while the server runs, and putting one back.

Owns: `backup_database` (SQLite's online backup API from its own connection: one read
transaction copies every page, so the copy is the database as of one commit, while the server
keeps writing in WAL mode) and `restore_database` (checks a backup, then swaps it in for the
database file, keeping the file it replaces). Must never write to the source database, leave a
half-written file under a backup's or the database's final name (each is written beside it and
renamed), or restore over a database a server has open (the caller checks the admin socket).
Plain sqlite3, synchronous: the CLI runs these in their own process.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hotelbot.errors import StoreError
from hotelbot.store.schema import BUSY_TIMEOUT_MS, CURRENT_VERSION, user_version

BACKUP_PREFIX = "hotelbot-"
BACKUP_SUFFIX = ".sqlite3"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupInfo:
    path: Path
    bytes: int
    schema_version: int
    tables: dict[str, int]  # rows per table


def backup_database(source: Path, dest: Path) -> BackupInfo:
    """Copy the database at `source` to the file `dest` (replaced atomically if it exists).

    Raises:
        StoreError: no database at `source`, or the copy failed its integrity check.
    """
    if not source.is_file():
        raise StoreError(f"no database at {source}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            out = sqlite3.connect(partial)
            try:
                src.backup(out)  # every page in one step: one read transaction, one commit
                out.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
                info = _check(out, partial)
            finally:
                out.close()
        finally:
            src.close()
        _fsync(partial)
        os.replace(partial, dest)
        _fsync(dest.parent)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupInfo(path=dest, bytes=dest.stat().st_size, schema_version=info[0],
                      tables=info[1])


def dated_backup_name(now: datetime) -> str:
    """hotelbot-YYYY-MM-DDTHHMMSSZ.sqlite3 for a backup taken at `now` (UTC)."""
    return f"{BACKUP_PREFIX}{now.strftime('%Y-%m-%dT%H%M%SZ')}{BACKUP_SUFFIX}"


def prune_backups(folder: Path, older_than: datetime) -> list[Path]:
    """Delete the dated backups in `folder` taken before `older_than`; returns them."""
    removed = []
    for path in sorted(folder.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}")):
        stamp = path.name.removeprefix(BACKUP_PREFIX).removesuffix(BACKUP_SUFFIX)
        try:
            taken = datetime.strptime(stamp, "%Y-%m-%dT%H%M%SZ").replace(tzinfo=older_than.tzinfo)
        except ValueError:
            continue  # not one of ours
        if taken < older_than:
            path.unlink()
            removed.append(path)
    return removed


def restore_database(backup: Path, target: Path, now: datetime) -> Path | None:
    """Put `backup` in place as the database `target`; returns where the replaced file went.

    The replaced database (if any) is renamed `<name>.before-restore-<time>`, its WAL and
    shared-memory files removed after it was checkpointed into it.

    Raises:
        StoreError: the backup is missing, damaged, or newer than this code's schema.
    """
    if not backup.is_file():
        raise StoreError(f"no backup at {backup}")
    try:
        conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            version, _tables = _check(conn, backup)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{backup} is not a readable SQLite database: {exc}") from exc
    if version > CURRENT_VERSION:
        raise StoreError(f"{backup} has schema version {version}, newer than this code's"
                         f" {CURRENT_VERSION}: restore it with the hotelbot that made it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    staged.unlink(missing_ok=True)
    backup_database(backup, staged)
    kept = None
    if target.exists():
        _checkpoint(target)
        kept = target.with_name(f"{target.name}.before-restore-{now.strftime('%Y%m%dT%H%M%SZ')}")
        os.replace(target, kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)
    _fsync(target.parent)
    return kept


def _check(conn: sqlite3.Connection, path: Path) -> tuple[int, dict[str, int]]:
    result = conn.execute("PRAGMA integrity_check").fetchall()
    if result != [("ok",)]:
        raise StoreError(f"{path} failed its integrity check: {result[:3]}")
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name")]
    tables = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
              for name in names}
    return user_version(conn), tables


def _checkpoint(path: Path) -> None:
    """Fold a stopped server's WAL into the file before it is moved aside."""
    try:
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot checkpoint {path} before replacing it: {exc}") from exc


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
