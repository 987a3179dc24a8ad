"""The aiohttp handlers of the WhatsApp webhook: GET verify, POST receive.

The handler does the HTTP edge only: verify the signature, parse, `await inbox.accept(...)`,
answer. Recording, dedupe, events and dispatch are the inbox's (actors/inbox.py).

Owns: the HTTP edge's rules (docs/whatsapp-cloud-api.md sections 1-3). POST order, always:
Content-Encoding other than identity (415, before reading a byte: Meta never compresses, and
inflating before authenticating lets anyone send a compression bomb) -> size limit (413) and
body deadline (408) -> signature over the raw bytes (401, before any parsing) -> parse (400
only when nothing in it is readable) -> ONE durable write of every message, status and
rejected part (dedupe by wamid; a part that cannot be read or stored is recorded parked with
its reason, the rest goes on; 503 when the store is overloaded or failing, so Meta retries,
nothing half-applied) -> the inbox hands each new message to its conversation -> 200.
Must never: answer 200 before the messages are durably recorded, let one bad part of a POST
fail the others (issue 14), process a repeated wamid twice, re-serialize JSON before hashing,
or log a message body or a full phone number. Client misbehaviour (disconnects, timeouts,
bad signatures) is one warning line without a traceback, throttled per address.

Cost: the route runs no middleware of its own; the handler reports to its observer (the
metrics, web/metrics.py WebhookMeter) directly: each POST's time and status, and what each
accepted webhook recorded. A body already received whole is read without arming the
deadline (reading it cannot wait).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog
from aiohttp import ClientPayloadError, web

from hotelbot.errors import PayloadError, StoreError, StoreOverloaded
from hotelbot.log import Throttle, debug_enabled
from hotelbot.store import DeliveryStatus, InboundMessage, RecordedWebhook, RejectedPart
from hotelbot.whatsapp import parse_webhook, verify_signature

log = structlog.get_logger(__name__)


class Inbox(Protocol):
    """The inbox (actors/inbox.py): record durably, then hand each new message over."""

    async def accept(
        self,
        messages: Sequence[InboundMessage],
        statuses: Sequence[DeliveryStatus],
        rejected: Sequence[RejectedPart],
    ) -> RecordedWebhook: ...


class WebhookObserver(Protocol):
    """What the handler reports (web/metrics.py WebhookMeter)."""

    def answered(self, code: int, seconds: float) -> None:
        """A POST /webhook was answered with `code` after `seconds`."""

    def recorded(self, recorded: RecordedWebhook, statuses: Sequence[DeliveryStatus]) -> None:
        """The inbox accepted a POST: what it recorded, and Meta's statuses it carried."""


class WebhookHandler:
    """GET and POST /webhook, with their collaborators."""

    def __init__(
        self,
        *,
        app_secret: str,
        verify_token: str,
        inbox: Inbox,
        monotonic: Callable[[], float],
        body_timeout: float = 10.0,
        observer: WebhookObserver | None = None,
    ) -> None:
        self._secret = app_secret.encode()
        self._verify_token = verify_token
        self._inbox = inbox
        self._monotonic = monotonic
        self._body_timeout = body_timeout
        self._throttle = Throttle()
        self._observer = observer

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
        """Durably record a webhook POST, then acknowledge it (timed, by status code)."""
        observer = self._observer
        if observer is None:
            return await self._receive(request)
        started = self._monotonic()
        code = 500
        try:
            response = await self._receive(request)
            code = response.status
            return response
        except web.HTTPException as exc:  # 413 from request.read()
            code = exc.status
            raise
        finally:
            observer.answered(code, self._monotonic() - started)

    async def _receive(self, request: web.Request) -> web.Response:
        encoding = request.headers.get("Content-Encoding")  # Meta sends none
        if encoding is not None and (encoding := encoding.strip().lower()) not in ("", "identity"):
            self._client_warning(request, "webhook_encoding_refused", encoding=encoding[:40])
            return web.Response(status=415, text="Content-Encoding must be identity")
        raw = await self._read_body(request)
        if isinstance(raw, web.Response):
            return raw
        if not verify_signature(raw, request.headers.get("X-Hub-Signature-256"), self._secret):
            self._client_warning(request, "webhook_signature_invalid", size=len(raw))
            return web.Response(status=401, text="invalid signature")
        try:
            parsed = parse_webhook(raw)
        except PayloadError as exc:
            log.warning("webhook_malformed", reason=exc.reason)
            return web.Response(status=400, text=f"malformed webhook: {exc.reason}")
        try:
            recorded = await self._inbox.accept(parsed.messages, parsed.statuses, parsed.rejected)
        except StoreOverloaded:
            log.warning("webhook_overloaded", messages=len(parsed.messages))
            return web.Response(status=503, text="overloaded, retry later")
        except StoreError as exc:  # nothing was written: Meta retries the whole POST
            log.error("webhook_store_failed", error=str(exc))
            return web.Response(status=503, text="store unavailable, retry later")
        if self._observer is not None:
            self._observer.recorded(recorded, parsed.statuses)
        for error in parsed.errors:  # Meta's system errors (e.g. 130429): nothing to replay
            log.warning("whatsapp_reported_error", number=error.phone_number_id,
                        code=error.code, title=error.title)
        for part in recorded.parked:
            log.warning("webhook_part_parked", number=part.phone_number_id, where=part.where,
                        reason=part.reason)
        # debug, like step_committed and message_sent: no info line per guest message (the
        # metrics count them); failures, parks and refusals stay warnings.
        if debug_enabled():
            log.debug(
                "webhook_received",
                messages=len(parsed.messages),
                new=len(recorded.fresh),
                parked=len(recorded.parked),
                statuses=len(parsed.statuses),
            )
        return web.Response(text="ok")

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        """The whole body within the deadline; a response when it could not be read."""
        try:
            if request.content.is_eof():  # all of it arrived already: reading cannot wait
                return await request.read()  # 413 past the app's client_max_size
            async with asyncio.timeout(self._body_timeout):
                return await request.read()  # 413 past the app's client_max_size
        except TimeoutError:
            self._client_warning(request, "webhook_body_timeout", seconds=self._body_timeout)
            return web.Response(status=408, text="request body too slow",
                                headers={"Connection": "close"})
        except (ConnectionError, ClientPayloadError) as exc:
            self._client_warning(request, "webhook_client_disconnected", error=type(exc).__name__)
            return web.Response(status=400, text="request body incomplete")

    def _client_warning(self, request: web.Request, event: str, **fields: object) -> None:
        """One line without a traceback, at most one a minute per (event, address)."""
        address = request.remote or "unknown"
        suppressed = self._throttle.allow(f"{event} {address}", self._monotonic())
        if suppressed is not None:
            log.warning(event, client=address, suppressed=suppressed, **fields)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


WEBHOOK = web.AppKey("webhook", WebhookHandler)


def add_webhook_routes(app: web.Application) -> None:
    """GET and POST /webhook, served by the WebhookHandler stored under WEBHOOK (no
    middleware of the app's is needed on these routes: the handler times itself)."""
    app.router.add_get("/webhook", _verify)
    app.router.add_post("/webhook", _receive)


async def _verify(request: web.Request) -> web.Response:
    return await request.app[WEBHOOK].verify(request)


async def _receive(request: web.Request) -> web.Response:
    return await request.app[WEBHOOK].receive(request)
