"""GET /metrics on its own listener, and the edge's meters (webhook, inbox, Graph API sends).

Owns: the metrics listener (`open_metrics_site`: a separate aiohttp site on
HOTELBOT_METRICS_HOST:HOTELBOT_METRICS_PORT, loopback by default, so the public webhook port
never exposes it), the scrape (`refresh` reads the gauges that are states, not events: outbox
rows by state, the pacer's queue, actors and mailboxes), and three decorators the composition
root puts around the core's parts: `webhook_timer` (a middleware timing POST /webhook),
`MeteredInbox` (counts each recorded webhook's new messages by hotel and type, and Meta's
statuses) and `MeteredTransport` (counts each Graph API send by result and Meta error code).
Must never label by a guest's number, or make a scrape write anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiohttp import web

from hotelbot.errors import GraphAPIError
from hotelbot.metrics import CONTENT_TYPE, Metrics
from hotelbot.store import DeliveryStatus, InboundMessage, RecordedWebhook, RejectedPart
from hotelbot.web.webhook import Inbox

__all__ = ["WEBHOOK_METER", "MeteredInbox", "MeteredTransport", "MetricsSources",
           "WebhookMeter", "open_metrics_site", "webhook_timer"]


class Transport(Protocol):
    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        ...

    async def mark_read(self, phone_number_id: str, wamid: str) -> None: ...


class MetricsSources(Protocol):
    """What a scrape reads (the composition root's core)."""

    async def outbox_counts(self) -> tuple[dict[str, int], datetime | None]: ...

    def pacer_in_flight(self) -> int: ...

    def mailboxes(self) -> Sequence[int]:
        """The queue depth of every conversation actor in memory."""
        ...

    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class WebhookMeter:
    """What the webhook timer needs: the app's metrics and a monotonic clock."""

    metrics: Metrics
    monotonic: Callable[[], float]


WEBHOOK_METER = web.AppKey("webhook_meter", WebhookMeter)


@web.middleware
async def webhook_timer(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Observe how long each POST /webhook took, by status code (once the core is up)."""
    meter = request.app.get(WEBHOOK_METER)
    if meter is None or request.method != "POST" or request.path != "/webhook":
        return await handler(request)
    started = meter.monotonic()
    code = 500
    try:
        response = await handler(request)
        code = response.status
        return response
    except web.HTTPException as exc:
        code = exc.status
        raise
    finally:
        meter.metrics.webhook_seconds.labels(str(code)).observe(meter.monotonic() - started)


class MeteredInbox:
    """The inbox, counting what each accepted webhook recorded."""

    def __init__(
        self, inbox: Inbox, metrics: Metrics, hotel_of: Callable[[str], str]
    ) -> None:
        self._inbox = inbox
        self._metrics = metrics
        self._hotel_of = hotel_of

    async def accept(
        self,
        messages: Sequence[InboundMessage],
        statuses: Sequence[DeliveryStatus],
        rejected: Sequence[RejectedPart],
    ) -> RecordedWebhook:
        recorded = await self._inbox.accept(messages, statuses, rejected)
        for message in recorded.fresh:
            hotel = self._hotel_of(message.phone_number_id)
            self._metrics.inbound_messages.labels(hotel, message.kind).inc()
        for status in statuses:
            self._metrics.delivery_statuses.labels(status.status).inc()
        return recorded


class MeteredTransport:
    """The Graph API transport, counting each send: sent, or failed with Meta's code."""

    def __init__(self, transport: Transport, metrics: Metrics) -> None:
        self._transport = transport
        self._metrics = metrics

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        try:
            wamid = await self._transport.send(phone_number_id, guest_id, body)
        except GraphAPIError as exc:
            self._metrics.sends.labels("failed", str(exc.code)).inc()
            raise
        self._metrics.sends.labels("sent", "0").inc()
        return wamid

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        await self._transport.mark_read(phone_number_id, wamid)


async def refresh(metrics: Metrics, sources: MetricsSources) -> None:
    """Set the gauges that describe a state, read at scrape time."""
    by_state, oldest = await sources.outbox_counts()
    metrics.outbound_rows.clear()
    for state, count in by_state.items():
        metrics.outbound_rows.labels(state).set(count)
    metrics.pacer_queue.set(by_state.get("pending", 0))
    metrics.pacer_in_flight.set(sources.pacer_in_flight())
    wait = 0.0 if oldest is None else max(0.0, (sources.now() - oldest).total_seconds())
    metrics.pacer_oldest_wait.set(wait)
    depths = sources.mailboxes()
    metrics.actors_active.set(len(depths))
    metrics.mailbox_queued.set(sum(depths))
    metrics.mailbox_max.set(max(depths, default=0))


@asynccontextmanager
async def open_metrics_site(
    metrics: Metrics, sources: MetricsSources, host: str, port: int
) -> AsyncIterator[web.TCPSite]:
    """Serve GET /metrics on host:port (0: any free port) until exit."""

    async def scrape(request: web.Request) -> web.Response:
        await refresh(metrics, sources)
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        yield site
    finally:
        await runner.cleanup()
