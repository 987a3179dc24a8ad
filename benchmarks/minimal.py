"""The minimal path: the least a webhook -> durable record -> reply service can do.

Owns: the baseline the hotelbot path is compared against, built from the same libraries:
an aiohttp POST handler, the HMAC-SHA256 check of X-Hub-Signature-256 over the raw bytes, an
orjson parse, ONE durable aiosqlite write (WAL, synchronous=FULL like hotelbot's store) with
natural group commit (the writer commits whatever waits whenever it is free, no timer),
200 after the commit, then one reply POST via an aiohttp client to the same fake Graph API.
Must never: answer before the commit, use hotelbot's code on its hot path, or listen beyond
loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiosqlite
import orjson
from aiohttp import web

Row = tuple[str, str, str, bytes]  # wamid, phone_number_id, guest, message json

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS inbound (seq INTEGER PRIMARY KEY, wamid TEXT UNIQUE NOT NULL,"
    " phone_number_id TEXT NOT NULL, guest_id TEXT NOT NULL, payload BLOB NOT NULL)"
)
_INSERT = (
    "INSERT OR IGNORE INTO inbound (wamid, phone_number_id, guest_id, payload)"
    " VALUES (?, ?, ?, ?)"
)


class GroupWriter:
    """One task commits, in one transaction, every batch of rows waiting when it is free."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._queue: asyncio.Queue[tuple[list[Row], asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="minimal-writer")

    async def write(self, rows: list[Row]) -> None:
        """Return once `rows` are committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((rows, future))
        await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            rows = [row for rows, _ in batch for row in rows]
            try:
                await self._conn.executemany(_INSERT, rows)
                await self._conn.commit()
            except Exception as exc:  # every waiter learns; the writer goes on
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            for _, future in batch:
                if not future.done():
                    future.set_result(None)


class MinimalService:
    """The handler and its reply sender."""

    def __init__(
        self, *, app_secret: str, access_token: str, graph_url: str, writer: GroupWriter,
        session: aiohttp.ClientSession,
    ) -> None:
        self._secret = app_secret.encode()
        self._auth = {"Authorization": f"Bearer {access_token}",
                      "Content-Type": "application/json"}
        self._graph = graph_url.rstrip("/") + "/v25.0"
        self._writer = writer
        self._session = session
        self._tasks: set[asyncio.Task[None]] = set()
        self.replied = self.reply_errors = 0

    async def receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        given = request.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac.new(self._secret, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=401, text="invalid signature")
        try:
            value = orjson.loads(raw)["entry"][0]["changes"][0]["value"]
            number = str(value["metadata"]["phone_number_id"])
            rows = [(str(m["id"]), number, str(m["from"]), orjson.dumps(m))
                    for m in value.get("messages", [])]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            return web.Response(status=400, text="malformed webhook")
        await self._writer.write(rows)
        for _wamid, phone_number_id, guest, _payload in rows:
            task = asyncio.create_task(self._reply(phone_number_id, guest))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(text="ok")

    async def _reply(self, phone_number_id: str, guest: str) -> None:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": guest,
                "type": "text", "text": {"body": "Thanks, we got your message."}}
        url = f"{self._graph}/{phone_number_id}/messages"
        try:
            async with self._session.post(url, data=orjson.dumps(body), headers=self._auth) as r:
                await r.read()
                ok = r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        if ok:
            self.replied += 1
        else:
            self.reply_errors += 1

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


MINIMAL = web.AppKey("minimal", MinimalService)


def create_minimal_app(
    *, app_secret: str, access_token: str, graph_url: str, db_path: Path
) -> web.Application:
    """The minimal path as an aiohttp app: POST /webhook, GET /healthz."""
    app = web.Application()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(db_path) as conn:
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute(_SCHEMA)
            await conn.commit()
            writer = GroupWriter(conn)
            writer.start()
            connector = aiohttp.TCPConnector(limit=1000)
            timeout = aiohttp.ClientTimeout(total=10.0)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                service = MinimalService(app_secret=app_secret, access_token=access_token,
                                         graph_url=graph_url, writer=writer, session=session)
                app[MINIMAL] = service
                yield
                await service.drain()
            await writer.close()

    async def receive(request: web.Request) -> web.Response:
        return await request.app[MINIMAL].receive(request)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="alive")

    app.cleanup_ctx.append(resources)
    app.router.add_post("/webhook", receive)
    app.router.add_get("/healthz", healthz)
    return app
