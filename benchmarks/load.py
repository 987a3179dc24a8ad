"""The load generator and its bookkeeping: signed webhook POSTs in, replies matched out.

Owns: building Meta-shaped webhook bodies (one text message each, signed like Meta) before
the clock starts; the closed loop (C workers, each owning a fixed set of guests so a guest's
messages go one after another) and the open loop (fixed-rate pacing, each POST started at
its planned time whatever the others do); the fake Graph API on loopback that both paths
answer through; and matching each POST to the first reply recorded for its guest after it.
Must never: send beyond 127.0.0.1, or wait without a bound.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from benchmarks.server import ACCESS_TOKEN, APP_SECRET
from hotelbot.cli.screen import SendText, message_item, webhook_body
from hotelbot.devtools.fake_graph import FAKE_GRAPH, FakeGraph, RecordedSend, create_fake_graph
from hotelbot.whatsapp.payloads import sign

# The department numbers of the shipped config (demo_hotel and seaside_inn).
NUMBERS = ("100000000000001", "100000000000002", "100000000000003",
           "200000000000001", "200000000000002")
ROUND_TEXTS = ("hello", "menu", "hi")  # each a fresh start of the department's main menu


@dataclass(frozen=True, slots=True, kw_only=True)
class Shot:
    """One prepared webhook POST: guest, which of the guest's messages, body, signature."""

    guest: str
    round: int
    raw: bytes
    signature: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Post:
    guest: str
    round: int
    planned: float  # monotonic: when it should have started (open loop) or started
    start: float
    ack: float
    status: int


def make_rounds(*, guests: int, rounds: int, prefix: str) -> list[list[Shot]]:
    """`rounds` lists of `guests` shots; guest i writes to NUMBERS[i % 5].

    Raises:
        ValueError: a count is not positive or the prefix is not 4 digits.
    """
    if guests < 1 or rounds < 1:
        raise ValueError("guests and rounds must be positive")
    if not (len(prefix) == 4 and prefix.isdigit()):
        raise ValueError("prefix must be 4 digits")
    now = int(time.time())
    result: list[list[Shot]] = []
    for k in range(rounds):
        shots = []
        for i in range(guests):
            guest = f"{prefix}{i:07d}"
            item = message_item(SendText(text=ROUND_TEXTS[k % len(ROUND_TEXTS)]), guest=guest,
                                wamid=f"wamid.BENCH{guest}R{k}", now=now)
            raw = webhook_body(NUMBERS[i % len(NUMBERS)], guest, item)
            shots.append(Shot(guest=guest, round=k, raw=raw,
                              signature=sign(raw, APP_SECRET.encode())))
        result.append(shots)
    return result


@contextmanager
def generator_gc_paused() -> Iterator[None]:
    """No garbage collection in this (the generator's) process while it measures.

    A full collection here walks every prepared shot, task and recorded send: 27-120 ms
    measured at 1,000 msgs/s, during which no POST starts and no reply is recorded. Open-loop
    latency counts from each POST's planned start, so such a pause would be charged to the
    server under test. The run is bounded and its garbage is small; it is collected after.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


@asynccontextmanager
async def open_fake_graph() -> AsyncIterator[tuple[FakeGraph, str]]:
    """The fake Graph API on 127.0.0.1 (no status webhooks): (its state, its base URL)."""
    app = create_fake_graph(access_token=ACCESS_TOKEN, statuses=())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield app[FAKE_GRAPH], f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def open_session(concurrency: int) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=max(concurrency, 1))
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


async def post(session: aiohttp.ClientSession, url: str, shot: Shot, planned: float) -> Post:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": shot.signature}
    start = time.monotonic()
    try:
        async with session.post(url, data=shot.raw, headers=headers) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    return Post(guest=shot.guest, round=shot.round, planned=planned, start=start,
                ack=time.monotonic(), status=status)


async def closed_loop(
    session: aiohttp.ClientSession, url: str, rounds: Sequence[Sequence[Shot]], concurrency: int
) -> list[Post]:
    """C workers; worker w sends, round by round, the shots of guests w, w+C, w+2C, ..."""
    async def worker(w: int) -> list[Post]:
        done = []
        for shots in rounds:
            for shot in shots[w::concurrency]:
                done.append(await post(session, url, shot, time.monotonic()))
        return done

    with generator_gc_paused():
        results = await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return [p for posts in results for p in posts]


async def open_loop(
    session: aiohttp.ClientSession, url: str, shots: Sequence[Shot], rate: float
) -> list[Post]:
    """Start shot i at t0 + i/rate (never waiting for earlier answers); all answers."""
    loop = asyncio.get_running_loop()
    with generator_gc_paused():
        t0 = time.monotonic() + 0.05
        tasks = []
        for i, shot in enumerate(shots):
            planned = t0 + i / rate
            delay = planned - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(post(session, url, shot, planned)))
        return list(await asyncio.gather(*tasks))


async def wait_replies(fake: FakeGraph, at_least: int, *, quiet: float = 0.3,
                       limit: float = 60.0) -> bool:
    """Wait until `at_least` sends were recorded and none came for `quiet` seconds.

    Returns False when `limit` seconds passed first.
    """
    deadline = time.monotonic() + limit
    seen = -1
    while time.monotonic() < deadline:
        count = len(fake.sends)
        if count >= at_least and count == seen:
            return True
        seen = count
        await asyncio.sleep(quiet if count >= at_least else 0.02)
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Matched:
    e2e: list[float]  # seconds from POST start to the first reply after it, per matched POST
    unmatched: int  # POSTs with no reply after them
    last_reply: float  # monotonic time of the last reply to any of these guests


def match_replies(posts: Sequence[Post], sends: Sequence[RecordedSend]) -> Matched:
    """Pair each POST with the first reply to its guest recorded after the POST started."""
    replies: dict[str, list[float]] = defaultdict(list)
    guests = {p.guest for p in posts}
    for send in sends:
        if send.to in guests:
            replies[send.to].append(send.monotonic)
    e2e: list[float] = []
    unmatched = 0
    by_guest: dict[str, list[Post]] = defaultdict(list)
    for p in posts:
        by_guest[p.guest].append(p)
    for guest, own in by_guest.items():
        times = sorted(replies.get(guest, []))
        used = -1
        for p in sorted(own, key=lambda p: p.start):
            index = max(bisect.bisect_left(times, p.start), used + 1)
            if index >= len(times):
                unmatched += 1
                continue
            used = index
            e2e.append(times[index] - p.start)
    last = max((t for ts in replies.values() for t in ts), default=float("nan"))
    return Matched(e2e=e2e, unmatched=unmatched, last_reply=last)
