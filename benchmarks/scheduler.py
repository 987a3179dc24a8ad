"""The scheduler with a million pending messages: insert and cancel costs, memory, lateness.

Owns: `scripts/bench scheduler [--rows 1000000] [--fire 4000] [--fire-seconds 40]
[--rate 200] [--write]`. Steps, all on 127.0.0.1:

    wheel       the pure timing wheel alone: add and cancel cost per entry (--rows entries)
    insert      --rows scheduled rows written to a fresh database through the store's API
                (batches of 10 000, synchronous=FULL): cost per row. All but --fire of them
                are due 2-30 days ahead (they stay in SQLite); --fire are due one after the
                other over --fire-seconds, starting --lead seconds (30) after the insert ends
    cancel      CANCELS rows cancelled one call each (concurrently, group-committed): cost
    serve       hotelbot serve in a child process on that database (the shipped config,
                unpaced, benchmarks/hotels.py), pinned to one core; its RSS once ready
    fire        while --rate webhook messages a second arrive (guests asking for the menu),
                the --fire rows come due; lateness = the commit of a row's outbox row minus
                its due time, as the scheduler counts it (`hotelbot admin stats`)

Must never: assert a timing, send beyond 127.0.0.1, or wait without a bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import uvloop

from benchmarks.load import make_rounds, open_fake_graph, open_loop, open_session
from benchmarks.process import open_server, pin_harness, plan_pinning
from benchmarks.report import BENCHMARKS_MD, emit, percentile, table
from hotelbot.cli.admin import call
from hotelbot.scheduler import TimingWheel
from hotelbot.store import ScheduledMessage, open_store

LEAD = 30.0  # default seconds between the insert's end and the first due row: the server starts
BATCH = 10_000
CANCELS = 10_000
FIRE_TYPE = "spa_offer"  # the demo hotel's promo: no values needed, a template outside the window
FRONT_DESK = "100000000000001"


@dataclass(slots=True)
class Result:
    rows: int
    fire: int
    fire_seconds: float
    rate: float
    wheel_add_us: float
    wheel_cancel_us: float
    insert_us: float
    cancel_us: float
    db_mb: float
    rss_mb: float
    in_wheel: int
    fired: int
    sent: int
    fire_p50_ms: float
    fire_p99_ms: float
    fire_max_ms: float
    late_p50_ms: float
    late_p99_ms: float
    late_max_ms: float
    fsync_p50_ms: float
    fsync_p99_ms: float
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    posts: int
    errors: int
    ready_before_first_due: bool


def wheel_costs(n: int) -> tuple[float, float]:
    wheel: TimingWheel[int] = TimingWheel(start=0.0, levels=3)
    dues = [random.uniform(0, 1_000_000.0) for _ in range(n)]
    t0 = time.perf_counter()
    for key, due in enumerate(dues):
        wheel.add(key, due)
    t1 = time.perf_counter()
    for key in range(n):
        wheel.cancel(key)
    t2 = time.perf_counter()
    return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6


def fsync_costs(path: Path, n: int = 200) -> tuple[float, float]:
    """p50 and p99 of one 4 KiB write + fsync on the data directory's disk, in ms."""
    took = []
    with path.open("wb") as handle:
        for _ in range(n):
            handle.write(b"x" * 4096)
            handle.flush()
            t0 = time.perf_counter()
            os.fsync(handle.fileno())
            took.append(time.perf_counter() - t0)
    path.unlink()
    return percentile(took, 0.5) * 1000, percentile(took, 0.99) * 1000


def row(guest: int, due: datetime) -> ScheduledMessage:
    return ScheduledMessage(hotel_id="demo_hotel", phone_number_id=FRONT_DESK,
                            guest_id=f"4478{guest:08d}", message_type=FIRE_TYPE, scheduled_at=due)


async def prepare(db: Path, args: argparse.Namespace) -> tuple[float, float, datetime]:
    """Insert every row (the far ones, then the ones to fire); cancel CANCELS far ones.
    Returns (insert µs/row, cancel µs/row, the first due of the rows that fire)."""
    far = args.rows - args.fire
    now = datetime.now(UTC)
    insert_seconds = 0.0
    async with open_store(db) as store:
        for start in range(0, far, BATCH):
            rows = [row(i, now + timedelta(days=2, seconds=random.uniform(0, 28 * 86400)))
                    for i in range(start, min(far, start + BATCH))]
            t0 = time.perf_counter()
            await store.scheduled.insert(rows, now)
            insert_seconds += time.perf_counter() - t0
        first = datetime.now(UTC) + timedelta(seconds=args.lead)
        step = args.fire_seconds / max(args.fire, 1)
        fire = [row(far + i, first + timedelta(seconds=i * step)) for i in range(args.fire)]
        t0 = time.perf_counter()
        await store.scheduled.insert(fire, now)
        insert_seconds += time.perf_counter() - t0
        victims = random.sample(range(1, far + 1), min(CANCELS, far))
        t0 = time.perf_counter()
        for chunk in range(0, len(victims), 500):
            await asyncio.gather(*(store.scheduled.cancel(v, "bench", now)
                                   for v in victims[chunk:chunk + 500]))
        cancel_us = (time.perf_counter() - t0) / max(len(victims), 1) * 1e6
    return insert_seconds / max(args.rows, 1) * 1e6, cancel_us, first


async def run(args: argparse.Namespace) -> Result:
    pinning = plan_pinning(True)
    pin_harness(pinning)
    add_us, cancel_wheel_us = wheel_costs(args.rows)
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        db = data / "hotelbot.sqlite3"
        insert_us, cancel_us, first_due = await prepare(db, args)
        db_mb = sum(p.stat().st_size for p in data.glob("hotelbot.sqlite3*")) / 2**20
        fsync = fsync_costs(data / "fsync.probe")
        async with open_fake_graph() as (_fake, graph_url), open_server(
                "hotelbot", graph_url=graph_url, data_dir=data, cpu=pinning.server) as server:
            ready_in_time = datetime.now(UTC) < first_due
            rss_mb = server.rss_bytes() / 2**20
            stats = await asyncio.to_thread(call, data / "admin.sock", {"cmd": "stats"})
            in_wheel = stats["stats"]["scheduler"]["in_wheel"]
            wait = (first_due - datetime.now(UTC)).total_seconds() - 1.0
            seconds = args.fire_seconds + 3.0 + max(wait, 0.0)
            guests = max(1, int(args.rate * seconds))
            shots = make_rounds(guests=guests, rounds=1, prefix="3480")[0]
            async with open_session(256) as session:
                posts = await open_loop(session, server.url, shots, args.rate)
            deadline = time.monotonic() + 60.0
            while True:
                stats = await asyncio.to_thread(call, data / "admin.sock", {"cmd": "stats"})
                sched = stats["stats"]["scheduler"]
                if sched["fired"] >= args.fire or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
    acks = [p.ack - p.start for p in posts if p.status == 200]
    return Result(
        rows=args.rows, fire=args.fire, fire_seconds=args.fire_seconds, rate=args.rate,
        wheel_add_us=add_us, wheel_cancel_us=cancel_wheel_us, insert_us=insert_us,
        cancel_us=cancel_us, db_mb=db_mb, rss_mb=rss_mb, in_wheel=in_wheel,
        fired=sched["fired"], sent=sched["sent"], fire_p50_ms=sched["fire_p50_ms"],
        fire_p99_ms=sched["fire_p99_ms"], fire_max_ms=sched["fire_max_ms"],
        fsync_p50_ms=fsync[0], fsync_p99_ms=fsync[1], late_p50_ms=sched["late_p50_ms"],
        late_p99_ms=sched["late_p99_ms"], late_max_ms=sched["late_max_ms"],
        ack_p50_ms=percentile(acks, 0.5) * 1000 if acks else 0.0,
        ack_p99_ms=percentile(acks, 0.99) * 1000 if acks else 0.0,
        ack_max_ms=max(acks) * 1000 if acks else 0.0,
        posts=len(posts), errors=sum(1 for p in posts if p.status != 200),
        ready_before_first_due=ready_in_time)


def render(r: Result) -> str:
    rows = [
        ("pending rows", f"{r.rows:,}"),
        ("wheel add / cancel per entry", f"{r.wheel_add_us:.2f} µs / {r.wheel_cancel_us:.2f} µs"),
        ("SQLite insert per row (batches of 10 000)", f"{r.insert_us:.1f} µs"),
        (f"SQLite cancel per row ({CANCELS:,} single calls, group-committed)",
         f"{r.cancel_us:.1f} µs"),
        ("database size", f"{r.db_mb:.0f} MiB"),
        ("server RSS once ready", f"{r.rss_mb:.0f} MiB"),
        ("rows in the wheel (the next hour)", f"{r.in_wheel:,}"),
        (f"fired during the load ({r.fire:,} due over {r.fire_seconds:.0f} s)",
         f"{r.fired:,} ({r.sent:,} sent)"),
        ("timer lateness p50 / p99 / max (the wheel fired it)",
         f"{r.fire_p50_ms:.1f} / {r.fire_p99_ms:.1f} / {r.fire_max_ms:.1f} ms"),
        ("commit lateness p50 / p99 / max (outbox row committed)",
         f"{r.late_p50_ms:.1f} / {r.late_p99_ms:.1f} / {r.late_max_ms:.1f} ms"),
        ("this disk's fsync p50 / p99 (4 KiB)",
         f"{r.fsync_p50_ms:.1f} / {r.fsync_p99_ms:.1f} ms"),
        (f"webhook load ({r.rate:.0f} msgs/s) ack p50 / p99 / max",
         f"{r.ack_p50_ms:.1f} / {r.ack_p99_ms:.1f} / {r.ack_max_ms:.1f} ms ({r.posts:,} posts, "
         f"{r.errors} errors)"),
    ]
    note = ("" if r.ready_before_first_due else
            "\n**The server was not ready before the first due row: lateness includes start-up.**")
    return table(("measure", "result"), rows) + note + (
        "\n\nTimer lateness: when the wheel handed the row over, minus its due time. Commit "
        "lateness: when its outbox row and its `sent` mark committed (one transaction, after "
        "the `due` claim's own commit: two fsyncs with synchronous=FULL), minus its due time; "
        "the pacer's send follows. Both from the scheduler's statistics (`hotelbot admin "
        "stats`). "
        "The machine is shared with other work: one run, read it as an order of magnitude.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench scheduler")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fire", type=int, default=4_000)
    parser.add_argument("--fire-seconds", type=float, default=40.0)
    parser.add_argument("--rate", type=float, default=200.0, help="webhook messages a second")
    parser.add_argument("--lead", type=float, default=LEAD,
                        help="seconds from the insert's end to the first due row")
    parser.add_argument("--quick", action="store_true", help="20 000 rows, 500 fired, 5 s")
    parser.add_argument("--write", action="store_true", help=f"update {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.fire, args.fire_seconds, args.rate = 20_000, 500, 5.0, 100.0
        args.lead = min(args.lead, 10.0)
    if args.fire > args.rows:
        parser.error("--fire must not exceed --rows")
    result = uvloop.run(run(args))
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(asdict(result), option=orjson.OPT_INDENT_2))
    emit("scheduler", sys.argv[1:] if argv is None else argv, render(result),
         BENCHMARKS_MD if args.write else args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
