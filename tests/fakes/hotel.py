"""The real hotelbot app on loopback, talking to the fake Graph API on loopback.

`hotel` starts both: the fake Graph API (checking every payload against Meta's schema and
the documented limits, posting signed status webhooks back; a test fails at teardown if
hotelbot sent a body it refused) and hotelbot's aiohttp app on its own port, SQLite in
tmp_path, the tests'
configuration (tests/data/config). Guests are played by signed webhook POSTs, exactly as Meta
sends them.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port

from hotelbot.app import CORE, Core, create_app
from hotelbot.cli.screen import SendText, message_item, webhook_body
from hotelbot.cli.serve import runner_options
from hotelbot.clock import Clock
from hotelbot.devtools.fake_graph import FAKE_GRAPH, FakeGraph, RecordedSend, create_fake_graph
from hotelbot.settings import Settings
from hotelbot.store import Store
from hotelbot.whatsapp.payloads import sign
from tests.paths import CONFIG

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"

_ids = itertools.count(1)


def new_wamid() -> str:
    return f"wamid.TEST{next(_ids):08d}"


def text_item(guest: str, text: str, wamid: str | None = None) -> dict[str, object]:
    return message_item(SendText(text=text), guest=guest, wamid=wamid or new_wamid(),
                        now=int(time.time()))


def webhook_post(number: str, guest: str, items: list[Mapping[str, object]]) -> bytes:
    """A webhook POST body carrying `items` (messages) from `guest` to `number`."""
    body = orjson.loads(webhook_body(number, guest, items[0]))
    body["entry"][0]["changes"][0]["value"]["messages"] = list(items)
    return orjson.dumps(body)


@dataclass
class Hotel:
    client: TestClient[web.Request, web.Application]
    fake: FakeGraph
    app: web.Application

    @property
    def core(self) -> Core:
        return self.app[CORE]

    @property
    def store(self) -> Store:
        return self.app[CORE].store

    async def post(self, raw: bytes, *, signature: str | None = "sign") -> int:
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(raw, APP_SECRET.encode())
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self.client.post("/webhook", data=raw, headers=headers) as response:
            await response.read()
            return response.status

    async def send_items(self, number: str, guest: str, items: list[Mapping[str, object]]) -> int:
        return await self.post(webhook_post(number, guest, items))

    async def say(self, number: str, guest: str, text: str) -> list[RecordedSend]:
        """Send one text and return the replies it produced (all of them, settled)."""
        before = len(self.fake.sent_to(guest))
        assert await self.send_items(number, guest, [text_item(guest, text)]) == 200
        await self.settle()
        return self.fake.sent_to(guest)[before:]

    async def settle(self, limit: float = 20.0) -> None:
        """Until every step committed and every row the pacer holds went out: the pacer is
        idle also while rows wait for their pace (the number's rate, the pair rate)."""
        deadline = time.monotonic() + limit
        while True:
            await self.core.router.wait_idle()
            await self.core.pacer.wait_idle()
            if not self.core.pacer.statistics().buffered or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.02)


def settings_for(data_dir: Path, graph_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "access_token": ACCESS_TOKEN,
        "graph_url": graph_url, "config_dir": CONFIG, "data_dir": data_dir,
        "metrics_port": 0,  # any free port: tests run several servers at once
    }
    return Settings(**{**values, **overrides})


HotelFactory = Callable[..., Awaitable[Hotel]]


@pytest.fixture
async def start_hotel(tmp_path: Path) -> AsyncIterator[HotelFactory]:
    """Start (or restart, on the same data dir) hotelbot and a fake Graph API."""
    started: list[tuple[TestClient[web.Request, web.Application], TestServer]] = []

    async def start(*, statuses: tuple[str, ...] = (), clock: Clock | None = None,
                    **overrides: Any) -> Hotel:
        graph_app = create_fake_graph(
            access_token=ACCESS_TOKEN, webhook_url="http://127.0.0.1:0/webhook",
            app_secret=APP_SECRET, statuses=statuses,
        )
        graph = TestServer(graph_app, host="127.0.0.1")
        await graph.start_server()
        graph_url = str(graph.make_url("")).rstrip("/")
        data_dir = overrides.pop("data_dir", tmp_path / "var")
        settings = settings_for(data_dir, graph_url, **overrides)
        for attempt in range(1, 4):
            # hotelbot's port is chosen once the fake holds its own; a port picked free can
            # still be taken before hotelbot binds it (the metrics listener's port 0 is given
            # out meanwhile): then again with another port and a new app.
            port = unused_port()
            while port == graph.port:
                port = unused_port()
            graph_app[FAKE_GRAPH].webhook_url = f"http://127.0.0.1:{port}/webhook"
            app = create_app(settings, clock=clock)
            server = TestServer(app, host="127.0.0.1", port=port)
            try:
                await server.start_server(**runner_options(settings))  # serve's listener options
                break
            except OSError as exc:
                await server.close()
                if exc.errno != errno.EADDRINUSE or attempt == 3:
                    raise
        client = TestClient(server)
        await client.start_server()
        started.append((client, graph))
        return Hotel(client=client, fake=graph_app[FAKE_GRAPH], app=app)

    yield start
    for client, graph in reversed(started):
        await client.close()
        await graph.close()
    for _client, graph in started:  # every body hotelbot sent passed Meta's schema and limits
        assert graph.app[FAKE_GRAPH].invalid == []


@pytest.fixture
async def hotel(start_hotel: HotelFactory) -> Hotel:
    return await start_hotel()
