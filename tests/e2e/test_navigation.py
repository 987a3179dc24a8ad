"""Navigation and conversation rules through the real path: signed webhooks in, replies read at
the fake Graph API (webhook -> store -> router -> actor -> engine -> outbox -> sender).

Non-text updates (reactions, deletions, system notices, the chat-opened event), stale taps,
keyword routing, reloads, the anti-abuse guards and the guest's own requests, each as a guest
would meet them.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotelbot.devtools.fake_graph import RecordedSend
from hotelbot.flows import Context
from hotelbot.flows.remembered import mark
from hotelbot.store.records import InboundState, StepCommit
from tests.fakes.clock import FrozenWallClock
from tests.fakes.hotel import Hotel, HotelFactory, new_wamid, text_item
from tests.messages import message_text
from tests.paths import CONFIG

pytestmark = pytest.mark.e2e

FRONT_DESK = "100000000000001"  # tests/data/config/hotels/demo_hotel.yaml
ROOM_SERVICE = "100000000000002"
_guests = itertools.count(1)


def _guest() -> str:
    return f"4478{next(_guests):08d}"


def _item(guest: str, kind: str, content: Mapping[str, object]) -> dict[str, object]:
    return {"from": guest, "id": new_wamid(), "timestamp": str(int(time.time())), "type": kind,
            **({kind: content} if content else {})}


async def _recorded(hotel: Hotel, wamid: str) -> InboundState | None:
    """The state of the inbound message `wamid` (seqs are dense from 1)."""
    seq = 1
    while (row := await hotel.store.inbound.get(seq)) is not None:
        if row.message.wamid == wamid:
            return row.state
        seq += 1
    return None


async def _send(hotel: Hotel, number: str, guest: str, item: dict[str, object]) -> list[str]:
    before = len(hotel.fake.sent_to(guest))
    assert await hotel.send_items(number, guest, [item]) == 200
    await hotel.settle()
    return [message_text(r.body) for r in hotel.fake.sent_to(guest)[before:]]


@pytest.mark.parametrize(("kind", "content"), [
    ("reaction", {"message_id": "wamid.X", "emoji": "👍"}),
    ("reaction", {"message_id": "wamid.X"}),
    ("system", {"body": "User A changed from 1 to 2", "type": "user_changed_number"}),
    ("revoke", {"original_message_id": "wamid.X"}),
])
async def test_reactions_deletions_and_notices_are_recorded_and_not_answered(
    hotel: Hotel, kind: str, content: Mapping[str, object]
) -> None:
    guest = _guest()
    await hotel.say(FRONT_DESK, guest, "hello")
    item = _item(guest, kind, content)
    assert await _send(hotel, FRONT_DESK, guest, item) == []
    assert await _recorded(hotel, str(item["id"])) is InboundState.DONE


async def test_the_chat_opened_event_gets_the_welcome_menu(hotel: Hotel) -> None:
    guest = _guest()
    replies = await _send(hotel, FRONT_DESK, guest, _item(guest, "request_welcome", {}))
    assert len(replies) == 1
    assert "How can we help you today?" in replies[0]
    assert "only read text" not in replies[0]


async def test_an_image_gets_the_friendly_hint_and_the_step_again(hotel: Hotel) -> None:
    guest = _guest()
    await hotel.say(FRONT_DESK, guest, "hello")
    await hotel.say(FRONT_DESK, guest, "late checkout")
    item = _item(guest, "image", {"id": "123", "mime_type": "image/jpeg"})
    replies = await _send(hotel, FRONT_DESK, guest, item)
    assert len(replies) == 1 and "only read text" in replies[0]
    assert "Which room are you staying in?" in replies[0]


def _tap_item(guest: str, sent: RecordedSend, title: str) -> dict[str, object]:
    """The webhook item for tapping the button or row titled `title` of the message `sent`."""
    interactive = sent.body["interactive"]
    action = interactive["action"]
    if interactive["type"] == "button":
        choices = [b["reply"] for b in action["buttons"]]
        kind = "button_reply"
    else:
        choices = [r for s in action["sections"] for r in s["rows"]]
        kind = "list_reply"
    found = next(c for c in choices if c["title"] == title)
    return {"context": {"from": "15550000000", "id": sent.wamid}, "from": guest,
            "id": new_wamid(), "timestamp": str(int(time.time())), "type": "interactive",
            "interactive": {"type": kind, kind: {"id": found["id"], "title": found["title"]}}}


async def test_a_tap_on_an_old_confirmation_is_stale_and_creates_nothing(hotel: Hotel) -> None:
    guest = _guest()
    for text in ("hello", "late checkout", "room 305", "2pm"):
        await hotel.say(FRONT_DESK, guest, text)
    confirmation = hotel.fake.sent_to(guest)[-1]
    assert "Late checkout at 14:00 for room 305?" in message_text(confirmation.body)
    done = await _send(hotel, FRONT_DESK, guest, _tap_item(guest, confirmation, "Confirm"))
    assert "Your request is with the front desk" in done[0]
    again = await _send(hotel, FRONT_DESK, guest, _tap_item(guest, confirmation, "Confirm"))
    assert len(again) == 1 and "That menu is no longer active." in again[0]
    assert "How can we help you today?" in again[0]
    requests = await hotel.store.requests.recent("demo_hotel")
    assert [r.kind for r in requests] == ["late_checkout"]  # not twice


async def test_a_stale_tap_mid_flow_is_never_counted_toward_the_cooloff(hotel: Hotel) -> None:
    guest = _guest()
    await hotel.say(FRONT_DESK, guest, "hello")
    await hotel.say(FRONT_DESK, guest, "late checkout")
    await hotel.say(FRONT_DESK, guest, "room 305")
    await hotel.say(FRONT_DESK, guest, "2pm")
    confirmation = hotel.fake.sent_to(guest)[-1]
    await hotel.say(FRONT_DESK, guest, "change")  # back at the time: the confirmation is gone
    for _ in range(6):  # more than the 5 wrong answers that would start a cooloff
        replies = await _send(hotel, FRONT_DESK, guest, _tap_item(guest, confirmation, "Confirm"))
        assert len(replies) == 1 and "That menu is no longer active." in replies[0]
        assert "At what time would you like to check out?" in replies[0]
    context = await hotel.core.router.ask_context(FRONT_DESK, guest)  # type: ignore[arg-type]
    assert context.error_count == 0 and context.cooloff_until is None  # type: ignore[attr-defined]


async def test_a_tap_on_an_old_main_menu_opens_that_option(hotel: Hotel) -> None:
    guest = _guest()
    await hotel.say(FRONT_DESK, guest, "hello")
    menu = hotel.fake.sent_to(guest)[-1]
    await hotel.say(FRONT_DESK, guest, "late checkout")
    replies = await _send(hotel, FRONT_DESK, guest, _tap_item(guest, menu, "Online check-in"))
    assert len(replies) == 1 and "no longer active" not in replies[0]
    context = await hotel.core.router.ask_context(FRONT_DESK, guest)  # type: ignore[arg-type]
    assert context.current_flow == "check_in"  # type: ignore[attr-defined]


async def test_a_question_with_a_keyword_starts_its_flow_with_no_menu_open(hotel: Hotel) -> None:
    guest = _guest()
    replies = [message_text(r.body) for r in await hotel.say(FRONT_DESK, guest,
                                                             "Can I extend my stay?")]
    assert len(replies) == 1 and "How can we help you today?" not in replies[0]
    context = await hotel.core.router.ask_context(FRONT_DESK, guest)  # type: ignore[arg-type]
    assert (context.current_flow, context.current_step) == (  # type: ignore[attr-defined]
        "stay_extension", "checkout_date")
    hungry = await hotel.say(ROOM_SERVICE, guest, "I'm hungry")
    assert hungry and "How can we help" not in message_text(hungry[0].body)
    context = await hotel.core.router.ask_context(ROOM_SERVICE, guest)  # type: ignore[arg-type]
    assert context.current_flow == "room_service_order"  # type: ignore[attr-defined]


async def _at_arrival_time(hotel: Hotel, guest: str) -> None:
    for text in ("hello", "1", "Ana Lopez", "AB1234"):
        await hotel.say(FRONT_DESK, guest, text)
    context = await hotel.core.router.ask_context(FRONT_DESK, guest)  # type: ignore[arg-type]
    assert context.current_step == "arrival_time"  # type: ignore[attr-defined]


def _reload_with(hotel: Hotel, config: Path) -> None:
    hotel.core.config.config_dir = config
    hotel.core.config.reload()


async def test_a_reload_that_disables_the_guests_step_continues_at_its_successor(
    hotel: Hotel, tmp_path: Path
) -> None:
    guest = _guest()
    await _at_arrival_time(hotel, guest)
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel_file = config / "hotels" / "demo_hotel.yaml"
    hotel_file.write_text(hotel_file.read_text(encoding="utf-8") + (
        "overrides:\n  check_in:\n    steps:\n      arrival_time:\n        enabled: false\n"),
        encoding="utf-8")
    _reload_with(hotel, config)
    [reply] = [message_text(r.body) for r in await hotel.say(FRONT_DESK, guest, "3pm")]
    assert "We have just updated this service" in reply
    assert "Any special requests for your stay?" in reply and "went wrong" not in reply
    await hotel.say(FRONT_DESK, guest, "skip")
    await hotel.say(FRONT_DESK, guest, "yes")
    [request] = await hotel.store.requests.recent("demo_hotel")
    assert request.kind == "check_in" and request.data["guest_name"] == "Ana Lopez"
    assert "arrival_time" not in request.data


async def test_a_reload_that_removes_the_guests_step_restarts_its_flow(
    hotel: Hotel, tmp_path: Path
) -> None:
    guest = _guest()
    await _at_arrival_time(hotel, guest)
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    flow_file = config / "flows" / "check_in.yaml"
    flow_file.write_text(flow_file.read_text(encoding="utf-8").replace(
        "arrival_time", "arrival"), encoding="utf-8")
    _reload_with(hotel, config)
    [reply] = [message_text(r.body) for r in await hotel.say(FRONT_DESK, guest, "3pm")]
    assert "We have just updated this service" in reply and "went wrong" not in reply
    context = await hotel.core.router.ask_context(FRONT_DESK, guest)  # type: ignore[arg-type]
    assert context.current_flow == "check_in"  # type: ignore[attr-defined]
    assert context.current_step == "guest_name"  # type: ignore[attr-defined]


HOUSEKEEPING = "100000000000003"


async def test_a_room_remembered_on_an_earlier_day_is_confirmed_and_changed(
    hotel: Hotel
) -> None:
    """The issue's case: room 999 by mistake on an earlier day; before the next request the
    guest is asked "Room: 999 — is that right?", changes it, and the request carries 205."""
    guest = _guest()
    await hotel.store.conversations.commit_step(StepCommit(  # what an earlier day left
        phone_number_id=HOUSEKEEPING, guest_id=guest, hotel_id="demo_hotel",
        context=Context(hotel_id="demo_hotel", guest_id=guest, phone_number_id=HOUSEKEEPING,
                        department="housekeeping", language="en").to_dict(),
        guest_data={"room": "999", mark("room"): "2020-01-01"}, language="en",
        inbound_seq=None, guest_changed=True))
    asked = [message_text(r.body) for r in await hotel.say(HOUSEKEEPING, guest, "towels")]
    assert len(asked) == 1 and "Room: 999 — is that right?" in asked[0]
    changed = [message_text(r.body) for r in await hotel.say(HOUSEKEEPING, guest, "change")]
    assert "room number" in changed[0].lower()
    for text in ("205", "fresh towels", "3pm"):
        replies = await hotel.say(HOUSEKEEPING, guest, text)
    summary = message_text(replies[-1].body)
    assert "Fresh towels for room 205, " in summary and ", 15:00." in summary
    await hotel.say(HOUSEKEEPING, guest, "yes")
    [request] = await hotel.store.requests.recent("demo_hotel")
    assert request.data["room"] == "205" and mark("room") not in request.data


async def test_the_rate_limit_counts_a_guest_across_all_the_hotels_numbers(
    start_hotel: HotelFactory
) -> None:
    """Burst 20 (the demo hotel's default), then one a second: 25 messages to each of two
    departments share one allowance (50 - 20 = 30 refused), not two (50 - 40 = 10). The wall
    clock stands still, so nothing refills however long the machine takes."""
    hotel = await start_hotel(clock=FrozenWallClock(datetime.now(UTC)))
    guest = _guest()
    for number in (FRONT_DESK, ROOM_SERVICE):
        items = [text_item(guest, f"hello {n}") for n in range(25)]
        assert await hotel.send_items(number, guest, items) == 200
    await hotel.settle()
    assert hotel.core.router.statistics().limited == 30
    texts = [message_text(r.body) for r in hotel.fake.sent_to(guest)]
    assert sum("sending messages very quickly" in t for t in texts) >= 1


async def test_a_cooloff_holds_at_every_number_of_the_hotel_until_staff_lift_it(
    hotel: Hotel
) -> None:
    guest = _guest()
    await hotel.say(FRONT_DESK, guest, "hello")
    await hotel.say(FRONT_DESK, guest, "late checkout")
    for wrong in ("one", "two", "three", "four", "five"):
        await hotel.say(FRONT_DESK, guest, wrong)
    assert await hotel.say(ROOM_SERVICE, guest, "hello") == []  # no dodging by switching
    status = await hotel.core.router.unlock(FRONT_DESK, guest)  # type: ignore[arg-type]
    assert status.value == "lifted"
    replies = await hotel.say(ROOM_SERVICE, guest, "hello")
    assert replies and "Room service" in message_text(replies[0].body)


async def test_a_cooloff_survives_a_restart_at_every_number_of_the_hotel(
    start_hotel: HotelFactory
) -> None:
    """The cooloff is the guest's (hotel-wide) and committed with the step that starts it: a
    restart does not let the guest dodge it at another department's number."""
    guest = _guest()
    first = await start_hotel()
    await first.say(FRONT_DESK, guest, "hello")
    await first.say(FRONT_DESK, guest, "late checkout")
    for wrong in ("one", "two", "three", "four", "five"):
        await first.say(FRONT_DESK, guest, wrong)
    stored = await first.store.guests.load("demo_hotel", guest)
    assert stored is not None and stored.cooloff_until is not None
    await first.client.close()  # the server stops: nothing of it stays in memory
    again = await start_hotel()
    assert await again.say(ROOM_SERVICE, guest, "hello") == []  # still cooling off
    assert (await again.core.router.unlock(ROOM_SERVICE, guest)).value == "lifted"  # type: ignore[arg-type]
    lifted = await again.store.guests.load("demo_hotel", guest)
    assert lifted is not None and lifted.cooloff_until is None
    replies = await again.say(ROOM_SERVICE, guest, "hello")
    assert replies and "Room service" in message_text(replies[0].body)


async def test_an_auto_responder_loop_is_stopped_with_one_notice_and_an_incident(
    hotel: Hotel
) -> None:
    """The same reply more than 10 times in 10 minutes (the defaults): one notice, an
    incident request for staff, then silence while it goes on."""
    guest = _guest()
    counts = [len(await hotel.say(FRONT_DESK, guest, "hello")) for _ in range(14)]
    assert counts[:12] == [1] * 12 and counts[12:] == [0, 0]
    texts = [message_text(r.body) for r in hotel.fake.sent_to(guest)]
    assert "repeating ourselves" in texts[11]
    assert sum("repeating ourselves" in t for t in texts) == 1
    [incident] = await hotel.store.requests.recent("demo_hotel")
    assert incident.kind == "incident" and incident.department == "front_desk"
    assert incident.data["reason"] == "loop" and incident.data["repeated"] == 11
    replies = await hotel.say(FRONT_DESK, guest, "late checkout")  # something else: over
    assert replies and "Which room" in message_text(replies[0].body)


async def _late_checkout(hotel: Hotel, guest: str, time_: str) -> None:
    for text in ("menu", "late checkout", "room 305", time_, "yes"):
        await hotel.say(FRONT_DESK, guest, text)


async def test_my_requests_lists_them_and_a_new_one_can_be_cancelled_by_the_guest(
    hotel: Hotel
) -> None:
    guest = _guest()
    await _late_checkout(hotel, guest, "2pm")
    [request] = await hotel.store.requests.recent("demo_hotel")
    [listing] = await hotel.say(FRONT_DESK, guest, "my requests")
    text = message_text(listing.body)
    assert f"#{request.id} Late checkout — waiting for our staff" in text
    assert f"Cancel #{request.id}" in text
    [done] = await _send(hotel, FRONT_DESK, guest,
                         _tap_item(guest, listing, f"Cancel #{request.id}"))
    assert done == f"Request #{request.id} is cancelled."
    [stored] = await hotel.store.requests.recent("demo_hotel")
    assert stored.status.value == "cancelled" and stored.data["cancelled_by"] == "guest"
    again = await _send(hotel, FRONT_DESK, guest,
                        _tap_item(guest, listing, f"Cancel #{request.id}"))
    assert "can no longer be cancelled" in again[0]
    [empty] = await hotel.say(FRONT_DESK, guest, "my orders")
    assert message_text(empty.body) == "You have no open requests."


async def test_a_request_staff_acknowledged_cannot_be_cancelled_by_the_guest(
    hotel: Hotel
) -> None:
    guest, other = _guest(), _guest()
    await _late_checkout(hotel, guest, "1pm")
    [request] = await hotel.store.requests.recent("demo_hotel")
    await hotel.store.requests.set_status(request.id, "acknowledged")
    [listing] = await hotel.say(FRONT_DESK, guest, "my requests")
    assert listing.body["type"] == "text"  # nothing left to cancel: no rows
    assert f"#{request.id} Late checkout — being handled" in message_text(listing.body)
    forged = {"from": guest, "id": new_wamid(), "timestamp": str(int(time.time())),
              "type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
                  "id": f"~requests:cancel:{request.id}", "title": "Cancel"}}}
    replies = await _send(hotel, FRONT_DESK, guest, forged)
    assert "can no longer be cancelled" in replies[0]
    await _late_checkout(hotel, guest, "2pm")  # a new one: still cancellable, but not by others
    fresh = max(await hotel.store.requests.recent("demo_hotel"), key=lambda r: r.id)
    assert fresh.status.value == "new"
    stolen = {**forged, "from": other, "id": new_wamid(), "interactive": {
        "type": "list_reply", "list_reply": {"id": f"~requests:cancel:{fresh.id}",
                                             "title": "Cancel"}}}
    assert "can no longer be cancelled" in (await _send(hotel, FRONT_DESK, other, stolen))[0]
    stored = {r.id: r.status.value for r in await hotel.store.requests.recent("demo_hotel")}
    assert stored == {request.id: "acknowledged", fresh.id: "new"}


async def test_the_my_requests_option_of_the_main_menu_lists_them(hotel: Hotel) -> None:
    guest = _guest()
    await _late_checkout(hotel, guest, "2pm")
    await hotel.say(FRONT_DESK, guest, "menu")
    menu = hotel.fake.sent_to(guest)[-1]
    [listing] = await _send(hotel, FRONT_DESK, guest, _tap_item(guest, menu, "My requests"))
    assert "Late checkout — waiting for our staff" in listing
