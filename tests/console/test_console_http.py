"""The console over real HTTP: who sees what, CSRF, login limits, session life, acting on a
request tells the guest through the fake Graph API (issue 11)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from urllib.parse import unquote

import pytest

from hotelbot.cli.screen import SendText, message_item
from hotelbot.store import RequestRecord, RequestStatus
from hotelbot.web import DESK
from tests.console.staff import CONSOLE_SECRET, DAYTIME, ORDER, Browserless, add_staff
from tests.fakes.clock import ShiftedClock
from tests.fakes.hotel import Hotel, HotelFactory, new_wamid
from tests.messages import message_text
from tests.numbers import FRONT_DESK, ROOM_SERVICE

GUEST = "34600999001"
SEASIDE_ROOM_SERVICE = "200000000000002"


@pytest.fixture
async def console(start_hotel: HotelFactory) -> Hotel:
    return await start_hotel(console_secret=CONSOLE_SECRET, clock=ShiftedClock(DAYTIME))


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
    for shown in ("2 × Coffee — £7.00", "No onions, please", "101", "+34"):
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
    handle = conversation.rsplit("/", 1)[1]
    events = f"/console/events?department=room_service&guest={handle}"
    for path in (f"/console/requests/{request_id}", conversation,
                 f"{conversation}/messages"):
        assert (await alice.get(path)).status == 200
        assert (await pedro.get(path)).status == 404
    async with pedro.session.get(pedro.base + events) as stream:
        assert stream.status == 404
    async with alice.session.get(alice.base + events) as stream:
        assert stream.status == 200  # the stream itself is read by the browser test
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


async def test_wrong_passwords_are_rate_limited_per_address(
        console: Hotel, browsers: list[Browserless]) -> None:
    await add_staff(console, "alice")
    mallory = _open(console, browsers)
    for n in range(20):  # a different username each time: the address is what is counted
        assert (await mallory.login(f"user{n}", "wrong password!")).status == 401
    assert (await mallory.login("alice")).status == 429


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
    assert "Secure" not in cookie  # plain HTTP on loopback
    form = await b.get("/console/login")
    async with b.session.post(b.base + "/console/login", allow_redirects=False, headers={
            "X-Forwarded-Proto": "https"}, data={  # HTTPS at the proxy on this machine
            "username": "alice", "password": "correct horse battery",
            "csrf": form.csrf}) as response:
        assert "Secure" in response.headers["Set-Cookie"]


async def test_done_runs_the_done_hooks_once_committed(
        console: Hotel, browsers: list[Browserless]) -> None:
    request_id = await _order(console)
    seen: list[tuple[int, RequestStatus]] = []

    async def hook(request: RequestRecord) -> None:
        seen.append((request.id, request.status))

    console.app[DESK].on_done(hook)
    console.app[DESK].on_done(lambda request: 1 / 0)  # a failing hook: logged, no harm
    await add_staff(console, "alice")
    alice = _open(console, browsers)
    board = await alice.login("alice")
    await alice.post(f"/console/requests/{request_id}/acknowledge", {"csrf": board.csrf})
    assert seen == []
    page = await alice.post(f"/console/requests/{request_id}/done", {"csrf": board.csrf})
    assert page.status == 200
    assert seen == [(request_id, RequestStatus.DONE)]


async def test_a_taken_conversation_times_out_and_the_bot_says_so(
        start_hotel: HotelFactory) -> None:
    hotel = await start_hotel(console_secret=CONSOLE_SECRET, handoff_timeout=1)
    await hotel.say(ROOM_SERVICE, GUEST, "hi")
    await add_staff(hotel, "alice")
    alice = Browserless(hotel)
    try:
        board = await alice.login("alice")
        page = await alice.get("/console/conversations")
        [link] = set(re.findall(r'href="(/console/conversations/room_service/[^"]+)"',
                                page.text))
        taken = await alice.post(f"{link}/take", {"csrf": board.csrf})
        assert 'id="held"' in taken.text
        assert await hotel.say(ROOM_SERVICE, GUEST, "hello?") == []  # the bot is silent
        assert "hello?" in (await alice.get(f"{link}/messages")).text
        await asyncio.sleep(1.1)
        assert hotel.app[DESK].statistics().holding == 1
        assert await hotel.app[DESK].sweep() == 1
        stats = hotel.app[DESK].statistics()
        assert (stats.taken, stats.released, stats.holding) == (1, 1, 0)
        await hotel.settle()
        assert "automatic assistant" in message_text(hotel.fake.sent_to(GUEST)[-1].body)
        assert await hotel.store.handoffs.active() == []
        assert await hotel.say(ROOM_SERVICE, GUEST, "menu")  # the bot answers again
    finally:
        await alice.close()


async def test_outside_the_window_the_reply_box_offers_the_template(
        console: Hotel, browsers: list[Browserless]) -> None:
    fresh, stale = "34600999002", "34600999003"
    await console.say(ROOM_SERVICE, fresh, "hi")
    old = message_item(SendText(text="hi"), guest=stale, wamid=new_wamid(),
                       now=int(DAYTIME.timestamp()) - 25 * 3600)  # 25 hours before the clock
    assert await console.send_items(ROOM_SERVICE, stale, [old]) == 200
    await console.settle()
    await add_staff(console, "alice")
    alice = _open(console, browsers)
    board = await alice.login("alice")
    page = await alice.get("/console/conversations")
    links = re.findall(r'href="(/console/conversations/room_service/[^"]+)"', page.text)
    assert len(links) == 2
    pages = {link: await alice.get(link) for link in links}
    [open_link] = [k for k, p in pages.items() if 'id="text"' in p.text]
    [closed_link] = [k for k, p in pages.items() if 'id="window-closed"' in p.text]
    assert "feedback_request" in pages[closed_link].text  # the hotel's templates are offered
    sent = len(console.fake.sent_to(stale))
    refused = await alice.post(f"{closed_link}/reply", {"csrf": board.csrf, "text": "hello"})
    assert "window is closed" in unquote(refused.url)
    nameless = await alice.post(f"{closed_link}/template",
                                {"csrf": board.csrf, "template": "feedback_request"})
    assert "no value for 'guest_name'" in unquote(nameless.url)  # said, nothing sent
    with sqlite3.connect(console.core.settings.database_path) as db:  # the guest told a name
        db.execute("UPDATE guests SET data = ? WHERE guest_id = ?", ('{"guest_name":"Ana"}',
                                                                      stale))
    await alice.post(f"{closed_link}/template",
                     {"csrf": board.csrf, "template": "feedback_request"})
    await console.settle()
    [template] = console.fake.sent_to(stale)[sent:]
    assert template.body["type"] == "template"
    assert template.body["template"]["name"] == "feedback_request_v1"
    await alice.post(f"{open_link}/reply", {"csrf": board.csrf, "text": "Hello from reception"})
    await console.settle()
    assert message_text(console.fake.sent_to(fresh)[-1].body) == "Hello from reception"


async def test_the_assets_ship_in_the_package_and_pages_need_a_login(
        console: Hotel, browsers: list[Browserless]) -> None:
    anonymous = _open(console, browsers)
    script = await anonymous.get("/console/static/console.js")
    assert script.status == 200 and "EventSource" in script.text
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "script-src 'self'" in script.headers["Content-Security-Policy"]
    for name in ("app.py", "..%2F__init__.py"):
        assert (await anonymous.get(f"/console/static/{name}")).status == 404
    for path in ("/console/", "/console/conversations", "/console/requests/1"):
        page = await anonymous.get(path)
        assert page.url.endswith("/console/login") and 'name="password"' in page.text
    assert (await anonymous.post("/console/requests/1/done", {"csrf": "x"})).status == 401


async def _cool_off(hotel: Hotel, guest: str) -> None:
    """Five wrong answers at the front desk: the guest is paused (the bot stays silent)."""
    await hotel.say(FRONT_DESK, guest, "Hello")
    await hotel.say(FRONT_DESK, guest, "late checkout")
    for wrong in ("one", "two", "three", "four", "five"):
        await hotel.say(FRONT_DESK, guest, wrong)
    assert await hotel.say(FRONT_DESK, guest, "menu") == []


async def test_staff_lift_a_guests_pause_from_the_conversation(
        console: Hotel, browsers: list[Browserless]) -> None:
    await _cool_off(console, GUEST)
    await console.say(ROOM_SERVICE, "34600999002", "hi")  # another guest, not paused
    await add_staff(console, "alice")
    await add_staff(console, "pedro", hotel_id="seaside_inn")
    alice, pedro = _open(console, browsers), _open(console, browsers)
    board = await alice.login("alice")
    other_board = await pedro.login("pedro")
    listing = await alice.get("/console/conversations")
    [paused] = set(re.findall(r'href="(/console/conversations/front_desk/[^"]+)"', listing.text))
    [calm] = set(re.findall(r'href="(/console/conversations/room_service/[^"]+)"', listing.text))
    page = await alice.get(paused)
    assert 'id="lift"' in page.text and "Lift the pause" in page.text
    assert 'id="lift"' not in (await alice.get(calm)).text

    assert (await pedro.post(f"{paused}/lift", {"csrf": other_board.csrf})).status == 404
    assert (await alice.post(f"{paused}/lift", {})).status == 403
    assert await console.say(FRONT_DESK, GUEST, "menu") == []  # still paused

    lifted = await alice.post(f"{paused}/lift", {"csrf": board.csrf}, redirects=False)
    assert lifted.status == 303 and lifted.headers["Location"].startswith(paused)
    page = await alice.get(lifted.headers["Location"])
    assert "Pause lifted: the guest may write again." in page.text
    assert 'id="lift"' not in page.text
    replies = await console.say(FRONT_DESK, GUEST, "menu")
    assert replies and "How can we help you today?" in message_text(replies[0].body)
