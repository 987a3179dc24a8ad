"""The composition root: the only place that wires hotelbot together.

Owns: `create_app(settings)`, the order in which resources start and stop, and the HTTP
routes. Every resource is an async context manager in `app.cleanup_ctx`, started in this
order and stopped in the reverse one:

    config (validated, LiveConfig) -> store (migrations, writer) -> Graph client -> sender
      -> router (+ recovery: unsent outbox rows re-sent, unprocessed inbound replayed)
      -> admin socket (local Unix socket, 0600: stats, requests, context, reload)

On SIGTERM aiohttp stops accepting first; then the router drains every mailbox (each
step commits), the sender finishes what is in flight (the rest stays pending on disk), the
client closes, and the store flushes its writer and checkpoints.
Must never do work at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from hotelbot.actors.conversation import ConversationDeps
from hotelbot.actors.guests import GuestBook
from hotelbot.actors.router import Router
from hotelbot.admin import AdminCommands, AdminServer, AdminTargets, open_admin_server
from hotelbot.clock import Clock, SystemClock
from hotelbot.config import LiveConfig, load_hotels
from hotelbot.scheduler import DirectSender
from hotelbot.settings import Settings
from hotelbot.store import Store, open_store
from hotelbot.whatsapp.client import GraphClient, open_graph_client
from hotelbot.whatsapp.payloads import event_for
from hotelbot.whatsapp.webhook import WebhookHandler

log = structlog.get_logger(__name__)


SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
LIVE_CONFIG = web.AppKey("live_config", LiveConfig)
STORE = web.AppKey("store", Store)
GRAPH = web.AppKey("graph", GraphClient)
SENDER = web.AppKey("sender", DirectSender)
ROUTER = web.AppKey("router", Router)
WEBHOOK = web.AppKey("webhook", WebhookHandler)
ADMIN = web.AppKey("admin", AdminServer)


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the application; nothing starts until the runner starts it."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app.cleanup_ctx.extend([_config_ctx, _store_ctx, _graph_ctx, _sender_ctx, _router_ctx,
                             _admin_ctx])
    app.router.add_get("/webhook", _verify)
    app.router.add_post("/webhook", _receive)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    return app


async def _config_ctx(app: web.Application) -> AsyncIterator[None]:
    config_dir = app[SETTINGS].config_dir
    app[LIVE_CONFIG] = LiveConfig(config_dir, load_hotels(config_dir))
    yield


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with open_store(settings.database_path, max_pending=settings.max_pending_writes) as store:
        app[STORE] = store
        yield


async def _graph_ctx(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    async with open_graph_client(s.graph_url, s.graph_version, s.access_token) as client:
        app[GRAPH] = client
        yield


async def _sender_ctx(app: web.Application) -> AsyncIterator[None]:
    sender = DirectSender(app[GRAPH], app[STORE].outbox, app[CLOCK])
    app[SENDER] = sender
    yield
    await sender.close()


async def _router_ctx(app: web.Application) -> AsyncIterator[None]:
    store, clock = app[STORE], app[CLOCK]
    deps = ConversationDeps(
        store=store,
        sender=app[SENDER],
        guests=GuestBook(store.guests),
        clock=clock,
        hotels=app[LIVE_CONFIG].get,
    )
    router = Router(deps, store, event_for)
    app[ROUTER] = router
    app[WEBHOOK] = WebhookHandler(
        app_secret=app[SETTINGS].app_secret,
        verify_token=app[SETTINGS].verify_token,
        store=store.inbound,
        router=router,
        now=clock.now,
        monotonic=clock.monotonic,
        body_timeout=app[SETTINGS].body_timeout,
    )
    app[SENDER].submit(await store.outbox.pending())
    await router.start()
    try:
        yield
    finally:
        await router.stop()


async def _admin_ctx(app: web.Application) -> AsyncIterator[None]:
    targets = AdminTargets(
        router=app[ROUTER], store=app[STORE], sender=app[SENDER], graph=app[GRAPH],
        config=app[LIVE_CONFIG], now=app[CLOCK].now,
    )
    path = app[SETTINGS].admin_socket
    async with open_admin_server(path, AdminCommands(targets)) as server:
        app[ADMIN] = server
        yield


async def _verify(request: web.Request) -> web.Response:
    return await request.app[WEBHOOK].verify(request)


async def _receive(request: web.Request) -> web.Response:
    return await request.app[WEBHOOK].receive(request)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    """Ready when the configuration is loaded, the store takes writes and the router runs."""
    app = request.app
    checks = {
        "config": LIVE_CONFIG in app,
        "store": STORE in app and app[STORE].writable,
        "router": ROUTER in app and app[ROUTER].accepting,
    }
    ready = all(checks.values())
    return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)
