"""GraphClient against the fake Graph API on loopback (real sockets both ways)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hotelbot.devtools.fake_graph import FAKE_GRAPH, FakeGraph, create_fake_graph
from hotelbot.devtools.fake_graph import main as fake_graph_main
from hotelbot.errors import GraphAPIError, RateLimited
from hotelbot.store.records import DeliveryStatus
from hotelbot.whatsapp import client as graph_client
from hotelbot.whatsapp.client import GraphClient, open_graph_client
from hotelbot.whatsapp.payloads import parse_webhook, verify_signature

TOKEN = "test-token-not-secret"
SECRET = "test-app-secret"
NUMBER = "106540352242922"
GUEST = "16505551234"
TEXT = {"type": "text", "text": {"preview_url": False, "body": "Your room 412 is ready."}}

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@dataclass
class Receiver:
    """A tiny webhook endpoint that records what the fake posts to it."""

    posts: list[tuple[bytes, str | None]] = field(default_factory=list)
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.posts.append((await request.read(), request.headers.get("X-Hub-Signature-256")))
        return web.Response(text="ok")


def base_url(server: TestServer) -> str:
    return str(server.make_url("/"))


@pytest.fixture
async def graph(aiohttp_server: ServerFactory) -> TestServer:
    return await aiohttp_server(create_fake_graph(access_token=TOKEN))


@pytest.fixture
async def client(graph: TestServer) -> AsyncIterator[GraphClient]:
    async with open_graph_client(base_url(graph), "v25.0", TOKEN, timeout=2.0) as opened:
        yield opened


def fake_of(server: TestServer) -> FakeGraph:
    return server.app[FAKE_GRAPH]


async def control(server: TestServer, path: str, payload: object = None) -> object:
    async with aiohttp.ClientSession() as session:
        if payload is None and path.startswith("/_sent"):
            request = session.get(server.make_url(path))
        else:
            request = session.post(server.make_url(path), data=orjson.dumps(payload or {}))
        async with request as response:
            assert response.status == 200, await response.text()
            return orjson.loads(await response.read())


async def test_send_returns_wamid_and_fake_records_it(
    graph: TestServer, client: GraphClient
) -> None:
    wamid = await client.send(NUMBER, GUEST, TEXT)
    fake = fake_of(graph)
    (recorded,) = await fake.wait_sent(1, timeout=1.0)
    assert recorded.wamid == wamid and wamid.startswith("wamid.")
    assert recorded.phone_number_id == NUMBER and recorded.to == GUEST
    assert recorded.body["to"] == "+16505551234"
    assert recorded.body["messaging_product"] == "whatsapp"
    assert recorded.body["text"] == TEXT["text"]
    stats = client.statistics()
    assert (stats.sent, stats.failed, stats.in_flight) == (1, 0, 0)
    listed = await control(graph, "/_sent?to=%2B16505551234")
    assert isinstance(listed, list)
    assert [item["wamid"] for item in listed] == [wamid]
    assert await control(graph, "/_sent?to=999") == []


async def test_business_scoped_user_is_sent_as_recipient(
    graph: TestServer, client: GraphClient
) -> None:
    await client.send(NUMBER, "US.13491208655302741918", TEXT)
    (recorded,) = fake_of(graph).sends
    assert recorded.body["recipient"] == "US.13491208655302741918"
    assert "to" not in recorded.body


async def test_concurrent_sends_get_distinct_wamids(graph: TestServer, client: GraphClient) -> None:
    wamids = await asyncio.gather(
        *(client.send(NUMBER, f"1555000{i:04d}", TEXT) for i in range(50))
    )
    assert len(set(wamids)) == 50
    assert len(fake_of(graph).sends) == 50
    assert client.statistics().in_flight == 0


@pytest.mark.parametrize(
    ("code", "status", "rate_limited", "retryable"),
    [
        (130429, 400, True, True),
        (131056, 400, True, True),
        (130429, 429, True, True),
        (4, 400, True, True),
        (80007, 400, True, True),
        (131000, 500, False, True),
        (1, 500, False, True),
        (131057, 400, False, True),
        (131047, 400, False, False),
        (131026, 400, False, False),
        (132001, 404, False, False),
        (131048, 400, False, False),
        (100, 400, False, False),
        (131047, 500, False, False),  # Meta's code decides, not the HTTP status
        (424242, 400, False, False),
        (424242, 503, False, True),
    ],
)
async def test_injected_errors_are_classified(
    graph: TestServer,
    client: GraphClient,
    code: int,
    status: int,
    rate_limited: bool,
    retryable: bool,
) -> None:
    await control(graph, "/_inject", {"code": code, "status": status, "count": 1})
    with pytest.raises(GraphAPIError) as info:
        await client.send(NUMBER, GUEST, TEXT)
    error = info.value
    assert (error.status, error.code, error.retryable) == (status, code, retryable)
    assert isinstance(error, RateLimited) is rate_limited
    assert fake_of(graph).refused == [(GUEST, code)]
    await client.send(NUMBER, GUEST, TEXT)  # count 1: the next send goes through
    assert (client.statistics().sent, client.statistics().failed) == (1, 1)


async def test_pair_rate_limit_waits_one_second_first(
    graph: TestServer, client: GraphClient
) -> None:
    await control(graph, "/_inject", {"code": 131056, "count": 2, "to": GUEST})
    await client.send(NUMBER, "15550009999", TEXT)  # another guest is not affected
    for _ in range(2):
        with pytest.raises(RateLimited) as info:
            await client.send(NUMBER, GUEST, TEXT)
        assert info.value.retry_after == 1.0
        assert info.value.code == 131056
    await client.send(NUMBER, GUEST, TEXT)
    assert [send.to for send in fake_of(graph).sends] == ["15550009999", GUEST]


async def test_bad_token_is_permanent_auth_error(graph: TestServer) -> None:
    async with open_graph_client(base_url(graph), "v25.0", "wrong-token") as wrong:
        with pytest.raises(GraphAPIError) as info:
            await wrong.send(NUMBER, GUEST, TEXT)
    assert (info.value.status, info.value.code, info.value.retryable) == (401, 190, False)
    assert fake_of(graph).sends == []
    assert "wrong-token" not in repr(wrong) and "wrong-token" not in str(info.value)


async def test_latency_past_timeout_is_retryable(graph: TestServer) -> None:
    await control(graph, "/_inject", {"latency_ms": 1000, "count": 1})
    async with open_graph_client(base_url(graph), "v25.0", TOKEN, timeout=0.2) as quick:
        with pytest.raises(GraphAPIError) as info:
            await quick.send(NUMBER, GUEST, TEXT)
        assert (info.value.status, info.value.code, info.value.retryable) == (0, 0, True)
        assert quick.statistics().failed == 1 and quick.statistics().in_flight == 0


async def test_small_latency_within_timeout_succeeds(
    graph: TestServer, client: GraphClient
) -> None:
    await control(graph, "/_inject", {"latency_ms": 50})
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client.send(NUMBER, GUEST, TEXT)
    assert loop.time() - started >= 0.05


async def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with open_graph_client(f"http://127.0.0.1:{port}", "v25.0", TOKEN, timeout=1.0) as c:
        with pytest.raises(GraphAPIError) as info:
            await c.send(NUMBER, GUEST, TEXT)
    assert (info.value.code, info.value.retryable) == (0, True)
    assert info.value.details.startswith("connection")


async def test_invalid_payload_is_refused_with_code_100(
    graph: TestServer, client: GraphClient
) -> None:
    buttons = [
        {"type": "reply", "reply": {"id": f"b{i}", "title": f"Option {i}"}} for i in range(4)
    ]
    body = {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": buttons}},
    }
    with pytest.raises(GraphAPIError) as info:
        await client.send(NUMBER, GUEST, body)
    assert (info.value.status, info.value.code, info.value.retryable) == (400, 100, False)
    assert "4 buttons, expected 1-3" in info.value.details
    assert fake_of(graph).sends == []


async def test_mark_read_is_accepted(graph: TestServer, client: GraphClient) -> None:
    await client.mark_read(NUMBER, "wamid.inbound.1")
    assert fake_of(graph).reads == ["wamid.inbound.1"]
    assert fake_of(graph).sends == []
    assert client.statistics().marked_read == 1


async def test_reset_forgets_sends_and_injections(graph: TestServer, client: GraphClient) -> None:
    await client.send(NUMBER, GUEST, TEXT)
    await control(graph, "/_inject", {"code": 131047, "count": 5})
    await control(graph, "/_reset")
    assert fake_of(graph).sends == []
    await client.send(NUMBER, GUEST, TEXT)
    assert len(fake_of(graph).sends) == 1


@pytest.mark.parametrize(
    "spec", [{"code": "x"}, {"count": 0}, {"status": 200}, {"latency_ms": -1}, {"colour": 1}, []]
)
async def test_bad_injection_is_refused(graph: TestServer, spec: object) -> None:
    url = graph.make_url("/_inject")
    async with aiohttp.ClientSession() as session, session.post(url, data=orjson.dumps(spec)) as r:
        assert r.status == 400
    assert fake_of(graph).injections == []


# --- status webhooks ---------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def hooked(aiohttp_server: ServerFactory, receiver: Receiver) -> TestServer:
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    endpoint = await aiohttp_server(app)
    fake_app = create_fake_graph(
        webhook_url=str(endpoint.make_url("/webhook")), app_secret=SECRET, webhook_grace=0.1
    )
    return await aiohttp_server(fake_app)


async def test_status_webhooks_arrive_signed_in_order(
    hooked: TestServer, receiver: Receiver
) -> None:
    body = {**TEXT, "biz_opaque_callback_data": "job=42"}
    async with open_graph_client(base_url(hooked), "v25.0", "any-token") as c:
        wamid = await c.send(NUMBER, GUEST, body)
    posted = await fake_of(hooked).wait_webhooks(3, timeout=2.0)
    assert [(d.status, d.http_status) for d in posted] == [
        ("sent", 200),
        ("delivered", 200),
        ("read", 200),
    ]
    statuses: list[DeliveryStatus] = []
    for raw, header in receiver.posts:
        assert verify_signature(raw, header, SECRET.encode())
        assert not verify_signature(raw, header, b"another-secret")
        parsed = parse_webhook(raw)
        statuses.extend(parsed.statuses)
    assert [s.status for s in statuses] == ["sent", "delivered", "read"]
    assert {(s.wamid, s.recipient_id) for s in statuses} == {(wamid, GUEST)}
    assert statuses[0].payload["biz_opaque_callback_data"] == "job=42"
    assert statuses[0].payload["pricing"] == {
        "billable": True,
        "pricing_model": "PMP",
        "type": "regular",
        "category": "service",
    }


async def test_injected_failed_status_carries_meta_code(
    hooked: TestServer, receiver: Receiver
) -> None:
    await control(hooked, "/_inject", {"statuses": ["sent", "failed"], "error_code": 131047})
    async with open_graph_client(base_url(hooked), "v25.0", "any-token") as c:
        await c.send(NUMBER, GUEST, TEXT)
        await fake_of(hooked).wait_webhooks(2, timeout=2.0)
        await c.send(NUMBER, GUEST, TEXT)  # the injection was for one send only
        await fake_of(hooked).wait_webhooks(5, timeout=2.0)
    statuses = [s for raw, _ in receiver.posts for s in parse_webhook(raw).statuses]
    assert [(s.status, s.error_code) for s in statuses[:2]] == [("sent", None), ("failed", 131047)]
    assert [s.status for s in statuses[2:]] == ["sent", "delivered", "read"]


async def test_default_statuses_can_be_changed(hooked: TestServer, receiver: Receiver) -> None:
    await control(hooked, "/_inject", {"statuses": ["read"]})
    async with open_graph_client(base_url(hooked), "v25.0", "any-token") as c:
        await c.send(NUMBER, GUEST, TEXT)
        await c.send(NUMBER, "15550001111", TEXT)
    posted = await fake_of(hooked).wait_webhooks(2, timeout=2.0)
    assert [d.status for d in posted] == ["read", "read"]


async def test_pending_webhooks_are_cancelled_on_cleanup(
    hooked: TestServer, receiver: Receiver
) -> None:
    receiver.delay = 5.0
    async with open_graph_client(base_url(hooked), "v25.0", "any-token") as c:
        await c.send(NUMBER, GUEST, TEXT)
    fake = fake_of(hooked)
    assert fake.statistics().webhooks_pending == 1
    loop = asyncio.get_running_loop()
    started = loop.time()
    await hooked.close()
    assert loop.time() - started < 2.0
    assert fake.statistics().webhooks_pending == 0
    assert receiver.posts == []


async def _hooked_with(
    aiohttp_server: ServerFactory, receiver: Receiver, **settings: object
) -> TestServer:
    app = web.Application()
    app.router.add_post("/webhook", receiver.handle)
    endpoint = await aiohttp_server(app)
    fake_app = create_fake_graph(
        webhook_url=str(endpoint.make_url("/webhook")), app_secret=SECRET, webhook_grace=0.1,
        **settings,  # type: ignore[arg-type]
    )
    return await aiohttp_server(fake_app)


async def test_every_status_echoes_the_callback_and_recipient_after_its_delay(
    aiohttp_server: ServerFactory, receiver: Receiver
) -> None:
    hooked = await _hooked_with(aiohttp_server, receiver, status_delays=(0.0, 0.15, 0.0))
    body = {**TEXT, "biz_opaque_callback_data": "outbox:7"}
    loop = asyncio.get_running_loop()
    async with open_graph_client(base_url(hooked), "v25.0", "any-token") as c:
        started = loop.time()
        wamid = await c.send(NUMBER, GUEST, body)
        await fake_of(hooked).wait_webhooks(1, timeout=2.0)
        assert loop.time() - started < 0.15  # `sent` does not wait for delivered's delay
        await fake_of(hooked).wait_webhooks(3, timeout=2.0)
        assert loop.time() - started >= 0.15
        await c.send(NUMBER, GUEST, TEXT)  # no callback data: none echoed
        await fake_of(hooked).wait_webhooks(6, timeout=2.0)
    statuses = [s for raw, _ in receiver.posts for s in parse_webhook(raw).statuses]
    assert [(s.status, s.wamid, s.recipient_id, s.callback) for s in statuses[:3]] == [
        (name, wamid, GUEST, "outbox:7") for name in ("sent", "delivered", "read")
    ]
    assert [s.callback for s in statuses[3:]] == [None] * 3


async def test_dropped_statuses_are_never_posted_and_a_seed_repeats_the_drops(
    aiohttp_server: ServerFactory, receiver: Receiver
) -> None:
    async def run(**settings: object) -> list[tuple[int, str]]:
        hooked = await _hooked_with(aiohttp_server, receiver, **settings)
        fake = fake_of(hooked)
        async with open_graph_client(base_url(hooked), "v25.0", "any-token") as c:
            wamids = [await c.send(NUMBER, GUEST, TEXT) for _ in range(10)]
        await fake.wait_statuses(30, timeout=2.0)
        assert fake.statistics().webhooks_dropped == len(fake.dropped)
        posted = {(d.wamid, d.status) for d in fake.webhooks}
        assert posted.isdisjoint(fake.dropped)
        return sorted((wamids.index(w), s) for w, s in fake.dropped)

    first = await run(drop_statuses=0.5, seed=11, status_delays=(0, 0, 0))
    again = await run(drop_statuses=0.5, seed=11, status_delays=(0, 0, 0))
    assert first == again and 0 < len(first) < 30
    assert len(await run(drop_statuses=1.0, status_delays=(0, 0, 0))) == 30
    assert await run(status_delays=(0, 0, 0)) == []  # the default drops nothing


async def test_status_settings_through_the_injection_route_until_reset(
    hooked: TestServer, receiver: Receiver
) -> None:
    fake = fake_of(hooked)
    answer = await control(hooked, "/_inject", {"status_delays": [0, 0.5, 1], "seed": 3,
                                                "drop_statuses": 1.0})
    assert answer == {"injected": True} and fake.injections == []
    assert (fake.status_delays, fake.drop_statuses, fake.seed) == ((0.0, 0.5, 1.0), 1.0, 3)
    async with open_graph_client(base_url(hooked), "v25.0", "any-token") as c:
        wamid = await c.send(NUMBER, GUEST, TEXT)
        await fake.wait_statuses(1, timeout=2.0)
    assert fake.dropped[0] == (wamid, "sent")
    await control(hooked, "/_reset")
    assert (fake.status_delays, fake.drop_statuses, fake.seed, fake.dropped) == (
        (0.01, 0.01, 0.01), 0.0, None, []
    )


@pytest.mark.parametrize("spec", [
    {"status_delays": [0, 1]}, {"status_delays": [0, -1, 0]}, {"status_delays": "fast"},
    {"drop_statuses": 1.5}, {"drop_statuses": True}, {"seed": "x"}, {"statuses": "read"},
    {"status_delays": [1, 1, 1], "drop_statuses": 2},  # nothing of it applies
])
async def test_bad_status_settings_are_refused(hooked: TestServer, spec: object) -> None:
    fake = fake_of(hooked)
    url = hooked.make_url("/_inject")
    async with aiohttp.ClientSession() as session, session.post(url, data=orjson.dumps(spec)) as r:
        assert r.status == 400
    assert (fake.status_delays, fake.drop_statuses) == ((0.01, 0.01, 0.01), 0.0)


@pytest.mark.parametrize("argv", [
    ["--status-delays", "1,2"], ["--status-delays", "a,b,c"], ["--drop-statuses", "2"],
])
def test_bad_status_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        fake_graph_main(argv)
    assert exited.value.code == 2


async def test_each_numbers_url_is_checked_and_remembered_within_its_bound(
    graph: TestServer, client: GraphClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph_client, "MAX_URLS", 2)
    numbers = ["111", "222", "333", "111", "333"]
    for number in numbers:
        await client.send(number, GUEST, TEXT)
    assert [s.phone_number_id for s in fake_of(graph).sends] == numbers
    assert len(client._urls) == 2  # the third number's URL is built each time, not kept
    for bad in ("", "1/../2", "1?x=2", "１２", "1 2", "111\n"):  # refused before any POST
        with pytest.raises(ValueError, match="plain id"):
            await client.send(bad, GUEST, TEXT)
    assert len(fake_of(graph).sends) == len(numbers)
    assert client.statistics().in_flight == 0
