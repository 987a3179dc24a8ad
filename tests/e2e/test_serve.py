"""`hotelbot serve` as a real process: start-up refusals and a graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer, unused_port

from hotelbot.devtools.fake_graph import FAKE_GRAPH, create_fake_graph
from hotelbot.store import open_store
from hotelbot.whatsapp.payloads import sign
from tests.fakes.hotel import text_item, webhook_post
from tests.numbers import FRONT_DESK
from tests.paths import CONFIG

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-app-secret"


def _env(tmp_path: Path, port: int, graph_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTELBOT_")}
    env.update(
        HOTELBOT_APP_SECRET=SECRET, HOTELBOT_VERIFY_TOKEN="e2e-verify",
        HOTELBOT_ACCESS_TOKEN="e2e-token", HOTELBOT_GRAPH_URL=graph_url,
        HOTELBOT_CONFIG_DIR=str(CONFIG), HOTELBOT_DATA_DIR=str(tmp_path / "var"),
        HOTELBOT_PORT=str(port), HOTELBOT_HOST="127.0.0.1", HOTELBOT_METRICS_PORT="0",
    )
    env.update(extra)
    return env


async def _run(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotelbot", "serve", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_missing_secret_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    env = _env(tmp_path, unused_port(), "http://127.0.0.1:9")
    del env["HOTELBOT_APP_SECRET"]
    process = await _run(env)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert b"HOTELBOT_APP_SECRET" in err


async def test_every_missing_or_bad_setting_is_reported_at_once(tmp_path: Path) -> None:
    env = _env(tmp_path, unused_port(), "http://127.0.0.1:9", HOTELBOT_PORT="http",
               HOTELBOT_GRAPH_VERSION="25")
    del env["HOTELBOT_APP_SECRET"], env["HOTELBOT_ACCESS_TOKEN"]
    process = await _run(env)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    for variable in (b"HOTELBOT_APP_SECRET", b"HOTELBOT_ACCESS_TOKEN", b"HOTELBOT_PORT",
                     b"HOTELBOT_GRAPH_VERSION"):
        assert variable in err
    assert err.count(b"hotelbot serve:") == 4


async def test_bad_configuration_stops_start_up_with_file_and_reason(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "demo_hotel.yaml"
    hotel.write_text(hotel.read_text().replace("main_flow: front_desk_menu", "main_flow: nope"))
    env = _env(tmp_path, unused_port(), "http://127.0.0.1:9", HOTELBOT_CONFIG_DIR=str(config))
    process = await _run(env)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 1
    assert b"hotels/demo_hotel.yaml" in err and b"nope" in err


async def test_sigterm_drains_and_loses_nothing(tmp_path: Path) -> None:
    graph_app = create_fake_graph(access_token="e2e-token", statuses=())
    graph = TestServer(graph_app, host="127.0.0.1")
    await graph.start_server()
    port = unused_port()
    process = await _run(_env(tmp_path, port, str(graph.make_url("")).rstrip("/")))
    base = f"http://127.0.0.1:{port}"
    guests = [f"3460000{n:04d}" for n in range(25)]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for _ in range(200):  # wait for readiness, bounded
                try:
                    async with http.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            else:
                pytest.fail("hotelbot did not become ready")

            async def post(guest: str) -> int:
                raw = webhook_post(FRONT_DESK, guest, [text_item(guest, "hi")])
                headers = {"X-Hub-Signature-256": sign(raw, SECRET.encode()),
                           "Content-Type": "application/json"}
                async with http.post(f"{base}/webhook", data=raw, headers=headers) as r:
                    return r.status

            assert set(await asyncio.gather(*(post(g) for g in guests))) == {200}
        process.send_signal(signal.SIGTERM)
        out, _err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0
        # start-up warmed dateparser in every configured language, then froze its heap
        [settled] = [line for line in map(orjson.loads, out.splitlines())
                     if line["event"] == "process_settled"]
        assert settled["dates_read"] >= 2 and settled["frozen"] > 10_000
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await graph.close()
    async with open_store(tmp_path / "var" / "hotelbot.sqlite3") as store:
        assert await store.inbound.pending() == []
        pending = {row.guest_id for row in await store.outbox.pending()}
        # caught mid-POST by the stop: resolved by its status, or sent again after the grace
        sending = {row.guest_id for row in await store.outbox.sending()}
    answered = {send.to for send in graph_app[FAKE_GRAPH].sends}
    assert answered | pending | sending == set(guests)  # answered, or the answer is on disk


async def test_second_server_on_the_same_data_dir_stops_with_a_clear_message(
    tmp_path: Path,
) -> None:
    import tempfile

    sock_dir = Path(tempfile.mkdtemp(prefix="hb"))  # AF_UNIX paths are short
    extra = {"HOTELBOT_ADMIN_SOCKET": str(sock_dir / "a.sock")}
    first = await _run(_env(tmp_path, unused_port(), "http://127.0.0.1:9", **extra))
    try:
        for _ in range(200):  # bounded wait for the first server's socket
            if (sock_dir / "a.sock").exists():
                break
            await asyncio.sleep(0.05)
        second = await _run(_env(tmp_path, unused_port(), "http://127.0.0.1:9", **extra))
        _out, err = await asyncio.wait_for(second.communicate(), timeout=30)
        assert second.returncode == 1
        assert b"AdminSocketError" in err and b"Traceback" not in err
    finally:
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.wait(), timeout=30)
        shutil.rmtree(sock_dir, ignore_errors=True)
    assert first.returncode == 0
