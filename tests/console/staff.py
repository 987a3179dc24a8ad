"""A staff member in a browser-less session: logs in, reads pages, posts forms (with the CSRF
token the page carried), against the real app on loopback (tests.fakes.hotel)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from cryptography.fernet import Fernet

from hotelbot.store import StaffRecord, StaffRole
from hotelbot.web import hash_password
from tests.fakes.hotel import Hotel

CONSOLE_SECRET = Fernet.generate_key().decode()
PASSWORD = "correct horse battery"
# Room service: order, Drinks, Coffee, 2, review the basket, a special request, room, confirm.
ORDER = ["hi", "1", "4", "1", "2", "review order", "No onions, please", "101", "1"]
# A wall clock inside room service's opening hours (07:00-23:00 in London), running at the
# real pace (session and handoff expiry still pass in real time).
DAYTIME = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def add_staff(hotel: Hotel, username: str, hotel_id: str = "demo_hotel",
                    departments: tuple[str, ...] = (), role: str = "staff") -> None:
    await hotel.store.staff.add(StaffRecord(
        username=username, hotel_id=hotel_id, password_hash=hash_password(PASSWORD),
        role=StaffRole(role), departments=departments), datetime.now(UTC))


@dataclass
class Page:
    status: int
    text: str
    url: str
    headers: Mapping[str, str]

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.text)
        assert found, f"no CSRF token on {self.url}"
        return found.group(1)


class Browserless:
    """One staff member's cookie jar against the console."""

    def __init__(self, hotel: Hotel) -> None:
        self.base = str(hotel.client.make_url("")).rstrip("/")
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str) -> Page:
        async with self.session.get(self.base + path) as response:
            return Page(response.status, await response.text(), str(response.url),
                        response.headers)

    async def post(self, path: str, form: Mapping[str, str], *,
                   redirects: bool = True) -> Page:
        async with self.session.post(self.base + path, data=dict(form),
                                     allow_redirects=redirects) as response:
            return Page(response.status, await response.text(), str(response.url),
                        response.headers)

    async def login(self, username: str, password: str = PASSWORD) -> Page:
        form = await self.get("/console/login")
        return await self.post("/console/login", {"username": username, "password": password,
                                                  "csrf": form.csrf})
