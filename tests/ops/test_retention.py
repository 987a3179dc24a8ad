"""Retention per hotel: validated ages in the hotel file, and a purge that removes only what is
past its age, never what is still in work, never another hotel's rows."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotelbot.actors import cutoffs_of, open_retention, purge_all
from hotelbot.clock import SystemClock
from hotelbot.config import check_config, load_hotels
from hotelbot.flows import Retention
from hotelbot.store import open_store
from hotelbot.store.codec import encode_time
from hotelbot.store.retention import purge_idle_guests
from hotelbot.store.schema import MIGRATIONS, migrate
from tests.numbers import FRONT_DESK, SEASIDE_FRONT_DESK
from tests.paths import CONFIG

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _config(tmp_path: Path, retention: str) -> Path:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "demo_hotel.yaml"
    hotel.write_text(hotel.read_text() + retention, encoding="utf-8")
    return config


def test_retention_defaults_and_the_hotels_own_ages(tmp_path: Path) -> None:
    config = _config(tmp_path, "retention:\n  inbound_days: 10\n  guests_days: 365\n")
    hotels = load_hotels(config).hotels
    assert hotels["demo_hotel"].retention == Retention(inbound_days=10, guests_days=365)
    assert hotels["seaside_inn"].retention == Retention()


@pytest.mark.parametrize(("text", "path", "reason"), [
    ("retention:\n  inbound_days: 3\n", "retention.inbound_days", "at least 8 days"),
    ("retention:\n  outbound_days: 0\n", "retention.outbound_days", "at least 1"),
    ("retention:\n  requests_days: soon\n", "retention.requests_days", "expected an integer"),
    ("retention:\n  guest_days: 5\n", "retention", "guest_days"),
    ("retention: 30\n", "retention", "mapping"),
])
def test_bad_retention_is_refused_with_file_line_and_reason(
    tmp_path: Path, text: str, path: str, reason: str
) -> None:
    problems = [str(p) for p in check_config(_config(tmp_path, text))]
    assert any("hotels/demo_hotel.yaml:" in p and path in p and reason in p
               for p in problems), problems


def _t(days_ago: float) -> str:
    return encode_time(NOW - timedelta(days=days_ago))


def _seed(path: Path) -> None:
    """Rows on both sides of each age, at demo_hotel (FRONT_DESK) and seaside_inn. Messages
    are written oldest first, as the server writes them (a purge walks in that order)."""
    conn = sqlite3.connect(path, isolation_level=None)
    inbound = [  # (wamid, number, guest, state, received days ago)
        ("w-other-hotel", SEASIDE_FRONT_DESK, "g1", "done", 400),
        ("w-old-received", FRONT_DESK, "g1", "received", 60),
        ("w-old-parked", FRONT_DESK, "g1", "parked", 40),
        ("w-old-done", FRONT_DESK, "g1", "done", 31), ("w-new-done", FRONT_DESK, "g1", "done", 29),
    ]
    for wamid, number, guest, state, age in inbound:
        conn.execute("INSERT INTO inbound (wamid, phone_number_id, guest_id, kind, payload,"
                     " sent_at, received_at, state) VALUES (?, ?, ?, 'text', '{}', ?, ?, ?)",
                     (wamid, number, guest, _t(age), _t(age), state))
    outbound = [  # (id, number, guest, state, wamid, days ago)
        (1, FRONT_DESK, "g1", "read", "m-old", 91), (2, FRONT_DESK, "g1", "sent", "m-new", 89),
        (3, FRONT_DESK, "g1", "pending", None, 200),
        (4, SEASIDE_FRONT_DESK, "g1", "delivered", "m-other", 400),
    ]
    for id_, number, guest, state, wamid, age in outbound:
        conn.execute("INSERT INTO outbound (id, phone_number_id, guest_id, body, priority,"
                     " state, wamid, created_at, sent_at) VALUES (?, ?, ?, '{}', 0, ?, ?, ?, ?)",
                     (id_, number, guest, state, wamid, _t(age), _t(age)))
    for wamid in ("m-old", "m-new", "m-other"):
        conn.execute("INSERT INTO delivery_statuses (wamid, status, at, recipient_id, payload)"
                     " VALUES (?, 'delivered', ?, 'g1', '{}')", (wamid, _t(100)))
    requests = [  # (id, hotel, guest, status, updated days ago)
        (1, "demo_hotel", "g1", "done", 366), (2, "demo_hotel", "g1", "cancelled", 364),
        (3, "demo_hotel", "g1", "new", 900), (4, "seaside_inn", "g1", "done", 900),
        (5, "demo_hotel", "g-idle", "done", 100),
    ]
    for id_, hotel, guest, status, age in requests:
        conn.execute("INSERT INTO requests (id, hotel_id, department, guest_id, flow_id, kind,"
                     " data, status, created_at, updated_at) VALUES (?, ?, 'front_desk', ?,"
                     " 'check_in', 'check_in', '{\"guest_name\": \"Ana\", \"room\": \"101\"}',"
                     " ?, ?, ?)", (id_, hotel, guest, status, _t(age), _t(age)))
    guests = [  # (hotel, guest, last inbound days ago)
        ("demo_hotel", "g-idle", 731), ("demo_hotel", "g-open", 900),
        ("demo_hotel", "g-recent", 10), ("seaside_inn", "g-idle", 900),
    ]
    for hotel, guest, age in guests:
        conn.execute("INSERT INTO guests (hotel_id, guest_id, data, last_inbound_at)"
                     " VALUES (?, ?, '{\"guest_name\": \"Ana\"}', ?)", (hotel, guest, _t(age)))
        number = FRONT_DESK if hotel == "demo_hotel" else SEASIDE_FRONT_DESK
        conn.execute("INSERT INTO conversations (phone_number_id, guest_id, hotel_id, snapshot,"
                     " last_activity) VALUES (?, ?, ?, '{}', ?)", (number, guest, hotel, _t(age)))
    conn.execute("INSERT INTO requests (hotel_id, department, guest_id, flow_id, kind, data,"
                 " status, created_at) VALUES ('demo_hotel', 'front_desk', 'g-open',"
                 " 'check_in', 'check_in', '{}', 'new', ?)", (_t(900),))
    conn.close()


def _ids(path: Path, sql: str) -> set[object]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute(sql)}
    finally:
        conn.close()


async def test_purge_removes_only_what_is_past_its_age(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with open_store(path):
        pass  # migrated
    _seed(path)
    hotels = load_hotels(CONFIG)  # defaults: 30, 90, 365, 730 days
    demo_hotel = hotels.hotels["demo_hotel"]
    numbers = [d.phone_number_id for d in demo_hotel.departments.values()]
    async with open_store(path) as store:  # demo_hotel only: seaside_inn's rows stay
        demo = await store.retention.purge("demo_hotel", numbers, cutoffs_of(demo_hotel, NOW))
    assert _ids(path, "SELECT wamid FROM inbound") == {
        "w-new-done", "w-old-received", "w-other-hotel"}
    assert _ids(path, "SELECT id FROM outbound") == {2, 3, 4}
    assert _ids(path, "SELECT wamid FROM delivery_statuses") == {"m-new", "m-other"}
    assert _ids(path, "SELECT id FROM requests") == {2, 3, 4, 5, 6}
    # g-idle at demo_hotel is erased (its finished request 5 kept, anonymised); g-open has an
    # open request, g-recent wrote lately, seaside_inn's g-idle is another hotel's.
    assert _ids(path, "SELECT hotel_id || '/' || guest_id FROM guests") == {
        "demo_hotel/g-open", "demo_hotel/g-recent", "seaside_inn/g-idle"}
    assert _ids(path, "SELECT guest_id FROM conversations WHERE hotel_id = 'demo_hotel'") == {
        "g-open", "g-recent"}
    kept = _ids(path, "SELECT guest_id || ' ' || data FROM requests WHERE id = 5")
    assert len(kept) == 1 and str(next(iter(kept))).startswith("forgotten-")
    assert "Ana" not in str(kept) and '"room":"101"' in str(kept)
    assert (demo.inbound, demo.outbound, demo.statuses, demo.requests, demo.guests) == (
        2, 1, 1, 1, 1)
    async with open_store(path) as store:  # every hotel, each by its own ages
        reports = await purge_all(store, hotels, NOW)
    assert reports["seaside_inn"].inbound == 1 and reports["seaside_inn"].guests == 1
    assert reports["demo_hotel"].inbound == 0  # nothing more was past its age


async def test_the_server_sweeps_periodically(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with open_store(path):
        pass
    _seed(path)
    hotels = load_hotels(CONFIG)
    async with open_store(path) as store, open_retention(store, lambda: hotels, SystemClock(),
                                                         every=0.05):
        for _ in range(200):  # bounded: 10 s
            if "w-old-done" not in _ids(path, "SELECT wamid FROM inbound"):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the retention sweep did not run")
    assert "w-old-received" in _ids(path, "SELECT wamid FROM inbound")


def test_looking_for_idle_guests_searches_each_guests_rows_by_index(tmp_path: Path) -> None:
    """The idle-guest query runs inside a writer job every hour: past the hotel's guests it
    reads (the candidates), each check of a guest's requests, scheduled messages, stays and
    messages is an index search by that guest, never the hotel's whole range."""
    conn = sqlite3.connect(tmp_path / "plans.sqlite3", isolation_level=None)
    migrate(conn, MIGRATIONS)
    ran: list[str] = []
    conn.set_trace_callback(ran.append)
    assert purge_idle_guests(conn, "seaside", "?, ?", ("111", "222"), encode_time(NOW)) == 0
    conn.set_trace_callback(None)
    [query] = [sql for sql in ran if sql.startswith("SELECT g.guest_id")]
    plan = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {query}")]
    searches = [step for step in plan if not step.startswith("CORRELATED")]
    assert searches[0].startswith("SEARCH g "), plan  # the hotel's guests
    assert len(searches) == 6, plan
    for step in searches[1:]:
        assert step.startswith("SEARCH ") and "guest_id=?" in step, plan
    conn.close()


async def test_a_message_written_out_of_time_order_goes_at_a_later_purge(
        tmp_path: Path) -> None:
    """The purge walks messages in the order they were written, up to the first one received
    since the cutoff (retention.older_rows): one written after it with an older time (a clock
    stepped back) stays until the cutoff passes that recent one too, then goes."""
    path = tmp_path / "db.sqlite3"
    async with open_store(path):
        pass  # migrated
    conn = sqlite3.connect(path, isolation_level=None)
    for wamid, age in (("w-old", 40), ("w-recent", 20), ("w-stepped-back", 35)):
        conn.execute("INSERT INTO inbound (wamid, phone_number_id, guest_id, kind, payload,"
                     " sent_at, received_at, state) VALUES (?, ?, 'g1', 'text', '{}', ?, ?,"
                     " 'done')", (wamid, FRONT_DESK, _t(age), _t(age)))
    conn.close()
    hotel = load_hotels(CONFIG).hotels["demo_hotel"]  # inbound kept 30 days
    numbers = [d.phone_number_id for d in hotel.departments.values()]
    async with open_store(path) as store:
        first = await store.retention.purge("demo_hotel", numbers, cutoffs_of(hotel, NOW))
        assert first.inbound == 1
        assert _ids(path, "SELECT wamid FROM inbound") == {"w-recent", "w-stepped-back"}
        later = NOW + timedelta(days=11)  # past w-recent's age too
        second = await store.retention.purge("demo_hotel", numbers, cutoffs_of(hotel, later))
    assert second.inbound == 2 and _ids(path, "SELECT wamid FROM inbound") == set()
