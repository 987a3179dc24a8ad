"""hotelbot.whatsapp: the WhatsApp edge (webhook parsing, Graph API client, error classes).

The pure names (payloads, limits, errors) import eagerly; the aiohttp client loads on first
use, so importing the pure modules never pulls in aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotelbot.whatsapp.errors import classify, transport_error
from hotelbot.whatsapp.limits import check_message
from hotelbot.whatsapp.payloads import (
    ParsedWebhook,
    WebhookError,
    envelope,
    event_for,
    mark_read_body,
    parse_webhook,
    sign,
    verify_signature,
)

if TYPE_CHECKING:
    from hotelbot.whatsapp.client import GraphClient, GraphClientStatistics, open_graph_client

__all__ = [
    "GraphClient",
    "GraphClientStatistics",
    "ParsedWebhook",
    "WebhookError",
    "check_message",
    "classify",
    "envelope",
    "event_for",
    "mark_read_body",
    "open_graph_client",
    "parse_webhook",
    "sign",
    "transport_error",
    "verify_signature",
]

_LAZY = frozenset({"GraphClient", "GraphClientStatistics", "open_graph_client"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from hotelbot.whatsapp import client

        return getattr(client, name)
    raise AttributeError(f"module 'hotelbot.whatsapp' has no attribute {name!r}")
