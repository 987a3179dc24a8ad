"""A real hotelbot core without HTTP: SQLite store in tmp_path, router, actors, sender.

Sends go to a RecordingTransport: the sender's port to the Graph API, recording what would
have gone out (the HTTP client itself is tested against the fake Graph API server).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hotelbot.actors.conversation import ConversationDeps
from hotelbot.actors.guests import GuestBook
from hotelbot.actors.router import Router, RouterSettings
from hotelbot.config import load_hotels
from hotelbot.flows import Event, Hotels, new_context, step
from hotelbot.scheduler.sender import DirectSender
from hotelbot.store import Store, open_store
from hotelbot.store.records import InboundMessage
from hotelbot.whatsapp.payloads import event_for
from tests.fakes.clock import FakeClock
from tests.fakes.hotel import body_text
from tests.paths import CONFIG

FRONT_DESK = "100000000000001"
ROOM_SERVICE = "100000000000002"
HOUSEKEEPING = "100000000000003"
SEASIDE_FRONT_DESK = "200000000000001"

_wamids = itertools.count(1)


@dataclass
class RecordingTransport:
    """Records every send; `fail_with` raises for the next sends, then clears."""

    sent: list[tuple[str, str, Mapping[str, object]]] = field(default_factory=list)

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        self.sent.append((phone_number_id, guest_id, body))
        return f"wamid.out.{len(self.sent)}"

    def texts_to(self, guest_id: str) -> list[str]:
        return [body_text(body) for _n, g, body in self.sent if g == guest_id]


def inbound(number: str, guest: str, text: str, clock: FakeClock) -> InboundMessage:
    wamid = f"wamid.in.{next(_wamids)}"
    payload = {"from": guest, "id": wamid, "timestamp": "1760000000", "type": "text",
               "text": {"body": text}}
    return InboundMessage(wamid=wamid, phone_number_id=number, guest_id=guest, kind="text",
                          payload=payload, sent_at=clock.now())


@dataclass
class Harness:
    store: Store
    router: Router
    sender: DirectSender
    transport: RecordingTransport
    clock: FakeClock
    hotels: Hotels

    async def record(self, number: str, guest: str, text: str) -> InboundMessage:
        """Durably record a guest message as the webhook does (not yet delivered)."""
        [recorded] = await self.store.inbound.record(
            [inbound(number, guest, text, self.clock)], at=self.clock.now(),
            hotel_of=self.router.hotel_of(),
        )
        assert recorded is not None
        return recorded

    async def say(self, number: str, guest: str, text: str) -> None:
        message = await self.record(number, guest, text)
        self.router.deliver(message, event_for(message))

    async def settle(self) -> None:
        await self.router.wait_idle()
        await self.sender.wait_idle()


def expected_replies(hotels: Hotels, number: str, guest: str, texts: list[str],
                     clock: FakeClock) -> list[str]:
    """What the pure engine answers to `texts` in order: the reference for the actors."""
    hotel_id, dept = hotels.numbers[number]
    hotel = hotels.hotels[hotel_id]
    context = new_context(hotel, guest_id=guest, phone_number_id=number, department=dept)
    replies: list[str] = []
    for text in texts:
        message = inbound(number, guest, text, clock)
        outcome = step(hotel, context, event_for(message), clock.now())
        context = outcome.context
        replies += [body_text(e.body) for e in outcome.effects if hasattr(e, "body")]
    return replies


@asynccontextmanager
async def open_harness(
    path: Path, clock: FakeClock, *, settings: RouterSettings | None = None,
    wrap_store: Callable[[Store], Store] | None = None,
    transport: RecordingTransport | None = None,
    to_event: Callable[[InboundMessage], Event] = event_for,
) -> AsyncIterator[Harness]:
    hotels = load_hotels(CONFIG)
    async with open_store(path) as real_store:
        store = wrap_store(real_store) if wrap_store else real_store
        transport = transport or RecordingTransport()
        sender = DirectSender(transport, store.outbox, clock)
        deps = ConversationDeps(store=store, sender=sender, guests=GuestBook(store.guests),
                                clock=clock, hotels=lambda: hotels)
        router = Router(deps, store, to_event, settings or RouterSettings(sweep_every=1e9))
        sender.submit(await store.outbox.pending())
        await router.start()
        try:
            yield Harness(store, router, sender, transport, clock, hotels)
        finally:
            await router.stop()
            await sender.close(grace=0.2)
