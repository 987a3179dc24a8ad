"""Benchmark 2, webhook acknowledgement latency at a fixed rate (open loop).

Owns: POSTing signed webhooks at a fixed rate (default 1,000 msgs/s for 5 s) whatever the
answers do (open loop: no coordinated omission), against the real hotelbot app and, as the
reference, the minimal path, each in a child process pinned to its own core, the paths
alternating for `--repeat` runs. Latency is measured from each POST's PLANNED start, so a
server that falls behind shows it (the generator pauses its own garbage collector meanwhile,
so its pauses are not charged to the server). Reports per run ack p50/p99/max, end-to-end
p50/p99, the generator's own lag and the server's CPU, then the medians of the runs' p99s
(DESIGN target: p99 <= 5 ms at 1 k msgs/s).
Must never: assert a timing, or run unbounded.

    scripts/bench latency [--quick] [--rate 1000 --seconds 5] [--repeat 3]
                          [--write | --output FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
import uvloop

from benchmarks.load import (
    make_rounds,
    match_replies,
    open_fake_graph,
    open_loop,
    open_session,
    wait_replies,
)
from benchmarks.process import Pinning, open_server, pin_harness, plan_pinning
from benchmarks.report import BENCHMARKS_MD, emit, ms, percentile, table

TARGET_P99 = 0.005


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyResult:
    kind: str
    run: int
    messages: int
    rate: float  # planned msgs/s
    achieved: float  # acks per second over the run
    errors: int
    unmatched: int
    ack_p50: float
    ack_p99: float
    ack_max: float
    e2e_p50: float
    e2e_p99: float
    lag_p99: float  # how late the generator started POSTs (its own limit)
    server_cpu: float  # server CPU time / wall time
    server_cpu_us: float  # server CPU time per message, microseconds


async def run_path(kind: str, run: int, *, rate: float, seconds: float, pinning: Pinning,
                   log_level: str) -> LatencyResult:
    n = max(1, round(rate * seconds))
    guests = max(1, n // 2)
    rounds = make_rounds(guests=guests, rounds=2 if n > 1 else 1, prefix="3460")
    shots = [shot for r in rounds for shot in r][:n]
    warm = make_rounds(guests=min(200, guests), rounds=1, prefix="3470")[0]
    with tempfile.TemporaryDirectory(prefix="hotelbot-bench-") as tmp:
        async with (
            open_fake_graph() as (fake, graph_url),
            open_server(kind, graph_url=graph_url, data_dir=Path(tmp) / "data",
                        cpu=pinning.server, log_level=log_level) as server,
            open_session(1000) as session,
        ):
            await open_loop(session, server.url, warm, rate)
            await wait_replies(fake, len(warm), limit=30.0)
            base = len(fake.sends)
            cpu0, t0 = server.cpu_seconds(), time.monotonic()
            posts = await open_loop(session, server.url, shots, rate)
            wall = time.monotonic() - t0
            cpu = server.cpu_seconds() - cpu0
            await wait_replies(fake, base + n, limit=max(30.0, n / 200))
    matched = match_replies(posts, fake.sends[base:])
    acks = [p.ack - p.planned for p in posts]
    return LatencyResult(
        kind=kind, run=run, messages=n, rate=rate, achieved=n / wall,
        errors=sum(p.status != 200 for p in posts), unmatched=matched.unmatched,
        ack_p50=percentile(acks, 50), ack_p99=percentile(acks, 99), ack_max=max(acks),
        e2e_p50=percentile(matched.e2e, 50), e2e_p99=percentile(matched.e2e, 99),
        lag_p99=percentile([p.start - p.planned for p in posts], 99), server_cpu=cpu / wall,
        server_cpu_us=cpu / n * 1e6,
    )


async def run(args: argparse.Namespace, pinning: Pinning) -> list[LatencyResult]:
    pin_harness(pinning)
    results = []
    for run in range(1, args.repeat + 1):
        for kind in ("minimal", "hotelbot"):
            result = await run_path(kind, run, rate=args.rate, seconds=args.seconds,
                                    pinning=pinning, log_level=args.log_level)
            print(f"  {kind} run {run}: ack p99 {ms(result.ack_p99)} ms", file=sys.stderr)
            results.append(result)
    return results


def median_p99(results: Sequence[LatencyResult], kind: str) -> float:
    return statistics.median(r.ack_p99 for r in results if r.kind == kind)


def render(results: Sequence[LatencyResult], args: argparse.Namespace, pinning: Pinning) -> str:
    headers = ["path", "run", "msgs", "planned msgs/s", "achieved", "ack p50 ms", "ack p99 ms",
               "ack max ms", "e2e p50 ms", "e2e p99 ms", "generator lag p99 ms", "server CPU",
               "server CPU µs/msg", "errors/unmatched"]
    rows = [[r.kind, r.run, r.messages, f"{r.rate:,.0f}", f"{r.achieved:,.0f}", ms(r.ack_p50),
             ms(r.ack_p99), ms(r.ack_max), ms(r.e2e_p50), ms(r.e2e_p99), ms(r.lag_p99),
             f"{r.server_cpu:.0%}", f"{r.server_cpu_us:.0f}", f"{r.errors}/{r.unmatched}"]
            for r in results]
    minimal, hotelbot = median_p99(results, "minimal"), median_p99(results, "hotelbot")
    verdict = "met" if hotelbot <= TARGET_P99 else "MISSED"
    pin = f"server on core {pinning.server}" if pinning.server is not None else "no pinning"
    return (
        f"Open loop at {args.rate:,.0f} msgs/s for {args.seconds:g} s per path, {args.repeat} "
        f"run(s) per path (alternating); latency from each POST's planned start; hotelbot log "
        f"level {args.log_level}; {pin}.\n\n"
        f"{table(headers, rows)}\n\n"
        f"Median ack p99: minimal {ms(minimal)} ms, hotelbot {ms(hotelbot)} ms against the "
        f"target 5 ms: **{verdict}**\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="scripts/bench latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 s at the rate")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=None, help="runs per path (default 3;"
                        " quick: 1)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--write", action="store_true", help=f"update {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (1.0 if args.quick else 5.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.rate <= 0 or args.seconds <= 0 or args.rate * args.seconds > 200_000:
        parser.error("rate and seconds must be positive, at most 200,000 messages")
    if args.repeat < 1:
        parser.error("repeat must be at least 1")
    pinning = plan_pinning(not args.no_pin)
    results = uvloop.run(run(args, pinning))
    output = args.output or (BENCHMARKS_MD if args.write else None)
    emit("latency", argv, render(results, args, pinning), output)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps([asdict(r) for r in results],
                                           option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
