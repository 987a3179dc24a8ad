"""The aiohttp handlers of the WhatsApp webhook: GET verify, POST receive.

Owns: the HTTP edge's rules (whatsapp-cloud-api.md sections 1-3). POST order, always:
size limit (413) -> signature over the raw bytes (401, before any parsing) -> parse (400,
nothing half-applied) -> ONE durable write of every message and status (dedupe by wamid;
503 when the store is overloaded, so Meta retries) -> hand new messages to the router -> 200.
Must never: answer 200 before the messages are durably recorded, process a repeated wamid
twice, re-serialize JSON before hashing, or log a message body or a full phone number.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import structlog
from aiohttp import web

from hotelbot.errors import PayloadError, StoreOverloaded
from hotelbot.flows.events import Event
from hotelbot.store.records import DeliveryStatus, InboundMessage
from hotelbot.whatsapp.payloads import event_for, parse_webhook, verify_signature

log = structlog.get_logger(__name__)


class InboundStore(Protocol):
    async def record_inbound(
        self, messages: Sequence[InboundMessage], *, at: datetime, hotel_of: Mapping[str, str]
    ) -> list[InboundMessage | None]: ...

    async def record_statuses(self, statuses: Sequence[DeliveryStatus]) -> None: ...


class Deliverer(Protocol):
    def hotel_of(self) -> Mapping[str, str]: ...

    def deliver(self, message: InboundMessage, event: Event) -> None: ...


class WebhookHandler:
    """GET and POST /webhook, with their collaborators."""

    def __init__(
        self,
        *,
        app_secret: str,
        verify_token: str,
        store: InboundStore,
        router: Deliverer,
        now: Callable[[], datetime],
    ) -> None:
        self._secret = app_secret.encode()
        self._verify_token = verify_token
        self._store = store
        self._router = router
        self._now = now

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription handshake: echo hub.challenge when the token matches."""
        query = request.query
        challenge = query.get("hub.challenge")
        if query.get("hub.mode") != "subscribe" or challenge is None:
            return web.Response(status=400, text="expected hub.mode=subscribe and hub.challenge")
        if not _same(query.get("hub.verify_token", ""), self._verify_token):
            log.warning("webhook_verify_refused")
            return web.Response(status=403, text="verify token mismatch")
        log.info("webhook_verified")
        return web.Response(text=challenge, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """Durably record a webhook delivery, then acknowledge it."""
        raw = await request.read()  # 413 past the app's client_max_size
        if not verify_signature(raw, request.headers.get("X-Hub-Signature-256"), self._secret):
            log.warning("webhook_signature_invalid", size=len(raw))
            return web.Response(status=401, text="invalid signature")
        try:
            parsed = parse_webhook(raw)
        except PayloadError as exc:
            log.warning("webhook_malformed", reason=exc.reason)
            return web.Response(status=400, text=f"malformed webhook: {exc.reason}")
        try:
            recorded, _ = await asyncio.gather(
                self._store.record_inbound(
                    parsed.messages, at=self._now(), hotel_of=self._router.hotel_of()
                ),
                self._store.record_statuses(parsed.statuses),
            )
        except StoreOverloaded:
            log.warning("webhook_overloaded", messages=len(parsed.messages))
            return web.Response(status=503, text="overloaded, retry later")
        for error in parsed.errors:  # Meta's system errors (e.g. 130429): nothing to replay
            log.warning("whatsapp_reported_error", number=error.phone_number_id,
                        code=error.code, title=error.title)
        fresh = 0
        for message in recorded:
            if message is not None:
                fresh += 1
                self._router.deliver(message, event_for(message))
        # debug: the canonical info lines are one per step (step_committed) and per send.
        log.debug(
            "webhook_received",
            messages=len(parsed.messages),
            new=fresh,
            statuses=len(parsed.statuses),
        )
        return web.Response(text="ok")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
