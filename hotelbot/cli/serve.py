"""Running the app: `hotelbot serve` and `python -m hotelbot` end here.

Owns: the aiohttp runner, the listening site, signals (SIGTERM/SIGINT: graceful stop;
SIGHUP: reload the configuration, keeping the last good one when the new one is invalid).
Must never build the app's parts itself (app.py does) or swallow a start-up error: a
missing secret or a bad configuration stops start-up with a clear message.
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from hotelbot.app import CATALOG, create_app
from hotelbot.config import Settings
from hotelbot.errors import FlowDefinitionError

log = structlog.get_logger(__name__)


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully (nothing acknowledged is lost)."""
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()  # runs the cleanup contexts: config, store, client, router, admin
    except BaseException:
        await app.cleanup()  # unwind the contexts that did start (the store flushes, closes)
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _reload, app)
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        log.info("serving", host=settings.host, port=settings.port)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting_down")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        await runner.cleanup()  # stop sites, then unwind contexts in reverse order
        log.info("stopped")


def _reload(app: web.Application) -> None:
    try:
        app[CATALOG].reload()
    except FlowDefinitionError as exc:
        log.error("config_reload_refused", problems=[str(p) for p in exc.problems])


def run(settings: Settings) -> None:
    """Run `serve` on uvloop (the standard loop where uvloop is not available)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported OS
        asyncio.run(serve(settings))
        return
    uvloop.run(serve(settings))
