"""Every webhook example of Meta's own OpenAPI spec, through the real webhook.

The examples are read at test time from the vendored spec
(hotelbot/devtools/meta/business-messaging-api_v23.0.yaml.gz, `paths./whatsapp/webhooks.post`),
not copied. Each is POSTed to the real app on loopback, signed with the App Secret like Meta
signs it, and must be answered 200 without anything failing (no parked message). A guest's
message among them must be answered through the fake Graph API: a menu, an answer or the
"please use the menu" hint; a reaction or a system notice is recorded and not answered.

Meta's examples name phone_number_id 106540352242922, which is not a number of ours: before
posting, every `metadata.phone_number_id` is rewritten to the demo hotel's front desk
(FRONT_DESK) and `display_phone_number` to the business number the fake uses, and each
message's `timestamp` (2025 in the spec) to now: the guest just wrote, so the 24-hour window
is open and a reply may go out free-form. Nothing else is changed. Each example runs on a
fresh app: several examples share one message id, which a single app would rightly treat as
one message posted twice.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from hotelbot.devtools.fake_graph import BUSINESS_DISPLAY_NUMBER
from hotelbot.devtools.meta_spec import webhook_examples
from tests.fakes.hotel import Hotel
from tests.numbers import FRONT_DESK

EXAMPLES = webhook_examples()
# Examples whose messages are not something a guest typed: answered 200, no reply required.
NOT_FROM_A_GUEST = {"System Message"}
# Updates that need no answer: recorded, and met with silence (a reaction, a system notice).
NOT_ANSWERED = {"System Message", "Reaction Message"}


def _for_our_number(example: dict[str, Any]) -> dict[str, Any]:
    """The example addressed to our front desk, written just now (see the docstring)."""
    now = str(int(time.time()))
    for entry in example["entry"]:
        for change in entry["changes"]:
            metadata = change["value"].get("metadata")
            if metadata is not None:
                metadata["phone_number_id"] = FRONT_DESK
                metadata["display_phone_number"] = BUSINESS_DISPLAY_NUMBER
            for message in change["value"].get("messages", []):
                if "timestamp" in message:
                    message["timestamp"] = now
    return example


def _guest_messages(example: dict[str, Any]) -> list[dict[str, Any]]:
    return [message
            for entry in example["entry"] for change in entry["changes"]
            if change["field"] == "messages"
            for message in change["value"].get("messages", [])]


def test_the_spec_has_the_sixteen_examples_we_expect() -> None:
    assert len(EXAMPLES) == 16
    kinds = {m["type"] for e in EXAMPLES.values() for m in _guest_messages(e)}
    assert kinds == {"text", "reaction", "image", "location", "contacts", "unsupported",
                     "button", "interactive", "order", "system"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
async def test_each_spec_webhook_example_is_answered_200_and_the_guest_gets_a_reply(
    hotel: Hotel, name: str
) -> None:
    example = _for_our_number(EXAMPLES[name])
    messages = _guest_messages(example)
    assert await hotel.post(orjson.dumps(example)) == 200
    await hotel.settle()
    assert await hotel.store.inbound.parked() == []  # no step failed on it
    guests = {m["from"] for m in messages}
    if not messages:  # group events: another webhook field, nothing to record or answer
        assert hotel.fake.sends == []
        return
    if name in NOT_ANSWERED:
        assert all(hotel.fake.sent_to(guest) == [] for guest in guests), name
        return
    for guest in guests:
        replies = hotel.fake.sent_to(guest)
        assert replies, f"{name}: no reply to the guest"
        assert all(r.phone_number_id == FRONT_DESK for r in replies)
        assert all(r.body["type"] in ("text", "interactive") for r in replies)


GUEST_EXAMPLES = sorted(n for n, e in EXAMPLES.items()
                        if _guest_messages(e) and n not in NOT_ANSWERED)


@pytest.mark.parametrize("name", GUEST_EXAMPLES)
async def test_each_guest_example_mid_conversation_gets_an_answer_or_the_menu_hint(
    hotel: Hotel, name: str
) -> None:
    example = _for_our_number(EXAMPLES[name])
    [guest] = {m["from"] for m in _guest_messages(example)}
    assert await hotel.say(FRONT_DESK, guest, "Hello")  # the main menu is on screen
    before = len(hotel.fake.sent_to(guest))
    assert await hotel.post(orjson.dumps(example)) == 200
    await hotel.settle()
    assert await hotel.store.inbound.parked() == []
    replies = hotel.fake.sent_to(guest)[before:]
    assert replies, f"{name}: no answer mid-conversation"
    assert all(r.body["type"] in ("text", "interactive") for r in replies)


@pytest.mark.parametrize("name", sorted(NOT_ANSWERED))
async def test_an_update_that_needs_no_answer_is_recorded_and_silent_mid_conversation(
    hotel: Hotel, name: str
) -> None:
    example = _for_our_number(EXAMPLES[name])
    [guest] = {m["from"] for m in _guest_messages(example)}
    assert await hotel.say(FRONT_DESK, guest, "Hello")
    before = len(hotel.fake.sent_to(guest))
    assert await hotel.post(orjson.dumps(example)) == 200
    await hotel.settle()
    assert await hotel.store.inbound.parked() == [] and await hotel.store.inbound.pending() == []
    assert hotel.fake.sent_to(guest)[before:] == []


async def test_a_retried_example_is_acknowledged_and_not_answered_twice(hotel: Hotel) -> None:
    raw = orjson.dumps(_for_our_number(EXAMPLES["Text Message"]))
    assert await hotel.post(raw) == 200
    await hotel.settle()
    first = len(hotel.fake.sends)
    assert await hotel.post(raw) == 200
    await hotel.settle()
    assert first > 0 and len(hotel.fake.sends) == first


async def test_an_unsigned_example_is_refused(hotel: Hotel) -> None:
    raw = orjson.dumps(_for_our_number(EXAMPLES["Text Message"]))
    assert await hotel.post(raw, signature=None) == 401
    assert await hotel.post(raw, signature="sha256=" + "0" * 64) == 401
