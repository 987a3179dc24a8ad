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
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import structlog

from hotelbot.clock import Clock
from hotelbot.errors import StoreError, StoreOverloaded
from hotelbot.flows import Event, event_for
from hotelbot.store import (
    DeliveryStatus,
    GuestRecord,
    InboundMessage,
    InboundParams,
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

    def take(self, message: InboundMessage, event: Event,
             record: InboundParams) -> asyncio.Future[int | None] | None: ...

    def holds(self, seq: int) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxSettings:
    max_replays: int = 3  # a message replayed at start more often than this is parked
    # Record a message with its step, in one transaction, when its conversation can take it
    # (False: every message is recorded before it is dispatched; two writes a message).
    record_with_step: bool = True
    record_wait: float = 5.0  # seconds the webhook waits for that; then recorded the usual way
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
        self._taken = 0  # messages handed over to be recorded with their step, not settled
        # their futures -> the monotonic time the watchdog gives up on them (a hung actor)
        self._waiting: dict[asyncio.Future[int | None], float] = {}
        self._watchdog: asyncio.Task[None] | None = None
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
        """Record one webhook POST's parts durably and hand each new message over; return
        once all of it is durable (the webhook's 200 follows).

        A message its conversation can take now is recorded with its step, in the step's
        one transaction (Router.take); the rest, statuses and rejected parts are recorded in
        one transaction first, then dispatched. A message taken whose record did not commit
        within `record_wait` (or failed) is recorded the usual way: its wamid decides which
        of the two writes wins, and the other writes nothing.

        Raises:
            StoreOverloaded: the writer's queue is full (answer 503: nothing of this was
                acknowledged; what was taken may still commit, and Meta's retry is a duplicate).
            StoreError: the database failed (answer 503, likewise).
        """
        now = self._clock.now()
        taken: list[tuple[InboundMessage, asyncio.Future[int | None]]] = []
        rest: list[InboundMessage] = []
        if self._settings.record_with_step and messages:
            # Each message taken is a write to come: counted against the store's bound with
            # those taken before and not committed yet (past it: 503, nothing written).
            if not self._store.admits(self._taken + len(messages)):
                raise StoreOverloaded(f"{self._taken} messages are waiting for their records")
            hotel_of = self._router.hotel_of()
            for message in messages:
                recorded = self._take(message, now, hotel_of)
                if recorded is None:
                    rest.append(message)
                else:
                    taken.append((message, recorded))
        else:
            rest = list(messages)
        self._taken += len(taken)
        try:
            result = RecordedWebhook(fresh=(), parked=(), duplicates=0)
            if rest or statuses or rejected:
                result = await self._record(rest, statuses, rejected, now)
            if taken:
                result = await self._settle(taken, result, now)
        finally:
            self._taken -= len(taken)
        return result

    def _take(self, message: InboundMessage, now: datetime,
              hotel_of: Mapping[NumberId, HotelId]) -> asyncio.Future[int | None] | None:
        """Hand a message to its conversation to be recorded with its step (None: cannot)."""
        try:
            record = self._store.prepare(message, at=now, hotel_of=hotel_of)
        except StoreError:
            return None  # record_webhook parks it with the reason
        recorded = self._router.take(message, event_for(message.kind, message.payload), record)
        if recorded is not None and self._outbound is not None:
            self._outbound.saw_inbound(message.phone_number_id, message.guest_id,
                                       message.sent_at)
        return recorded

    async def _settle(
        self, taken: list[tuple[InboundMessage, asyncio.Future[int | None]]],
        result: RecordedWebhook, now: datetime,
    ) -> RecordedWebhook:
        """Wait for the taken messages' records; record the usual way what did not commit
        (failed, or given up by the watchdog after `record_wait`)."""
        deadline = self._clock.monotonic() + self._settings.record_wait
        for _, recorded in taken:
            self._waiting[recorded] = deadline
        try:
            for _, recorded in taken:
                with suppress(Exception):  # a failed one is recorded the usual way below
                    await recorded
        finally:
            for _, recorded in taken:
                self._waiting.pop(recorded, None)
        fresh = list(result.fresh)
        duplicates = result.duplicates
        late: list[InboundMessage] = []
        for message, recorded in taken:
            if not recorded.done() or recorded.cancelled() or recorded.exception() is not None:
                late.append(message)  # not durable (yet): its wamid settles any race
            elif (seq := recorded.result()) is None:
                duplicates += 1
            else:
                fresh.append(message.with_seq(seq))
        self._accepted += len(fresh) - len(result.fresh)
        self._duplicates += duplicates - result.duplicates
        if late:
            log.warning("inbound_recorded_late", count=len(late))
            again = await self._record(late, (), (), now)
            fresh.extend(again.fresh)
            duplicates += again.duplicates
            result = replace(result, parked=result.parked + again.parked,
                             guests=result.guests + again.guests)
        return result.with_fresh(tuple(fresh), duplicates)

    async def _record(
        self, messages: Sequence[InboundMessage], statuses: Sequence[DeliveryStatus],
        rejected: Sequence[RejectedPart], now: datetime,
    ) -> RecordedWebhook:
        """Record in one transaction, then dispatch the new messages (the usual way)."""
        recorded = await self._store.record_webhook(
            messages, statuses, rejected, at=now, hotel_of=self._router.hotel_of()
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
        self._watchdog = asyncio.create_task(self._watch_forever(), name="inbox-watchdog")

    async def stop(self) -> None:
        for task in (self._sweeper, self._watchdog):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._sweeper = self._watchdog = None

    def _dispatch_again(self, message: InboundMessage) -> None:
        self._router.dispatch(message, event_for(message.kind, message.payload), replayed=True)

    async def _watch_forever(self) -> None:
        """Give up on records a conversation has not committed within `record_wait` (one
        timer for all, not one per POST): the webhook then records them the usual way."""
        every = max(self._settings.record_wait / 4, 0.05)
        while True:
            await self._clock.sleep(every)
            now = self._clock.monotonic()
            for recorded, deadline in list(self._waiting.items()):
                if deadline <= now and not recorded.done():
                    recorded.set_exception(TimeoutError("the conversation did not record it"))

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
