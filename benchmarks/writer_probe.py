"""The store's group-commit writer alone, in process: event-loop CPU per job and jobs/s.

Owns: a real store (`open_store`) on a file in a temporary directory, driven by the event loop
the server runs on (uvloop), through a repository's public calls: `statuses.record` of one new
status (a small INSERT, one writer job with `admit`, as a status webhook's) and
`statuses.latest` (one read on the connection thread). Cases, each with `synchronous` FULL (as
shipped: an fsync per commit) and NORMAL (no fsync: the loop's own cost shows):

- serial: one job at a time, awaited before the next (the 1 000 msgs/s case: a batch is one job)
- concurrent: 64 submitters, each awaiting its job before submitting the next (throughput)
- read: one read at a time (reads share the writer's hand-off to the connection thread)

Reports, best of 3 runs per case: CPU of the event-loop thread per job (`time.thread_time()`
on that thread: the connection thread's SQLite and fsync work is not in it), jobs/s (wall
clock), and jobs per commit. Must never: write outside its temporary directory, or be read as
the server's cost (HTTP, actors and sends are not here: scripts/bench throughput measures them).

    python -m benchmarks.writer_probe [--jobs 5000] [--runs 3] [--dir DIR] [--only serial ...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import uvloop

from hotelbot.log import configure_logging
from hotelbot.store import DeliveryStatus, Store, open_store
from hotelbot.store.schema import Synchronous

AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SUBMITTERS = 64
CASES = ("serial", "concurrent", "read")


@dataclass(frozen=True, slots=True)
class Run:
    loop_cpu_us: float  # event-loop thread CPU per job, µs
    per_second: float  # jobs per wall-clock second
    per_commit: float  # jobs per committed batch (1.0 for reads: no commit)


def _status(n: int) -> DeliveryStatus:
    return DeliveryStatus(wamid=f"wamid.probe{n}", status="sent", at=AT, recipient_id="g1")


async def _serial(store: Store, first: int, jobs: int) -> None:
    for n in range(first, first + jobs):
        await store.statuses.record([_status(n)])


async def _concurrent(store: Store, first: int, jobs: int) -> None:
    async def submitter(offset: int) -> None:
        for n in range(first + offset, first + jobs, SUBMITTERS):
            await store.statuses.record([_status(n)])

    await asyncio.gather(*(submitter(i) for i in range(SUBMITTERS)))


async def _read(store: Store, first: int, jobs: int) -> None:
    wamid = _status(0).wamid
    for _ in range(jobs):
        await store.statuses.latest(wamid)


DRIVERS: dict[str, Callable[[Store, int, int], Awaitable[None]]] = {
    "serial": _serial,
    "concurrent": _concurrent,
    "read": _read,
}


async def _measure(path: Path, synchronous: Synchronous, case: str, jobs: int) -> Run:
    async with open_store(path, synchronous=synchronous) as store:
        await store.statuses.record([_status(0)])  # warm: the file, the statements' cache
        drive = DRIVERS[case]
        await drive(store, 1, min(jobs, 500))
        before = store.statistics()
        first = 1_000_000
        cpu, wall = time.thread_time(), time.perf_counter()
        await drive(store, first, jobs)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        after = store.statistics()
    commits = after.batches_committed - before.batches_committed
    committed = after.jobs_committed - before.jobs_committed
    return Run(
        loop_cpu_us=cpu / jobs * 1e6,
        per_second=jobs / wall,
        per_commit=committed / commits if commits else 1.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary file goes")
    parser.add_argument("--only", nargs="*", choices=CASES, default=list(CASES))
    parser.add_argument("--sync", nargs="*", choices=get_args(Synchronous),
                        default=["FULL", "NORMAL"])
    args = parser.parse_args()
    configure_logging(json=True, level="warning", stream=sys.stderr)
    print(f"{'sync':6} {'case':10} {'loop µs/job':>11} {'jobs/s':>8} {'jobs/commit':>11}"
          f"   (best of {args.runs}, {args.jobs} jobs)")
    for synchronous in args.sync:
        for case in args.only:
            runs = []
            for run in range(args.runs):
                with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
                    path = Path(tmp) / f"probe{run}.db"
                    runs.append(uvloop.run(_measure(path, synchronous, case, args.jobs)))
            best = min(runs, key=lambda r: r.loop_cpu_us)
            fastest = max(r.per_second for r in runs)
            print(f"{synchronous:6} {case:10} {best.loop_cpu_us:11.1f} {fastest:8.0f} "
                  f"{best.per_commit:11.2f}")


if __name__ == "__main__":
    main()
