"""WAL frames per step commit: how many 4 KiB pages one message's transaction writes, by b-tree.

Owns: committing, through the project's own store (`open_store` and its repositories), the
throughput benchmark's kind of steps (benchmarks/load.py: guest i writes "hello", "menu", "hi"
to NUMBERS[i % 5], round after round, a minute apart), one message per commit as at an idle
conversation: `commit_recorded_step` (the message recorded `done`, its guest touched, its
window moved, the conversation's snapshot upserted, the reply inserted `sending`) with the
previous reply's lazy `sent` mark riding along, as the pacer leaves it. The steps are the
engine's own (flows.step on the shipped configuration, unpaced like the benchmark), so
snapshots and replies have their real sizes. With the WAL's autocheckpoint off (in the probe
only) and the WAL truncated before each phase, frames = (WAL size - 32) / (page size + 24);
each frame's page number, read back from its 24-byte header in the -wal file, is named by
dbstat (which b-tree owns that page at the end of the phase: a page freed and reused counts
for its last owner). Phases: new guests (their first message), then the same guests again
(returning). `--together N` sends N guests' messages at once: the writer commits them as one
group, as under load (frames a message then fall: pages are shared). Also CPU time a
message, best of the runs: the process's, and the SQLite connection thread's own
(time.thread_time on that thread: the commits, without the engine).
Must never: write outside a temporary directory, or be read as time (it counts pages).

    python -m benchmarks.wal_frames [--guests 2000] [--top 16] [--runs 3] [--together 1]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from benchmarks.hotels import unpaced_config
from benchmarks.load import NUMBERS, ROUND_TEXTS
from hotelbot.cli.screen import SendText, message_item, webhook_body
from hotelbot.config import load_hotels
from hotelbot.flows import (
    Context,
    GuestChanged,
    Hotels,
    SendMessage,
    TextReceived,
    new_context,
    step,
)
from hotelbot.flows import Guest as SharedGuest
from hotelbot.store import OutboundMessage, Priority, StepCommit, Store, open_store
from hotelbot.typedefs import NumberId
from hotelbot.whatsapp import parse_webhook

T = TypeVar("T")
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # by day: every department open
WAL_HEADER = 32
FRAME_HEADER = 24


@dataclass(slots=True)
class _Guest:
    """What the conversation actor keeps in memory for a guest between steps."""

    context: Context | None = None
    data: dict[str, object] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase's count: commits, the WAL frames they wrote (by b-tree), and the process's
    CPU time a message (the engine's step, the commit on the SQLite thread, the loop)."""

    name: str
    messages: int
    commits: int
    frames: int
    by_btree: Counter[str]
    page_size: int
    cpu_us: float
    sqlite_us: float  # the connection thread's own CPU time a message (time.thread_time)


class _Probe:
    def __init__(self, store: Store, hotels: Hotels, wal: Path, together: int) -> None:
        self.store, self.hotels, self.wal, self.together = store, hotels, wal, together
        self.hotel_of = {number: hotel for number, (hotel, _) in hotels.numbers.items()}
        self.now = START
        self.unsent: list[tuple[int, str, datetime]] = []
        self.marks: set[asyncio.Task[None]] = set()

    async def message(self, guest: _Guest, guest_id: str, number: str, text: str,
                      wamid: str) -> None:
        """One guest message as the actor handles it at an idle conversation: the step
        committed with the message recorded, then the reply's POST and its lazy sent mark."""
        self.now += timedelta(milliseconds=1)
        item = message_item(SendText(text=text), guest=guest_id, wamid=wamid,
                             now=int(self.now.timestamp()))
        parsed = parse_webhook(webhook_body(number, guest_id, item))
        record = self.store.inbound.prepare(parsed.messages[0], at=self.now,
                                            hotel_of=self.hotel_of)
        hotel_id, dept = self.hotels.numbers[NumberId(number)]
        hotel = self.hotels.hotels[hotel_id]
        context = guest.context or new_context(
            hotel, guest_id=guest_id, phone_number_id=number, department=dept,
            language=guest.language, accumulated_data=guest.data)  # type: ignore[arg-type]
        outcome = step(hotel, context, TextReceived(text=text), self.now,
                       guest=SharedGuest(data=guest.data, language=guest.language))  # type: ignore[arg-type]
        changed = next((e for e in outcome.effects if isinstance(e, GuestChanged)), None)
        commit = StepCommit(
            phone_number_id=number, guest_id=guest_id, hotel_id=hotel_id,
            context=outcome.context.to_dict(),
            guest_data=changed.data if changed else outcome.context.accumulated_data,
            language=changed.language if changed else outcome.context.language,
            inbound_seq=None,
            outbound=tuple(OutboundMessage(phone_number_id=number, guest_id=guest_id,
                                           body=e.body, priority=Priority.REPLY)
                           for e in outcome.effects if isinstance(e, SendMessage)),
            at=self.now, guest_changed=changed is not None, first_sending=True)
        done = await self.store.conversations.commit_recorded_step(commit, record)
        assert done.seq is not None, f"{wamid} was recorded before"
        guest.context = outcome.context
        if changed is not None:
            guest.data, guest.language = dict(changed.data), changed.language
        # The pacer's POST answered: the sent mark is lazy, it rides with the next commit.
        sent = [(row.id, f"wamid.OUT{row.id}", self.now) for row in done.outbound
                if row.id is not None]
        task = asyncio.create_task(self.store.outbox.mark_sent_many(sent))
        self.marks.add(task)
        task.add_done_callback(self.marks.discard)

    async def phase(self, name: str, guests: list[_Guest], rounds: range) -> Phase:
        await _on_connection(self.store, _truncate_wal)  # the WAL starts empty
        before = self.store.statistics().batches_committed
        started = time.process_time()
        thread_started = await _on_connection(self.store, _thread_time)
        for k in rounds:
            # A guest's next message comes a minute later (Meta's timestamps are whole
            # seconds: one in the same second would leave the guest's and window's rows as
            # they were, and SQLite writes no page for a row updated to the same bytes).
            self.now = max(self.now, START + timedelta(minutes=k))
            for first in range(0, len(guests), self.together):
                await asyncio.gather(*(
                    self.message(guests[i], f"3460{i:07d}", NUMBERS[i % len(NUMBERS)],
                                 ROUND_TEXTS[k % len(ROUND_TEXTS)], f"wamid.BENCH3460{i:07d}R{k}")
                    for i in range(first, min(first + self.together, len(guests)))))
        thread_cpu = await _on_connection(self.store, _thread_time) - thread_started
        cpu = time.process_time() - started
        commits = self.store.statistics().batches_committed - before
        messages = len(guests) * len(rounds)
        pages, owners, page_size = await _on_connection(self.store, _pages_and_owners)
        frames, by_btree = _frames(self.wal, page_size, pages, owners)
        return Phase(name, messages, commits, frames, by_btree, page_size, cpu / messages * 1e6,
                     thread_cpu / messages * 1e6)


def _on_connection(store: Store, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
    """Run `fn` on the store's own connection thread (the probe's PRAGMAs and dbstat read:
    autocheckpoint is a setting of the connection that writes)."""
    return store._db.read(fn)


def _thread_time(conn: sqlite3.Connection) -> float:
    return time.thread_time()  # on the connection's thread: its CPU time so far


def _no_autocheckpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_autocheckpoint = 0").fetchall()


def _truncate_wal(conn: sqlite3.Connection) -> None:
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, "the WAL could not be truncated"


def _pages_and_owners(conn: sqlite3.Connection) -> tuple[int, dict[int, str], int]:
    """The probe's read: page count, which b-tree owns each page (dbstat), page size."""
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    owners = {int(page): str(name) for name, page in
              conn.execute("SELECT name, pageno FROM dbstat")}
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    return pages, owners, page_size


def _frames(wal: Path, page_size: int, pages: int,
            owners: dict[int, str]) -> tuple[int, Counter[str]]:
    raw = wal.read_bytes()
    frame = FRAME_HEADER + page_size
    count = (len(raw) - WAL_HEADER) // frame if raw else 0
    by_btree: Counter[str] = Counter()
    for n in range(count):
        (page,) = struct.unpack_from(">I", raw, WAL_HEADER + n * frame)
        by_btree[owners.get(page, "(free or page 1)" if page <= pages else "(beyond)")] += 1
    return count, by_btree


def _report(phase: Phase, top: int) -> None:
    per = phase.frames / max(1, phase.commits)
    print(f"{phase.name}: {phase.messages} messages in {phase.commits} commits, {phase.frames}"
          f" frames of {phase.page_size} B: {per:.2f} frames a commit,"
          f" {phase.frames / phase.messages:.2f} a message;"
          f" CPU a message (best of the runs): {phase.cpu_us:.1f} µs the process,"
          f" {phase.sqlite_us:.1f} µs the SQLite thread")
    for name, frames in phase.by_btree.most_common(top):
        print(f"    {name:34} {frames / max(1, phase.commits):6.2f}")


async def measure(guests: int, hotels: Hotels, tmp: Path,
                  together: int = 1) -> tuple[Phase, Phase]:
    """One run on a new store in `tmp`: the new guests' phase, then the same guests again;
    `together` guests' messages at a time (1: each its own commit; more: the writer commits
    them in one group, as under load)."""
    path = tmp / "probe.db"
    async with open_store(path, synchronous="NORMAL") as store:
        await _on_connection(store, _no_autocheckpoint)
        probe = _Probe(store, hotels, path.with_name(path.name + "-wal"), together)
        known = [_Guest() for _ in range(guests)]
        first = await probe.phase("new guests", known, range(1))
        again = await probe.phase("the same guests again", known, range(1, len(ROUND_TEXTS)))
        await asyncio.gather(*probe.marks)
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        name.unlink(missing_ok=True)
    return first, again


async def _run(guests: int, top: int, runs: int, together: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hotels = load_hotels(unpaced_config(Path(tmp) / "config"))
        measured = [await measure(guests, hotels, Path(tmp), together) for _ in range(runs)]
    for k in range(2):  # frames are the same every run; CPU time: the best run's
        phase = measured[-1][k]
        _report(Phase(phase.name, phase.messages, phase.commits, phase.frames, phase.by_btree,
                      phase.page_size, min(run[k].cpu_us for run in measured),
                      min(run[k].sqlite_us for run in measured)), top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=16, help="b-trees listed per phase")
    parser.add_argument("--runs", type=int, default=3, help="runs (CPU time: the best)")
    parser.add_argument("--together", type=int, default=1,
                        help="guests' messages at a time: one group commit (1: one each)")
    args = parser.parse_args()
    if min(args.guests, args.runs, args.together) < 1:
        parser.error("--guests, --runs and --together must be at least 1")
    asyncio.run(_run(args.guests, args.top, args.runs, args.together))


if __name__ == "__main__":
    main()
