"""hotelbot.web: every HTTP route hotelbot serves.

The webhook (webhook.py: GET verify, POST receive -> the inbox) and the probes (health.py:
/healthz, /readyz), the PMS stays API (stays_api.py), the staff console (console/: /console/,
issue 11) and GET /metrics on its own listener (metrics.py). Other packages import only the
names below.
"""

from hotelbot.web.console import (
    DESK,
    GATE,
    MIN_PASSWORD,
    Desk,
    DoneHook,
    Gate,
    LoginLimiter,
    LoginLimits,
    add_console,
    check_password,
    hash_password,
    mask,
)
from hotelbot.web.health import READINESS, Readiness, add_health_routes
from hotelbot.web.metrics import (
    MeteredTransport,
    MetricsSources,
    WebhookMeter,
    open_metrics_site,
)
from hotelbot.web.stays_api import STAYS, StaysApi, add_stays_routes
from hotelbot.web.webhook import (
    WEBHOOK,
    Inbox,
    WebhookHandler,
    WebhookObserver,
    add_webhook_routes,
)

__all__ = [
    "DESK",
    "GATE",
    "MIN_PASSWORD",
    "READINESS",
    "STAYS",
    "WEBHOOK",
    "Desk",
    "DoneHook",
    "Gate",
    "Inbox",
    "LoginLimiter",
    "LoginLimits",
    "MeteredTransport",
    "MetricsSources",
    "Readiness",
    "StaysApi",
    "WebhookHandler",
    "WebhookMeter",
    "WebhookObserver",
    "add_console",
    "add_health_routes",
    "add_stays_routes",
    "add_webhook_routes",
    "check_password",
    "hash_password",
    "mask",
    "open_metrics_site",
]
