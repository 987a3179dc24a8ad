"""The composition root: the only place that wires hotelbot together.

Owns: `open_core(settings)`, which starts the core in this order and stops it in the reverse
one (the app and the tests build it the same way), and `create_app(settings)`, the aiohttp
application: its routes and its `cleanup_ctx` list.

    open_core:  configuration (validated; LiveConfig)
                -> store (migrations, group-commit writer)
                -> Graph API client (or a transport the caller gives)
                -> pacer (one task per sending number; recovery: pending rows are sent,
                   rows caught `sending` wait for their status)
                -> scheduler (rows left `due` decided; the next hour's rows in its wheel)
                -> router (accepting; sweeps idle actors and stale contexts)
                -> inbox (recovery: inbound rows still `received` are replayed)
                -> retention sweep (hourly: each hotel's rows past their ages are purged)
    create_app: cleanup_ctx = [core, metrics listener, admin socket, console]; routes =
                webhook, /healthz, /readyz, the PMS stays API (its tokens from the
                environment), and the staff console at /console/ when HOTELBOT_CONSOLE_SECRET
                is set; GET /metrics on its own listener (web/metrics.py)

On SIGTERM aiohttp stops accepting first; then the admin socket closes, the inbox stops
sweeping, the router drains every mailbox (each step commits), the pacer finishes what is in
flight (the rest stays in the outbox), the client closes, and the store flushes its writer
and checkpoints. Must never do work at import time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import structlog
from aiohttp import web

from hotelbot.actors import (
    ConversationDeps,
    FunnelRecorder,
    GuestBook,
    Holds,
    Inbox,
    InboxSettings,
    Router,
    RouterSettings,
    open_funnel_recorder,
    open_inbox,
    open_retention,
    open_router,
)
from hotelbot.admin import AdminCommands, AdminServer, AdminTargets, open_admin_server
from hotelbot.clock import Clock, SystemClock
from hotelbot.config import LiveConfig, load_hotels
from hotelbot.metrics import Metrics, SchedulerMeter
from hotelbot.outbound import Pacer, PacerSettings, PacingPolicy, Transport, open_pacer
from hotelbot.scheduler import SchedulerActor, SchedulerSettings, open_scheduler
from hotelbot.settings import Settings
from hotelbot.store import RequestRecord, Store, open_store
from hotelbot.typedefs import NumberId
from hotelbot.web import (
    DESK,
    GATE,
    READINESS,
    STAYS,
    WEBHOOK,
    Desk,
    Gate,
    LoginLimiter,
    MeteredTransport,
    StaysApi,
    WebhookHandler,
    WebhookMeter,
    add_console,
    add_health_routes,
    add_stays_routes,
    add_webhook_routes,
    open_metrics_site,
)
from hotelbot.whatsapp import GraphClient, open_graph_client

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Core:
    """Everything that runs behind the HTTP edge, started by `open_core`."""

    settings: Settings
    clock: Clock
    config: LiveConfig
    store: Store
    transport: Transport  # where sends go: the Graph API client, or what the caller gave
    graph: GraphClient | None  # the Graph API client, when the core opened one
    pacer: Pacer
    router: Router
    inbox: Inbox
    metrics: Metrics  # this app's registry (tests run several apps in one process)
    funnel: FunnelRecorder
    holds: Holds  # conversations staff took over in the console (the bot stays silent)
    scheduler: SchedulerActor

    def readiness(self) -> Mapping[str, bool]:
        """The checks of /readyz: the store takes writes and the router accepts messages."""
        return {"config": True, "store": self.store.writable, "router": self.router.accepting}


@asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    router_settings: RouterSettings | None = None,
    inbox_settings: InboxSettings | None = None,
    instrument_store: Callable[[Store], Store] | None = None,
    policy_of: Callable[[str], PacingPolicy] | None = None,
) -> AsyncIterator[Core]:
    """Start the core (see the module docstring for the order); stop it in reverse on exit.

    Args:
        transport: sends go here instead of a Graph API client (tests record them).
        instrument_store: wraps the store before anything uses it (fault injection in tests).
        policy_of: each sending number's pacing instead of the hotel files' (`hotelbot chat`).
    Raises:
        FlowDefinitionError: the configuration is invalid (nothing else started).
        StoreError: the database cannot be opened or migrated.
    """
    clock = clock or SystemClock()
    config = LiveConfig(settings.config_dir, load_hotels(settings.config_dir))
    metrics = Metrics()
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(
            open_store(settings.database_path, max_pending=settings.max_pending_writes))
        if instrument_store is not None:
            store = instrument_store(store)
        store.observe_commits(metrics.store_commit_seconds.observe, clock.monotonic)
        graph = None
        if transport is None:
            graph = await stack.enter_async_context(open_graph_client(
                settings.graph_url, settings.graph_version, settings.access_token))
            transport = graph
        pacer = await stack.enter_async_context(open_pacer(
            MeteredTransport(transport, metrics), store.outbox, store.windows, clock,
            policy_of=policy_of or _policy_of(config),
            settings=PacerSettings(sending_grace=settings.sending_grace)))
        funnel = await stack.enter_async_context(
            open_funnel_recorder(store.funnel, clock, metrics))
        holds = Holds()
        await holds.load(store.handoffs)
        guests = GuestBook(store.guests)
        scheduler = await stack.enter_async_context(open_scheduler(
            store, pacer, clock, config.get, guests,
            SchedulerSettings(reply_window=settings.scheduled_reply_window),
            SchedulerMeter(metrics)))
        deps = ConversationDeps(store=store, sender=pacer, guests=guests, clock=clock,
                                hotels=config.get, observer=funnel, holds=holds,
                                scheduled=scheduler.wake, answered=scheduler.answered)
        router = await stack.enter_async_context(open_router(deps, store, router_settings))
        inbox = await stack.enter_async_context(
            open_inbox(store.inbound, router, clock, inbox_settings, outbound=pacer,
                       guests=guests))
        await stack.enter_async_context(open_retention(store, config.get, clock))
        yield Core(settings=settings, clock=clock, config=config, store=store,
                   transport=transport, graph=graph, pacer=pacer, router=router, inbox=inbox,
                   metrics=metrics, funnel=funnel, holds=holds, scheduler=scheduler)


def _policy_of(config: LiveConfig) -> Callable[[str], PacingPolicy]:
    """A sending number's limits, from its department's `sending` in the hotel file."""

    def policy_of(number: str) -> PacingPolicy:
        hotels = config.get()
        found = hotels.numbers.get(NumberId(number))
        if found is None:
            return PacingPolicy()
        sending = hotels.hotels[found[0]].departments[found[1]].sending
        return PacingPolicy(per_second=sending.messages_per_second,
                            pair_interval=sending.pair_interval_seconds,
                            pair_burst=sending.pair_burst)

    return policy_of


CORE = web.AppKey("core", Core)
ADMIN = web.AppKey("admin", AdminServer)
METRICS_SITE = web.AppKey("metrics_site", web.TCPSite)


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the application; nothing starts until the runner starts it."""
    # No middleware of its own: the webhook times itself (WebhookMeter), so a POST /webhook
    # runs none, not even aiohttp's current-app fix-up, unless the console adds its own.
    app = web.Application(client_max_size=settings.max_body_bytes)
    app.cleanup_ctx.extend([
        _core_ctx(settings, clock),
        _metrics_ctx,
        _admin_ctx,
    ])
    add_webhook_routes(app)
    add_health_routes(app)
    if settings.console_secret:
        add_console(app, secret=settings.console_secret,
                    session_seconds=settings.console_session)
        app.cleanup_ctx.append(_console_ctx)
    add_stays_routes(app)
    return app


def _core_ctx(
    settings: Settings, clock: Clock | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def core_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_core(settings, clock=clock) as core:
            app[CORE] = core
            app[WEBHOOK] = WebhookHandler(
                app_secret=settings.app_secret, verify_token=settings.verify_token,
                inbox=core.inbox,
                monotonic=core.clock.monotonic,
                body_timeout=settings.body_timeout,
                observer=WebhookMeter(core.metrics, _hotel_of(core.config)),
            )
            app[READINESS] = core.readiness
            app[STAYS] = StaysApi(scheduler=core.scheduler, store=core.store,
                                  hotels=core.config.get, clock=core.clock, environ=os.environ)
            yield

    return core_ctx


def _hotel_of(config: LiveConfig) -> Callable[[str], str]:
    def hotel_of(number: str) -> str:
        found = config.get().numbers.get(NumberId(number))
        return found[0] if found is not None else ""

    return hotel_of


class _MetricsSources:
    """What a scrape of /metrics reads from the core."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def outbox_in_work(self) -> tuple[dict[str, int], datetime | None]:
        return await self._core.store.outbox.in_work()

    def pacer_in_flight(self) -> int:
        return self._core.pacer.statistics().in_flight

    def mailboxes(self) -> Sequence[int]:
        return [c.queued for c in self._core.router.conversations()]

    def now(self) -> datetime:
        return self._core.clock.now()


async def _metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    port = core.settings.metrics_port
    if port is None:  # HOTELBOT_METRICS_PORT=off
        yield
        return
    async with open_metrics_site(core.metrics, _MetricsSources(core),
                                 core.settings.metrics_host, port) as site:
        app[METRICS_SITE] = site
        log.info("metrics_listening", host=core.settings.metrics_host, port=site.port)
        yield
def _desk(app: web.Application) -> Desk:
    """The app's one desk: the console's staff and the admin socket's ack/done/cancel move
    requests alike (the guest told in the same transaction; a request marked done fires its
    hotel's after-request triggers, the feedback request)."""
    if DESK in app:
        return app[DESK]
    core = app[CORE]
    desk = Desk(store=core.store, pacer=core.pacer, hotels=core.config.get, clock=core.clock,
                holds=core.holds, handoff_timeout=core.settings.handoff_timeout,
                cooloffs=core.router)
    scheduler = core.scheduler

    async def done(request: RequestRecord) -> list[int]:
        return await scheduler.request_changed(
            hotel_id=request.hotel_id, request_id=request.id, guest_id=request.guest_id,
            flow_id=request.flow_id, status="done", at=core.clock.now())

    desk.on_done(done)
    app[DESK] = desk
    return desk


async def _console_ctx(app: web.Application) -> AsyncIterator[None]:
    """The console's desk (staff actions) and sign-in; the sweep of timed-out handoffs."""
    core = app[CORE]
    desk = _desk(app)
    app[GATE] = Gate(store=core.store, clock=core.clock, limiter=LoginLimiter(),
                     session_seconds=core.settings.console_session,
                     secret=core.settings.console_secret)
    sweeper = asyncio.create_task(desk.sweep_forever(), name="console-handoff-sweep")
    try:
        yield
    finally:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)


async def _admin_ctx(app: web.Application) -> AsyncIterator[None]:
    core = app[CORE]
    targets = AdminTargets(
        router=core.router, inbox=core.inbox, store=core.store, pacer=core.pacer,
        graph=core.graph, config=core.config, now=core.clock.now, funnel=core.funnel,
        scheduler=core.scheduler, desk=_desk(app),
    )
    async with open_admin_server(core.settings.admin_socket, AdminCommands(targets)) as server:
        app[ADMIN] = server
        yield
