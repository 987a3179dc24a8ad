"""A real hotelbot core without HTTP, built by the app's own `open_core`: SQLite store in
tmp_path, sender, router, actors, inbox.

Sends go to a RecordingTransport: the sender's port to the Graph API, recording what would
have gone out (the HTTP client itself is tested against the fake Graph API server).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hotelbot.actors import Inbox, InboxSettings, Router, RouterSettings
from hotelbot.app import open_core
from hotelbot.flows import Hotels, event_for, new_context, step
from hotelbot.outbound import Pacer
from hotelbot.scheduler import SchedulerActor
from hotelbot.settings import Settings
from hotelbot.store import InboundMessage, RecordedWebhook, Store
from tests.fakes.clock import FakeClock
from tests.messages import message_text
from tests.paths import CONFIG

_wamids = itertools.count(1)


@dataclass
class RecordingTransport:
    """Records every send and every read receipt."""

    sent: list[tuple[str, str, Mapping[str, object]]] = field(default_factory=list)
    read: list[tuple[str, str]] = field(default_factory=list)  # (phone_number_id, wamid)

    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        self.sent.append((phone_number_id, guest_id, body))
        return f"wamid.out.{len(self.sent)}"

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        self.read.append((phone_number_id, wamid))

    def texts_to(self, guest_id: str) -> list[str]:
        return [message_text(body) for _n, g, body in self.sent if g == guest_id]


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
    inbox: Inbox
    pacer: Pacer
    transport: RecordingTransport
    clock: FakeClock
    hotels: Hotels
    scheduler: SchedulerActor

    async def record(self, number: str, guest: str, text: str) -> InboundMessage:
        """Durably record a guest message as the webhook does (not yet dispatched)."""
        [recorded] = await self.store.inbound.record(
            [inbound(number, guest, text, self.clock)], at=self.clock.now(),
            hotel_of=self.router.hotel_of(),
        )
        assert recorded is not None
        return recorded

    async def say(self, number: str, guest: str, text: str) -> RecordedWebhook:
        """A guest writes: accepted by the inbox exactly as the webhook hands it over."""
        return await self.inbox.accept([inbound(number, guest, text, self.clock)])

    async def settle(self) -> None:
        """Every step committed, every due scheduled row decided, every reply sent. The pacer
        spreads sends over time (the number's even pace): while it holds rows, the fake clock
        moves 10 ms at a time."""
        for _ in range(1000):
            await self.scheduler.wait_idle()
            await self.router.wait_idle()
            await self.pacer.wait_idle()
            now = self.clock.now()
            due = [r for r in await self.store.outbox.pending()
                   if r.not_before is None or r.not_before <= now]
            if not self.pacer.statistics().buffered and not due:
                return
            self.clock.jump(0.01)


def expected_replies(hotels: Hotels, number: str, guest: str, texts: list[str],
                     clock: FakeClock) -> list[str]:
    """What the pure engine answers to `texts` in order: the reference for the actors."""
    hotel_id, dept = hotels.numbers[number]
    hotel = hotels.hotels[hotel_id]
    context = new_context(hotel, guest_id=guest, phone_number_id=number, department=dept)
    replies: list[str] = []
    for text in texts:
        message = inbound(number, guest, text, clock)
        outcome = step(hotel, context, event_for(message.kind, message.payload), clock.now())
        context = outcome.context
        replies += [message_text(e.body) for e in outcome.effects if hasattr(e, "body")]
    return replies


@asynccontextmanager
async def open_harness(
    path: Path, clock: FakeClock, *, settings: RouterSettings | None = None,
    wrap_store: Callable[[Store], Store] | None = None,
    transport: RecordingTransport | None = None,
    inbox_settings: InboxSettings | None = None,
) -> AsyncIterator[Harness]:
    """The core as the app builds it (`open_core`), on the tests' configuration."""
    transport = transport or RecordingTransport()
    # One data directory per database path the test names (a restart reuses it).
    core_settings = Settings(app_secret="test", verify_token="test", access_token="test",
                             config_dir=CONFIG, data_dir=path.with_suffix(""))
    async with open_core(
        core_settings, clock=clock, transport=transport,
        router_settings=settings or RouterSettings(sweep_every=1e9),
        inbox_settings=inbox_settings or InboxSettings(sweep_every=1e9),
        instrument_store=wrap_store,
    ) as core:
        yield Harness(core.store, core.router, core.inbox, core.pacer, transport, clock,
                      core.config.get(), core.scheduler)
