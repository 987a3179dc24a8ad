"""The inbox: the one seam through which what a guest wrote reaches a conversation.

Owns: accepting a webhook POST's parts (messages, statuses, parts rejected at the edge),
recorded in ONE transaction with dedupe by wamid, then each new message turned into the
engine's event (the only call of `flows.event_for`) and dispatched to its conversation by the
router, and rows that a `failed` status failed handed to the pacer (a 131047 is resent as its
template); the replay at start of messages recorded but never processed (attempts counted: one
that already crashed the process `max_replays` times is parked); dispatching again a message an
operator replays, and the sweep of messages stranded by a full mailbox or a stopping actor.

Must never: dispatch a message before its row committed (the webhook's 200 follows
`accept`), dispatch one twice at once, or lose one: a message that cannot be dispatched stays
`received` on disk, and the sweep or the next start hands it over again.

    webhook ──accept(parts)──▶ record (one transaction) ──▶ event_for ──▶ router.dispatch
    open_inbox ──replay()──▶ pending rows ──▶ (parked past max_replays) ──▶ router.dispatch
    sweep ──stranded rows seen twice, not held by an actor──▶ router.dispatch (replayed)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from hotelbot.clock import Clock
from hotelbot.flows import Event, event_for
from hotelbot.store import (
    DeliveryStatus,
    GuestRecord,
    InboundMessage,
    InboundRepository,
    RecordedWebhook,
    RejectedPart,
)
from hotelbot.typedefs import HotelId, NumberId

log = structlog.get_logger(__name__)


class Outbound(Protocol):
    """The pacer, as the inbox sees it."""

    def saw_inbound(self, phone_number_id: str, guest_id: str, sent_at: datetime) -> None:
        """A guest wrote: their 24-hour window with that number (re)opened."""

    async def reengage(self, failed: Sequence[tuple[int, int]]) -> None:
        """Rows a `failed` status just failed (id, Meta's code)."""


class Guests(Protocol):
    """The guest book, as the inbox sees it."""

    def prime(self, record: GuestRecord) -> None:
        """The guest's row as the inbound transaction left it (saves the step a read)."""


class Dispatcher(Protocol):
    """The router, as the inbox sees it."""

    def hotel_of(self) -> Mapping[NumberId, HotelId]: ...

    def dispatch(self, message: InboundMessage, event: Event, *, replayed: bool = False) -> None:
        ...

    def holds(self, seq: int) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxSettings:
    max_replays: int = 3  # a message replayed at start more often than this is parked
    sweep_every: float = 30.0  # seconds between sweeps for stranded messages


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxStatistics:
    accepted: int  # new messages recorded and dispatched
    duplicates: int  # messages seen before (acknowledged, not processed again)
    parked: int  # parts parked at the edge, and replays parked past max_replays
    replayed: int  # messages replayed at start
    redispatched: int  # messages dispatched again (operator replays, stranded ones)


class Inbox:
    """Records what the webhook accepted and hands each new message to its conversation."""

    def __init__(
        self, store: InboundRepository, router: Dispatcher, clock: Clock,
        settings: InboxSettings | None = None, outbound: Outbound | None = None,
        guests: Guests | None = None,
    ) -> None:
        self._store = store
        self._guests = guests
        self._router = router
        self._outbound = outbound
        self._clock = clock
        self._settings = settings or InboxSettings()
        self._suspects: set[int] = set()  # pending, not held by an actor at the last sweep
        self._sweeper: asyncio.Task[None] | None = None
        self._accepted = self._duplicates = self._parked = 0
        self._replayed = self._redispatched = 0

    async def accept(
        self,
        messages: Sequence[InboundMessage],
        statuses: Sequence[DeliveryStatus] = (),
        rejected: Sequence[RejectedPart] = (),
    ) -> RecordedWebhook:
        """Record one webhook POST's parts durably, then dispatch the new messages.

        Raises:
            StoreOverloaded: the writer's queue is full (answer 503: nothing was written).
            StoreError: the database failed (answer 503: nothing was written).
        """
        recorded = await self._store.record_webhook(
            messages, statuses, rejected, at=self._clock.now(), hotel_of=self._router.hotel_of()
        )
        self._accepted += len(recorded.fresh)
        self._duplicates += recorded.duplicates
        self._parked += len(recorded.parked)
        if self._guests is not None:
            for guest in recorded.guests:
                self._guests.prime(guest)
        for message in recorded.fresh:
            if self._outbound is not None:
                self._outbound.saw_inbound(message.phone_number_id, message.guest_id,
                                           message.sent_at)
            self._router.dispatch(message, event_for(message.kind, message.payload))
        if recorded.failed_rows and self._outbound is not None:
            await self._outbound.reengage(recorded.failed_rows)
        return recorded

    async def replay(self) -> int:
        """At start: dispatch, in arrival order, what was recorded but never processed."""
        replayed = 0
        for message in await self._store.pending():
            attempts = await self._store.bump_attempts(message.seq)
            if attempts > self._settings.max_replays:
                self._parked += 1
                await self._store.park(message.seq, "replayed too often")
                continue
            replayed += 1
            self._dispatch_again(message)
        self._replayed += replayed
        if replayed:
            log.info("inbound_replayed", count=replayed)
        return replayed

    def redispatch(self, message: InboundMessage) -> None:
        """Hand a recorded message over again (an operator's replay): not rate limited."""
        self._redispatched += 1
        self._dispatch_again(message)

    async def redispatch_stranded(self) -> int:
        """Hand over again what is recorded but neither processed nor held by an actor.

        A message can be stranded when its actor's mailbox was full or the actor was stopping
        at the moment it arrived. To never race `accept` (which dispatches right after its
        write commits), a message is dispatched again only if it was already pending and not held
        at the previous sweep too.
        """
        pending = {m.seq: m for m in await self._store.pending()}
        stranded = {seq for seq in pending if not self._router.holds(seq)}
        again = sorted(stranded & self._suspects)
        self._suspects = stranded - set(again)
        for seq in again:
            self.redispatch(pending[seq])
        if again:
            log.warning("stranded_redispatched", count=len(again))
        return len(again)

    def statistics(self) -> InboxStatistics:
        return InboxStatistics(
            accepted=self._accepted, duplicates=self._duplicates, parked=self._parked,
            replayed=self._replayed, redispatched=self._redispatched,
        )

    async def start(self) -> None:
        """Replay, then start the sweep."""
        await self.replay()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="inbox-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    def _dispatch_again(self, message: InboundMessage) -> None:
        self._router.dispatch(message, event_for(message.kind, message.payload), replayed=True)

    async def _sweep_forever(self) -> None:
        while True:
            await self._clock.sleep(self._settings.sweep_every)
            try:
                await self.redispatch_stranded()
            except Exception:
                log.exception("inbox_sweep_failed")


@asynccontextmanager
async def open_inbox(
    store: InboundRepository, router: Dispatcher, clock: Clock,
    settings: InboxSettings | None = None, outbound: Outbound | None = None,
    guests: Guests | None = None,
) -> AsyncIterator[Inbox]:
    """Replay what a previous run left unprocessed, then keep sweeping for stranded messages.

    Enter it once the router accepts; on exit the sweep stops (the router drains after).
    """
    inbox = Inbox(store, router, clock, settings, outbound, guests)
    await inbox.start()
    try:
        yield inbox
    finally:
        await inbox.stop()
