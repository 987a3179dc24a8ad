"""The console over real HTTP: who sees what, CSRF, login limits, session life, acting on a
request tells the guest through the fake Graph API (issue 11)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from hotelbot.store import RequestStatus
from tests.console.staff import CONSOLE_SECRET, ORDER, Browserless, add_staff
from tests.fakes.hotel import Hotel, HotelFactory
from tests.messages import message_text
from tests.numbers import ROOM_SERVICE

GUEST = "34600999001"
SEASIDE_ROOM_SERVICE = "200000000000002"


@pytest.fixture
async def console(start_hotel: HotelFactory) -> Hotel:
    return await start_hotel(console_secret=CONSOLE_SECRET)


@pytest.fixture
async def browsers(console: Hotel) -> AsyncIterator[list[Browserless]]:
    made: list[Browserless] = []
    yield made
    for b in made:
        await b.close()


def _open(console: Hotel, browsers: list[Browserless]) -> Browserless:
    b = Browserless(console)
    browsers.append(b)
    return b


async def _order(hotel: Hotel, guest: str = GUEST) -> int:
    for text in ORDER:
        await hotel.say(ROOM_SERVICE, guest, text)
    [request] = [r for r in await hotel.store.requests.recent("demo_hotel")
                 if r.guest_id == guest]
    return request.id


async def test_board_shows_every_field_and_acting_tells_the_guest(
        console: Hotel, browsers: list[Browserless]) -> None:
    request_id = await _order(console)
    await add_staff(console, "alice")
    alice = _open(console, browsers)
    board = await alice.login("alice")
    assert board.url.endswith("/console/")
    assert f'id="request-{request_id}"' in board.text
    for shown in ("Continental breakfast", "No onions, please", "101", "+34"):
        assert shown in board.text
    assert GUEST not in board.text  # the number is masked
    assert "frame-ancestors 'none'" in board.headers["Content-Security-Policy"]
    assert board.headers["X-Frame-Options"] == "DENY"

    before = len(console.fake.sent_to(GUEST))
    page = await alice.post(f"/console/requests/{request_id}/acknowledge", {"csrf": board.csrf})
    assert page.status == 200
    await console.settle()
    assert message_text(console.fake.sent_to(GUEST)[before].body) == (
        "The kitchen has your order — about 25 minutes.")
    page = await alice.post(f"/console/requests/{request_id}/done", {"csrf": board.csrf})
    await console.settle()
    assert "is done" in message_text(console.fake.sent_to(GUEST)[-1].body)
    stored = await console.store.requests.get("demo_hotel", request_id)
    assert stored is not None and stored.status is RequestStatus.DONE

    # done never goes back to acknowledged; cancelling it asks why
    back = await alice.post(f"/console/requests/{request_id}/acknowledge", {"csrf": board.csrf})
    assert back.status == 409
    why = await alice.post(f"/console/requests/{request_id}/cancel", {"csrf": board.csrf})
    assert why.status == 409 and "needs a reason" in why.text
    sent = len(console.fake.sent_to(GUEST))
    await alice.post(f"/console/requests/{request_id}/cancel",
                     {"csrf": board.csrf, "reason": "the kitchen closed early"})
    await console.settle()
    assert len(console.fake.sent_to(GUEST)) == sent + 1
    assert "the kitchen closed early" in message_text(console.fake.sent_to(GUEST)[-1].body)


async def test_another_hotels_staff_get_404_for_its_request_and_conversation(
        console: Hotel, browsers: list[Browserless]) -> None:
    request_id = await _order(console)
    await add_staff(console, "alice")
    await add_staff(console, "pedro", hotel_id="seaside_inn")
    alice, pedro = _open(console, browsers), _open(console, browsers)
    board = await alice.login("alice")
    await pedro.login("pedro")
    [conversation] = set(re.findall(r'href="(/console/conversations/room_service/[^"]+)"',
                                    board.text))
    for path in (f"/console/requests/{request_id}", conversation,
                 f"{conversation}/messages"):
        assert (await alice.get(path)).status == 200
        assert (await pedro.get(path)).status == 404
    board = await pedro.get("/console/")
    assert f'id="request-{request_id}"' not in board.text
    for action in ("take", "reply"):
        taken = await pedro.post(f"{conversation}/{action}", {"csrf": board.csrf, "text": "hi"})
        assert taken.status == 404
    assert await console.store.handoffs.active() == []
    acted = await pedro.post(f"/console/requests/{request_id}/acknowledge",
                             {"csrf": board.csrf})
    assert acted.status == 404
    stored = await console.store.requests.get("demo_hotel", request_id)
    assert stored is not None and stored.status is RequestStatus.NEW


async def test_a_department_account_sees_only_its_departments(
        console: Hotel, browsers: list[Browserless]) -> None:
    request_id = await _order(console)
    await add_staff(console, "hk", departments=("housekeeping",))
    hk = _open(console, browsers)
    await hk.login("hk")
    assert (await hk.get(f"/console/requests/{request_id}")).status == 404


async def test_forms_without_the_csrf_token_are_refused(
        console: Hotel, browsers: list[Browserless]) -> None:
    request_id = await _order(console)
    await add_staff(console, "alice")
    alice = _open(console, browsers)
    await alice.login("alice")
    for form in ({}, {"csrf": "forged"}):
        page = await alice.post(f"/console/requests/{request_id}/acknowledge", form)
        assert page.status == 403
    no_token_login = await _open(console, browsers).post(
        "/console/login", {"username": "alice", "password": "correct horse battery"})
    assert no_token_login.status == 403
    stored = await console.store.requests.get("demo_hotel", request_id)
    assert stored is not None and stored.status is RequestStatus.NEW


async def test_wrong_passwords_are_rate_limited_per_user(
        console: Hotel, browsers: list[Browserless]) -> None:
    await add_staff(console, "alice")
    mallory = _open(console, browsers)
    statuses = [(await mallory.login("alice", "wrong password!")).status for _ in range(5)]
    assert statuses == [401] * 5
    blocked = await mallory.login("alice")  # even the right password now
    assert blocked.status == 429 and "Retry-After" in blocked.headers
    assert "Too many failed attempts" in blocked.text
    assert (await _open(console, browsers).login("alice")).status == 429  # any address


async def test_a_disabled_user_is_logged_out(console: Hotel,
                                             browsers: list[Browserless]) -> None:
    await add_staff(console, "alice")
    alice = _open(console, browsers)
    assert (await alice.login("alice")).url.endswith("/console/")
    await console.store.staff.set_disabled("alice", True)
    page = await alice.get("/console/")
    assert page.url.endswith("/console/login")
    assert (await alice.login("alice")).status == 401


async def test_sessions_expire(start_hotel: HotelFactory) -> None:
    hotel = await start_hotel(console_secret=CONSOLE_SECRET, console_session=1)
    await add_staff(hotel, "alice")
    alice = Browserless(hotel)
    try:
        assert (await alice.login("alice")).url.endswith("/console/")
        await asyncio.sleep(1.2)
        assert (await alice.get("/console/")).url.endswith("/console/login")
    finally:
        await alice.close()


async def test_session_cookie_is_httponly_and_lax(console: Hotel,
                                                  browsers: list[Browserless]) -> None:
    await add_staff(console, "alice")
    b = _open(console, browsers)
    form = await b.get("/console/login")
    async with b.session.post(b.base + "/console/login", allow_redirects=False, data={
            "username": "alice", "password": "correct horse battery",
            "csrf": form.csrf}) as response:
        cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; HTTPS requests get Secure
