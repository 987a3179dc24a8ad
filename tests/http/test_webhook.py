"""The webhook through a real aiohttp server, replies checked at the fake Graph API (issue 4)."""

from __future__ import annotations

import asyncio

import orjson

from tests.fakes.hotel import VERIFY_TOKEN, Hotel, HotelFactory, new_wamid, text_item, webhook_post
from tests.messages import message_text
from tests.numbers import FRONT_DESK, ROOM_SERVICE

GUEST = "34600000001"


async def test_verify_handshake_echoes_the_challenge(hotel: Hotel) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
              "hub.challenge": "1158201444"}
    async with hotel.client.get("/webhook", params=params) as response:
        assert response.status == 200
        assert await response.text() == "1158201444"


async def test_verify_with_a_wrong_token_is_forbidden(hotel: Hotel) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    async with hotel.client.get("/webhook", params=params) as response:
        assert response.status == 403


async def test_verify_without_subscribe_mode_is_a_bad_request(hotel: Hotel) -> None:
    async with hotel.client.get("/webhook", params={"hub.challenge": "1"}) as response:
        assert response.status == 400


async def test_signed_message_is_acknowledged_and_answered(hotel: Hotel) -> None:
    replies = await hotel.say(FRONT_DESK, GUEST, "hello")
    assert len(replies) == 1
    assert replies[0].phone_number_id == FRONT_DESK
    assert replies[0].body["to"] == f"+{GUEST}"
    assert "help" in message_text(replies[0].body).lower()


async def test_missing_forged_and_tampered_signatures_are_refused(hotel: Hotel) -> None:
    raw = webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "hi")])
    assert await hotel.post(raw, signature=None) == 401
    assert await hotel.post(raw, signature="sha256=" + "0" * 64) == 401
    assert await hotel.post(raw, signature="sha1=abc") == 401
    from hotelbot.whatsapp.payloads import sign

    good = sign(raw, b"test-app-secret")
    tampered = raw.replace(b"hi", b"ho")
    assert await hotel.post(tampered, signature=good) == 401
    await hotel.settle()
    assert hotel.fake.sends == []
    assert await hotel.store.inbound.pending() == []


async def test_oversize_body_is_refused_with_413(hotel: Hotel) -> None:
    huge = b"{" + b" " * (4 * 1024 * 1024) + b"}"
    assert await hotel.post(huge) == 413


async def test_an_unreadable_body_is_400_with_nothing_recorded(hotel: Hotel) -> None:
    assert await hotel.post(b"{not json") == 400
    assert await hotel.post(b'{"object": "page", "entry": []}') == 400
    assert await hotel.post(b'{"object": "whatsapp_business_account", "entry": {}}') == 400
    await hotel.settle()
    assert hotel.fake.sends == []
    assert await hotel.store.inbound.parked() == []


async def test_a_bad_entry_beside_a_good_one_is_parked_and_the_good_one_answered(
    hotel: Hotel,
) -> None:
    good = orjson.loads(webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "hi")]))
    good["entry"] = [*good["entry"], {"id": "1", "changes": "oops"}]
    assert await hotel.post(orjson.dumps(good)) == 200
    await hotel.settle()
    assert len(hotel.fake.sent_to(GUEST)) == 1
    [(parked, reason)] = await hotel.store.inbound.parked()
    assert reason == "entry[1].changes: expected a list" and parked.phone_number_id == ""


async def test_button_list_and_template_replies_drive_the_flow(hotel: Hotel) -> None:
    await hotel.say(FRONT_DESK, GUEST, "hi")
    menu = hotel.fake.sent_to(GUEST)[-1].body
    assert menu["type"] == "interactive" and menu["interactive"]["type"] == "list"
    row = menu["interactive"]["action"]["sections"][0]["rows"][0]
    tap = {"from": GUEST, "id": new_wamid(), "timestamp": "1760000060", "type": "interactive",
           "interactive": {"type": "list_reply", "list_reply": {"id": row["id"],
                                                               "title": row["title"]}}}
    assert await hotel.send_items(FRONT_DESK, GUEST, [tap]) == 200
    await hotel.settle()
    assert "name" in message_text(hotel.fake.sent_to(GUEST)[-1].body).lower()
    template = {"from": GUEST, "id": new_wamid(), "timestamp": "1760000120", "type": "button",
                "button": {"payload": "flow:feedback", "text": "Leave feedback"}}
    assert await hotel.send_items(FRONT_DESK, GUEST, [template]) == 200
    await hotel.settle()
    last = hotel.fake.sent_to(GUEST)[-1].body
    assert "rate" in message_text(last).lower() or "stay" in message_text(last).lower()


async def test_button_reply_is_accepted(hotel: Hotel) -> None:
    for text in ["hi", "1", "Maria Lopez", "AB1234", "3pm", "skip"]:
        await hotel.say(FRONT_DESK, GUEST, text)
    confirm = hotel.fake.sent_to(GUEST)[-1].body
    assert confirm["interactive"]["type"] == "button"
    yes = confirm["interactive"]["action"]["buttons"][0]["reply"]
    tap = {"from": GUEST, "id": new_wamid(), "timestamp": "1760000060", "type": "interactive",
           "interactive": {"type": "button_reply", "button_reply": yes}}
    assert await hotel.send_items(FRONT_DESK, GUEST, [tap]) == 200
    await hotel.settle()
    closing = message_text(hotel.fake.sent_to(GUEST)[-1].body).lower()
    assert "your check-in details are with the front desk" in closing
    requests = await hotel.store.requests.recent("demo_hotel")
    assert [r.kind for r in requests] == ["check_in"]
    assert requests[0].data["guest_name"] == "Maria Lopez"


async def test_media_and_other_types_get_a_friendly_reply(hotel: Hotel) -> None:
    """(A reaction is recorded and not answered: tests/e2e/test_navigation.py.)"""
    kinds = {
        "image": {"image": {"id": "1", "mime_type": "image/jpeg"}},
        "audio": {"audio": {"id": "2", "mime_type": "audio/ogg"}},
        "location": {"location": {"latitude": 1.0, "longitude": 2.0}},
        "sticker": {"sticker": {"id": "3"}},
        "contacts": {"contacts": [{"name": {"formatted_name": "A"}}]},
    }
    await hotel.say(FRONT_DESK, GUEST, "hi")
    for kind, content in kinds.items():
        item = {"from": GUEST, "id": new_wamid(), "timestamp": "1760000000", "type": kind,
                **content}
        before = len(hotel.fake.sent_to(GUEST))
        assert await hotel.send_items(FRONT_DESK, GUEST, [item]) == 200
        await hotel.settle()
        replies = hotel.fake.sent_to(GUEST)[before:]
        assert len(replies) == 1, kind
        assert "menu" in message_text(replies[0].body).lower(), kind


async def test_several_messages_in_one_post_are_all_handled(hotel: Hotel) -> None:
    guests = ["34600000011", "34600000012", "34600000013"]
    raw = orjson.loads(webhook_post(FRONT_DESK, guests[0], [text_item(guests[0], "hi")]))
    value = raw["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "G"}, "wa_id": g} for g in guests]
    value["messages"] = [text_item(g, "hi") for g in guests]
    second = orjson.loads(webhook_post(ROOM_SERVICE, GUEST, [text_item(GUEST, "hi")]))
    raw["entry"].append(second["entry"][0])
    assert await hotel.post(orjson.dumps(raw)) == 200
    await hotel.settle()
    for guest in [*guests, GUEST]:
        assert len(hotel.fake.sent_to(guest)) == 1


async def test_duplicate_post_gets_one_reply(hotel: Hotel) -> None:
    raw = webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "hi", wamid="wamid.DUP1")])
    assert await hotel.post(raw) == 200
    assert await hotel.post(raw) == 200
    await hotel.settle()
    assert len(hotel.fake.sent_to(GUEST)) == 1


async def test_statuses_are_stored_in_order(start_hotel: HotelFactory) -> None:
    hotel = await start_hotel(statuses=("sent", "delivered", "read"))
    replies = await hotel.say(FRONT_DESK, GUEST, "hi")
    await hotel.fake.wait_webhooks(3)
    await asyncio.sleep(0.05)
    assert await hotel.store.statuses.latest(replies[0].wamid) == "read"


async def test_unknown_phone_number_id_is_acknowledged_and_dropped(hotel: Hotel) -> None:
    raw = webhook_post("999999999999999", GUEST, [text_item(GUEST, "hi")])
    assert await hotel.post(raw) == 200
    await hotel.settle()
    assert hotel.fake.sends == []
    assert hotel.core.router.statistics().unknown_number == 1


async def test_health_and_readiness(hotel: Hotel) -> None:
    async with hotel.client.get("/healthz") as response:
        assert response.status == 200
    async with hotel.client.get("/readyz") as response:
        assert response.status == 200
        assert (await response.json())["ready"] is True


async def test_not_ready_once_the_router_stops(hotel: Hotel) -> None:
    await hotel.core.router.stop()  # what shutdown does first
    async with hotel.client.get("/readyz") as response:
        assert response.status == 503
        body = await response.json()
        assert body["router"] is False and body["store"] is True
    async with hotel.client.get("/healthz") as response:
        assert response.status == 200  # alive, just not taking traffic


async def test_graceful_shutdown_loses_nothing(start_hotel: HotelFactory) -> None:
    hotel = await start_hotel()
    guests = [f"3460000{n:04d}" for n in range(30)]
    statuses = await asyncio.gather(
        *(hotel.send_items(FRONT_DESK, g, [text_item(g, "hi")]) for g in guests)
    )
    assert set(statuses) == {200}
    await hotel.client.close()  # SIGTERM path: sites stop, router drains, store flushes
    again = await start_hotel()  # same data dir: replays whatever was not finished
    await again.settle()
    answered = {s.to for s in hotel.fake.sends} | {s.to for s in again.fake.sends}
    assert answered == set(guests)
    assert await again.store.inbound.pending() == []
    assert await again.store.outbox.pending() == []


async def test_overload_answers_503_before_recording_and_a_retry_is_answered_once(
    start_hotel: HotelFactory,
) -> None:
    hotel = await start_hotel(max_pending_writes=1)
    guests = [f"3461000{n:04d}" for n in range(60)]
    bodies = {g: webhook_post(FRONT_DESK, g, [text_item(g, "hi")]) for g in guests}
    statuses = dict(zip(guests, await asyncio.gather(*(hotel.post(bodies[g]) for g in guests)),
                        strict=True))
    assert set(statuses.values()) <= {200, 503}
    assert 503 in statuses.values()  # the writer's bound was hit
    await hotel.settle()
    refused = [g for g, status in statuses.items() if status == 503]
    assert not any(hotel.fake.sent_to(g) for g in refused)  # nothing half-applied
    for guest in refused:  # Meta retries until it gets a 200 (bounded here)
        for _attempt in range(50):
            if await hotel.post(bodies[guest]) == 200:
                break
            await hotel.settle()
        else:
            raise AssertionError("never acknowledged")
    await hotel.settle()
    assert all(len(hotel.fake.sent_to(g)) == 1 for g in guests)


async def test_guest_known_only_by_user_id_is_answered_by_user_id(hotel: Hotel) -> None:
    user_id = "US.13491208655302741918"
    raw = orjson.loads(webhook_post(FRONT_DESK, "0", [text_item("0", "hi")]))
    value = raw["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Maria"}, "user_id": user_id}]
    del value["messages"][0]["from"]
    value["messages"][0]["from_user_id"] = user_id
    assert await hotel.post(orjson.dumps(raw)) == 200
    await hotel.settle()
    [reply] = hotel.fake.sends
    assert reply.body.get("recipient") == user_id and "to" not in reply.body


async def test_system_errors_in_a_webhook_are_logged_and_acknowledged(hotel: Hotel) -> None:
    from structlog.testing import capture_logs

    raw = orjson.loads(webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "hi")]))
    value = raw["entry"][0]["changes"][0]["value"]
    del value["messages"], value["contacts"]
    value["errors"] = [{"code": 130429, "title": "Rate limit hit", "message": "Rate limit hit",
                        "error_data": {"details": "Message failed to send"}}]
    with capture_logs() as logs:
        assert await hotel.post(orjson.dumps(raw)) == 200
    reported = [e for e in logs if e["event"] == "whatsapp_reported_error"]
    assert reported and reported[0]["code"] == 130429
