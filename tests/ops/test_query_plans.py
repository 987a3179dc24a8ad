"""No statement the server runs reads a table that grows with the hotel's history whole.

The store has one connection thread: a statement that walks months of messages, replies or
requests holds every guest's commit behind it (the console polls every second, retention runs
every hour, /metrics at each scrape). This runs a server through what it does — guests' flows,
the console's pages and change stamps, a metrics scrape, the admin commands, the PMS, guest
export and forget, retention — traces every statement SQLite ran (their values bound, through
the standard library's trace callback) and reads each one's query plan. A plan may walk a
partial index (the rows still in work) or search an index by something narrower than a hotel
or a number; reading a growing table whole, or a hotel's or a number's whole range of it,
fails — unless listed below (BOUNDED) with why it stays bounded.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from hotelbot.actors import purge_all
from hotelbot.app import ADMIN, CORE, METRICS_SITE
from hotelbot.cli.admin import call
from hotelbot.store.schema import MIGRATIONS
from hotelbot.web.console.views import DESK
from tests.console.staff import CONSOLE_SECRET, DAYTIME, ORDER, Browserless, add_staff
from tests.fakes.clock import ShiftedClock
from tests.fakes.hotel import HotelFactory
from tests.numbers import FRONT_DESK, ROOM_SERVICE

GUEST = "34600555001"
OTHER = "34600555002"
# The tables that grow with the hotel's history (the others hold configuration-sized rows).
GROWING = ("inbound", "outbound", "delivery_statuses", "conversations", "requests", "guests",
           "windows", "stays", "scheduled_messages", "funnel_counts", "opt_outs", "handoffs")
# Statements whose wide reads stay bounded: (what the statement matches, the plan steps it
# may take that would otherwise count as wide, why).
BOUNDED: list[tuple[re.Pattern[str], re.Pattern[str], str]] = [
    (re.compile(r"\b(?:seq|id) < coalesce\(\(SELECT (?:seq|id) FROM (\w+) WHERE"),
     re.compile(r"SCAN \w+$"),
     "retention's older_rows: from the oldest row to the first one written since the cutoff"),
    (re.compile(r"FROM requests WHERE hotel_id = '[^']*' ORDER BY id DESC LIMIT \d+"),
     re.compile(r"SEARCH requests USING INDEX requests_newest \(hotel_id=\?\)$"),
     "the newest N requests, in the index's order: stops after N"),
    (re.compile(r"^SELECT g\.guest_id FROM guests g WHERE g\.hotel_id = "),
     re.compile(r"SEARCH g USING PRIMARY KEY \(hotel_id=\?\)$"),
     "retention's idle guests, hourly: one row a guest, not a message (the time it compares"
     " has no index: a guest's row moves with each of their messages)"),
    (re.compile(r"FROM \(SELECT phone_number_id, guest_id, last_inbound_at FROM windows"),
     re.compile(r"SEARCH windows USING PRIMARY KEY \(phone_number_id=\?\)$"),
     "the conversations list, on a page load: one row a guest and number, the newest kept by"
     " a top-N sort (benchmarks/read_costs.py: ~15 ms for 130 000)"),
    (re.compile(r"^SELECT .* FROM handoffs ORDER BY taken_at$"),
     re.compile(r"SCAN handoffs$"),
     "the staff hand-offs in force, read at start (each row goes when its hand-off ends)"),
]


def _partial_indexes(conn: sqlite3.Connection) -> set[str]:
    return {name for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'")}


def _tables(sql: str) -> dict[str, str]:
    """Each name a plan may give a table (the table's own, or its alias) -> the table."""
    names = {}
    for table, alias in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", sql,
                                   re.I):
        names[table] = table
        if alias and alias.upper() not in _KEYWORDS:
            names[alias] = table
    return names


_KEYWORDS = {"WHERE", "ORDER", "GROUP", "LIMIT", "INDEXED", "ON", "JOIN", "LEFT", "INNER",
             "UNION", "SET", "VALUES", "RETURNING", "AND", "OR"}


def _whole_reads(sql: str, plan: list[str], partial: set[str]) -> list[str]:
    """The plan's steps that read a growing table whole (a partial index is not whole), or a
    hotel's or a number's whole range of it (a search by nothing narrower)."""
    tables = _tables(sql)
    found = []
    for step in plan:
        scanned = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", step)
        if (scanned and tables.get(scanned.group(1)) in GROWING
                and scanned.group(2) not in partial):
            found.append(step)
        searched = re.match(r"SEARCH (\w+) USING (?:COVERING )?(?:INDEX (\w+)|PRIMARY KEY)"
                            r" \((\w+)=\?\)$", step)
        if (searched and tables.get(searched.group(1)) in GROWING
                and searched.group(2) not in partial
                and searched.group(3) in ("hotel_id", "phone_number_id")):
            found.append(step)
    return found


async def test_no_statement_the_server_runs_reads_a_growing_table_whole(
        start_hotel: HotelFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    connect: Callable[..., sqlite3.Connection] = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(ran.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    sock = Path(tempfile.mkdtemp(prefix="hb")) / "a.sock"
    clock = ShiftedClock(DAYTIME)
    hotel = await start_hotel(console_secret=CONSOLE_SECRET, clock=clock, admin_socket=sock,
                              statuses=("sent", "delivered", "read"))

    async def admin(**request: object) -> dict[str, Any]:
        reply = await asyncio.to_thread(call, hotel.app[ADMIN].path, request)
        assert reply["ok"] is True, reply
        return reply

    # guests: an order (a request), a chat at the front desk, another guest
    for text in ORDER:
        await hotel.say(ROOM_SERVICE, GUEST, text)
    for text in ("hello", "menu", "1"):
        await hotel.say(FRONT_DESK, GUEST, text)
    await hotel.say(FRONT_DESK, OTHER, "hi")
    stay = {"guest_wa_id": OTHER, "guest_name": "Ana Lopez", "room": "412", "language": "en",
            "check_in": (DAYTIME - timedelta(days=1)).isoformat(),
            "check_out": (DAYTIME + timedelta(days=2)).isoformat()}
    await admin(cmd="stay_put", hotel="demo_hotel", booking_ref="BK-1",
                stay=orjson.dumps(stay).decode())
    await hotel.settle()

    # the console: board, its stamp, conversations, one conversation, a move
    await add_staff(hotel, "alice")
    alice = Browserless(hotel)
    try:
        board = await alice.login("alice")
        assert board.status == 200
        [request] = await hotel.store.requests.recent("demo_hotel")
        staff = await hotel.store.staff.get("alice")
        assert staff is not None
        await hotel.app[DESK].board_stamp(staff)
        listing = await alice.get("/console/conversations")
        [link] = set(re.findall(r'href="(/console/conversations/room_service/[^"]+)"',
                                listing.text))
        assert (await alice.get(link)).status == 200
        moved = await alice.post(f"/console/requests/{request.id}/acknowledge",
                                 {"csrf": board.csrf})
        assert moved.status == 200
    finally:
        await alice.close()
    await hotel.settle()

    # operations: a scrape, the admin commands, export and forget, retention
    port = hotel.app[METRICS_SITE].port
    async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
                http.get(f"http://127.0.0.1:{port}/metrics") as scraped):
        assert scraped.status == 200
    for request_ in ({"cmd": "stats"}, {"cmd": "requests", "hotel": "demo_hotel"},
                     {"cmd": "parked"}, {"cmd": "actors"}, {"cmd": "queue", "hotel": "demo_hotel"},
                     {"cmd": "funnel", "hotel": "demo_hotel"},
                     {"cmd": "context", "phone_number_id": FRONT_DESK, "guest": GUEST},
                     {"cmd": "broadcast", "hotel": "demo_hotel", "message_type": "spa_offer",
                      "segment": "in_house", "id": "plans-1"},
                     {"cmd": "broadcast", "hotel": "demo_hotel", "message_type": "spa_offer",
                      "segment": "arriving_tomorrow", "id": "plans-2"},
                     {"cmd": "guest", "action": "export", "hotel": "demo_hotel", "number": GUEST},
                     {"cmd": "guest", "action": "forget", "hotel": "demo_hotel", "number": GUEST}):
        await admin(**request_)
    core = hotel.app[CORE]
    await purge_all(core.store, core.config.get(), clock.now() + timedelta(days=3650))
    await hotel.settle()

    migrations = " ".join(MIGRATIONS)
    statements = {sql for sql in ran
                  if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", sql, re.I)
                  and " ".join(sql.split()) not in " ".join(migrations.split())}
    assert len(statements) > 50, "the trace saw too little of the server"
    db_path = core.settings.database_path
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        conn.set_trace_callback(None)
        partial = _partial_indexes(conn)
        offending = {}
        for sql in sorted(statements):
            plan = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
            flat = " ".join(sql.split())
            allowed = [step for matches, step, _why in BOUNDED if matches.search(flat)]
            whole = [found for found in _whole_reads(flat, plan, partial)
                     if not any(step.match(found) for step in allowed)]
            if whole:
                offending[flat[:200]] = whole
    assert not offending, "\n".join(f"{sql}\n    {steps}" for sql, steps in offending.items())
