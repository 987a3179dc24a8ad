"""The SQLite schema: connection settings and the versioned migrations.

Owns: the PRAGMAs every connection gets, the ordered list of migration scripts and applying the
missing ones. Must never change a migration once released (add a new one instead) and never
run outside the connection's own thread (its functions take a sqlite3.Connection).

`PRAGMA user_version` holds the number of migrations applied. At open, every missing migration
runs inside ONE `BEGIN IMMEDIATE` transaction together with the new user_version, so a crash
mid-migration leaves the database at its old version, untouched. A database whose version is
newer than this code knows is refused rather than written with a schema it does not understand.

All timestamps are UTC ISO 8601 text (see codec.py); JSON columns are orjson text.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from hotelbot.errors import StoreError

Synchronous = Literal["NORMAL", "FULL"]

BUSY_TIMEOUT_MS = 5_000
# SQLite checkpoints the WAL into the database file inside the COMMIT that takes it past this
# many pages (its default: 1 000). A step's commit writes ~13 pages, so 1 000 meant a
# checkpoint every ~77 messages at low load, each copying the hot pages again (the same index
# pages over and over) and fsyncing the file. At 4 000 (a WAL of ~16 MiB) the hot pages are
# copied a quarter as often: 7 interleaved pairs at 1 000 msgs/s, server CPU 3 points lower on
# average (never higher), ack p99 lower in 5 pairs of 7; 10 000 made the p99 worse (each
# checkpoint's pause grows). BENCHMARKS.md, issue 13 fourth pass. A crash loses nothing either
# way: the WAL is replayed at the next open.
WAL_AUTOCHECKPOINT_PAGES = 4_000

# v1: the reactive path (webhook -> inbound -> step -> outbox) and the guests it serves.
_V1 = """
CREATE TABLE guests (
    hotel_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    language TEXT,
    profile_name TEXT,
    last_inbound_at TEXT,
    PRIMARY KEY (hotel_id, guest_id)
) WITHOUT ROWID;

CREATE TABLE conversations (
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    hotel_id TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    updated_at TEXT,
    last_activity TEXT,
    PRIMARY KEY (phone_number_id, guest_id)
) WITHOUT ROWID;
CREATE INDEX conversations_by_activity ON conversations (last_activity);

CREATE TABLE inbound (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    wamid TEXT NOT NULL UNIQUE,
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    profile_name TEXT,
    sent_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'done', 'parked')),
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbound_received ON inbound (seq) WHERE state = 'received';

CREATE TABLE requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hotel_id TEXT NOT NULL,
    department TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'acknowledged', 'done', 'cancelled')),
    created_at TEXT,
    updated_at TEXT
);
CREATE INDEX requests_by_hotel ON requests (hotel_id, status, id);

CREATE TABLE outbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    body TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before TEXT,
    error_code INTEGER,
    error_detail TEXT,
    wamid TEXT,
    created_at TEXT,
    sent_at TEXT,
    failed_at TEXT
);
CREATE INDEX outbound_pending ON outbound (priority, id) WHERE state = 'pending';

CREATE TABLE delivery_statuses (
    wamid TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    error_code INTEGER,
    payload TEXT NOT NULL,
    PRIMARY KEY (wamid, status)
) WITHOUT ROWID;
"""

# v2: the proactive path (scheduled messages and the templates that render them).
_V2 = """
CREATE TABLE scheduled_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hotel_id TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'cancelled', 'failed')),
    created_at TEXT
);
CREATE INDEX scheduled_by_status_time ON scheduled_messages (status, scheduled_at);

CREATE TABLE message_templates (
    hotel_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    template_name TEXT NOT NULL,
    language TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (hotel_id, message_type)
) WITHOUT ROWID;
"""

# v3: the outbox's states for the pacer, the 24-hour windows, statuses that name their row.
# SQLite cannot change a CHECK in place: `outbound` is rebuilt (sqlite.org/lang_altertable.html,
# "Making Other Kinds Of Table Schema Changes": create the new table, copy, drop, rename,
# re-create the indexes). Nothing references `outbound` (no foreign key, view or trigger), so
# foreign_keys can stay on. The AUTOINCREMENT counter is carried over: an id is never reused,
# even one whose row was deleted. Windows start from the inbound rows still kept.
_V3 = """
CREATE TABLE outbound_v3 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    body TEXT NOT NULL,
    template TEXT,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before TEXT,
    sending_since TEXT,
    error_code INTEGER,
    error_title TEXT,
    error_detail TEXT,
    skip_reason TEXT,
    wamid TEXT,
    created_at TEXT,
    sent_at TEXT,
    delivered_at TEXT,
    read_at TEXT,
    failed_at TEXT,
    skipped_at TEXT
);
INSERT INTO outbound_v3 (id, phone_number_id, guest_id, body, priority, state, attempts,
    not_before, error_code, error_detail, wamid, created_at, sent_at, failed_at)
    SELECT id, phone_number_id, guest_id, body, priority, state, attempts,
    not_before, error_code, error_detail, wamid, created_at, sent_at, failed_at FROM outbound;
DELETE FROM sqlite_sequence WHERE name = 'outbound_v3';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'outbound_v3', seq FROM sqlite_sequence WHERE name = 'outbound';
DROP TABLE outbound;
ALTER TABLE outbound_v3 RENAME TO outbound;
CREATE INDEX outbound_pending ON outbound (phone_number_id, priority, id)
    WHERE state = 'pending';
CREATE INDEX outbound_sending ON outbound (sending_since) WHERE state = 'sending';
CREATE INDEX outbound_by_wamid ON outbound (wamid) WHERE wamid IS NOT NULL;

ALTER TABLE delivery_statuses ADD COLUMN error_title TEXT;
ALTER TABLE delivery_statuses ADD COLUMN callback TEXT;

CREATE TABLE windows (
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    last_inbound_at TEXT NOT NULL,
    PRIMARY KEY (phone_number_id, guest_id)
) WITHOUT ROWID;
INSERT INTO windows (phone_number_id, guest_id, last_inbound_at)
    SELECT phone_number_id, guest_id, max(sent_at) FROM inbound
    WHERE kind != 'rejected' GROUP BY phone_number_id, guest_id;
"""

# v4 (ops, issue 12): the funnel's counters (no guest identity: counts per hotel-local day).
_V4_FUNNEL = """
CREATE TABLE funnel_counts (
    hotel_id TEXT NOT NULL,
    day TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    mark TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (hotel_id, day, flow_id, step_id, mark)
) WITHOUT ROWID;
"""

# v5: the staff console (issue 11): staff accounts, why a request was cancelled, and the
# conversations a staff member has taken over (the bot stays silent for them).
_V5_CONSOLE = """
CREATE TABLE staff (
    username TEXT PRIMARY KEY,
    hotel_id TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('manager', 'staff')),
    departments TEXT NOT NULL DEFAULT '[]',
    disabled INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL DEFAULT 0,
    created_at TEXT
) WITHOUT ROWID;

ALTER TABLE requests ADD COLUMN note TEXT;
CREATE INDEX requests_by_update ON requests (hotel_id, updated_at);

CREATE TABLE handoffs (
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    hotel_id TEXT NOT NULL,
    staff TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    until TEXT NOT NULL,
    PRIMARY KEY (phone_number_id, guest_id)
) WITHOUT ROWID;
CREATE INDEX inbound_by_conversation ON inbound (phone_number_id, guest_id, seq);
CREATE INDEX outbound_by_conversation ON outbound (phone_number_id, guest_id, id);
"""

# v6: the scheduler (issue 10): stays from the hotel's PMS, scheduled rows that move pending ->
# due -> sent / skipped (with a reason) / failed, keyed by what triggered them (a stay's
# trigger is re-planned in place when the stay changes), and the guests' marketing opt-outs.
# scheduled_messages is rebuilt (its CHECK changes; see v3 for the recipe); a v2 `cancelled`
# row becomes `skipped` with reason `cancelled`.
_V6_SCHEDULER = """
CREATE TABLE scheduled_v4 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hotel_id TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'due', 'sent', 'skipped', 'failed')),
    created_at TEXT,
    kind TEXT NOT NULL DEFAULT 'message',
    trigger_key TEXT,
    booking_ref TEXT,
    skip_reason TEXT,
    outbox_id INTEGER,
    reply_flow TEXT,
    done_at TEXT
);
INSERT INTO scheduled_v4 (id, hotel_id, phone_number_id, guest_id, message_type, scheduled_at,
    data, status, created_at, skip_reason)
    SELECT id, hotel_id, phone_number_id, guest_id, message_type, scheduled_at, data,
    CASE status WHEN 'cancelled' THEN 'skipped' ELSE status END, created_at,
    CASE status WHEN 'cancelled' THEN 'cancelled' END FROM scheduled_messages;
DELETE FROM sqlite_sequence WHERE name = 'scheduled_v4';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'scheduled_v4', seq FROM sqlite_sequence WHERE name = 'scheduled_messages';
DROP TABLE scheduled_messages;
ALTER TABLE scheduled_v4 RENAME TO scheduled_messages;
CREATE INDEX scheduled_by_status_time ON scheduled_messages (status, scheduled_at);
CREATE UNIQUE INDEX scheduled_by_trigger ON scheduled_messages (hotel_id, trigger_key)
    WHERE trigger_key IS NOT NULL;
CREATE INDEX scheduled_by_stay ON scheduled_messages (hotel_id, booking_ref, status)
    WHERE booking_ref IS NOT NULL;
CREATE INDEX scheduled_by_outbox ON scheduled_messages (outbox_id) WHERE outbox_id IS NOT NULL;
CREATE INDEX scheduled_by_guest ON scheduled_messages (phone_number_id, guest_id, done_at)
    WHERE outbox_id IS NOT NULL;

CREATE TABLE stays (
    hotel_id TEXT NOT NULL,
    booking_ref TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    guest_name TEXT NOT NULL,
    room TEXT NOT NULL,
    check_in TEXT NOT NULL,
    check_out TEXT NOT NULL,
    language TEXT,
    state TEXT NOT NULL DEFAULT 'booked'
        CHECK (state IN ('booked', 'checked_out', 'cancelled')),
    updated_at TEXT,
    PRIMARY KEY (hotel_id, booking_ref)
) WITHOUT ROWID;
CREATE INDEX stays_by_guest ON stays (hotel_id, guest_id);
CREATE INDEX stays_by_dates ON stays (hotel_id, state, check_in, check_out);

CREATE TABLE opt_outs (
    hotel_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (hotel_id, guest_id)
) WITHOUT ROWID;
"""

# v7: a guest's hotel-wide cooloff survives a restart (issue 8 point 17: switching numbers
# after a restart does not dodge it).
_V7_COOLOFF = """
ALTER TABLE guests ADD COLUMN cooloff_until TEXT;
"""

# v8 (issue 13): `conversations` becomes a rowid table. Its rows carry a ~0.5 KiB JSON snapshot:
# as WITHOUT ROWID (an index b-tree, whose interior cells hold whole rows) few rows fit an
# interior page, so the tree is deep and a new conversation's insert rewrote ~3 pages. In a
# rowid table the rows live in the leaves (interior cells hold only rowids), a new row lands at
# the right edge, and the key is a small UNIQUE index beside it (sqlite.org/withoutrowid.html,
# section 4: WITHOUT ROWID suits rows under ~1/20 of a page). The same columns and one more
# (below), rows copied (see v3 for the recipe); nothing references the table. The key's index
# is only written when a row is inserted or deleted: an update leaves it alone. Expiry's index,
# conversations_by_activity, keys a row by `activity_span`, the ten-minute span of its
# last_activity (the fixed-width text's first 15 characters, 'YYYY-MM-DDTHH:M'; none: ''),
# not by the exact time: SQLite re-writes an index entry whenever a statement sets one of its
# columns, so the step sets the span only when it changed (conversations.py), and most steps
# write no page of that index; expiry reads the spans up to the cutoff's and checks the exact
# time there. The span is derived: last_activity stays the truth.
_V8_CONVERSATIONS_ROWID = """
CREATE TABLE conversations_v8 (
    phone_number_id TEXT NOT NULL,
    guest_id TEXT NOT NULL,
    hotel_id TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    updated_at TEXT,
    last_activity TEXT,
    activity_span TEXT NOT NULL DEFAULT '',
    UNIQUE (phone_number_id, guest_id)
);
INSERT INTO conversations_v8 (phone_number_id, guest_id, hotel_id, snapshot, updated_at,
    last_activity, activity_span)
    SELECT phone_number_id, guest_id, hotel_id, snapshot, updated_at, last_activity,
    coalesce(substr(last_activity, 1, 15), '') FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_v8 RENAME TO conversations;
CREATE INDEX conversations_by_activity ON conversations (activity_span);
"""

# v9: no statement reads a hotel's whole history where it wants a few rows.
# - A guest's requests, scheduled messages and stays at a hotel are found through an index,
#   not by reading all of the hotel's rows (requests, stays) or all rows (scheduled
#   messages): export and forget read them, and retention looks for idle guests and erases
#   them a hundred at a time inside one writer job (a year of a busy hotel's rows, read once
#   per guest, held every commit behind it). stays_by_guest now carries what retention asks
#   of a stay (its state and check-out), so the planner takes it over the hotel's range.
# - requests_newest (hotel_id, and so the rowid: id) gives the console board its newest
#   requests in order, and the board's change stamp (read every second by every open board)
#   reads only those; requests_by_update, which only that stamp's old whole-hotel pass used,
#   goes (it was rewritten by every move of a request).
# - inbound_parked: `admin parked` lists the newest parked messages without walking back
#   through every message kept (parked ones are rare; a message that is never parked never
#   enters it).
# No column of the requests' and scheduled messages' new indexes moves when a request or a
# scheduled message does (a stay's state and check-out do, on the PMS's rare updates).
_V9_BY_GUEST = """
CREATE INDEX inbound_parked ON inbound (seq) WHERE state = 'parked';
CREATE INDEX requests_by_guest ON requests (hotel_id, guest_id);
CREATE INDEX requests_newest ON requests (hotel_id);
DROP INDEX requests_by_update;
CREATE INDEX scheduled_by_hotel_guest ON scheduled_messages (hotel_id, guest_id);
DROP INDEX stays_by_guest;
CREATE INDEX stays_by_guest ON stays (hotel_id, guest_id, state, check_out);
"""

MIGRATIONS: tuple[str, ...] = (
    _V1, _V2, _V3, _V4_FUNNEL, _V5_CONSOLE, _V6_SCHEDULER, _V7_COOLOFF,
    _V8_CONVERSATIONS_ROWID, _V9_BY_GUEST,
)
"""Migration n (1-based) is MIGRATIONS[n - 1]; append only."""

CURRENT_VERSION = len(MIGRATIONS)


def configure(conn: sqlite3.Connection, synchronous: Synchronous) -> None:
    """Set the connection's PRAGMAs: WAL, the chosen synchronous level, busy timeout, FKs."""
    if synchronous not in ("NORMAL", "FULL"):
        raise StoreError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"could not switch the database to WAL mode (journal_mode={mode})")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSettings:
    """The PRAGMAs in force on a connection, as `configure` set them."""

    journal_mode: str  # "wal"
    synchronous: str  # OFF | NORMAL | FULL | EXTRA
    foreign_keys: bool
    busy_timeout_ms: int
    wal_autocheckpoint: int  # pages


_SYNCHRONOUS_NAMES = ("OFF", "NORMAL", "FULL", "EXTRA")  # PRAGMA synchronous's numbers 0-3


def settings_of(conn: sqlite3.Connection) -> ConnectionSettings:
    """Read the connection's PRAGMAs (what `configure` set, and WAL as the file keeps it)."""
    journal, synchronous, foreign_keys, busy = conn.execute(
        "SELECT * FROM pragma_journal_mode, pragma_synchronous,"
        " pragma_foreign_keys, pragma_busy_timeout"
    ).fetchone()
    # (no table-valued form: the PRAGMA without a value reads it)
    checkpoint = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    return ConnectionSettings(
        journal_mode=str(journal),
        synchronous=_SYNCHRONOUS_NAMES[int(synchronous)],
        foreign_keys=bool(foreign_keys),
        busy_timeout_ms=int(busy),
        wal_autocheckpoint=int(checkpoint),
    )


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: tuple[str, ...] = MIGRATIONS) -> int:
    """Apply the missing migrations in one transaction; return the resulting version.

    The connection must be in autocommit mode (isolation_level=None). Scripts are run one
    statement at a time: Python 3.11's executescript would COMMIT the open transaction first.

    Raises:
        StoreError: the database is newer than `migrations`, or a migration failed (rolled back).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = user_version(conn)  # read under the write lock: a racing opener waits
        target = len(migrations)
        if found > target:
            raise StoreError(
                f"database schema version {found} is newer than this code's version {target}:"
                " upgrade hotelbot (or restore a matching backup) before opening it"
            )
        for script in migrations[found:]:
            for statement in statements(script):
                conn.execute(statement)
        if found < target:
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"migration failed: {exc}") from exc
        raise
    return target


def statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (sqlite3.complete_statement decides)."""
    found: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            found.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise StoreError(f"incomplete SQL statement in migration: {buffer.strip()[:60]!r}")
    return found
