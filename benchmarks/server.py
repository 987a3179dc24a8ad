"""The server side of a benchmark, in its own process: the minimal path or the real hotelbot.

Owns: `python -m benchmarks.server --kind minimal|hotelbot ...`: pin itself to one core (when
asked), run the app on uvloop on 127.0.0.1, stop gracefully on SIGTERM, and optionally write a
cProfile of the event-loop thread. hotelbot runs through `hotelbot.cli.serve.serve` (the code
path of `hotelbot serve`), logging JSON lines to a file at the chosen level.
Must never: listen beyond loopback, or run without a bound (the parent stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import signal
from collections.abc import Sequence
from pathlib import Path

import uvloop
from aiohttp import web

from benchmarks.hotels import unpaced_config
from benchmarks.minimal import create_minimal_app
from hotelbot.cli.serve import serve
from hotelbot.log import configure_logging
from hotelbot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
APP_SECRET = "bench-app-secret"  # benchmark values, not secrets
VERIFY_TOKEN = "bench-verify-token"
ACCESS_TOKEN = "bench-access-token"
KINDS = ("minimal", "hotelbot")


async def serve_minimal(graph_url: str, data_dir: Path, port: int) -> None:
    app = create_minimal_app(app_secret=APP_SECRET, access_token=ACCESS_TOKEN,
                             graph_url=graph_url, db_path=data_dir / "minimal.sqlite3")
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await stop.wait()
    finally:
        await runner.cleanup()


def hotelbot_settings(graph_url: str, data_dir: Path, port: int, log_level: str) -> Settings:
    config = unpaced_config(data_dir / "config")  # what hotelbot costs, not Meta's pacing
    return Settings(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, access_token=ACCESS_TOKEN,
                    graph_url=graph_url, config_dir=config, data_dir=data_dir,
                    host="127.0.0.1", port=port, log_level=log_level, metrics_port=0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--graph-url", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.kind == "minimal":
        main_coro = serve_minimal(args.graph_url, args.data_dir, args.port)
        log_file = None
    else:
        log_file = (args.data_dir / "hotelbot.log").open("w", encoding="utf-8")
        configure_logging(json=True, level=args.log_level, stream=log_file, cache=True)
        settings = hotelbot_settings(args.graph_url, args.data_dir, args.port, args.log_level)
        main_coro = serve(settings)
    profiler = cProfile.Profile() if args.profile else None
    try:
        if profiler is not None:
            profiler.enable()
        uvloop.run(main_coro)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        if log_file is not None:
            log_file.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
