"""hotelbot.web: every HTTP route hotelbot serves.

The webhook (webhook.py: GET verify, POST receive -> the inbox) and the probes (health.py:
/healthz, /readyz), the PMS stays API (stays_api.py). Other packages import only the names below.
"""

from hotelbot.web.health import READINESS, Readiness, add_health_routes
from hotelbot.web.stays_api import STAYS, StaysApi, add_stays_routes
from hotelbot.web.webhook import WEBHOOK, Inbox, WebhookHandler, add_webhook_routes

__all__ = [
    "READINESS",
    "STAYS",
    "WEBHOOK",
    "Inbox",
    "Readiness",
    "StaysApi",
    "WebhookHandler",
    "add_health_routes",
    "add_stays_routes",
    "add_webhook_routes",
]
