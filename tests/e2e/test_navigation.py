"""Navigation and conversation rules through the real path: signed webhooks in, replies read at
the fake Graph API (webhook -> store -> router -> actor -> engine -> outbox -> sender).

Non-text updates (reactions, deletions, system notices, the chat-opened event), stale taps,
keyword routing, reloads, the anti-abuse guards and the guest's own requests, each as a guest
would meet them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping

import pytest

from hotelbot.store.records import InboundState
from tests.fakes.hotel import Hotel, new_wamid
from tests.messages import message_text

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
