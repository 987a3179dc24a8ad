"""The console in a real browser (issue 11): a staff member logs in, a request made by a
guest's signed webhook appears on the board without a reload, they acknowledge and complete
it and the guest's notices reach the fake Graph API; they take over the conversation, reply,
and the bot stays silent until they release it; they lift a guest's pause after wrong answers."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Browser
from tests.console.staff import CONSOLE_SECRET, DAYTIME, ORDER, PASSWORD, add_staff
from tests.fakes.clock import ShiftedClock
from tests.fakes.hotel import HotelFactory
from tests.messages import message_text
from tests.numbers import FRONT_DESK, ROOM_SERVICE

GUEST = "34600777001"
pytestmark = pytest.mark.e2e


def _texts(sent: list[object]) -> list[str]:
    return [message_text(s.body) for s in sent]  # type: ignore[attr-defined]


async def test_staff_work_a_request_and_a_conversation_in_the_browser(
        start_hotel: HotelFactory, chromium: WebDriver) -> None:
    hotel = await start_hotel(console_secret=CONSOLE_SECRET, handoff_timeout=600,
                              clock=ShiftedClock(DAYTIME))
    await add_staff(hotel, "alice")
    browser = Browser(chromium, str(hotel.client.make_url("")).rstrip("/"))
    find = chromium.find_element

    # log in
    await browser.get("/console/")
    await browser.until(lambda d: d.find_elements(By.ID, "username"))
    await browser.run(lambda: find(By.ID, "username").send_keys("alice"))
    await browser.run(lambda: find(By.ID, "password").send_keys(PASSWORD))
    await browser.run(lambda: find(By.ID, "login").click())
    await browser.until(lambda d: d.find_elements(By.ID, "live"))
    await browser.until(lambda d: d.execute_script(
        "return document.readyState") == "complete")

    # a guest orders through signed webhooks: the card appears live, with a notice
    for text in ORDER:
        await hotel.say(ROOM_SERVICE, GUEST, text)
    requests = await hotel.store.requests.recent("demo_hotel")
    assert len(requests) == 1, [(r.kind, r.guest_id[-4:], r.data) for r in requests]
    [request] = requests
    card_id = f"request-{request.id}"
    card = await browser.until(lambda d: d.find_elements(By.ID, card_id))
    assert "No onions, please" in await browser.run(lambda: card[0].text)
    notice = await browser.until(lambda d: d.find_element(By.ID, "notice").is_displayed()
                                 and d.find_element(By.ID, "notice").text)
    assert "New request" in notice

    # acknowledge, then done: the guest is told each time
    for action, expected in (("acknowledge", "The kitchen has your order"),
                             ("done", "is done")):
        sent_before = len(hotel.fake.sent_to(GUEST))
        await browser.run(lambda a=action: find(
            By.CSS_SELECTOR, f"#{card_id} button[data-action='{a}']").click())
        await browser.until(lambda d, a=action: d.find_elements(By.ID, card_id) and not
                            d.find_elements(By.CSS_SELECTOR,
                                            f"#{card_id} button[data-action='{a}']"))
        await hotel.settle()
        assert any(expected in t for t in _texts(hotel.fake.sent_to(GUEST)[sent_before:]))
    assert await browser.run(lambda: find(By.ID, card_id).get_attribute(
        "data-status")) == "done"

    # take over the conversation: the bot goes silent, what the guest writes shows up
    await browser.run(lambda: find(By.CSS_SELECTOR, f"#{card_id} a[href*='conversations']")
                      .click())
    await browser.until(lambda d: d.find_elements(By.ID, "take"))
    await browser.run(lambda: find(By.ID, "take").click())
    await browser.until(lambda d: d.find_elements(By.ID, "held"))
    silent_before = len(hotel.fake.sent_to(GUEST))
    await hotel.say(ROOM_SERVICE, GUEST, "Is anyone there? The tray is missing a fork")
    await browser.until(lambda d: "missing a fork" in d.find_element(By.ID, "live").text)
    assert len(hotel.fake.sent_to(GUEST)) == silent_before  # the bot said nothing

    await browser.run(lambda: find(By.ID, "text").send_keys("Sorry! A fork is on its way."))
    await browser.run(lambda: find(By.ID, "send").click())
    # the page comes back (POST, redirect) with the reply in the conversation
    await browser.until(lambda d: "A fork is on its way" in d.find_element(By.ID, "live").text)
    await hotel.settle()
    assert _texts(hotel.fake.sent_to(GUEST)[silent_before:]) == ["Sorry! A fork is on its way."]
    assert await browser.run(lambda: bool(chromium.find_elements(By.ID, "held")))

    # release: the guest hears the bot is back, and the bot answers again
    await browser.run(lambda: find(By.ID, "release").click())
    await browser.until(lambda d: d.find_elements(By.ID, "take"))
    await hotel.settle()
    assert "automatic assistant" in _texts(hotel.fake.sent_to(GUEST))[-1]
    replies = await hotel.say(ROOM_SERVICE, GUEST, "menu")
    assert replies, "the bot answers again after the release"

    # five wrong answers at the front desk pause the guest; staff lift the pause
    for text in ("Hello", "late checkout", "one", "two", "three", "four", "five"):
        await hotel.say(FRONT_DESK, GUEST, text)
    assert await hotel.say(FRONT_DESK, GUEST, "menu") == []  # paused: silence
    handle = (await browser.run(lambda: chromium.current_url)).rsplit("/", 1)[1]
    await browser.get(f"/console/conversations/front_desk/{handle}")
    await browser.until(lambda d: d.find_elements(By.ID, "lift"))
    await browser.run(lambda: find(By.ID, "lift").click())
    await browser.until(lambda d: d.find_elements(By.ID, "done-notice"))
    assert not await browser.run(lambda: chromium.find_elements(By.ID, "lift"))
    replies = await hotel.say(FRONT_DESK, GUEST, "menu")
    assert replies and "How can we help you today?" in message_text(replies[0].body)
