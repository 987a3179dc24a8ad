"""GET /metrics on its own listener, and the edge's meters (webhook, inbox, Graph API sends).

Owns: the metrics listener (`open_metrics_site`: a separate aiohttp site on
HOTELBOT_METRICS_HOST:HOTELBOT_METRICS_PORT, loopback by default, so the public webhook port
never exposes it), the scrape (`refresh` reads the gauges that are states, not events: outbox
rows by state, the pacer's queue, actors and mailboxes), and what the composition root hands
the core's parts: `WebhookMeter` (the webhook handler's observer: times each POST /webhook by
status code, counts each recorded webhook's new messages by hotel and type, and Meta's
statuses) and `MeteredTransport` (counts each Graph API send by result and Meta error code).
Both keep their labelled children (`_Labelled`): a message costs dictionary lookups, not
prometheus-client's `labels()`.
Must never label by a guest's number, or make a scrape write anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from aiohttp import web
from prometheus_client import Histogram

from hotelbot.errors import GraphAPIError
from hotelbot.metrics import CONTENT_TYPE, Metrics
from hotelbot.store import DeliveryStatus, RecordedWebhook

__all__ = ["MeteredTransport", "MetricsSources", "WebhookMeter", "open_metrics_site"]

_Child = TypeVar("_Child")


class Transport(Protocol):
    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        ...

    async def mark_read(self, phone_number_id: str, wamid: str) -> None: ...


class MetricsSources(Protocol):
    """What a scrape reads (the composition root's core)."""

    async def outbox_in_work(self) -> tuple[dict[str, int], datetime | None]: ...

    def pacer_in_flight(self) -> int: ...

    def mailboxes(self) -> Sequence[int]:
        """The queue depth of every conversation actor in memory."""
        ...

    def now(self) -> datetime: ...


_MAX_CHILDREN = 1024  # label combinations remembered per metric (configuration and Meta bound them)


class _Labelled(Generic[_Child]):
    """A metric's children by label values: after the first use a message costs one dict
    lookup (prometheus-client's `labels()` validates its arguments and takes a lock every
    call). Children are made on first use, exactly as `labels()` would make them, so no
    series appears before its first event; past `_MAX_CHILDREN` combinations they are looked
    up each time rather than remembered."""

    def __init__(self, labels: Callable[..., _Child]) -> None:
        self._labels = labels
        self._children: dict[tuple[str, ...], _Child] = {}

    def __call__(self, *values: str) -> _Child:
        child = self._children.get(values)
        if child is None:
            child = self._labels(*values)
            if len(self._children) < _MAX_CHILDREN:
                self._children[values] = child
        return child


class WebhookMeter:
    """The webhook's observer (web/webhook.py WebhookObserver) on the app's metrics: each
    POST's time by status code, each recorded webhook's new messages by hotel and type, and
    Meta's delivery statuses."""

    def __init__(self, metrics: Metrics, hotel_of: Callable[[str], str]) -> None:
        self._seconds = metrics.webhook_seconds
        self._by_code: dict[int, Histogram] = {}  # HTTP status codes: a few dozen at most
        self._inbound = _Labelled(metrics.inbound_messages.labels)
        self._statuses = _Labelled(metrics.delivery_statuses.labels)
        self._hotel_of = hotel_of

    def answered(self, code: int, seconds: float) -> None:
        child = self._by_code.get(code)
        if child is None:
            child = self._by_code[code] = self._seconds.labels(str(code))
        child.observe(seconds)

    def recorded(self, recorded: RecordedWebhook, statuses: Sequence[DeliveryStatus]) -> None:
        for message in recorded.fresh:
            self._inbound(self._hotel_of(message.phone_number_id), message.kind).inc()
        for status in statuses:
            self._statuses(status.status).inc()


class MeteredTransport:
    """The Graph API transport, counting each send: sent, or failed with Meta's code."""

    def __init__(self, transport: Transport, metrics: Metrics) -> None:
        self._transport = transport
        self._sends = _Labelled(metrics.sends.labels)

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        try:
            wamid = await self._transport.send(phone_number_id, guest_id, body)
        except GraphAPIError as exc:
            self._sends("failed", str(exc.code)).inc()
            raise
        self._sends("sent", "0").inc()
        return wamid

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        await self._transport.mark_read(phone_number_id, wamid)


async def refresh(metrics: Metrics, sources: MetricsSources) -> None:
    """Set the gauges that describe a state, read at scrape time."""
    by_state, oldest = await sources.outbox_in_work()
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
