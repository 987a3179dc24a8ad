"""Metrics: every Prometheus metric hotelbot exposes, on one registry per app.

Owns: the metric objects (names, help, labels, buckets) and the registry they live on. Each
app (and each test server) makes its own `Metrics()`, so several servers in one process never
share or collide on a metric (prometheus-client's global default registry is not used).
Must never: do I/O, read the clock, or label a metric with a guest's number or anything
unbounded (labels are hotel ids, departments, flow ids, message kinds, states, Meta error
codes: sets the configuration or Meta fixes).

Who feeds what:
    inbound_messages, delivery_statuses   web/metrics.py WebhookMeter (each recorded webhook)
    webhook_seconds                       web/metrics.py WebhookMeter (each POST /webhook)
    steps, cooloffs, expired_contexts     actors/progress.py StepObserver (each committed step)
    sends                                 web/metrics.py MeteredTransport (each Graph API POST)
    outbound_rows, pacer_*, actors_active,
    mailbox_*                             refreshed at each scrape (web/metrics.py `refresh`)
    store_commit_seconds                  the store's writer (each group commit)
    scheduler_pending, scheduler_lateness the scheduler (SchedulerMeter, its observer): the
                                          wheel's size after each turn, each row's lateness
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics", "SchedulerMeter"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Latency buckets in seconds: sub-millisecond group commits up to multi-second stalls.
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LATENESS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0)


class Metrics:
    """The metric objects of one app, on their own registry (`exposition()` renders it)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.inbound_messages = Counter(
            "hotelbot_inbound_messages", "Guest messages recorded (new, not duplicates)",
            ["hotel", "type"], registry=r)
        self.delivery_statuses = Counter(
            "hotelbot_delivery_statuses", "Meta's delivery statuses received",
            ["status"], registry=r)
        self.webhook_seconds = Histogram(
            "hotelbot_webhook_seconds", "Time to answer a webhook POST, by status code",
            ["code"], buckets=_FAST, registry=r)
        self.steps = Counter(
            "hotelbot_engine_steps", "Engine steps committed", ["hotel", "flow"], registry=r)
        self.cooloffs = Counter(
            "hotelbot_cooloffs", "Cooloffs started (too many invalid answers)",
            ["hotel", "flow"], registry=r)
        self.expired_contexts = Counter(
            "hotelbot_expired_contexts", "Conversations found expired by the guest's next message",
            ["hotel", "flow"], registry=r)
        self.sends = Counter(
            "hotelbot_sends", "Graph API send attempts by result and Meta error code (0: none)",
            ["result", "code"], registry=r)
        self.outbound_rows = Gauge(
            "hotelbot_outbound_rows",
            "Outbox rows not sent yet, by state: pending, sending (read at scrape)", ["state"],
            registry=r)
        self.pacer_queue = Gauge(
            "hotelbot_pacer_queue_depth", "Rows waiting to be sent: pending in the outbox",
            registry=r)
        self.pacer_in_flight = Gauge(
            "hotelbot_pacer_in_flight", "Graph API POSTs in flight", registry=r)
        self.pacer_oldest_wait = Gauge(
            "hotelbot_pacer_oldest_wait_seconds",
            "Age of the oldest pending outbox row (0 when none waits)", registry=r)
        self.actors_active = Gauge(
            "hotelbot_actors_active", "Conversation actors in memory", registry=r)
        self.mailbox_queued = Gauge(
            "hotelbot_mailbox_queued", "Messages queued in all conversation mailboxes",
            registry=r)
        self.mailbox_max = Gauge(
            "hotelbot_mailbox_max_depth", "Deepest conversation mailbox", registry=r)
        self.store_commit_seconds = Histogram(
            "hotelbot_store_commit_seconds", "Duration of one group commit (one transaction)",
            buckets=_FAST, registry=r)
        self.scheduler_pending = Gauge(
            "hotelbot_scheduler_pending", "Scheduled messages waiting in the timer wheel",
            registry=r)
        self.scheduler_lateness = Histogram(
            "hotelbot_scheduler_lateness_seconds", "How late a scheduled message fired",
            buckets=_LATENESS, registry=r)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class SchedulerMeter:
    """The scheduler's observer (hotelbot.scheduler.SchedulerObserver) on these metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._pending = metrics.scheduler_pending
        self._lateness = metrics.scheduler_lateness

    def pending(self, count: int) -> None:
        self._pending.set(count)

    def fired(self, lateness: float) -> None:
        self._lateness.observe(lateness)
