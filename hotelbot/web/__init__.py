"""hotelbot.web: every HTTP route hotelbot serves.

The webhook (webhook.py: GET verify, POST receive -> the inbox) and the probes (health.py:
/healthz, /readyz) and the staff console (console/: /console/, issue 11). Other packages
import only the names below.
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
from hotelbot.web.webhook import WEBHOOK, Inbox, WebhookHandler, add_webhook_routes

__all__ = [
    "DESK",
    "GATE",
    "MIN_PASSWORD",
    "READINESS",
    "WEBHOOK",
    "Desk",
    "DoneHook",
    "Gate",
    "Inbox",
    "LoginLimiter",
    "LoginLimits",
    "Readiness",
    "WebhookHandler",
    "add_console",
    "add_health_routes",
    "add_webhook_routes",
    "check_password",
    "hash_password",
    "mask",
]
