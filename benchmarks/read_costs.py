"""What the store's recurring reads cost on a database of a busy hotel's months, not an empty one.

Owns: seeding a temporary database (the current schema) with a busy hotel's history, then
timing, through the project's own store (`open_store` and its repositories), the reads that
recur while the server runs: the console board's change stamp (every open board, every
second) and its newest requests, the conversations list, the metrics scrape's outbox counts,
`admin parked`, and an hourly retention purge with nothing to delete. The benchmarks' own
databases start empty, so these costs never show there. The baseline, in the same run on the
same file: the statements these reads were before schema v9 (BEFORE_V9, run on a plain
connection; the purge's inside a transaction rolled back), which read the hotel's whole
history.
Must never: write outside a temporary directory, or be read as the server's throughput.

    python -m benchmarks.read_costs [--requests 100000] [--messages 300000] [--guests 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotelbot.store import Cutoffs, open_store
from hotelbot.store.codec import encode_time
from hotelbot.store.schema import MIGRATIONS, migrate

HOTEL = "h1"
NUMBERS = tuple(f"10000000000000{k}" for k in range(5))
DEPARTMENTS = ("room_service", "housekeeping", "front_desk")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_MARKS = ", ".join("?" for _ in NUMBERS)
# The same reads before schema v9 (git history: store/requests.py, history.py, outbox.py,
# retention.py), by the name of the read they were: (SQL, parameters). The board's newest
# requests and `admin parked` kept their SQL: v9's indexes serve it (before, a sort of all
# the hotel's requests; a walk back through every message kept).
_OLD_STAMP = (
    "SELECT max(id), coalesce(max(updated_at), '') || '|' || count(*) || '|'"
    " || sum(CASE WHEN status = ? THEN 1 ELSE 0 END) || '|'"
    " || sum(CASE WHEN status = ? THEN 1 ELSE 0 END) || '|'"
    " || sum(CASE WHEN status = ? THEN 1 ELSE 0 END) FROM requests WHERE hotel_id = ?"
)
BEFORE_V9: dict[str, list[tuple[str, tuple[object, ...]]]] = {
    "board change stamp (each open board, every second)": [(
        _OLD_STAMP, ("new", "acknowledged", "done", HOTEL))],
    "board change stamp, one department": [(
        f"{_OLD_STAMP} AND department IN (?)",
        ("new", "acknowledged", "done", HOTEL, "housekeeping"))],
    "conversations list: 50 most recent guests": [(
        "SELECT phone_number_id, guest_id, max(sent_at) AS last FROM inbound"
        f" WHERE phone_number_id IN ({_MARKS}) AND kind != 'rejected'"
        " GROUP BY phone_number_id, guest_id ORDER BY last DESC LIMIT ?", (*NUMBERS, 50))],
    "metrics scrape: outbox rows not sent yet": [
        ("SELECT state, count(*) FROM outbound GROUP BY state", ()),
        ("SELECT min(created_at) FROM outbound WHERE state = ?", ("pending",))],
    "hourly retention purge, nothing past its age": [
        (f"DELETE FROM inbound WHERE phone_number_id IN ({_MARKS}) AND state IN (?, ?)"
         " AND received_at < ?", (*NUMBERS, "done", "parked", "CUTOFF_INBOUND")),
        ("DELETE FROM delivery_statuses WHERE wamid IN (SELECT wamid FROM outbound WHERE"
         f" phone_number_id IN ({_MARKS}) AND state IN (?, ?, ?, ?, ?) AND coalesce(read_at,"
         " delivered_at, sent_at, failed_at, skipped_at, created_at, '') < ?"
         " AND wamid IS NOT NULL)",
         (*NUMBERS, "sent", "delivered", "read", "failed", "skipped", "CUTOFF_OUTBOUND")),
        (f"DELETE FROM outbound WHERE phone_number_id IN ({_MARKS}) AND state IN"
         " (?, ?, ?, ?, ?) AND coalesce(read_at, delivered_at, sent_at, failed_at, skipped_at,"
         " created_at, '') < ?",
         (*NUMBERS, "sent", "delivered", "read", "failed", "skipped", "CUTOFF_OUTBOUND")),
        ("DELETE FROM requests WHERE hotel_id = ? AND status IN (?, ?)"
         " AND coalesce(updated_at, created_at, '') < ?",
         (HOTEL, "done", "cancelled", "CUTOFF_REQUESTS"))],
}
CUTOFFS = Cutoffs(inbound=NOW - timedelta(days=31), outbound=NOW - timedelta(days=91),
                  requests=NOW - timedelta(days=366), guests=NOW - timedelta(days=731))


def seed(path: Path, *, requests: int, messages: int, guests: int) -> None:
    """A year of requests (the newest 1 % still open), 30 days of messages in and out on five
    numbers, a window per guest and number written to: the store's own tables, its schema."""
    rng = random.Random(7)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS)
    conn.execute("BEGIN")
    year = timedelta(days=365)
    for i in range(requests):
        at = encode_time(NOW - year + year * i / requests)
        conn.execute(
            "INSERT INTO requests (hotel_id, department, guest_id, flow_id, kind, data, status,"
            " created_at, updated_at) VALUES (?, ?, ?, 'order', 'order', ?, ?, ?, ?)",
            (HOTEL, rng.choice(DEPARTMENTS), f"3460{rng.randrange(guests):07d}",
             '{"item": "Tea", "room": "101"}', "new" if i >= requests * 0.99 else "done", at, at))
    month = timedelta(days=30)
    last: dict[tuple[str, str], str] = {}
    for i in range(messages):
        at = encode_time(NOW - month + month * i / messages)
        number, guest = NUMBERS[i % len(NUMBERS)], f"3460{rng.randrange(guests):07d}"
        conn.execute(
            "INSERT INTO inbound (wamid, phone_number_id, guest_id, kind, payload, sent_at,"
            " received_at, state) VALUES (?, ?, ?, 'text', '{}', ?, ?, 'done')",
            (f"wamid.R{i}", number, guest, at, at))
        conn.execute(
            "INSERT INTO outbound (phone_number_id, guest_id, body, priority, state, wamid,"
            " created_at, sent_at) VALUES (?, ?, ?, 0, 'read', ?, ?, ?)",
            (number, guest, '{"type": "text", "text": {"body": "Hello"}}', f"wamid.S{i}", at,
             at))
        last[(number, guest)] = at
    conn.executemany("INSERT INTO windows (phone_number_id, guest_id, last_inbound_at)"
                     " VALUES (?, ?, ?)", [(n, g, at) for (n, g), at in last.items()])
    conn.execute("COMMIT")
    conn.close()


async def timed(call: Callable[[], Awaitable[object]], runs: int = 5) -> float:
    """Median milliseconds of `runs` calls, after one to warm the page cache."""
    await call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def before_v9(path: Path, name: str, runs: int = 5) -> float | None:
    """Median milliseconds of the read as it was before schema v9 (None: unchanged)."""
    statements = BEFORE_V9.get(name)
    if statements is None:
        return None
    cutoff = {"CUTOFF_INBOUND": encode_time(CUTOFFS.inbound),
              "CUTOFF_OUTBOUND": encode_time(CUTOFFS.outbound),
              "CUTOFF_REQUESTS": encode_time(CUTOFFS.requests)}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        def once() -> None:
            conn.execute("BEGIN")
            for sql, params in statements:
                conn.execute(sql, tuple(cutoff.get(p, p) if isinstance(p, str) else p
                                        for p in params)).fetchall()
            conn.execute("ROLLBACK")

        once()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            once()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1e3
    finally:
        conn.close()


async def measure(path: Path) -> list[tuple[str, float]]:
    cutoffs = CUTOFFS
    async with open_store(path) as store:
        return [
            ("board change stamp (each open board, every second)",
             await timed(lambda: store.requests.stamp(HOTEL, window=300))),
            ("board change stamp, one department",
             await timed(lambda: store.requests.stamp(HOTEL, ("housekeeping",), window=300))),
            ("board: the 300 newest requests",
             await timed(lambda: store.requests.recent(HOTEL, limit=300))),
            ("conversations list: 50 most recent guests",
             await timed(lambda: store.history.guests_of(NUMBERS))),
            ("metrics scrape: outbox rows not sent yet",
             await timed(lambda: store.outbox.in_work())),
            ("admin parked", await timed(lambda: store.inbound.parked())),
            ("hourly retention purge, nothing past its age",
             await timed(lambda: store.retention.purge(HOTEL, NUMBERS, cutoffs))),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=300_000,
                        help="guest messages (and as many replies) over 30 days")
    parser.add_argument("--guests", type=int, default=30_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hotelbot.sqlite3"
        seed(path, requests=args.requests, messages=args.messages, guests=args.guests)
        results = asyncio.run(measure(path))
        before = {name: before_v9(path, name) for name, _ in results}
    print(f"{args.requests:,} requests over a year, {args.messages:,} messages in and out over"
          f" 30 days, {args.guests:,} guests; median of 5 calls, through the store (now) and"
          " as the statements were before schema v9:\n")
    print("| read | now ms | before v9 ms |\n|---|---|---|")
    for name, ms in results:
        was = before[name]
        print(f"| {name} | {ms:.2f} | {'same SQL' if was is None else f'{was:.2f}'} |")


if __name__ == "__main__":
    main()
