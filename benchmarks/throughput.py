"""Benchmark 1, throughput: the minimal path vs the real hotelbot app, same run, same fake.

Owns: N signed webhook POSTs (G guests x M messages, one text each) from a closed-loop load
generator with concurrency C in this process, against a server in a child process pinned to
its own core, both answering through the same fake Graph API (in this process). Reports
msgs/s (first POST to last reply recorded at the fake), the hotelbot/minimal ratio (DESIGN
target >= 60 %), webhook ack p50/p99, end-to-end p50/p99 (POST -> reply recorded), and the
server's CPU time per message (the load-independent cost). `--profile` adds a cProfile of
hotelbot's event-loop thread.
Must never: assert a timing, or run unbounded (counts are fixed; every wait has a timeout).

    scripts/bench throughput [--quick] [--guests 2000 --messages 3 --concurrency 64]
                             [--repeat 3] [--profile] [--profile-out FILE]
                             [--write | --output FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import math
import pstats
import shutil
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
    closed_loop,
    make_rounds,
    match_replies,
    open_fake_graph,
    open_session,
    wait_replies,
)
from benchmarks.process import Pinning, open_server, pin_harness, plan_pinning
from benchmarks.report import BENCHMARKS_MD, emit, ms, percentile, table

WARMUP_GUESTS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class PathResult:
    kind: str
    run: int
    messages: int
    replies: int  # sends recorded at the fake for these messages
    errors: int  # POSTs not answered 200
    unmatched: int  # POSTs with no reply recorded
    complete: bool  # every reply arrived before the timeout
    seconds: float
    rate: float  # msgs/s end to end
    ack_p50: float
    ack_p99: float
    e2e_p50: float
    e2e_p99: float
    server_cpu_us: float  # server CPU time per message, microseconds
    server_util: float  # server CPU time / wall time
    harness_util: float
    server_rss_mib: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    guests: int
    messages: int
    concurrency: int
    repeat: int
    pinning: Pinning
    profile: bool
    profile_out: Path | None  # keep the raw cProfile file here (pstats), when profiling
    log_level: str


async def run_path(kind: str, run: int, opts: Options) -> tuple[PathResult, str]:
    """One measured run of one server kind; returns its result and its profile text."""
    warm = make_rounds(guests=min(WARMUP_GUESTS, opts.guests), rounds=1, prefix="3470")
    rounds = make_rounds(guests=opts.guests, rounds=opts.messages, prefix="3460")
    n = opts.guests * opts.messages
    with tempfile.TemporaryDirectory(prefix="hotelbot-bench-") as tmp:
        profile = Path(tmp) / "server.prof" if opts.profile and kind == "hotelbot" else None
        async with (
            open_fake_graph() as (fake, graph_url),
            open_server(kind, graph_url=graph_url, data_dir=Path(tmp) / "data",
                        cpu=opts.pinning.server, profile=profile,
                        log_level=opts.log_level) as server,
            open_session(opts.concurrency) as session,
        ):
            await closed_loop(session, server.url, warm, opts.concurrency)
            await wait_replies(fake, len(warm[0]), limit=30.0)
            base = len(fake.sends)
            cpu0, own0, t0 = server.cpu_seconds(), time.process_time(), time.monotonic()
            posts = await closed_loop(session, server.url, rounds, opts.concurrency)
            complete = await wait_replies(fake, base + n, limit=max(30.0, n / 200))
            cpu, own = server.cpu_seconds() - cpu0, time.process_time() - own0
            rss = server.rss_bytes()
        profile_text = _profile_text(profile) if profile is not None else ""
        if profile is not None and opts.profile_out is not None and profile.exists():
            shutil.copyfile(profile, opts.profile_out)
    matched = match_replies(posts, fake.sends[base:])
    wall = (matched.last_reply if not math.isnan(matched.last_reply) else time.monotonic()) - t0
    acks = [p.ack - p.start for p in posts]
    result = PathResult(
        kind=kind, run=run, messages=n, replies=len(fake.sends) - base,
        errors=sum(p.status != 200 for p in posts),
        unmatched=matched.unmatched, complete=complete, seconds=wall, rate=n / wall,
        ack_p50=percentile(acks, 50), ack_p99=percentile(acks, 99),
        e2e_p50=percentile(matched.e2e, 50), e2e_p99=percentile(matched.e2e, 99),
        server_cpu_us=cpu / n * 1e6, server_util=cpu / wall, harness_util=own / wall,
        server_rss_mib=rss / 2**20,
    )
    return result, profile_text


def _profile_text(path: Path, top: int = 45) -> str:
    if not path.exists():
        return "(no profile written)"
    views = []
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(str(path), stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        views.append(f"-- by {key}\n" + "\n".join(lines[start:]).rstrip())
    return "\n\n".join(views)


async def run(opts: Options) -> tuple[list[PathResult], str]:
    pin_harness(opts.pinning)
    results: list[PathResult] = []
    profile_text = ""
    for r in range(1, opts.repeat + 1):
        for kind in ("minimal", "hotelbot"):
            result, text = await run_path(kind, r, opts)
            results.append(result)
            profile_text = text or profile_text
            print(f"  {kind} run {r}: {result.rate:,.0f} msgs/s", file=sys.stderr)
    return results, profile_text


def summary(results: Sequence[PathResult]) -> dict[str, float]:
    """Medians per path and the two ratios (throughput, and CPU per message)."""
    def median(kind: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in results if r.kind == kind)

    rate_ratio = median("hotelbot", "rate") / median("minimal", "rate")
    cpu_ratio = median("minimal", "server_cpu_us") / median("hotelbot", "server_cpu_us")
    return {
        "minimal_rate": median("minimal", "rate"), "hotelbot_rate": median("hotelbot", "rate"),
        "rate_ratio": rate_ratio, "cpu_ratio": cpu_ratio,
        "minimal_cpu_us": median("minimal", "server_cpu_us"),
        "hotelbot_cpu_us": median("hotelbot", "server_cpu_us"),
    }


def render(results: Sequence[PathResult], opts: Options, profile_text: str) -> str:
    rows = [
        [r.kind, r.run, r.messages, r.replies, f"{r.rate:,.0f}", ms(r.ack_p50), ms(r.ack_p99),
         ms(r.e2e_p50), ms(r.e2e_p99), f"{r.server_cpu_us:.0f}", f"{r.server_util:.0%}",
         f"{r.harness_util:.0%}", f"{r.server_rss_mib:.0f}",
         f"{r.errors}/{r.unmatched}" + ("" if r.complete else " (incomplete)")]
        for r in results
    ]
    headers = ["path", "run", "msgs", "replies", "msgs/s", "ack p50 ms", "ack p99 ms", "e2e p50 ms",
               "e2e p99 ms", "server CPU µs/msg", "server CPU", "harness CPU", "server RSS MiB",
               "errors/unmatched"]
    s = summary(results)
    pin = (f"server pinned to core {opts.pinning.server}, load generator + fake Graph API"
           f" on {sorted(opts.pinning.harness)}" if opts.pinning.harness else "no core pinning")
    text = (
        f"{opts.guests} guests x {opts.messages} messages, concurrency {opts.concurrency}, "
        f"{opts.repeat} run(s) per path, hotelbot log level {opts.log_level}; {pin}.\n\n"
        f"{table(headers, rows)}\n\n"
        f"hotelbot / minimal throughput (medians): {s['hotelbot_rate']:,.0f} / "
        f"{s['minimal_rate']:,.0f} msgs/s = **{s['rate_ratio']:.0%}** (target >= 60 %)\n\n"
        f"minimal / hotelbot server CPU per message: {s['minimal_cpu_us']:.0f} / "
        f"{s['hotelbot_cpu_us']:.0f} µs = **{s['cpu_ratio']:.0%}**\n"
    )
    if profile_text:
        text += ("\nhotelbot server profile (cProfile, event-loop thread; its overhead"
                 " inflates the run):\n\n"
                 f"```\n{profile_text}\n```\n")
    return text


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(prog="scripts/bench throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds: 100 x 2, C=16")
    parser.add_argument("--guests", type=int, default=None)
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="cProfile the hotelbot server")
    parser.add_argument("--profile-out", type=Path, default=None,
                        help="with --profile: also keep the raw cProfile file (pstats) here")
    parser.add_argument("--log-level", default="info", help="hotelbot's log level (info)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--write", action="store_true", help=f"update {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=None, help="update this file instead")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    opts = Options(
        guests=args.guests or (100 if quick else 2000),
        messages=args.messages or (2 if quick else 3),
        concurrency=args.concurrency or (16 if quick else 64),
        repeat=args.repeat or (1 if quick else 3),
        pinning=plan_pinning(not args.no_pin), profile=args.profile or args.profile_out is not None,
        profile_out=args.profile_out, log_level=args.log_level,
    )
    if min(opts.guests, opts.messages, opts.concurrency, opts.repeat) < 1:
        parser.error("counts must be positive")
    return args, opts


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, opts = parse(argv)
    results, profile_text = uvloop.run(run(opts))
    output = args.output or (BENCHMARKS_MD if args.write else None)
    emit("throughput", argv, render(results, opts, profile_text), output)
    if args.json is not None:
        data = {"results": [asdict(r) for r in results], "summary": summary(results)}
        args.json.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
