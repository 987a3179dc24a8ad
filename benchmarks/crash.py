"""Kill a real `hotelbot serve` process with SIGKILL in the middle of a load, restart it, count.

Owns: `scripts/bench crash [--guests N] [--messages M] [--seed S] [--grace-wait SECONDS]
[--write]`: the server in its own process (benchmarks.process.open_server, the shipped
configuration unpaced) answers through the fake Graph API in this process, which posts
Meta's status webhooks (sent, delivered, read; signed, echoing `biz_opaque_callback_data`)
back to the server after modest delays. N guests write M messages each, concurrently, each
message after the reply to the one before; once a random share (20-80 %, seeded) of the
messages is acknowledged (and, bounded, while Meta holds a send it has not answered: the fake
answers 0.1 s after recording) the server gets SIGKILL and is started again on the same data
directory (a new port: the guests' and the fake's webhook URL follow it). Meta's redelivery
is simulated for both kinds of webhook: a guest message POST that did not get a 200
(refused, reset, 503, no answer) is POSTed again until it is acknowledged, and a status
webhook the fake could not deliver is POSTed again once the server is back. Then it waits
(bounded) until every acknowledged message has its reply.

Reports: acknowledged messages lost (acknowledged, no reply sent and none on disk: must be
0), doubled replies (an outbox row, named by the `outbox:<id>` callback of the send body,
sent to Meta more than once; target at most 1 per 1000 guests), replies per guest, the rows
the restart found in `sending` (the server's `sends_unconfirmed_at_start` warning), those
resent after the grace, and the time. Rows caught in `sending` whose POST never reached Meta
are resent only after the pacer's grace (120 s, plus up to 30 s to the next check):
`--grace-wait` bounds how long the run waits for them (0: count them as awaiting).
Must never: send anywhere but 127.0.0.1, leave the server running, or wait without a bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import uvloop
from aiohttp import web
from aiohttp.typedefs import Handler

from benchmarks.load import Shot, make_rounds
from benchmarks.process import open_server
from benchmarks.report import BENCHMARKS_MD, emit, table
from benchmarks.server import ACCESS_TOKEN, APP_SECRET
from hotelbot.devtools.fake_graph import (
    FAKE_GRAPH,
    FakeGraph,
    PostedWebhook,
    RecordedSend,
    create_fake_graph,
    status_webhook,
)
from hotelbot.whatsapp.payloads import sign

STATUS_DELAYS = (0.3, 0.5, 1.0)  # seconds before sent, delivered, read (modest, like Meta's)
GRAPH_LATENCY = 0.1  # seconds the fake Graph API takes to answer a send it recorded
IN_FLIGHT_WAIT = 2.0  # seconds the kill waits for a send Meta recorded and has not answered
POST_TIMEOUT = 10.0  # one webhook POST: "never answered" past this
REDELIVERY_LIMIT = 60.0  # seconds a webhook is redelivered before it is given up
LOAD_LIMIT = 120.0  # seconds for the whole load, redeliveries included
SETTLE_LIMIT = 30.0  # seconds for replies once the load is acknowledged (besides the grace)
READ_LIMIT = 3.0  # seconds a guest waits for a reply before writing again anyway
CONNECTIONS = 100  # concurrent connections "Meta" opens to the webhook
UNPOSTED = "unposted"  # a reply row caught in `sending` whose POST never reached the fake


@dataclass(slots=True)
class Endpoint:
    """The server's webhook URL as the guests (Meta) know it now; it follows a restart."""

    url: str


@dataclass(slots=True)
class Load:
    """What the guests' side saw."""

    acked: Counter[str] = field(default_factory=Counter)  # guest -> messages acknowledged
    posts: int = 0  # webhook POSTs, redeliveries included
    redelivered: int = 0  # ... of which were redeliveries
    answers: Counter[str] = field(default_factory=Counter)  # "200", "503", "refused", ...
    given_up: int = 0  # messages never acknowledged within REDELIVERY_LIMIT
    total_acked: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def ack(self, guest: str) -> None:
        self.acked[guest] += 1
        self.total_acked += 1
        self.changed.set()
        self.changed = asyncio.Event()


async def _post_once(session: aiohttp.ClientSession, url: str, raw: bytes,
                     signature: str) -> str:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    try:
        async with session.post(url, data=raw, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT)) as response:
            await response.read()
            return str(response.status)
    except aiohttp.ClientConnectorError:
        return "refused"
    except (aiohttp.ClientError, ConnectionError):
        return "reset"
    except TimeoutError:
        return "no answer"


async def deliver(session: aiohttp.ClientSession, endpoint: Endpoint, raw: bytes,
                  signature: str, load: Load | None = None) -> bool:
    """POST until a 200 (Meta's redelivery, with backoff), at most REDELIVERY_LIMIT seconds."""
    deadline = time.monotonic() + REDELIVERY_LIMIT
    attempt = 0
    while True:
        answer = await _post_once(session, endpoint.url, raw, signature)
        if load is not None:
            load.posts += 1
            load.redelivered += attempt > 0
            load.answers[answer] += 1
        if answer == "200":
            return True
        attempt += 1
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(min(0.05 * 2 ** min(attempt, 4), 0.5))


class SlowGraph:
    """Meta's answer to a send comes 100-300 ms after it: the fake records the send, then its
    answer waits GRAPH_LATENCY. `unanswered` counts the sends recorded and not yet answered
    (a kill now leaves their rows `sending` though Meta has them); `holding` is set while
    there is one."""

    def __init__(self) -> None:
        self.unanswered = 0
        self.holding = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST" and request.path.endswith("/messages"):
            self.unanswered += 1
            self.holding.set()
            try:
                await asyncio.sleep(GRAPH_LATENCY)
            finally:
                self.unanswered -= 1
                if not self.unanswered:
                    self.holding.clear()
        return response


class Replies:
    """How many replies each guest got so far (one poller over the fake's sends)."""

    def __init__(self, fake: FakeGraph) -> None:
        self._fake = fake
        self._seen = 0
        self._counts: Counter[str] = Counter()
        self._waiters: dict[str, asyncio.Event] = {}

    async def poll(self) -> None:
        while True:
            sends = self._fake.sends
            for send in sends[self._seen:]:
                self._counts[send.to] += 1
                waiter = self._waiters.pop(send.to, None)
                if waiter is not None:
                    waiter.set()
            self._seen = len(sends)
            await asyncio.sleep(0.01)

    async def wait(self, guest: str, n: int, timeout: float) -> None:  # noqa: ASYNC109
        """Until `guest` got `n` replies, or `timeout` seconds passed."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._counts[guest] < n:
                    await self._waiters.setdefault(guest, asyncio.Event()).wait()


async def _guest(session: aiohttp.ClientSession, endpoint: Endpoint, shots: Sequence[Shot],
                 load: Load, replies: Replies) -> None:
    """One guest's messages, one after another (each redelivered until acknowledged); like a
    guest in a conversation, each after the reply to the one before (or READ_LIMIT seconds:
    a reply caught by the kill may wait for the grace)."""
    for n, shot in enumerate(shots):
        if n:
            await replies.wait(shot.guest, n, READ_LIMIT)
        if await deliver(session, endpoint, shot.raw, shot.signature, load):
            load.ack(shot.guest)
        else:
            load.given_up += 1


class StatusRedelivery:
    """Meta redelivers a status webhook that did not get a 200: the fake tries three times
    within 0.15 s and records the failure; this posts those again (to the current URL)."""

    def __init__(self, fake: FakeGraph, session: aiohttp.ClientSession,
                 endpoint: Endpoint) -> None:
        self._fake, self._session, self._endpoint = fake, session, endpoint
        self._seen = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.redelivered = 0  # status webhooks posted again
        self.acknowledged = 0  # ... and answered 200
        self.given_up = 0

    def scan(self) -> None:
        """Start redelivering every status webhook the fake failed to deliver since the last
        scan."""
        posted = self._fake.webhooks
        fresh, self._seen = posted[self._seen:], len(posted)
        by_wamid = {send.wamid: send for send in self._fake.sends}
        for hook in fresh:
            if hook.http_status != 200 and hook.wamid in by_wamid:
                task = asyncio.create_task(self._again(by_wamid[hook.wamid], hook))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _again(self, send: RecordedSend, hook: PostedWebhook) -> None:
        self.redelivered += 1
        raw = orjson.dumps(status_webhook(send, hook.status, 131026))
        if await deliver(self._session, self._endpoint, raw, sign(raw, APP_SECRET.encode())):
            self.acknowledged += 1
        else:
            self.given_up += 1

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        self.scan()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _reply_id(send: RecordedSend) -> int | None:
    callback = send.body.get("biz_opaque_callback_data")
    if isinstance(callback, str) and callback.startswith("outbox:"):
        return int(callback.removeprefix("outbox:"))
    return None


def _store_rows(database: Path) -> list[tuple[int, str, str, str]]:
    """(id, guest, state, sending_since or "") of every outbound row, read-only beside the
    running server."""
    if not database.exists():
        return []
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5.0)
    try:
        return [(int(i), str(g), str(s), str(since or "")) for i, g, s, since in
                conn.execute("SELECT id, guest_id, state, sending_since FROM outbound")]
    finally:
        conn.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    replied: dict[str, int]  # guest -> distinct replies sent to Meta
    awaiting: dict[str, int]  # guest -> reply rows caught in `sending`, never posted
    waiting: int  # rows pending or sending (any guest)
    missing: int  # acknowledged messages without a reply sent or awaiting the grace


def tally(fake: FakeGraph, load: Load, database: Path, killed_at: datetime) -> Tally:
    """Replies sent per guest, and the rows the killed server left in `sending` unposted
    (`sending_since` before `killed_at`; the live server's own are simply in flight)."""
    caught_before = killed_at.astimezone(UTC).isoformat(timespec="microseconds")
    sent_ids: dict[str, set[int]] = defaultdict(set)
    all_ids: set[int] = set()
    for send in fake.sends:
        row = _reply_id(send)
        if row is not None:
            sent_ids[send.to].add(row)
            all_ids.add(row)
    awaiting: Counter[str] = Counter()
    waiting = 0
    for row, guest, state, since in _store_rows(database):
        if state in ("pending", "sending"):
            waiting += 1
        if state == "sending" and row not in all_ids and since < caught_before:
            awaiting[guest] += 1
    replied = {guest: len(ids) for guest, ids in sent_ids.items()}
    missing = sum(max(0, n - replied.get(g, 0) - awaiting.get(g, 0))
                  for g, n in load.acked.items())
    return Tally(replied=replied, awaiting=dict(awaiting), waiting=waiting, missing=missing)


async def settle(fake: FakeGraph, load: Load, database: Path, redelivery: StatusRedelivery,
                 grace_wait: float, killed_at: datetime) -> Tally:
    """Wait until every acknowledged message has its reply sent; replies caught in `sending`
    unposted are waited for at most `grace_wait` seconds (the pacer resends them after its
    grace), at most SETTLE_LIMIT seconds for the rest."""
    started = time.monotonic()
    while True:
        redelivery.scan()
        now = await asyncio.to_thread(tally, fake, load, database, killed_at)
        complete = all(now.replied.get(g, 0) >= n for g, n in load.acked.items())
        elapsed = time.monotonic() - started
        if complete or (now.missing == 0 and elapsed >= grace_wait):
            return now
        if elapsed >= SETTLE_LIMIT + grace_wait:
            return now
        await asyncio.sleep(0.2)


def _log_events(path: Path, event: str) -> list[dict[str, object]]:
    found = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == event:
                found.append(record)
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class CrashResult:
    guests: int
    messages_per_guest: int
    seed: int
    messages: int
    acknowledged: int
    given_up: int  # messages never acknowledged (redelivery bound): must be 0
    acked_before_kill: int
    in_flight_at_kill: int  # sends Meta had recorded and not answered yet
    kill_after: float  # seconds after the load started
    down_seconds: float  # from SIGKILL until the restarted server answered /healthz
    posts: int
    redelivered: int  # guest message POSTs sent again after no 200
    answers: dict[str, int]
    statuses_redelivered: int
    statuses_given_up: int
    unconfirmed_at_start: int  # rows the restart found in `sending` (its warning)
    released_after_grace: int  # rows resent after the grace (`unconfirmed_sends_released`)
    sends: int  # sends the fake Graph API accepted (replies, with a callback)
    replies: int  # distinct outbox rows among them
    doubled: int  # sends beyond the first of an outbox row
    doubled_per_1000_guests: float
    lost: int  # acknowledged messages with no reply sent and none awaiting on disk
    awaiting_grace: int  # replies caught in `sending` unposted, not resent yet
    replies_per_guest: tuple[int, float, int]  # min, mean, max (distinct replies)
    seconds: float  # from the first POST until every reply was sent (or the bound)
    complete: bool  # every acknowledged message has its reply sent
    doubled_rows: list[int] = field(default_factory=list)


async def run(guests: int, messages: int, seed: int, *, grace_wait: float,
              data_dir: Path | None = None) -> CrashResult:
    """One crash run (see the module docstring). `data_dir`: keep the server's files there."""
    rng = random.Random(seed)
    rounds = make_rounds(guests=guests, rounds=messages, prefix="3471")
    total = guests * messages
    kill_at = max(1, round(total * rng.uniform(0.2, 0.8)))
    by_guest: dict[str, list[Shot]] = defaultdict(list)
    for shots in rounds:
        for shot in shots:
            by_guest[shot.guest].append(shot)
    with tempfile.TemporaryDirectory(prefix="hotelbot-crash-") as tmp:
        data = data_dir or Path(tmp)
        app = create_fake_graph(access_token=ACCESS_TOKEN, webhook_url="http://127.0.0.1:9/",
                                app_secret=APP_SECRET, status_delays=STATUS_DELAYS, seed=seed,
                                webhook_grace=0.0)
        fake = app[FAKE_GRAPH]
        slow = SlowGraph()
        app.middlewares.append(slow.middleware)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        connector = aiohttp.TCPConnector(limit=CONNECTIONS)
        session = aiohttp.ClientSession(connector=connector)
        endpoint = Endpoint(url="")
        redelivery = StatusRedelivery(fake, session, endpoint)
        guests_done: asyncio.Future[list[None]] | None = None
        replies = Replies(fake)
        poller = asyncio.create_task(replies.poll())
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            graph_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            load = Load()
            async with open_server("hotelbot", graph_url=graph_url, data_dir=data, cpu=None,
                                   log_level="warning") as first:
                endpoint.url = fake.webhook_url = first.url
                started = time.monotonic()
                guests_done = asyncio.gather(*(_guest(session, endpoint, shots, load, replies)
                                               for shots in by_guest.values()))
                try:
                    async with asyncio.timeout(LOAD_LIMIT):
                        while load.total_acked < kill_at and not guests_done.done():
                            await load.changed.wait()
                except TimeoutError:
                    pass
                with suppress(TimeoutError):
                    async with asyncio.timeout(IN_FLIGHT_WAIT):
                        await slow.holding.wait()
                acked_before_kill, in_flight = load.total_acked, slow.unanswered
                os.kill(first.pid, signal.SIGKILL)
                killed, killed_at = time.monotonic(), datetime.now(UTC)
            # leaving the block reaped the killed process; the guests keep POSTing (refused)
            async with open_server("hotelbot", graph_url=graph_url, data_dir=data, cpu=None,
                                   log_level="warning") as second:
                endpoint.url = fake.webhook_url = second.url
                down = time.monotonic() - killed
                redelivery.scan()
                try:
                    async with asyncio.timeout(LOAD_LIMIT):
                        await guests_done
                except TimeoutError:
                    guests_done.cancel()
                final = await settle(fake, load, data / "hotelbot.sqlite3", redelivery,
                                     grace_wait, killed_at)
                seconds = time.monotonic() - started
                await redelivery.drain(timeout=5.0)
            log = data / "hotelbot.log"  # the restarted server's (the first one's is replaced)
            unconfirmed = sum(int(str(r.get("rows", 0)))
                              for r in _log_events(log, "sends_unconfirmed_at_start"))
            released = sum(int(str(r.get("rows", 0)))
                           for r in _log_events(log, "unconfirmed_sends_released"))
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            if guests_done is not None and not guests_done.done():
                guests_done.cancel()
                await asyncio.gather(guests_done, return_exceptions=True)
            await redelivery.close()
            await session.close()
            await runner.cleanup()
    per_row = Counter(r for r in (_reply_id(s) for s in fake.sends) if r is not None)
    doubled_rows = sorted(r for r, n in per_row.items() if n > 1)
    doubled = sum(n - 1 for n in per_row.values())
    counts = [final.replied.get(g, 0) for g in by_guest]
    lost = sum(max(0, n - final.replied.get(g, 0) - final.awaiting.get(g, 0))
               for g, n in load.acked.items())
    return CrashResult(
        guests=guests, messages_per_guest=messages, seed=seed, messages=total,
        acknowledged=load.total_acked, given_up=load.given_up,
        acked_before_kill=acked_before_kill, in_flight_at_kill=in_flight,
        kill_after=killed - started, down_seconds=down,
        posts=load.posts, redelivered=load.redelivered, answers=dict(sorted(load.answers.items())),
        statuses_redelivered=redelivery.redelivered, statuses_given_up=redelivery.given_up,
        unconfirmed_at_start=unconfirmed, released_after_grace=released,
        sends=sum(per_row.values()), replies=len(per_row), doubled=doubled,
        doubled_per_1000_guests=doubled * 1000 / guests, lost=lost,
        awaiting_grace=sum(final.awaiting.values()),
        replies_per_guest=(min(counts), sum(counts) / len(counts), max(counts)),
        seconds=seconds,
        complete=all(final.replied.get(g, 0) >= n for g, n in load.acked.items()),
        doubled_rows=doubled_rows,
    )


def render(result: CrashResult, grace_wait: float) -> str:
    r = result
    low, mean, high = r.replies_per_guest
    rows = [
        ["messages acknowledged", f"{r.acknowledged}/{r.messages}"
         + (f" ({r.given_up} given up)" if r.given_up else "")],
        ["SIGKILL", f"after {r.acked_before_kill} acknowledged, {r.kill_after:.2f} s into the"
         f" load, {r.in_flight_at_kill} sends at Meta unanswered; down {r.down_seconds:.2f} s"],
        ["guest POSTs (redelivered)", f"{r.posts} ({r.redelivered})"],
        ["answers", ", ".join(f"{k}: {v}" for k, v in r.answers.items())],
        ["status webhooks redelivered", f"{r.statuses_redelivered}"
         + (f" ({r.statuses_given_up} given up)" if r.statuses_given_up else "")],
        ["rows in `sending` at restart", str(r.unconfirmed_at_start)],
        ["rows resent after the grace", str(r.released_after_grace)],
        ["replies sent (distinct rows)", f"{r.sends} ({r.replies})"],
        ["**acknowledged messages lost**", f"**{r.lost}**"],
        ["**doubled replies**", f"**{r.doubled}** ({r.doubled_per_1000_guests:.2f} per 1000"
         " guests; target ≤ 1)"],
        ["replies awaiting the grace", str(r.awaiting_grace)],
        ["replies per guest (min/mean/max)", f"{low} / {mean:.2f} / {high}"],
        ["time, first POST to last reply", f"{r.seconds:.1f} s" + (
            "" if r.complete else " (awaiting the grace)" if r.lost == 0 and r.awaiting_grace
            else " (bound reached)")],
    ]
    return (
        f"{r.guests} guests × {r.messages_per_guest} messages (seed {r.seed}), concurrently"
        " (each message after the reply to the one before), to the real server process; the"
        " fake Graph API posts signed status webhooks (sent,"
        f" delivered, read after {', '.join(f'{d:g}' for d in STATUS_DELAYS)} s) back to it."
        f" The fake answers a send {GRAPH_LATENCY:g} s after recording it. Once a random share"
        " of the messages is acknowledged (and a send is unanswered) the server gets SIGKILL and is"
        " started again on the same data directory (new port); every webhook POST that got no"
        f" 200 is POSTed again until acknowledged. Waited up to {grace_wait:g} s for replies"
        " caught in `sending` whose POST never reached Meta (resent after the pacer's 120 s"
        " grace).\n\n"
        + table(["", "result"], rows)
        + "\n\nA reply is identified by the outbox row its send names"
        " (`biz_opaque_callback_data` `outbox:<id>`); doubled = sends beyond the first of a"
        " row. Lost = an acknowledged message whose guest has no reply for it, neither sent"
        " nor on disk. Rows resent after the grace are rows the killed server had marked"
        " `sending` whose POST never left it (no status could name them); with the default"
        " grace (HOTELBOT_SENDING_GRACE, 120 s) those guests wait two minutes after a crash."
        " A variant with every status dropped after the kill is not measured here.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="scripts/bench crash", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guests", type=int, default=None, help="how many (400)")
    parser.add_argument("--messages", type=int, default=None, help="per guest (5)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--grace-wait", type=float, default=None,
                        help="seconds to wait for replies resent after the grace (200)")
    parser.add_argument("--quick", action="store_true",
                        help="40 guests, 3 messages, no waiting for the grace (a smoke run)")
    parser.add_argument("--write", action="store_true", help=f"update {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=None, help="update this file instead")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    guests = args.guests or (40 if args.quick else 400)
    messages = args.messages or (3 if args.quick else 5)
    grace_wait = args.grace_wait if args.grace_wait is not None else (0.0 if args.quick
                                                                       else 200.0)
    if guests < 1 or messages < 1 or grace_wait < 0:
        parser.error("--guests and --messages must be positive, --grace-wait not negative")
    result = uvloop.run(run(guests, messages, args.seed, grace_wait=grace_wait))
    emit("crash", argv, render(result, grace_wait),
         args.output or (BENCHMARKS_MD if args.write else None))
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(asdict(result), option=orjson.OPT_INDENT_2))
    ok = result.lost == 0 and result.given_up == 0 and result.doubled * 1000 <= result.guests
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
