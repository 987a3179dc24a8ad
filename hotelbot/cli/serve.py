"""Running the app: `hotelbot serve` and `python -m hotelbot` end here.

Owns: the aiohttp runner, the listening site and its limits against hostile clients (issue
14: an idle/slow-head deadline, a cap on open connections, no request-body decompression,
a short lingering close), signals (SIGTERM/SIGINT: graceful stop; SIGHUP: reload the
configuration, keeping the last good one when the new one is invalid), and the process's
pauses (`settle_process`: dateparser warmed in a thread, then the start-up heap frozen out of
the garbage collector and its thresholds raised; README "Pauses").
Must never build the app's parts itself (app.py does) or swallow a start-up error: a
missing secret or a bad configuration stops start-up with a clear message.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiohttp import web

from hotelbot.app import CORE, create_app
from hotelbot.errors import FlowDefinitionError
from hotelbot.flows import warm_dates
from hotelbot.settings import Settings

log = structlog.get_logger(__name__)

# Young collections every 50 000 net allocations (CPython's default: 700), a middle one every
# 50 of them, a full one every 100 middle ones at most: a full collection walks every live
# object (the conversation actors: 28-400 ms measured under load, BENCHMARKS.md "Scheduler"),
# so it must be rare. Objects alive after start-up are frozen out of collection altogether.
GC_THRESHOLDS = (50_000, 50, 100)


def runner_options(settings: Settings) -> dict[str, Any]:
    """The aiohttp server options every listener of hotelbot uses (tests included).

    keepalive_timeout: aiohttp arms it when a connection opens and after each response, and
        closes the connection if no complete request head arrived by then: one deadline for
        idle keep-alive connections and for heads trickled in slowly.
    auto_decompress=False: a gzip body is never inflated; the webhook refuses it with 415
        before reading it (a 1 MB bomb inflates to 1 GiB).
    lingering_time: how long to drain a body the handler did not read (e.g. after a 415)
        before closing; short, so it cannot hold a connection.
    """
    return {
        "handle_signals": False,
        "access_log": None,
        "keepalive_timeout": settings.idle_timeout,
        "auto_decompress": False,
        "lingering_time": 2.0,
    }


class CappedSite(web.TCPSite):
    """A TCP site that refuses connections past `max_connections` (a 503, then close).

    Every open socket costs a file descriptor; a thousand idle or slow clients would
    otherwise stop the server from accepting Meta's requests.
    """

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, *, max_connections: int
    ) -> None:
        super().__init__(runner, host, port)
        self._max_connections = max_connections
        self.refused = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        server = self._runner.server
        assert server is not None
        handler_server: web.Server = server

        def accept() -> asyncio.BaseProtocol:
            if len(handler_server.connections) >= self._max_connections:
                self.refused += 1
                return _Refusal(self)
            return handler_server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(accept, self._host, self._port)
        self._bound_port = self._server.sockets[0].getsockname()[1]


class _Refusal(asyncio.Protocol):
    _ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
               b"Content-Length: 0\r\nRetry-After: 1\r\n\r\n")

    def __init__(self, site: CappedSite) -> None:
        self._site = site

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self._site.refused == 1 or self._site.refused % 1000 == 0:
            log.warning("connections_capped", refused=self._site.refused)
        transport.write(self._ANSWER)
        transport.close()


@asynccontextmanager
async def open_server(app: web.Application, settings: Settings) -> AsyncIterator[CappedSite]:
    """Start the app's contexts and listen on settings.host:port; stop both on exit.

    Raises:
        whatever a cleanup context raised at start-up, after unwinding the ones that started.
    """
    runner = web.AppRunner(app, **runner_options(settings))
    try:
        await runner.setup()  # runs the cleanup contexts: config, store, client, router, admin
    except BaseException:
        await app.cleanup()  # unwind the contexts that did start (the store flushes, closes)
        raise
    try:
        site = CappedSite(runner, settings.host, settings.port,
                          max_connections=settings.max_connections)
        await site.start()
        yield site
    finally:
        await runner.cleanup()  # stop sites, then unwind contexts in reverse order


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully (nothing acknowledged is lost)."""
    app = create_app(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with open_server(app, settings):
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        loop.add_signal_handler(signal.SIGHUP, _reload, app)
        try:
            await settle_process(app)
            log.info("serving", host=settings.host, port=settings.port)
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info("shutting_down")
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
    log.info("stopped")


async def settle_process(app: web.Application) -> None:
    """Once started: read a date in every configured language (dateparser's first use costs
    0.2-0.45 s; in a thread, so webhooks are acknowledged meanwhile), then freeze what start-up
    allocated out of the garbage collector and raise its thresholds (GC_THRESHOLDS)."""
    core = app[CORE]
    started = core.clock.monotonic()
    hotels = list(core.config.get().hotels.values())
    read = await asyncio.to_thread(warm_dates, hotels, core.clock.now())
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    log.info("process_settled", dates_read=read, frozen=gc.get_freeze_count(),
             seconds=round(core.clock.monotonic() - started, 3))


def _reload(app: web.Application) -> None:
    try:
        app[CORE].config.reload()
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
