"""The SQLite store: `open_store`, and the `Store` facade that holds one repository per table.

Owns: opening, migrating and closing the database file, the one group-commit writer and the one
connection every repository shares, and the store's introspection (statistics, schema version,
connection settings). Must never hold a table's SQL (each repository module holds its own), never
write except through the writer, never read the clock (times come in as values) and never log
message bodies, payloads or full phone numbers.

    Store ── inbound        inbound.py        record_webhook, pending, park, ...
          ── conversations  conversations.py  load, commit_step (the step transaction), expire
          ── guests         guests.py         load
          ── outbox         outbox.py         next_batch, mark_sending, mark_sent_many, ...
          ── requests       requests.py       recent, set_status
          ── statuses       statuses.py       record, latest, history
          ── scheduled      scheduled.py      pending_before, claim, complete, cancel, ...
          ── stays          stays.py          upsert (+ re-planned rows), cancel, segments
          ── opt_outs       optouts.py        opted_out (written by a step)
          ── windows        windows.py        last_inbound, last_inbound_many
          ── funnel         funnel.py         add, counts (per hotel, day, flow, step)
          ── guest_data     guestdata.py      export, forget (GUEST_TABLES: every guest table)
          ── retention      retention.py      purge (per hotel, past its ages)
          ── staff          staff.py          add, get, of_hotel, set_password, set_disabled
          ── handoffs       handoffs.py       take, release, active (the console's holds)
          ── history        history.py        of (a conversation's messages), stamp
    all of them ──▶ Database (database.py) ──▶ one connection + one Writer (writer.py)

Each repository is a Protocol (the seam where a PostgreSQL implementation can stand beside,
docs/design.md "Beyond one machine") and its Sqlite class; the attributes are typed by the Protocol.

Durability (docs/design.md "Durability"):
- Every write is a writer job; the caller's await returns only after its transaction committed.
  A transaction spanning tables (record_webhook, park with an apology, commit_step) is ONE job.
- `synchronous` defaults to FULL. In WAL mode NORMAL already survives a crash of the process
  (a committed transaction is in the WAL file, the OS writes it out), but a power loss or kernel
  crash can lose the last commits, i.e. guest messages the webhook already acknowledged with a
  200, which Meta then never re-sends. FULL fsyncs the WAL at every commit so an acknowledged
  message survives that too. Group commit is what makes FULL affordable: one fsync per batch,
  not per message. NORMAL is there for benchmarks and for disks whose fsync is the bottleneck.

Times are stored as fixed-width UTC ISO 8601 text (codec.py); JSON columns are orjson text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import aiosqlite
import structlog

from hotelbot.errors import StoreError
from hotelbot.store.conversations import ConversationRepository, SqliteConversations
from hotelbot.store.database import Database, read
from hotelbot.store.funnel import FunnelRepository, SqliteFunnel
from hotelbot.store.guestdata import GuestDataRepository, SqliteGuestData
from hotelbot.store.guests import GuestRepository, SqliteGuests
from hotelbot.store.handoffs import HandoffRepository, SqliteHandoffs
from hotelbot.store.history import HistoryRepository, SqliteHistory
from hotelbot.store.inbound import InboundRepository, SqliteInbound
from hotelbot.store.optouts import OptOutRepository, SqliteOptOuts
from hotelbot.store.outbox import OutboxRepository, SqliteOutbox
from hotelbot.store.requests import RequestRepository, SqliteRequests
from hotelbot.store.retention import SqliteRetention
from hotelbot.store.scheduled import ScheduledRepository, SqliteScheduled
from hotelbot.store.schema import ConnectionSettings, Synchronous, configure, migrate, settings_of
from hotelbot.store.staff import SqliteStaff, StaffRepository
from hotelbot.store.statuses import SqliteStatuses, StatusRepository
from hotelbot.store.stays import SqliteStays, StayRepository
from hotelbot.store.windows import SqliteWindows, WindowRepository
from hotelbot.store.writer import StoreStatistics, Writer

log = structlog.get_logger(__name__)


@asynccontextmanager
async def open_store(
    path: Path, *, max_pending: int = 10_000, synchronous: Synchronous = "FULL"
) -> AsyncIterator[Store]:
    """Open (creating it and its directory if needed) and migrate the database; start the writer.

    On exit: commit every queued write, `PRAGMA wal_checkpoint(TRUNCATE)`, close.

    Raises:
        StoreError: the file cannot be opened, its schema is newer than this code, or a
            migration failed.
    """
    if max_pending < 1:
        raise StoreError(f"max_pending must be at least 1, not {max_pending}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        version = await read(conn, lambda c: _prepare(c, synchronous))
        writer = Writer(conn, max_pending=max_pending)
        writer.start()
        log.info("store_opened", path=str(path), version=version, synchronous=synchronous)
        try:
            yield Store(conn, writer, version)
        finally:
            await writer.close()
            await read(conn, _checkpoint)
            log.info("store_closed", **_stats_fields(writer.statistics()))
    finally:
        await conn.close()


class Store:
    """The store: one repository per table (see the module docstring). Made by `open_store`."""

    __slots__ = (
        "_db",
        "_version",
        "_writer",
        "conversations",
        "funnel",
        "guest_data",
        "guests",
        "handoffs",
        "history",
        "inbound",
        "opt_outs",
        "outbox",
        "requests",
        "retention",
        "scheduled",
        "staff",
        "statuses",
        "stays",
        "windows",
    )

    def __init__(self, conn: aiosqlite.Connection, writer: Writer, version: int) -> None:
        self._db = Database(conn, writer)
        self._writer = writer
        self._version = version
        self.inbound: Final[InboundRepository] = SqliteInbound(self._db)
        self.conversations: Final[ConversationRepository] = SqliteConversations(self._db)
        self.guests: Final[GuestRepository] = SqliteGuests(self._db)
        self.outbox: Final[OutboxRepository] = SqliteOutbox(self._db)
        self.requests: Final[RequestRepository] = SqliteRequests(self._db)
        self.statuses: Final[StatusRepository] = SqliteStatuses(self._db)
        self.scheduled: Final[ScheduledRepository] = SqliteScheduled(self._db)
        self.windows: Final[WindowRepository] = SqliteWindows(self._db)
        self.funnel: Final[FunnelRepository] = SqliteFunnel(self._db)
        self.guest_data: Final[GuestDataRepository] = SqliteGuestData(self._db)
        self.retention: Final = SqliteRetention(self._db)  # purges across tables
        self.staff: Final[StaffRepository] = SqliteStaff(self._db)
        self.handoffs: Final[HandoffRepository] = SqliteHandoffs(self._db)
        self.history: Final[HistoryRepository] = SqliteHistory(self._db)
        self.stays: Final[StayRepository] = SqliteStays(self._db)
        self.opt_outs: Final[OptOutRepository] = SqliteOptOuts(self._db)

    def schema_version(self) -> int:
        return self._version

    @property
    def writable(self) -> bool:
        """True while the writer takes jobs (for /readyz)."""
        return self._writer.accepting

    def statistics(self) -> StoreStatistics:
        return self._writer.statistics()

    def observe_commits(
        self, observe: Callable[[float], None], monotonic: Callable[[], float]
    ) -> None:
        """Call `observe(seconds)` with each group commit's duration (the metrics' histogram)."""
        self._writer.observe_commits(observe, monotonic)

    async def connection_settings(self) -> ConnectionSettings:
        """The PRAGMAs in force on the store's connection (journal mode, synchronous, ...)."""
        return await self._db.read(settings_of)


def _prepare(conn: sqlite3.Connection, synchronous: Synchronous) -> int:
    configure(conn, synchronous)
    return migrate(conn)


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _stats_fields(stats: StoreStatistics) -> dict[str, int]:
    return {
        "batches": stats.batches_committed,
        "jobs": stats.jobs_committed,
        "failed": stats.jobs_failed,
        "max_batch": stats.max_batch_size,
    }
