"""Fuzz the webhook of a real `hotelbot serve` process with tens of thousands of hostile bodies.

Owns: `scripts/bench fuzz [--bodies N] [--seed S] [--write]`: signed bodies from
tests/fuzz_bodies.py (valid webhook POSTs, random structural mutations), forged ones (bad
signature), and gzip bombs, sent by a few concurrent clients to the server in its own
process; after every 50 bodies an ordinary guest writes, and every one of them must be
answered. Reports the status counts, 5xx (must be 0), guests answered, time, and the server's
RSS before and after. Issue 14's property, at a scale the test suite cannot afford.
Must never: send anywhere but 127.0.0.1, or wait without a bound.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import orjson
import uvloop

from benchmarks.load import open_fake_graph, open_session, wait_replies
from benchmarks.process import open_server
from benchmarks.report import BENCHMARKS_MD, emit, table
from benchmarks.server import APP_SECRET
from hotelbot.whatsapp.payloads import sign
from tests.fakes.hotel import text_item, webhook_post
from tests.fuzz_bodies import hostile_body
from tests.numbers import FRONT_DESK

GUEST_EVERY = 50
CONCURRENCY = 4
BOMB = gzip.compress(b"\0" * (256 * 1024 * 1024))  # 256 MiB of zeros in ~256 KB


async def _post(session: aiohttp.ClientSession, url: str, raw: bytes,
                headers: dict[str, str]) -> int:
    try:
        async with session.post(url, data=raw, headers=headers) as response:
            await response.read()
            return response.status
    except aiohttp.ClientError as exc:
        return -len(type(exc).__name__)  # connection-level outcome (e.g. closed after 413)


def _signed(raw: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json",
            "X-Hub-Signature-256": sign(raw, APP_SECRET.encode())}


async def _worker(session: aiohttp.ClientSession, url: str, jobs: asyncio.Queue[int],
                  rng_seed: int, statuses: Counter[str], guests: list[str]) -> None:
    while True:
        try:
            n = jobs.get_nowait()
        except asyncio.QueueEmpty:
            return
        rng = random.Random(rng_seed * 1_000_003 + n)
        kind = rng.random()
        if kind < 0.05:
            raw, label = hostile_body(rng, FRONT_DESK), "forged"
            headers = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
        elif kind < 0.06:
            raw, headers = BOMB, {**_signed(BOMB), "Content-Encoding": "gzip"}
            label = "gzip"
        else:
            raw = hostile_body(rng, FRONT_DESK)
            headers, label = _signed(raw), "signed"
        status = await _post(session, url, raw, headers)
        statuses[f"{label} {status}"] += 1
        if n % GUEST_EVERY == 0:
            guest = f"3469{n:07d}"
            ok = webhook_post(FRONT_DESK, guest, [text_item(guest, "menu")])
            statuses[f"guest {await _post(session, url, ok, _signed(ok))}"] += 1
            guests.append(guest)


@dataclass(frozen=True, slots=True, kw_only=True)
class FuzzResult:
    bodies: int
    seed: int
    seconds: float
    statuses: dict[str, int]  # "<kind> <status>" -> count
    server_errors: int  # 5xx answers: must be 0
    guests: int  # ordinary guests who wrote between the hostile bodies
    answered: int  # ... and got their reply
    rss_before: int
    rss_after: int


async def run(bodies: int, seed: int) -> FuzzResult:
    statuses: Counter[str] = Counter()
    guests: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hotelbot-fuzz-") as tmp:
        async with open_fake_graph() as (fake, graph_url), open_server(
            "hotelbot", graph_url=graph_url, data_dir=Path(tmp), cpu=None, log_level="warning"
        ) as server, open_session(CONCURRENCY) as session:
            rss_before = server.rss_bytes()
            jobs: asyncio.Queue[int] = asyncio.Queue()
            for n in range(bodies):
                jobs.put_nowait(n)
            started = time.monotonic()
            await asyncio.gather(*(_worker(session, server.url, jobs, seed, statuses, guests)
                                   for _ in range(CONCURRENCY)))
            elapsed = time.monotonic() - started
            await wait_replies(fake, len(guests), limit=60.0)
            answered = sum(1 for g in guests if fake.sent_to(g))
            rss_after = server.rss_bytes()
    return FuzzResult(
        bodies=bodies, seed=seed, seconds=elapsed, statuses=dict(sorted(statuses.items())),
        server_errors=sum(c for k, c in statuses.items() if k.split()[1].startswith("5")),
        guests=len(guests), answered=answered, rss_before=rss_before, rss_after=rss_after,
    )


def render(result: FuzzResult) -> str:
    rows = [[key, count] for key, count in result.statuses.items()]
    return (
        f"{result.bodies} bodies (seed {result.seed}, {CONCURRENCY} clients) in "
        f"{result.seconds:.1f} s; 5xx: **{result.server_errors}**; ordinary guests answered: "
        f"**{result.answered}/{result.guests}**; server RSS {result.rss_before / 2**20:.0f} → "
        f"{result.rss_after / 2**20:.0f} MiB.\n\n"
        + table(["kind and status", "count"], rows)
        + "\n\nKinds: signed (a valid webhook POST with 1-4 random mutations: wrong types, missing"
        " and duplicated fields, nesting up to 1000 deep, strings up to 1.5 MB, odd unicode,"
        " 1000 messages per POST), forged (bad signature), gzip (a signed 256 MiB bomb),"
        " guest (an ordinary guest writing after every 50 bodies). A negative status is a"
        " connection-level outcome (the server closed the connection).\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="scripts/bench fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=None, help="how many (20 000)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--quick", action="store_true", help="200 bodies (a smoke run)")
    parser.add_argument("--write", action="store_true", help=f"update {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=None, help="update this file instead")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    bodies = args.bodies or (200 if args.quick else 20_000)
    if bodies < 1:
        parser.error("--bodies must be positive")
    result = uvloop.run(run(bodies, args.seed))
    emit("fuzz", argv, render(result), args.output or (BENCHMARKS_MD if args.write else None))
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(asdict(result), option=orjson.OPT_INDENT_2))
    return 0 if result.server_errors == 0 and result.answered == result.guests else 1


if __name__ == "__main__":
    raise SystemExit(main())
