"""The Graph API client: one aiohttp ClientSession for every send of the process.

Owns: the HTTP side of sending (docs/whatsapp-cloud-api.md section 4): URL, bearer token, orjson
body, keep-alive connections sized for in-flight sends (rate x round trip; aiohttp's default
of 100 is too low), the per-request timeout, and turning every failure into a typed
GraphAPIError (errors.py holds the classification).
Cost: each number's messages URL is checked and built once (MAX_URLS kept), and the debug
line of a send is built only when debug lines are written.
Must never: log or repr the access token, log a message body or a full phone number, retry
on its own (the sender owns retries and backoff), or raise anything but GraphAPIError from
`send`/`mark_read`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import orjson
import structlog

from hotelbot.errors import GraphAPIError
from hotelbot.log import debug_enabled
from hotelbot.whatsapp.errors import classify, transport_error
from hotelbot.whatsapp.payloads import envelope, mark_read_body

__all__ = ["GraphClient", "GraphClientStatistics", "open_graph_client"]

log = structlog.get_logger(__name__)

_PATH_PART = re.compile(r"[A-Za-z0-9_.\-]+")
DEFAULT_CONNECTIONS = 1000
# Messages URLs kept per sending number (checked and built once each): the configuration's
# department numbers, a few dozen; past this many a URL is checked and built every time.
MAX_URLS = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphClientStatistics:
    sent: int  # accepted by the Graph API (a wamid came back)
    failed: int  # any GraphAPIError, retryable or not
    in_flight: int
    marked_read: int


class GraphClient:
    """Sends messages through one shared ClientSession. Create with `open_graph_client`."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, version: str) -> None:
        self._session = session
        self._root = f"{base_url.rstrip('/')}/{version}"
        self._urls: dict[str, str] = {}  # phone_number_id -> its messages URL (checked)
        self._sent = 0
        self._failed = 0
        self._in_flight = 0
        self._marked_read = 0

    def __repr__(self) -> str:
        return f"GraphClient(root={self._root!r})"  # never the token

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        """Send one message (body without envelope) to a guest; returns its wamid.

        Raises:
            GraphAPIError: Meta refused or could not be reached (RateLimited for limits);
                `retryable` says whether the same send may be tried again.
            ValueError: the ids or the body are unusable (see payloads.envelope).
        """
        full = envelope(guest_id, body)
        started = time.monotonic()
        raw = await self._post(phone_number_id, full)
        wamid = _wamid(raw)
        if wamid is None:
            # Accepted but unreadable: the message may be out, so retrying could duplicate it.
            self._failed += 1
            raise GraphAPIError(200, 0, False, "success answer without messages[0].id")
        self._sent += 1
        if debug_enabled():  # (a filtered debug call still assembles a bound logger)
            log.debug(
                "graph_sent",
                phone_number_id=phone_number_id,
                wamid=wamid,
                ms=round((time.monotonic() - started) * 1000, 1),
            )
        return wamid

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        """Mark an inbound message read (blue ticks).

        Raises:
            GraphAPIError: as for `send`.
        """
        await self._post(phone_number_id, mark_read_body(wamid))
        self._marked_read += 1

    def statistics(self) -> GraphClientStatistics:
        return GraphClientStatistics(
            sent=self._sent,
            failed=self._failed,
            in_flight=self._in_flight,
            marked_read=self._marked_read,
        )

    async def _post(self, phone_number_id: str, full: Mapping[str, object]) -> bytes:
        """POST to `{root}/{phone_number_id}/messages`; the 2xx body, or GraphAPIError."""
        url = self._url(phone_number_id)
        self._in_flight += 1
        try:
            status, raw, retry_after = await self._request(url, orjson.dumps(full))
        except GraphAPIError as exc:
            self._failed += 1
            log.warning("graph_unreachable", phone_number_id=phone_number_id, details=exc.details)
            raise
        finally:
            self._in_flight -= 1
        if 200 <= status < 300:
            return raw
        self._failed += 1
        error = classify(status, raw, retry_after=retry_after)
        log.warning(
            "graph_refused",
            phone_number_id=phone_number_id,
            status=status,
            code=error.code,
            retryable=error.retryable,
        )
        raise error

    def _url(self, phone_number_id: str) -> str:
        """`{root}/{phone_number_id}/messages`, the id checked (remembered once checked).

        Raises:
            ValueError: the id is not a plain path segment.
        """
        url = self._urls.get(phone_number_id)
        if url is None:
            if not _PATH_PART.fullmatch(phone_number_id):
                raise ValueError("phone_number_id must be a plain id")
            url = f"{self._root}/{phone_number_id}/messages"
            if len(self._urls) < MAX_URLS:
                self._urls[phone_number_id] = url
        return url

    async def _request(self, url: str, data: bytes) -> tuple[int, bytes, str | None]:
        try:
            async with self._session.post(url, data=data) as response:
                raw = await response.read()
                return response.status, raw, response.headers.get("Retry-After")
        except TimeoutError:
            raise transport_error("timeout") from None
        except aiohttp.ClientError as exc:
            raise transport_error(f"connection: {type(exc).__name__}") from None


def _wamid(raw: bytes) -> str | None:
    try:
        doc: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    messages = doc.get("messages") if isinstance(doc, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    return wamid if isinstance(wamid, str) and wamid else None


@asynccontextmanager
async def open_graph_client(
    base_url: str,
    version: str,
    access_token: str,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - per-request timeout of the session, not a wait
    max_connections: int = DEFAULT_CONNECTIONS,
) -> AsyncIterator[GraphClient]:
    """A GraphClient on one keep-alive session, closed on exit.

    Args:
        base_url: e.g. https://graph.facebook.com, or the fake server's loopback URL.
        version: the Graph version path segment, e.g. v25.0.
        access_token: the system-user token, sent as a bearer token and never logged.
        timeout: seconds per request (connect + answer); past it the send is retryable.
        max_connections: in-flight sends allowed (rate x round trip).

    Raises:
        ValueError: an empty token, a bad version, or a non-positive timeout/limit.
    """
    if not access_token:
        raise ValueError("access_token must be non-empty")
    if not _PATH_PART.fullmatch(version) or timeout <= 0 or max_connections <= 0:
        raise ValueError("version must be a path segment; timeout and connections positive")
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        headers={
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
        },
        raise_for_status=False,
    )
    try:
        yield GraphClient(session, base_url, version)
    finally:
        await session.close()
        await asyncio.sleep(0)  # let the connector's transports close before the loop moves on
