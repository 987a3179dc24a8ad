"""The outbound pacer against the clock: the number's rate, the pair rate, replies first.

Owns: `scripts/bench pacing [--quick] [--per-second 80] [--write]`, in one process: a real
SQLite store in a temp dir, the fake Graph API on 127.0.0.1 (benchmarks/load.py), the real
Graph client pointed at it and the real pacer (`open_pacer`, production `SystemClock`, one
PacingPolicy per number). Everything is measured from the fake's receive times
(`RecordedSend.monotonic`); every row is matched to its send by its
`biz_opaque_callback_data` ("outbox:<id>"). Three scenarios:

    broadcast   N marketing rows to N guests with open windows, committed at once, on one
                number: achieved rate and the most sends in any one-second window (<= limit)
    pair        M rows to one guest on another number (run alongside the broadcast): the
                burst observed and the smallest gap between sends after it (>= pair interval)
    replies     the broadcast again on a third number while reply rows (Priority.REPLY) for
                other guests are committed at a steady rate: how late each reply is (commit
                -> received) against how late the broadcast rows are

Must never: assert a timing, send beyond 127.0.0.1, or wait without a bound (every wait has
a deadline derived from the policy and the row counts).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import uvloop

from benchmarks.load import NUMBERS, open_fake_graph
from benchmarks.report import BENCHMARKS_MD, emit, ms, percentile, table
from benchmarks.server import ACCESS_TOKEN
from hotelbot.clock import SystemClock
from hotelbot.devtools.fake_graph import FakeGraph, RecordedSend
from hotelbot.flows import Context
from hotelbot.log import configure_logging
from hotelbot.outbound import PacingPolicy
from hotelbot.outbound.pacer import Pacer, open_pacer
from hotelbot.store import (
    InboundMessage,
    OutboundMessage,
    Priority,
    StepCommit,
    Store,
    open_store,
)
from hotelbot.store.records import outbox_id_of
from hotelbot.whatsapp.client import GraphClient, open_graph_client

GRAPH_VERSION = "v25.0"
HOTEL = "demo_hotel"
BROADCAST_NUMBER, PAIR_NUMBER, MIXED_NUMBER = NUMBERS[0], NUMBERS[1], NUMBERS[2]
PAIR_GUEST = "34620000001"
WINDOWS_PER_WEBHOOK = 500  # inbound messages recorded per record_webhook call
GAP_TOLERANCE = 0.05  # seconds: scheduling and loopback jitter allowed on a pair gap
# The rate checked with the same allowance: sends in any window of 1 s - RATE_TOLERANCE, so
# sends the pacer stamped 1 s apart but that reached the fake a few ms sooner or later than
# the ones before them do not count twice. The strict one-second count is reported beside it.
RATE_TOLERANCE = 0.05
WAIT_SLACK = 30.0  # seconds added to every wait's expected duration (its bound)


# --- the rig ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Rig:
    store: Store
    pacer: Pacer
    fake: FakeGraph
    committed: dict[int, float]  # outbox id -> monotonic time its commit returned
    called: dict[int, float]  # outbox id -> when the pacer called the transport for it

    async def open_windows(self, number: str, guests: Sequence[str]) -> None:
        """Each guest wrote to `number` a minute ago: their 24-hour windows are open."""
        now = datetime.now(UTC)
        for start in range(0, len(guests), WINDOWS_PER_WEBHOOK):
            messages = [
                InboundMessage(wamid=f"wamid.PACING.{number}.{guest}", phone_number_id=number,
                               guest_id=guest, kind="text", payload={"type": "text"},
                               sent_at=now)
                for guest in guests[start:start + WINDOWS_PER_WEBHOOK]
            ]
            await self.store.inbound.record_webhook(messages, [], [], at=now,
                                                    hotel_of={number: HOTEL})

    async def commit(self, number: str, guest: str, texts: Sequence[str],
                     priority: Priority) -> tuple[OutboundMessage, ...]:
        """One engine step's commit for `guest` (its rows), then the pacer is told."""
        context = Context(hotel_id=HOTEL, guest_id=guest, phone_number_id=number,
                          department="front_desk", language="en")
        rows = tuple(OutboundMessage(phone_number_id=number, guest_id=guest, priority=priority,
                                     body={"type": "text", "text": {"body": text}})
                     for text in texts)
        stored = await self.store.conversations.commit_step(StepCommit(
            phone_number_id=number, guest_id=guest, hotel_id=HOTEL, context=context.to_dict(),
            guest_data={}, language="en", inbound_seq=None, outbound=rows,
            at=datetime.now(UTC), guest_changed=False,
        ))
        done = time.monotonic()
        for row in stored:
            self.committed[row.id] = done
        self.pacer.submit(stored)
        return stored

    def sends_of(self, number: str) -> list[RecordedSend]:
        return [s for s in self.fake.sends if s.phone_number_id == number]

    async def wait_sends(self, number: str, count: int, limit: float) -> list[RecordedSend]:
        """Until `count` sends from `number` were received, or `limit` seconds passed."""
        deadline = time.monotonic() + limit
        seen = mine = 0
        while True:
            sends = self.fake.sends
            mine += sum(1 for s in itertools.islice(sends, seen, None)
                        if s.phone_number_id == number)
            seen = len(sends)
            left = deadline - time.monotonic()
            if mine >= count or left <= 0:
                return self.sends_of(number)
            with suppress(TimeoutError):
                await self.fake.wait_sent(seen + 1, timeout=left)

    def lateness(self, sends: Iterable[RecordedSend], ids: set[int]) -> list[float]:
        """Seconds from each row's commit to the fake receiving it, for rows in `ids`."""
        late = []
        for send in sends:
            row = row_id(send)
            if row in ids:
                late.append(send.monotonic - self.committed[row])
        return late


@dataclass(slots=True)
class TimedTransport:
    """The Graph client, noting when the pacer called it for each row (its POST start)."""

    client: GraphClient
    called: dict[int, float]  # outbox id -> monotonic time of the pacer's send() call

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        callback = body.get("biz_opaque_callback_data")
        row = outbox_id_of(callback) if isinstance(callback, str) else None
        if row is not None:
            self.called[row] = time.monotonic()
        return await self.client.send(phone_number_id, guest_id, body)

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        await self.client.mark_read(phone_number_id, wamid)


def row_id(send: RecordedSend) -> int | None:
    callback = send.body.get("biz_opaque_callback_data")
    return outbox_id_of(callback) if isinstance(callback, str) else None


def max_in_any_second(times: Sequence[float], width: float = 1.0) -> int:
    """The most sends whose receive times fall in one window (t - width, t]."""
    ordered = sorted(times)
    best, left = 0, 0
    for right, t in enumerate(ordered):
        while ordered[left] <= t - width:
            left += 1
        best = max(best, right - left + 1)
    return best


def complete(sends: Sequence[RecordedSend], ids: set[int]) -> tuple[int, int]:
    """(rows of `ids` received at least once, rows received more than once)."""
    seen: dict[int, int] = {}
    for send in sends:
        row = row_id(send)
        if row in ids:
            seen[row] = seen.get(row, 0) + 1
    return len(seen), sum(1 for n in seen.values() if n > 1)


# --- the scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BroadcastResult:
    rows: int
    sent: int
    duplicates: int
    limit: int  # per_second of the policy
    seconds: float  # first commit returned -> last send received
    rate: float  # rows / seconds
    max_per_second: int  # most sends received in any one-second window (should be <= limit)
    max_per_second_tolerant: int  # ... in any window of 1 s - RATE_TOLERANCE (must be <= limit)
    max_per_second_called: int  # most of the pacer's send() calls in any one-second window
    late_p50: float
    late_p99: float
    late_max: float


async def broadcast(rig: Rig, number: str, guests: Sequence[str], limit: int,
                    text: str = "Spa week: 20 % off") -> tuple[BroadcastResult, set[int]]:
    await rig.open_windows(number, guests)
    stored = await asyncio.gather(*(rig.commit(number, g, [text], Priority.MARKETING)
                                    for g in guests))
    ids = {row.id for rows in stored for row in rows}
    first = min(rig.committed[i] for i in ids)
    sends = await rig.wait_sends(number, len(ids), len(ids) / limit * 2 + WAIT_SLACK)
    return summarise_broadcast(rig, sends, ids, first, limit), ids


def summarise_broadcast(rig: Rig, sends: Sequence[RecordedSend], ids: set[int], first: float,
                        limit: int) -> BroadcastResult:
    mine = [s for s in sends if row_id(s) in ids]
    sent, duplicates = complete(mine, ids)
    seconds = max((s.monotonic for s in mine), default=first) - first
    late = rig.lateness(mine, ids)
    return BroadcastResult(
        rows=len(ids), sent=sent, duplicates=duplicates, limit=limit, seconds=seconds,
        rate=len(mine) / seconds if seconds > 0 else math.nan,
        max_per_second=max_in_any_second([s.monotonic for s in sends]),
        max_per_second_tolerant=max_in_any_second([s.monotonic for s in sends],
                                                  1.0 - RATE_TOLERANCE),
        max_per_second_called=max_in_any_second(
            [rig.called[i] for s in sends if (i := row_id(s)) is not None and i in rig.called]),
        late_p50=percentile(late, 50), late_p99=percentile(late, 99), late_max=max(late),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PairResult:
    rows: int
    sent: int
    duplicates: int
    interval: float  # the policy's pair_interval
    burst_policy: int  # the policy's pair_burst
    burst_observed: int  # sends before the first gap longer than half the interval
    first_gap: float  # last burst send -> first paced send (interval - the burst's spread)
    min_gap_after_burst: float  # smallest gap between the paced sends (>= interval)
    bucket_slack: float  # min over k of t[burst + k - 1] - t[0] - k * interval (>= 0)
    gaps: list[float]  # every gap between consecutive sends, in order


async def many_to_one(rig: Rig, number: str, guest: str, rows: int,
                      policy: PacingPolicy) -> PairResult:
    await rig.open_windows(number, [guest])
    stored = await rig.commit(number, guest, [f"note {k + 1}" for k in range(rows)],
                              Priority.SERVICE)
    ids = {row.id for row in stored}
    expected = max(rows - policy.pair_burst, 0) * policy.pair_interval
    sends = await rig.wait_sends(number, rows, expected * 1.5 + WAIT_SLACK)
    mine = sorted((s for s in sends if row_id(s) in ids), key=lambda s: s.monotonic)
    sent, duplicates = complete(mine, ids)
    times = [s.monotonic for s in mine]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    burst = next((k + 1 for k, gap in enumerate(gaps) if gap > policy.pair_interval / 2),
                 len(times))
    after = gaps[burst:]
    slack = [times[policy.pair_burst + k - 1] - times[0] - k * policy.pair_interval
             for k in range(1, len(times) - policy.pair_burst + 1)]
    return PairResult(
        rows=rows, sent=sent, duplicates=duplicates, interval=policy.pair_interval,
        burst_policy=policy.pair_burst, burst_observed=burst,
        first_gap=gaps[burst - 1] if burst - 1 < len(gaps) else math.nan,
        min_gap_after_burst=min(after, default=math.nan), bucket_slack=min(slack, default=0.0),
        gaps=gaps,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RepliesResult:
    broadcast: BroadcastResult
    reply_rate: float  # replies committed per second while the broadcast ran
    replies: int
    replies_sent: int
    reply_late_p50: float
    reply_late_p99: float
    reply_late_max: float


async def replies_during_broadcast(rig: Rig, number: str, guests: Sequence[str],
                                   reply_guests: Sequence[str], reply_rate: float,
                                   limit: int) -> RepliesResult:
    await rig.open_windows(number, [*guests, *reply_guests])

    async def replies() -> set[int]:
        ids: set[int] = set()
        t0 = time.monotonic()
        for k, guest in enumerate(reply_guests):
            delay = t0 + k / reply_rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            stored = await rig.commit(number, guest, ["Your towels are on their way."],
                                      Priority.REPLY)
            ids.update(row.id for row in stored)
        return ids

    replying = asyncio.create_task(replies())
    result, broadcast_ids = await broadcast(rig, number, guests, limit,
                                            text="Late checkout, this week only")
    reply_ids = await asyncio.wait_for(replying, timeout=len(reply_guests) / reply_rate
                                       + WAIT_SLACK)
    sends = await rig.wait_sends(number, len(broadcast_ids) + len(reply_ids), WAIT_SLACK)
    first = min(rig.committed[i] for i in broadcast_ids)
    result = summarise_broadcast(rig, sends, broadcast_ids, first, limit)
    replied = [s for s in sends if row_id(s) in reply_ids]
    late = rig.lateness(replied, reply_ids)
    return RepliesResult(
        broadcast=result, reply_rate=reply_rate, replies=len(reply_ids),
        replies_sent=complete(replied, reply_ids)[0],
        reply_late_p50=percentile(late, 50), reply_late_p99=percentile(late, 99),
        reply_late_max=max(late, default=math.nan),
    )


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingResult:
    per_second: int
    pair_interval: float
    pair_burst: int
    broadcast: BroadcastResult
    pair: PairResult
    replies: RepliesResult
    failed: int  # pacer statistics over the whole run: must be 0
    skipped: int
    retried: int
    refused: int  # the fake's refused and invalid sends: must be 0
    invalid: int
    ok: bool  # every invariant held (see `invariants`)


def guests(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:07d}" for i in range(count)]


async def run(*, rows: int, pair_rows: int, reply_rate: float,
              policy: PacingPolicy) -> PacingResult:
    # the replies run while the broadcast should: rows / rate seconds
    reply_count = max(1, math.floor(rows / policy.per_second * reply_rate))
    called: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="hotelbot-pacing-") as tmp:
        async with (
            open_fake_graph() as (fake, graph_url),
            open_store(Path(tmp) / "pacing.db") as store,
            open_graph_client(graph_url, GRAPH_VERSION, ACCESS_TOKEN) as client,
            open_pacer(TimedTransport(client, called), store.outbox, store.windows, SystemClock(),
                       policy_of=lambda number: policy) as pacer,
        ):
            rig = Rig(store, pacer, fake, {}, called)
            burst, pair = await asyncio.gather(
                broadcast(rig, BROADCAST_NUMBER, guests("3461", rows), policy.per_second),
                many_to_one(rig, PAIR_NUMBER, PAIR_GUEST, pair_rows, policy),
            )
            mixed = await replies_during_broadcast(
                rig, MIXED_NUMBER, guests("3463", rows), guests("3464", reply_count),
                reply_rate, policy.per_second)
            await asyncio.wait_for(pacer.wait_idle(), timeout=WAIT_SLACK)
            stats = pacer.statistics()
    result = PacingResult(
        per_second=policy.per_second, pair_interval=policy.pair_interval,
        pair_burst=policy.pair_burst, broadcast=burst[0], pair=pair, replies=mixed,
        failed=stats.failed, skipped=stats.skipped, retried=stats.retried,
        refused=len(fake.refused), invalid=len(fake.invalid), ok=False,
    )
    return replace(result, ok=not invariants(result))


def invariants(r: PacingResult) -> list[str]:
    """The invariants that did not hold (empty: all held)."""
    broken = []
    for name, b in (("broadcast", r.broadcast), ("replies broadcast", r.replies.broadcast)):
        if b.max_per_second_tolerant > b.limit:
            broken.append(f"{name}: {b.max_per_second_tolerant} sends in "
                          f"{1 - RATE_TOLERANCE:g} s > {b.limit}")
        if b.sent != b.rows or b.duplicates:
            broken.append(f"{name}: {b.sent}/{b.rows} rows sent, {b.duplicates} twice")
    if r.pair.sent != r.pair.rows or r.pair.duplicates:
        broken.append(f"pair: {r.pair.sent}/{r.pair.rows} rows sent")
    if r.pair.min_gap_after_burst < r.pair_interval - GAP_TOLERANCE:
        broken.append(f"pair: gap {r.pair.min_gap_after_burst:.3f} s < {r.pair_interval} s")
    if r.pair.bucket_slack < -GAP_TOLERANCE:
        broken.append(f"pair: token bucket exceeded by {-r.pair.bucket_slack:.3f} s")
    if r.replies.replies_sent != r.replies.replies:
        broken.append(f"replies: {r.replies.replies_sent}/{r.replies.replies} sent")
    if r.failed or r.skipped or r.refused or r.invalid:
        broken.append(f"failed {r.failed}, skipped {r.skipped}, refused {r.refused}, "
                      f"invalid {r.invalid}")
    return broken


def findings(r: PacingResult) -> list[str]:
    """What the strict reading shows beyond the invariants (reported, not failed)."""
    found = []
    for name, b in (("broadcast", r.broadcast), ("replies broadcast", r.replies.broadcast)):
        if b.max_per_second > b.limit:
            found.append(f"{name}: {b.max_per_second} sends received within one second "
                         f"(limit {b.limit})")
    return found


# --- the report -------------------------------------------------------------------------------


def _s(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds:.3f}"


def render(r: PacingResult) -> str:
    b, p, m = r.broadcast, r.pair, r.replies
    mb = m.broadcast
    window = f"{1 - RATE_TOLERANCE:g} s"
    intro = (
        f"Policy of every number: {r.per_second} msgs/s, pair burst {p.burst_policy} then one "
        f"per {r.pair_interval:g} s (PacingPolicy defaults otherwise). All times are the fake "
        "Graph API's receive times (`RecordedSend.monotonic`); lateness is row committed -> "
        f"received. \"max in 1 s\" counts the sends received in any window of one second; "
        f"\"max in {window}\" allows {RATE_TOLERANCE * 1000:.0f} ms of jitter (the invariant "
        "the smoke test asserts)."
    )
    first = table(
        ["scenario", "rows", "sent", "seconds", "msgs/s", "max in 1 s", f"max in {window}",
         "max in 1 s (POST calls)", "limit"],
        [["1 broadcast", b.rows, b.sent, f"{b.seconds:.2f}", f"{b.rate:.1f}",
          f"**{b.max_per_second}**", b.max_per_second_tolerant, b.max_per_second_called,
          b.limit],
         ["3 broadcast + replies", mb.rows + m.replies, mb.sent + m.replies_sent,
          f"{mb.seconds:.2f}", f"{(mb.sent + m.replies_sent) / mb.seconds:.1f}",
          f"**{mb.max_per_second}**", mb.max_per_second_tolerant, mb.max_per_second_called,
          mb.limit]],
    )
    verdict1 = (
        f"**Verdict (1).** {b.sent}/{b.rows} marketing rows went out in {b.seconds:.2f} s "
        f"({b.rate:.1f} msgs/s from the first commit to the last send: the pacer spreads "
        "the sends evenly at 90 % of the rate, with bursts of a tenth of it). Counted on the "
        "receiver's clock, one second held up to {b.max_per_second} "
        f"sends against a limit of {b.limit}"
        + (": the rate held." if b.max_per_second <= b.limit else
           f": **the limit was exceeded on the receiver's clock** ({b.max_per_second_called} "
           f"in one second already at the pacer's POST calls; {b.max_per_second_tolerant} in "
           f"any {window}): the network delayed some sends more than the margin of the "
           "even pace allows.")
    )
    gaps = ", ".join(f"{g:.3f}" for g in p.gaps)
    second = table(
        ["scenario", "rows", "sent", "burst (policy)", "burst seen", "burst -> next s",
         "min gap after burst s", "bucket slack s"],
        [["2 many to one guest", p.rows, p.sent, p.burst_policy, p.burst_observed,
          _s(p.first_gap), f"**{_s(p.min_gap_after_burst)}**", f"{p.bucket_slack:+.3f}"]],
    )
    held = p.min_gap_after_burst >= r.pair_interval - GAP_TOLERANCE
    verdict2 = (
        f"**Verdict (2).** The guest got a burst of {p.burst_observed} (policy "
        f"{p.burst_policy}), then one message per interval: the smallest gap between the "
        f"sends after the burst was {_s(p.min_gap_after_burst)} s "
        + ("(the interval, within clock resolution)." if held
           else f"(**below the interval {r.pair_interval:g} s**).")
        + ("" if p.bucket_slack >= -GAP_TOLERANCE else
           f" **On the receiver's clock the token bucket was exceeded by "
           f"{-p.bucket_slack:.3f} s** (the burst's first send reached the fake "
           f"{p.gaps[0]:.3f} s before its second: its POST left late).")
        + f" The first send after the burst came {_s(p.first_gap)} s after the burst's last: "
        "the bucket refills from the burst's first send, so that gap is the interval minus "
        "the burst's spread. Bucket slack is the least, over k, of (send number burst + k) - "
        "(first send) - k x interval: 0 or more when the token bucket held on the receiver's "
        f"clock. Gaps (s): {gaps}."
    )
    third = table(
        ["rows of scenario 3", "count", "late p50 ms", "late p99 ms", "late max ms"],
        [[f"replies ({m.reply_rate:g}/s, Priority.REPLY)", m.replies, ms(m.reply_late_p50),
          f"**{ms(m.reply_late_p99)}**", ms(m.reply_late_max)],
         ["broadcast (Priority.MARKETING)", mb.rows, ms(mb.late_p50), ms(mb.late_p99),
          ms(mb.late_max)]],
    )
    within = m.reply_late_max <= 1.0 + RATE_TOLERANCE
    verdict3 = (
        f"**Verdict (3).** {m.replies_sent}/{m.replies} replies committed during a "
        f"{mb.rows}-row broadcast reached the fake {ms(m.reply_late_p50)} ms (p50), "
        f"{ms(m.reply_late_p99)} ms (p99) and at most {ms(m.reply_late_max)} ms after their "
        f"commit; the broadcast's rows took {ms(mb.late_p50)} ms (p50) and up to "
        f"{ms(mb.late_max)} ms. "
        + ("A reply does not wait behind the broadcast: it takes the next free slot of the "
           "even pace (one every few milliseconds), before any broadcast row." if within else
           "**Replies waited longer than one second: behind the broadcast.**")
    )
    strict = findings(r)
    totals = (
        f"Pacer over the run: failed {r.failed}, skipped {r.skipped}, retried {r.retried}; "
        f"fake Graph API refused {r.refused}, invalid {r.invalid}. "
        + ("Every invariant held." if r.ok else "Broken: " + "; ".join(invariants(r)) + ".")
        + ("" if not strict else " Strict reading: " + "; ".join(strict) + ".")
    )
    return "\n\n".join([intro, first, verdict1, second, verdict2, third, verdict3, totals]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="scripts/bench pacing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="broadcast rows (2 000)")
    parser.add_argument("--pair-rows", type=int, default=12, help="rows to one guest (12)")
    parser.add_argument("--reply-rate", type=float, default=5.0, help="replies/s (5)")
    parser.add_argument("--per-second", type=int, default=80, help="number's limit (80)")
    parser.add_argument("--pair-interval", type=float, default=6.0, help="seconds (6)")
    parser.add_argument("--pair-burst", type=int, default=PacingPolicy().pair_burst)
    parser.add_argument("--quick", action="store_true", help="200 broadcast rows (a smoke run)")
    parser.add_argument("--write", action="store_true", help=f"update {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=None, help="update this file instead")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    rows = args.rows or (200 if args.quick else 2000)
    if rows < 1 or args.pair_rows < 1 or args.reply_rate <= 0:
        parser.error("--rows, --pair-rows and --reply-rate must be positive")
    try:
        policy = PacingPolicy(per_second=args.per_second, pair_interval=args.pair_interval,
                              pair_burst=args.pair_burst)
    except ValueError as exc:
        parser.error(str(exc))
    configure_logging(json=True, level="warning", stream=sys.stderr)
    result = uvloop.run(run(rows=rows, pair_rows=args.pair_rows, reply_rate=args.reply_rate,
                            policy=policy))
    emit("pacing", argv, render(result), args.output or (BENCHMARKS_MD if args.write else None))
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(asdict(result), option=orjson.OPT_INDENT_2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
