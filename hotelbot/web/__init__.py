"""hotelbot.web: every HTTP route hotelbot serves.

The webhook (webhook.py: GET verify, POST receive -> the inbox) and the probes (health.py:
/healthz, /readyz). Other packages import only the names below.
"""

from hotelbot.web.health import READINESS, Readiness, add_health_routes
from hotelbot.web.webhook import WEBHOOK, Inbox, WebhookHandler, add_webhook_routes

__all__ = [
    "READINESS",
    "WEBHOOK",
    "Inbox",
    "Readiness",
    "WebhookHandler",
    "add_health_routes",
    "add_webhook_routes",
]
