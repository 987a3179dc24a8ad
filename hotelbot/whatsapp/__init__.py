"""hotelbot.whatsapp: the WhatsApp edge (limits, webhook parsing, Graph API client, errors).

Importing this package loads only `limits` (the one table of WhatsApp's limits, which depends
on nothing), so the pure runtime can import `hotelbot.whatsapp.limits` without pulling in
orjson, the store's records or aiohttp. Every other name loads its module on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from hotelbot.whatsapp import limits
from hotelbot.whatsapp.limits import check_message

if TYPE_CHECKING:
    from hotelbot.whatsapp.client import GraphClient, GraphClientStatistics, open_graph_client
    from hotelbot.whatsapp.errors import (
        PAIR_RATE_LIMIT,
        REENGAGEMENT_REQUIRED,
        THROUGHPUT_LIMIT,
        classify,
        transport_error,
    )
    from hotelbot.whatsapp.payloads import (
        ParsedWebhook,
        WebhookError,
        envelope,
        mark_read_body,
        parse_webhook,
        sign,
        verify_signature,
    )

__all__ = [
    "PAIR_RATE_LIMIT",
    "REENGAGEMENT_REQUIRED",
    "THROUGHPUT_LIMIT",
    "GraphClient",
    "GraphClientStatistics",
    "ParsedWebhook",
    "WebhookError",
    "check_message",
    "classify",
    "envelope",
    "limits",
    "mark_read_body",
    "open_graph_client",
    "parse_webhook",
    "sign",
    "transport_error",
    "verify_signature",
]

_LAZY = {
    "GraphClient": "client",
    "GraphClientStatistics": "client",
    "open_graph_client": "client",
    "PAIR_RATE_LIMIT": "errors",
    "REENGAGEMENT_REQUIRED": "errors",
    "THROUGHPUT_LIMIT": "errors",
    "classify": "errors",
    "transport_error": "errors",
    "ParsedWebhook": "payloads",
    "WebhookError": "payloads",
    "envelope": "payloads",
    "mark_read_body": "payloads",
    "parse_webhook": "payloads",
    "sign": "payloads",
    "verify_signature": "payloads",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hotelbot.whatsapp' has no attribute {name!r}")
    return getattr(import_module(f"hotelbot.whatsapp.{module}"), name)
