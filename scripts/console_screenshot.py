"""Make docs/console-board.png: the staff console's board with demo data, in headless chromium.

Runs hotelbot (tests' configuration: fast pacing) and the fake Graph API on loopback, plays a
few guests through signed webhooks (check-ins, orders, a housekeeping job, feedback), moves
some requests as staff would, logs in with chromium and saves the board.

    .venv/bin/python scripts/console_screenshot.py [docs/console-board.png]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestServer, unused_port
from cryptography.fernet import Fernet
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from hotelbot.app import CORE, create_app
from hotelbot.cli.screen import SendText, message_item, webhook_body
from hotelbot.devtools.fake_graph import create_fake_graph
from hotelbot.settings import Settings
from hotelbot.store import StaffRecord, StaffRole
from hotelbot.web import DESK, hash_password
from hotelbot.whatsapp.payloads import sign

ROOT = Path(__file__).resolve().parents[1]
FRONT, ROOM_SERVICE, HOUSEKEEPING = "100000000000001", "100000000000002", "100000000000003"
SECRET = "screenshot-app-secret"
GUESTS = {
    "447700900101": [(FRONT, ["hi", "1", "Ana Lopez", "AB1234", "3pm",
                              "A cot for our baby, please", "yes"]),
                     (ROOM_SERVICE, ["hi", "1", "1", "1", "2", "No onions, please", "101",
                                     "1"])],
    "447700900102": [(FRONT, ["hi", "1", "Tom Becker", "TB7788", "6pm", "skip", "yes"]),
                     (ROOM_SERVICE, ["hi", "1", "4", "1", "3", "Oat milk", "204", "1"])],
    "447700900103": [(FRONT, ["hi", "1", "Mei Chen", "MC2025", "noon", "skip", "yes"]),
                     (HOUSEKEEPING, ["hi", "1", "4", "The shower drips all night", "11am",
                                     "312", "yes"])],
    "447700900104": [(FRONT, ["hi", "1", "Lars Olsen", "LO4411", "9pm", "skip", "yes"]),
                     (FRONT, ["hi", "leave feedback", "2", "noise",
                              "Thin walls, loud corridor at night"])],
}


async def main(out: Path) -> None:
    port = unused_port()
    graph_app = create_fake_graph(access_token="t", webhook_url=f"http://127.0.0.1:{port}/webhook",
                                  app_secret=SECRET)
    graph = TestServer(graph_app, host="127.0.0.1")
    await graph.start_server()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(app_secret=SECRET, verify_token="v", access_token="t",
                            graph_url=str(graph.make_url("")).rstrip("/"),
                            config_dir=ROOT / "tests/data/config", data_dir=Path(data),
                            console_secret=Fernet.generate_key().decode())
        app = create_app(settings)
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        try:
            await _play(server, app)
            await asyncio.to_thread(_shoot, f"http://127.0.0.1:{port}", out)
        finally:
            await server.close()
            await graph.close()


async def _play(server: TestServer, app: object) -> None:
    from aiohttp import ClientSession, web

    assert isinstance(app, web.Application)
    core = app[CORE]
    async with ClientSession() as http:
        for guest, visits in GUESTS.items():
            for number, texts in visits:
                for text in texts:
                    item = message_item(SendText(text=text), guest=guest,
                                        wamid=f"wamid.SHOT{time.monotonic_ns()}",
                                        now=int(time.time()))
                    raw = webhook_body(number, guest, item)
                    async with http.post(server.make_url("/webhook"), data=raw, headers={
                            "Content-Type": "application/json",
                            "X-Hub-Signature-256": sign(raw, SECRET.encode())}) as response:
                        assert response.status == 200, response.status
                    await core.router.wait_idle()
    await core.store.staff.add(StaffRecord(
        username="maria", hotel_id="demo_hotel", password_hash=hash_password("screenshot-pw"),
        role=StaffRole.MANAGER), core.clock.now())
    staff = await core.store.staff.get("maria")
    assert staff is not None
    requests = {(r.guest_id, r.kind): r for r in await core.store.requests.recent("demo_hotel")}
    desk = app[DESK]
    await desk.move(staff, requests[("447700900102", "order")].id, "acknowledge")
    await desk.move(staff, requests[("447700900101", "check_in")].id, "done")
    await desk.move(staff, requests[("447700900103", "check_in")].id, "acknowledge")
    await desk.move(staff, requests[("447700900104", "check_in")].id, "cancel",
                    "booking moved to next week")
    await core.pacer.wait_idle()


def _shoot(base: str, out: Path) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,1500", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.get(base + "/console/login")
        driver.find_element(By.ID, "username").send_keys("maria")
        driver.find_element(By.ID, "password").send_keys("screenshot-pw")
        driver.find_element(By.ID, "login").click()
        driver.find_element(By.ID, "live")
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1440, min(int(height) + 40, 3000))
        out.write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/console-board.png"
    asyncio.run(main(target))
    print(f"wrote {target}")
