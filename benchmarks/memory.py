"""Benchmark 3, memory: N active conversations through the Router on a real store.

Owns: in a fresh child process, opening the real store (temp dir), the shipped hotels and
the Router exactly as app.py wires them, then accepting one text message from
each of N distinct guests (spread over the five department numbers) the way the webhook
does: `inbox.accept` -> `router.dispatch`. Every conversation runs its first step (context
in memory, snapshot and outbox committed) and stays active (passivation pushed past the
run). Reports the RSS delta and, in a second child with tracemalloc, the Python heap delta
per conversation and the allocation sites that dominate (DESIGN target: 100 k in <= 600 MiB).
Sends go to a transport that answers at once in-process: a loopback fake would keep every
sent body in ITS memory, in this process, and blur the number.
Must never: assert a size, or keep running: every phase is bounded by N.

    scripts/bench memory [--quick] [--conversations 100000] [--write | --output FILE]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson
import uvloop

from benchmarks.hotels import unpaced_config
from benchmarks.load import NUMBERS
from benchmarks.process import ROOT, rss_bytes
from benchmarks.report import BENCHMARKS_MD, emit, table
from hotelbot.actors import InboxSettings, RouterSettings
from hotelbot.app import Core, open_core
from hotelbot.cli.screen import SendText, message_item, webhook_body
from hotelbot.settings import Settings
from hotelbot.store import InboundMessage
from hotelbot.whatsapp import parse_webhook

BATCH = 1000
WARMUP = 500
TARGET_MIB = 600
TARGET_CONVERSATIONS = 100_000


class InstantTransport:
    """Answers every send at once with a fresh wamid (no socket, nothing kept)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        return f"wamid.MEM{next(self._ids):012d}"

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        return None


def inbound(start: int, count: int) -> list[InboundMessage]:
    """`count` parsed webhook messages from guests start..start+count-1, one each."""
    now = int(time.time())
    messages = []
    for i in range(start, start + count):
        guest = f"3460{i:07d}"
        item = message_item(SendText(text="hello"), guest=guest, wamid=f"wamid.MEM{guest}",
                            now=now)
        messages += parse_webhook(webhook_body(NUMBERS[i % len(NUMBERS)], guest, item)).messages
    return messages


async def guests_write(core: Core, start: int, count: int) -> None:
    """Guests start..start+count-1 write once each, through the inbox as the webhook does."""
    for first in range(start, start + count, BATCH):
        await core.inbox.accept(inbound(first, min(BATCH, start + count - first)))
        await core.router.wait_idle()
        await core.pacer.wait_idle()


async def measure(n: int, trace: bool) -> dict[str, object]:
    """The child's work: warm up, measure N conversations, report."""
    with tempfile.TemporaryDirectory(prefix="hotelbot-bench-") as tmp:
        config = unpaced_config(Path(tmp) / "config")  # conversations, not Meta's pacing
        settings = Settings(app_secret="bench", verify_token="bench", access_token="bench",
                            config_dir=config, data_dir=Path(tmp), max_pending_writes=100_000)
        async with open_core(
            settings, transport=InstantTransport(),
            router_settings=RouterSettings(passivate_after=1e9, sweep_every=1e9),
            inbox_settings=InboxSettings(sweep_every=1e9),
        ) as core:
            await guests_write(core, 0, WARMUP)
            gc.collect()
            rss0 = rss_bytes()
            if trace:
                tracemalloc.start(1)
            t0 = time.monotonic()
            await guests_write(core, WARMUP, n)
            seconds = time.monotonic() - t0
            gc.collect()
            result: dict[str, object] = {
                "conversations": n, "seconds": seconds, "rss_delta": rss_bytes() - rss0,
                "active": core.router.statistics().active, "sent": core.pacer.statistics().sent,
            }
            if trace:
                result["heap_delta"] = tracemalloc.get_traced_memory()[0]
                stats = tracemalloc.take_snapshot().statistics("lineno")[:12]
                result["sites"] = [[str(s.traceback[0]), s.size, s.count] for s in stats]
                tracemalloc.stop()
    return result


def child(n: int, trace: bool) -> None:
    print(orjson.dumps(uvloop.run(measure(n, trace))).decode())


def run_child(n: int, trace: bool) -> dict[str, object]:
    """One measurement in a fresh interpreter (so earlier phases cannot blur it)."""
    args = [sys.executable, "-m", "benchmarks.memory", "--child", "--conversations", str(n)]
    if trace:
        args.append("--trace")
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, object] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


def render(rss: Mapping[str, object], heap: Mapping[str, object]) -> str:
    def per(value: object, n: object) -> float:
        return float(value) / float(n)  # type: ignore[arg-type]

    n_rss, n_heap = rss["conversations"], heap["conversations"]
    rss_per = per(rss["rss_delta"], n_rss)
    projected = rss_per * TARGET_CONVERSATIONS / 2**20
    rows = [
        ["RSS (no tracing)", n_rss, rss["active"], f"{per(rss['rss_delta'], 2**20):.1f}",
         f"{rss_per / 1024:.2f}", f"{per(n_rss, rss['seconds']):,.0f}"],
        ["Python heap (tracemalloc)", n_heap, heap["active"],
         f"{per(heap['heap_delta'], 2**20):.1f}", f"{per(heap['heap_delta'], n_heap) / 1024:.2f}",
         "-"],
    ]
    headers = ["measure", "conversations", "actors alive", "delta MiB", "KiB / conversation",
               "conversations/s"]
    sites = table(["allocation site (tracemalloc)", "KiB", "blocks"],
                  [[_short(site), f"{size / 1024:,.0f}", f"{count:,}"]
                   for site, size, count in heap["sites"]])  # type: ignore[attr-defined]
    verdict = "met" if projected <= TARGET_MIB else "MISSED"
    return (
        f"{table(headers, rows)}\n\n"
        f"Projected for {TARGET_CONVERSATIONS:,} active conversations from the RSS delta: "
        f"**{projected:,.0f} MiB** against the target {TARGET_MIB} MiB: **{verdict}**\n\n"
        f"Where the Python heap of the new conversations went:\n\n{sites}\n"
    )


def _short(site: str) -> str:
    """An allocation site relative to the project, or to the standard library."""
    site = site.replace(f"{ROOT}/", "")
    return re.sub(r"^.*/lib/python3\.\d+/", "stdlib/", site)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="scripts/bench memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 conversations")
    parser.add_argument("--conversations", type=int, default=None)
    parser.add_argument("--trace-conversations", type=int, default=None,
                        help="conversations in the tracemalloc child (default: N / 5)")
    parser.add_argument("--write", action="store_true", help=f"update {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n = args.conversations or (5_000 if args.quick else TARGET_CONVERSATIONS)
    if not 1 <= n <= 1_000_000:
        parser.error("conversations must be within 1-1,000,000")
    if args.child:
        child(n, args.trace)
        return 0
    rss = run_child(n, trace=False)
    heap = run_child(args.trace_conversations or max(1, n // 5), trace=True)
    output = args.output or (BENCHMARKS_MD if args.write else None)
    emit("memory", argv, render(rss, heap), output)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps({"rss": rss, "heap": heap},
                                           option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
