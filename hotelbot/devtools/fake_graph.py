"""A fake Meta Graph API for the demo, the tests and the benchmarks: a real aiohttp app on loopback.

Owns: `POST /{version}/{phone_number_id}/messages` answering like Meta (success body with a
fresh wamid, or Meta's error shape), every body checked against Meta's own OpenAPI schema
(meta_spec.py: `Message`, or `MarkMessageRequestPayload` for a read receipt) and against the
documented limits (`check_message`), so what Meta would refuse is refused with a 400, code
100 and the path and reason in `error_data.details`; the bearer-token check, injected
failures and latency, and the status webhooks Meta would send afterwards (sent, delivered,
read), signed with the App Secret exactly like Meta, each echoing the send's
`biz_opaque_callback_data` and recipient (docs/whatsapp-cloud-api.md sections 1.7, 2, 4.6, 4.7).
Status webhooks come after delays (`status_delays`: the first status waits sent_s after the
send, the second delivered_s after the first, the third and later read_s) and each may be lost
(`drop_statuses`, a probability drawn from a seeded RNG), as Meta's do not always arrive.
Test-only routes: `GET /_sent[?to=]`, `POST /_reset`, `POST /_inject` (an injection, or the
status settings for every send from now on: `{"statuses", "status_delays", "drop_statuses",
"seed"}`, any of them). Tests can also use the `FakeGraph` state object directly:
`app[FAKE_GRAPH]`.
Must never: listen beyond loopback, or leave a background task running after app cleanup.

Standalone (scripts/run): python -m hotelbot.devtools.fake_graph --port 8090
[--webhook-url URL --app-secret S] [--status-delays 0.01,0.01,0.01] [--drop-statuses P]
[--seed N]. A development tool: no production module imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
import orjson
from aiohttp import web

from hotelbot.devtools.meta_spec import check_send, send_schema
from hotelbot.whatsapp import check_message, sign

__all__ = [
    "FAKE_GRAPH",
    "FakeGraph",
    "FakeGraphStatistics",
    "Injection",
    "PostedWebhook",
    "RecordedSend",
    "create_fake_graph",
    "meta_error",
]

DEFAULT_STATUSES = ("sent", "delivered", "read")
DEFAULT_STATUS_DELAYS = (0.01, 0.01, 0.01)  # seconds before sent, delivered, read
StatusDelays = tuple[float, float, float]
BUSINESS_DISPLAY_NUMBER = "15550783881"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
TITLES: Mapping[int, str] = {
    1: "API Unknown",
    2: "API Service",
    4: "Too many calls",
    100: "Invalid parameter",
    190: "Invalid OAuth access token",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement",
    131050: "User stopped marketing messages",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    132001: "Template does not exist",
}


def meta_error(code: int, details: str) -> dict[str, object]:
    """Meta's error body (section 4.7)."""
    title = TITLES.get(code, "Error")
    return {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "Fake" + secrets.token_urlsafe(12),
        }
    }


def normalize(recipient: str) -> str:
    """A phone number as digits (how `/_sent?to=` and injections match); other ids as given."""
    digits = re.sub(r"[^0-9]", "", recipient)
    return digits if re.fullmatch(r"\+?[0-9 ()\-]+", recipient) else recipient


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedSend:
    monotonic: float
    at: float  # wall clock, Unix seconds
    phone_number_id: str
    to: str  # normalized: digits for a phone, the user id otherwise
    wamid: str
    body: Mapping[str, object]

    def to_json(self) -> dict[str, object]:
        return {
            "monotonic": self.monotonic,
            "at": self.at,
            "phone_number_id": self.phone_number_id,
            "to": self.to,
            "wamid": self.wamid,
            "body": self.body,
        }


@dataclass(slots=True, kw_only=True)
class Injection:
    """The next `remaining` sends (to `to`, or to anyone) fail with `code` and/or wait."""

    remaining: int = 1
    code: int | None = None
    status: int = 400
    latency: float = 0.0
    to: str | None = None
    statuses: tuple[str, ...] | None = None  # status webhooks for these sends
    error_code: int = 131026  # carried by a "failed" status webhook


@dataclass(frozen=True, slots=True, kw_only=True)
class PostedWebhook:
    """A status webhook the fake posted to the receiver (its `status` is Meta's)."""

    wamid: str
    status: str
    http_status: int  # the receiver's answer; 0 when it could not be reached
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeGraphStatistics:
    sent: int
    refused: int
    invalid: int
    marked_read: int
    webhooks: int
    webhooks_pending: int
    webhooks_dropped: int


@dataclass(slots=True, kw_only=True)
class FakeGraph:
    """Everything the fake saw and will do; reachable as `app[FAKE_GRAPH]`."""

    access_token: str | None = None
    webhook_url: str | None = None
    app_secret: str | None = None
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    status_delays: StatusDelays = DEFAULT_STATUS_DELAYS
    drop_statuses: float = 0.0  # probability that one status webhook is never posted
    seed: int | None = None  # of the RNG that decides the drops
    webhook_grace: float = 1.0
    sends: list[RecordedSend] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)  # (to, code)
    invalid: list[tuple[Mapping[str, object], list[str]]] = field(default_factory=list)
    webhooks: list[PostedWebhook] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (wamid, status) never posted
    injections: list[Injection] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None
    _default_statuses: tuple[str, ...] = DEFAULT_STATUSES
    _defaults: tuple[StatusDelays, float, int | None] = (DEFAULT_STATUS_DELAYS, 0.0, None)
    _rng: random.Random = field(default_factory=random.Random)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.configure_statuses(
            status_delays=self.status_delays, drop_statuses=self.drop_statuses, seed=self.seed
        )
        self._defaults = (self.status_delays, self.drop_statuses, self.seed)

    def configure_statuses(
        self,
        *,
        statuses: Sequence[str] | None = None,
        status_delays: Sequence[float] | None = None,
        drop_statuses: float | None = None,
        seed: int | None = None,
    ) -> None:
        """Change the status webhooks of every send from now on (None: leave it as it is).

        A seed restarts the drop RNG (so a test's drops repeat); without one it is left going.

        Raises:
            ValueError: delays that are not three non-negative numbers, or a drop probability
                outside 0..1.
        """
        delays = None if status_delays is None else tuple(float(d) for d in status_delays)
        if delays is not None and (
            len(delays) != 3 or not all(math.isfinite(d) and d >= 0 for d in delays)
        ):
            raise ValueError("status_delays must be three non-negative numbers of seconds")
        if drop_statuses is not None and not 0.0 <= float(drop_statuses) <= 1.0:
            raise ValueError("drop_statuses must be a probability, 0.0 to 1.0")
        # every value checked: now change them together
        if delays is not None:
            self.status_delays = (delays[0], delays[1], delays[2])
        if drop_statuses is not None:
            self.drop_statuses = float(drop_statuses)
        if seed is not None:
            self.seed = seed
            self._rng = random.Random(seed)
        if statuses is not None:
            self.statuses = tuple(statuses)

    def status_delay(self, index: int) -> float:
        """Seconds before the index-th status webhook of a send (after the one before it)."""
        return self.status_delays[min(index, 2)]

    def drops(self) -> bool:
        """Whether the next status webhook is lost (drawn from the seeded RNG)."""
        return self.drop_statuses > 0 and self._rng.random() < self.drop_statuses

    def inject(self, injection: Injection) -> None:
        self.injections.append(injection)

    def reset(self) -> None:
        """Forget every send and injection; cancel status webhooks still on their way."""
        for task in self._tasks:
            task.cancel()
        self.sends.clear()
        self.reads.clear()
        self.refused.clear()
        self.invalid.clear()
        self.webhooks.clear()
        self.dropped.clear()
        self.injections.clear()
        self.statuses = self._default_statuses
        delays, drop, seed = self._defaults
        self.status_delays, self.drop_statuses, self.seed = delays, drop, seed
        self._rng = random.Random(seed)

    def sent_to(self, to: str) -> list[RecordedSend]:
        want = normalize(to)
        return [send for send in self.sends if send.to == want]

    async def wait_sent(self, n: int, timeout: float = 5.0) -> list[RecordedSend]:  # noqa: ASYNC109
        """Wait until at least `n` sends were accepted; raises TimeoutError past `timeout`."""
        async with asyncio.timeout(timeout):
            while len(self.sends) < n:
                await self._changed.wait()
        return list(self.sends)

    async def wait_webhooks(self, n: int, timeout: float = 5.0) -> list[PostedWebhook]:  # noqa: ASYNC109
        """Wait until at least `n` status webhooks were posted (answered or given up)."""
        async with asyncio.timeout(timeout):
            while len(self.webhooks) < n:
                await self._changed.wait()
        return list(self.webhooks)

    async def wait_statuses(self, n: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until at least `n` status webhooks were posted or dropped."""
        async with asyncio.timeout(timeout):
            while len(self.webhooks) + len(self.dropped) < n:
                await self._changed.wait()

    def statistics(self) -> FakeGraphStatistics:
        return FakeGraphStatistics(
            sent=len(self.sends),
            refused=len(self.refused),
            invalid=len(self.invalid),
            marked_read=len(self.reads),
            webhooks=len(self.webhooks),
            webhooks_pending=len(self._tasks),
            webhooks_dropped=len(self.dropped),
        )

    def take_injection(self, to: str) -> Injection | None:
        for injection in self.injections:
            if injection.to is None or injection.to == to:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self.injections.remove(injection)
                return injection
        return None

    def record(self, phone_number_id: str, to: str, body: Mapping[str, object]) -> RecordedSend:
        wamid = f"wamid.FAKE{next(self._ids):010d}{secrets.token_hex(6).upper()}"
        send = RecordedSend(
            monotonic=time.monotonic(),
            at=time.time(),
            phone_number_id=phone_number_id,
            to=to,
            wamid=wamid,
            body=body,
        )
        self.sends.append(send)
        self.notify()
        return send

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def spawn_statuses(self, send: RecordedSend, statuses: Sequence[str], error_code: int) -> None:
        if not (self.webhook_url and self.app_secret and self.session and statuses):
            return
        task = asyncio.create_task(_post_statuses(self, send, tuple(statuses), error_code))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Let status webhooks finish for up to `webhook_grace` seconds, cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.webhook_grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
            self.session = None


FAKE_GRAPH = web.AppKey("fake_graph", FakeGraph)


# --- status webhooks (section 1.7) --------------------------------------------------------------


def status_webhook(send: RecordedSend, status: str, error_code: int) -> dict[str, object]:
    item: dict[str, object] = {
        "id": send.wamid,
        "status": status,
        "timestamp": str(int(time.time())),
    }
    if send.to.isdigit():
        item["recipient_id"] = send.to
    else:
        item["recipient_user_id"] = send.to
    opaque = send.body.get("biz_opaque_callback_data")
    if isinstance(opaque, str):
        item["biz_opaque_callback_data"] = opaque
    if status == "sent":
        category = "utility" if send.body.get("type") == "template" else "service"
        item["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": category,
        }
    if status == "failed":
        item["errors"] = [meta_error(error_code, "injected failure")["error"]]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": BUSINESS_DISPLAY_NUMBER,
            "phone_number_id": send.phone_number_id,
        },
        "statuses": [item],
    }
    change = {"field": "messages", "value": value}
    return {"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [change]}]}


async def _post_statuses(
    fake: FakeGraph, send: RecordedSend, statuses: tuple[str, ...], error_code: int
) -> None:
    assert fake.session is not None and fake.webhook_url and fake.app_secret
    for index, status in enumerate(statuses):
        await asyncio.sleep(fake.status_delay(index))
        if fake.drops():
            fake.dropped.append((send.wamid, status))
            fake.notify()
            continue
        raw = orjson.dumps(status_webhook(send, status, error_code))
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(raw, fake.app_secret.encode()),
        }
        answer, attempt = 0, 0
        for attempt in range(1, 4):  # Meta retries non-200 answers; three tries is enough here
            try:
                async with fake.session.post(fake.webhook_url, data=raw, headers=headers) as r:
                    answer = r.status
            except (aiohttp.ClientError, TimeoutError):
                answer = 0
            if answer == 200:
                break
            await asyncio.sleep(0.05 * attempt)
        fake.webhooks.append(
            PostedWebhook(wamid=send.wamid, status=status, http_status=answer, attempts=attempt)
        )
        fake.notify()


# --- handlers ---------------------------------------------------------------------------------


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def _messages(request: web.Request) -> web.Response:
    fake = request.app[FAKE_GRAPH]
    token = fake.access_token
    if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
        return _json(meta_error(190, "Invalid OAuth access token."), 401)
    try:
        body: object = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _json(meta_error(100, "request body is not valid JSON"), 400)
    if not isinstance(body, dict):
        return _json(meta_error(100, "request body must be a JSON object"), 400)
    violations = check_send(body) + check_message(body)
    if violations:
        fake.invalid.append((body, violations))  # (body, reasons): what a test can look at
        return _json(meta_error(100, "; ".join(violations)), 400)
    if body.get("status") == "read":
        fake.reads.append(str(body["message_id"]))
        return _json({"success": True})
    raw_to = body.get("to") or body.get("recipient")
    to = normalize(str(raw_to))
    injection = fake.take_injection(to)
    if injection is not None and injection.latency > 0:
        await asyncio.sleep(injection.latency)
    if injection is not None and injection.code is not None:
        fake.refused.append((to, injection.code))
        return _json(meta_error(injection.code, "injected failure"), injection.status)
    send = fake.record(request.match_info["phone_number_id"], to, body)
    statuses = injection.statuses if injection and injection.statuses is not None else None
    error_code = injection.error_code if injection else 131026
    fake.spawn_statuses(send, fake.statuses if statuses is None else statuses, error_code)
    contact: dict[str, object] = {"input": str(raw_to)}
    contact["wa_id" if to.isdigit() else "user_id"] = to
    return _json(
        {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": send.wamid}]}
    )


async def _sent(request: web.Request) -> web.Response:
    fake = request.app[FAKE_GRAPH]
    to = request.query.get("to")
    sends = fake.sends if to is None else fake.sent_to(to)
    return _json([send.to_json() for send in sends])


async def _reset(request: web.Request) -> web.Response:
    request.app[FAKE_GRAPH].reset()
    return _json({"reset": True})


async def _inject(request: web.Request) -> web.Response:
    fake = request.app[FAKE_GRAPH]
    try:
        spec: object = orjson.loads(await request.read())
        if not isinstance(spec, dict):
            raise ValueError("expected a JSON object")
        if spec and set(spec) <= _SETTINGS:  # no count, code, ...: settings for every send
            _configure(fake, spec)
            return _json({"injected": True})  # the answer it always gave
        injection = _injection(spec)
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        return _json({"error": f"bad injection: {exc}"}, 400)
    fake.inject(injection)
    return _json({"injected": True})


_SETTINGS = frozenset({"statuses", "status_delays", "drop_statuses", "seed"})


def _configure(fake: FakeGraph, spec: Mapping[str, object]) -> None:
    """The status settings of every send from now on (the keys of create_fake_graph).

    Raises:
        ValueError: a value of the wrong type or out of range.
    """
    statuses, delays = spec.get("statuses"), spec.get("status_delays")
    drop, seed = spec.get("drop_statuses"), spec.get("seed")
    if statuses is not None and not (
        isinstance(statuses, list) and all(isinstance(s, str) for s in statuses)
    ):
        raise ValueError("statuses must be a list of strings")
    if delays is not None and not (
        isinstance(delays, list)
        and all(isinstance(d, int | float) and not isinstance(d, bool) for d in delays)
    ):
        raise ValueError("status_delays must be a list of three numbers of seconds")
    if drop is not None and (isinstance(drop, bool) or not isinstance(drop, int | float)):
        raise ValueError("drop_statuses must be a number from 0.0 to 1.0")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError("seed must be an integer")
    fake.configure_statuses(statuses=statuses, status_delays=delays, drop_statuses=drop,
                            seed=seed)


def _injection(spec: Mapping[str, object]) -> Injection:
    unknown = set(spec) - {"code", "status", "count", "latency_ms", "to", "statuses", "error_code"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    code, status, count = spec.get("code"), spec.get("status", 400), spec.get("count", 1)
    latency, to, statuses = spec.get("latency_ms", 0), spec.get("to"), spec.get("statuses")
    error_code = spec.get("error_code", 131026)
    if code is not None and not isinstance(code, int):
        raise ValueError("code must be an integer")
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status")
    if not isinstance(count, int) or count < 1 or not isinstance(error_code, int):
        raise ValueError("count must be a positive integer, error_code an integer")
    if not isinstance(latency, int | float) or latency < 0:
        raise ValueError("latency_ms must be a non-negative number")
    if to is not None and not isinstance(to, str):
        raise ValueError("to must be a string")
    if statuses is not None and not (
        isinstance(statuses, list) and all(isinstance(s, str) for s in statuses)
    ):
        raise ValueError("statuses must be a list of strings")
    return Injection(
        remaining=count,
        code=code,
        status=status,
        latency=latency / 1000,
        to=normalize(to) if to else None,
        statuses=tuple(statuses) if statuses is not None else None,
        error_code=error_code,
    )


# --- the app ----------------------------------------------------------------------------------


def create_fake_graph(
    *,
    access_token: str | None = None,
    webhook_url: str | None = None,
    app_secret: str | None = None,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    status_delays: Sequence[float] = DEFAULT_STATUS_DELAYS,
    drop_statuses: float = 0.0,
    seed: int | None = None,
    webhook_grace: float = 1.0,
) -> web.Application:
    """The fake Graph API app; status webhooks are posted only with webhook_url + app_secret.

    Args:
        statuses: the status webhooks of each accepted send, in order.
        status_delays: (sent_s, delivered_s, read_s): the first status webhook waits sent_s
            after the send, the second delivered_s after the first, the third (and later)
            read_s after the one before.
        drop_statuses: the probability that a status webhook is lost (never posted).
        seed: of the RNG deciding the drops (None: a fresh one).
        webhook_grace: on cleanup, status webhooks still on their way get this many seconds,
            then are cancelled.

    Raises:
        ValueError: status_delays or drop_statuses out of range.
    """
    app = web.Application()
    fake = FakeGraph(
        access_token=access_token,
        webhook_url=webhook_url,
        app_secret=app_secret,
        statuses=tuple(statuses),
        status_delays=_three(status_delays),
        drop_statuses=drop_statuses,
        seed=seed,
        webhook_grace=webhook_grace,
        _default_statuses=tuple(statuses),
    )
    app[FAKE_GRAPH] = fake
    app.cleanup_ctx.append(_meta_schema)
    app.cleanup_ctx.append(_webhook_session)
    app.router.add_post(r"/{version:v[0-9]+\.[0-9]+}/{phone_number_id}/messages", _messages)
    app.router.add_get("/_sent", _sent)
    app.router.add_post("/_reset", _reset)
    app.router.add_post("/_inject", _inject)
    return app


def _three(delays: Sequence[float]) -> StatusDelays:
    if len(delays) != 3:
        raise ValueError("status_delays must be three numbers of seconds (sent, delivered, read)")
    return (float(delays[0]), float(delays[1]), float(delays[2]))


async def _meta_schema(app: web.Application) -> AsyncIterator[None]:
    """Load and prepare Meta's schema before the first send (once per process, cached)."""
    await asyncio.to_thread(send_schema)
    yield


async def _webhook_session(app: web.Application) -> AsyncIterator[None]:
    fake = app[FAKE_GRAPH]
    if fake.webhook_url and fake.app_secret:
        fake.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0))
    yield
    await fake.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hotelbot.devtools.fake_graph", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--access-token", default=None)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--app-secret", default=None)
    parser.add_argument("--statuses", default=",".join(DEFAULT_STATUSES))
    parser.add_argument("--status-delays", default=",".join(map(str, DEFAULT_STATUS_DELAYS)),
                        help="seconds before sent, delivered, read (e.g. 0.5,2,10)")
    parser.add_argument("--drop-statuses", type=float, default=0.0,
                        help="probability that a status webhook is lost (0.0-1.0)")
    parser.add_argument("--seed", type=int, default=None, help="of the drop RNG")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK:
        parser.error("the fake Graph API listens on loopback only")
    if bool(args.webhook_url) != bool(args.app_secret):
        parser.error("--webhook-url and --app-secret go together")
    try:
        delays = [float(d) for d in args.status_delays.split(",")]
        app = create_fake_graph(
            access_token=args.access_token,
            webhook_url=args.webhook_url,
            app_secret=args.app_secret,
            statuses=[s for s in args.statuses.split(",") if s],
            status_delays=delays,
            drop_statuses=args.drop_statuses,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    web.run_app(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
