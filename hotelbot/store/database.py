"""The handle every SQLite repository shares: one connection for reads, one writer for writes.

Owns: running a read on the connection thread (sqlite3 errors become StoreError), handing a
job to the group-commit writer, and the small statement helpers the repositories share (an
UPDATE of one row by key, the id of an inserted row). Must never hold SQL of a table (each
repository module holds its own) and never write except through the writer.

Reads share the connection: aiosqlite runs everything on one thread, and a writer batch runs
in ONE hand-off (BEGIN ... COMMIT inside it), so a read never sees a half-written transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

import aiosqlite

from hotelbot.errors import StoreError
from hotelbot.store.writer import Writer, on_thread

T = TypeVar("T")


class Database:
    """The connection and its writer, as the SQLite repositories use them."""

    __slots__ = ("_conn", "_writer")

    def __init__(self, conn: aiosqlite.Connection, writer: Writer) -> None:
        self._conn = conn
        self._writer = writer

    # read, fetchall, fetchone and write return the coroutine that does the work instead of
    # awaiting it in one of their own: the same for `await db.read(...)`, one frame less a call.

    # A read tells the writer first (Writer.reading): a job submitted after it must not run
    # before it. Awaited at once, as every caller does, the read is put on the thread then.

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> Coroutine[Any, Any, T]:
        """Run `fn` on the connection thread (outside the writer: a read or a PRAGMA)."""
        self._writer.reading()
        return read(self._conn, fn)

    def fetchall(self, sql: str, params: tuple[Any, ...]) -> Coroutine[Any, Any, list[Any]]:
        self._writer.reading()
        return read(self._conn, lambda conn: conn.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        """The first row, or None."""
        self._writer.reading()
        return read(self._conn, lambda conn: conn.execute(sql, params).fetchone())

    def write(self, job: Callable[[sqlite3.Connection], T], *, admit: bool = False,
              lazy: bool = False) -> Coroutine[Any, Any, T]:
        """Commit `job` through the group-commit writer (see Writer.submit for `admit`, `lazy`).

        Raises (when awaited):
            StoreOverloaded: `admit` and the writer's queue is past its bound.
            StoreError: the store is closed or the job's SQL failed (nothing of it kept).
        """
        return self._writer.submit(job, admit=admit, lazy=lazy)

    def admits(self, jobs: int = 1) -> bool:
        """True when `jobs` more jobs of new outside work fit under the writer's bound."""
        return self._writer.admits(jobs)

    async def update_one(self, row: str, sql: str, params: tuple[Any, ...]) -> None:
        """Run an UPDATE of one row by key; a key that matches no row is the caller's error.

        Raises:
            StoreError: no `row` (the message names it), or the write failed.
        """
        changed = await self.write(lambda conn: conn.execute(sql, params).rowcount)
        if changed != 1:
            raise StoreError(f"no {row}")


def read(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]
         ) -> Coroutine[Any, Any, T]:
    """Run a read (or the open/close steps) on the connection thread; wrap sqlite3 errors.

    The wrapping happens on the thread, so the loop awaits `on_thread` itself (no frame here).
    """
    return on_thread(conn, partial(_guarded, fn))


def _guarded(fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    try:
        return fn(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"store read failed: {exc}") from exc


def lastrowid(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote."""
    if cursor.lastrowid is None:
        raise StoreError("insert returned no row id")
    return cursor.lastrowid
