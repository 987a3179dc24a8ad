"""Hostile input at the webhook, each defect of issue 14 as a regression through a real server.

A poison part of a signed POST costs only itself; identifiers of the wrong shape are parked
before they reach a conversation; compressed bodies are refused unread; slow, idle and
excess connections are closed; a client that drops mid-body is one throttled warning line.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer, unused_port
from structlog.testing import capture_logs

from hotelbot.app import CORE, create_app
from hotelbot.cli.serve import CappedSite, open_server
from hotelbot.devtools.fake_graph import FAKE_GRAPH, FakeGraph, create_fake_graph
from hotelbot.errors import StoreError
from hotelbot.store import Store
from hotelbot.whatsapp.payloads import sign
from tests.fakes.hotel import ACCESS_TOKEN, APP_SECRET, Hotel, settings_for, text_item, webhook_post
from tests.numbers import FRONT_DESK

GUEST = "34600000001"
OTHER = "34600000002"
DEADLINE = 10.0  # bound on every wait below: a regression fails, it does not hang


def _deep(depth: int) -> bytes:
    return b'{"k":' * depth + b'"deep"' + b"}" * depth


def _splice(document: object, depth: int) -> bytes:
    """orjson cannot write past ~254 levels, but a peer can: splice the nesting in."""
    return orjson.dumps(document).replace(b'"__deep__"', _deep(depth))


@pytest.mark.parametrize("depth", [300, 1000])
async def test_a_deep_message_beside_a_valid_one_is_parked_and_the_valid_guest_answered(
    hotel: Hotel, depth: int
) -> None:
    poison = {**text_item(OTHER, "boom"), "unknown": "__deep__"}
    raw = _splice(orjson.loads(webhook_post(FRONT_DESK, GUEST, [poison, text_item(GUEST, "hi")])),
                  depth)
    assert await hotel.post(raw) == 200
    await hotel.settle()
    assert len(hotel.fake.sent_to(GUEST)) == 1
    assert hotel.fake.sent_to(OTHER) == []
    [(parked, reason)] = await hotel.store.inbound.parked()
    assert parked.wamid == poison["id"] and "nested deeper than 32 levels" in reason
    assert await hotel.post(raw) == 200  # Meta's retry: deduplicated, nothing twice
    await hotel.settle()
    assert len(hotel.fake.sent_to(GUEST)) == 1 and len(await hotel.store.inbound.parked()) == 1


async def test_a_deep_status_beside_a_message_leaves_the_message_answered_at_once(
    hotel: Hotel,
) -> None:
    document = orjson.loads(webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "hi")]))
    document["entry"][0]["changes"][0]["value"]["statuses"] = [
        {"id": "wamid.S1", "status": "delivered", "timestamp": "1760000000",
         "recipient_id": GUEST, "conversation": "__deep__"},
    ]
    assert await hotel.post(_splice(document, 500)) == 200
    await hotel.settle()  # no sweep involved: answered by the webhook's own hand-off
    assert len(hotel.fake.sent_to(GUEST)) == 1
    [(_, reason)] = await hotel.store.inbound.parked()
    assert "statuses[0]: nested deeper" in reason


async def test_a_spaced_guest_id_is_parked_and_never_reaches_the_outbox(hotel: Hotel) -> None:
    spaced = "919800000001 "
    raw = webhook_post(FRONT_DESK, spaced, [text_item(spaced, "hi"), text_item(OTHER, "hi")])
    assert await hotel.post(raw) == 200
    await hotel.settle()
    assert len(hotel.fake.sent_to(OTHER)) == 1
    [(parked, reason)] = await hotel.store.inbound.parked()
    assert "from: not a WhatsApp id" in reason and parked.guest_id == ""
    outbox = await hotel.store.outbox.recent()
    assert {row.message.guest_id for row in outbox} == {OTHER}
    replies = await hotel.say(FRONT_DESK, "919800000001", "hi")  # the same person, well formed
    assert len(replies) == 1


async def test_a_part_rejected_at_the_webhook_cannot_be_replayed(hotel: Hotel) -> None:
    raw = webhook_post(FRONT_DESK, "null", [text_item("null", "hi")])
    assert await hotel.post(raw) == 200
    [(parked, _)] = await hotel.store.inbound.parked()
    with pytest.raises(StoreError, match="nothing to replay"):
        await hotel.store.inbound.unpark(parked.seq)


async def test_a_message_too_large_to_keep_is_parked_and_its_neighbour_answered(
    hotel: Hotel,
) -> None:
    huge = text_item(OTHER, "x" * 200_000)
    assert await hotel.post(webhook_post(FRONT_DESK, GUEST, [huge, text_item(GUEST, "hi")])) == 200
    await hotel.settle()
    assert len(hotel.fake.sent_to(GUEST)) == 1 and hotel.fake.sent_to(OTHER) == []
    [(_, reason)] = await hotel.store.inbound.parked()
    assert "message cannot be stored: payload of" in reason and "over 131072" in reason


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP, identity"])
async def test_a_compressed_body_is_refused_with_415_before_it_is_read(
    hotel: Hotel, encoding: str
) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KB
    headers = {"Content-Encoding": encoding, "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(bomb, APP_SECRET.encode())}
    async with hotel.client.post("/webhook", data=bomb, headers=headers) as response:
        assert response.status == 415
    async with hotel.client.get("/healthz") as response:
        assert response.status == 200
    assert await hotel.say(FRONT_DESK, GUEST, "hi")  # others are still served
    assert await hotel.store.inbound.parked() == []


# --- slow, idle and excess connections: the real listener (open_server + CappedSite) -------


@dataclass
class Listener:
    port: int
    site: CappedSite
    store: Store
    fake: FakeGraph

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, raw: bytes) -> int:
        headers = {"X-Hub-Signature-256": sign(raw, APP_SECRET.encode()),
                   "Content-Type": "application/json"}
        timeout = aiohttp.ClientTimeout(total=DEADLINE)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
            f"http://127.0.0.1:{self.port}/webhook", data=raw, headers=headers
        ) as response:
            return response.status


@pytest.fixture
async def listener(tmp_path: Path) -> AsyncIterator[Listener]:
    graph_app = create_fake_graph(access_token=ACCESS_TOKEN, statuses=())
    graph = TestServer(graph_app, host="127.0.0.1")
    await graph.start_server()
    port = unused_port()
    settings = settings_for(
        tmp_path / "var", str(graph.make_url("")).rstrip("/"), host="127.0.0.1", port=port,
        body_timeout=0.5, idle_timeout=0.5, max_connections=3,
    )
    app = create_app(settings)
    async with open_server(app, settings) as site:
        yield Listener(port=port, site=site, store=app[CORE].store, fake=graph_app[FAKE_GRAPH])
    await graph.close()


def _head(length: int) -> bytes:
    return (f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\nX-Hub-Signature-256: sha256={'0' * 64}\r\n\r\n").encode()


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server wrote until it closed the connection."""
    return await asyncio.wait_for(reader.read(), timeout=DEADLINE)


async def test_a_slow_body_is_cut_off_at_the_deadline_while_others_are_served(
    listener: Listener,
) -> None:
    reader, writer = await listener.connect()
    writer.write(_head(1000) + b"{")  # one byte of a thousand, then nothing
    raw = webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "hi")])
    assert await listener.post(raw) == 200
    answer = await _closed(reader)
    assert answer.startswith(b"HTTP/1.1 408")
    writer.close()


async def test_a_slow_request_head_and_an_idle_connection_are_closed(
    listener: Listener,
) -> None:
    slow_reader, slow_writer = await listener.connect()
    slow_writer.write(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    idle_reader, idle_writer = await listener.connect()
    assert await _closed(slow_reader) == b""
    assert await _closed(idle_reader) == b""
    slow_writer.close()
    idle_writer.close()


async def test_connections_past_the_cap_get_503_and_the_server_recovers(
    listener: Listener,
) -> None:
    held = [await listener.connect() for _ in range(3)]
    await asyncio.sleep(0.05)  # let the server accept them
    reader, writer = await listener.connect()
    answer = await _closed(reader)
    assert answer.startswith(b"HTTP/1.1 503") and listener.site.refused >= 1
    for _, w in [*held, (reader, writer)]:
        w.close()
    for _ in range(100):  # the held sockets close: room again
        if len(listener.site._runner.server.connections) == 0:  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.02)
    assert await listener.post(webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "hi")])) == 200


async def test_a_client_dropping_mid_body_is_one_throttled_warning_without_traceback(
    listener: Listener,
) -> None:
    with capture_logs() as logs:
        for _ in range(3):
            _, writer = await listener.connect()
            writer.write(_head(1000) + b"{")
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            await asyncio.sleep(0.1)
        for _ in range(100):
            if any(e["event"] == "webhook_client_disconnected" for e in logs):
                break
            await asyncio.sleep(0.02)
    dropped = [e for e in logs if e["event"] == "webhook_client_disconnected"]
    assert len(dropped) == 1  # the next two from the same address were throttled
    assert dropped[0]["log_level"] == "warning" and "exc_info" not in dropped[0]
    assert not any(e["log_level"] == "error" for e in logs)
