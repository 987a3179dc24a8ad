"""hotelbot.web: every HTTP route hotelbot serves.

The webhook (webhook.py: GET verify, POST receive -> the inbox) and the probes (health.py:
/healthz, /readyz) and GET /metrics on its own listener (metrics.py). Other packages import
only the names below.
"""

from hotelbot.web.health import READINESS, Readiness, add_health_routes
from hotelbot.web.metrics import (
    WEBHOOK_METER,
    MeteredInbox,
    MeteredTransport,
    MetricsSources,
    WebhookMeter,
    open_metrics_site,
    webhook_timer,
)
from hotelbot.web.webhook import WEBHOOK, Inbox, WebhookHandler, add_webhook_routes

__all__ = [
    "READINESS",
    "WEBHOOK",
    "WEBHOOK_METER",
    "Inbox",
    "MeteredInbox",
    "MeteredTransport",
    "MetricsSources",
    "Readiness",
    "WebhookHandler",
    "WebhookMeter",
    "add_health_routes",
    "add_webhook_routes",
    "open_metrics_site",
    "webhook_timer",
]
