"""One guest's conversation with one department number: load -> engine -> persist -> send.

Owns: the conversation's in-memory Context, the step cycle for each inbound message, and
turning engine effects into store rows. Must never: send anything that is not committed,
commit a step without marking its inbound done in the same transaction, or run two steps of
one conversation at once (the actor's mailbox guarantees one message at a time).

Lifecycle (driven by the Router, see router.py):

    (no actor) --first message--> ACTIVE: context restored from its snapshot (or new)
        ACTIVE --Inbound--> engine step --> commit_step (ONE transaction:
                 snapshot + guest data + outbox rows + requests + scheduled + inbound done)
               --> sender.submit(committed rows) --> ACTIVE
        ACTIVE --idle past passivate_after--> stopped and dropped (state is on disk)
        ACTIVE --receive raised--> supervisor restarts it from its last snapshot
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from hotelbot.actors.base import Actor
from hotelbot.actors.guests import GuestBook
from hotelbot.clock import Clock
from hotelbot.flows import (
    Context,
    CreateRequest,
    Event,
    Hotel,
    Hotels,
    Outcome,
    ScheduleMessage,
    SendMessage,
    Silence,
    new_context,
    step,
    text_message,
)
from hotelbot.store import ConversationRepository, InboundRepository
from hotelbot.store.records import (
    GuestRecord,
    OutboundMessage,
    Priority,
    RequestRecord,
    ScheduledMessage,
    StepCommit,
)
from hotelbot.typedefs import HotelId, JSONScalar

log = structlog.get_logger(__name__)


class ConversationStore(Protocol):
    """The repositories an actor uses: snapshots and steps, and inbound's done mark."""

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def inbound(self) -> InboundRepository: ...


class Sender(Protocol):
    def submit(self, rows: tuple[OutboundMessage, ...]) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """A recorded guest message for the actor; `limited` marks one past the rate limit."""

    seq: int
    event: Event
    limited: bool = False
    notify_limit: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GetContext:
    """Ask for the current context (admin socket, tests)."""


@dataclass(frozen=True, slots=True)
class ConversationDeps:
    """What every conversation actor shares (one instance for all: keeps actors small)."""

    store: ConversationStore
    sender: Sender
    guests: GuestBook
    clock: Clock
    hotels: Callable[[], Hotels]
    on_handled: Callable[[int], None] = lambda seq: None  # Inbound `seq` finished or failed


class ConversationActor(Actor):
    """The actor for (phone_number_id, guest_id) of a hotel's department."""

    __slots__ = ("_context", "_deps", "dept", "guest_id", "hotel_id", "phone_number_id")

    def __init__(
        self, deps: ConversationDeps, *, hotel_id: str, dept: str, phone_number_id: str,
        guest_id: str, mailbox_size: int = 10_000,
    ) -> None:
        super().__init__(mailbox_size=mailbox_size)
        self._deps = deps
        self.hotel_id = hotel_id
        self.dept = dept
        self.phone_number_id = phone_number_id
        self.guest_id = guest_id
        self._context: Context | None = None

    async def receive(self, message: object) -> object:
        if isinstance(message, Inbound):
            try:
                await self._on_inbound(message)
            finally:
                self._deps.on_handled(message.seq)
            return None
        if isinstance(message, GetContext):
            return self._context
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _hotel(self) -> Hotel:
        return self._deps.hotels().hotels[HotelId(self.hotel_id)]

    async def _restore(self, hotel: Hotel, guest: GuestRecord) -> Context:
        if self._context is not None:
            return self._context
        snapshot = await self._deps.store.conversations.load(self.phone_number_id, self.guest_id)
        if snapshot is not None:
            try:
                return Context.from_dict(snapshot)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("snapshot_unreadable", guest=self.guest_id, error=str(exc))
        return new_context(
            hotel,
            guest_id=self.guest_id,
            phone_number_id=self.phone_number_id,
            department=self.dept,
            language=guest.language,
            accumulated_data=guest.data,
        )

    async def _on_inbound(self, message: Inbound) -> None:
        hotel = self._hotel()
        guest = await self._deps.guests.get(self.hotel_id, self.guest_id)
        context = await self._restore(hotel, guest)
        if message.limited:
            await self._on_limited(hotel, context, message)
            return
        # A hotel's departments share the guest's data and language: take the newest.
        context = context.evolve(
            accumulated_data=guest.data, language=guest.language or context.language
        )
        now = self._deps.clock.now()
        outcome = step(hotel, context, message.event, now)
        after = outcome.context
        changed = after.accumulated_data != guest.data or after.language != guest.language
        await self._commit(outcome, message.seq, now, guest_changed=changed)

    async def _on_limited(self, hotel: Hotel, context: Context, message: Inbound) -> None:
        """Past the rate limit: record, do not answer; one notice per flood."""
        if not message.notify_limit:
            await self._deps.store.inbound.mark_done(message.seq)
            return
        now = self._deps.clock.now()
        text = hotel.strings["spam"].get(context.language, hotel.default_language)
        outcome = Outcome(context=context, effects=(text_message(text),))
        await self._commit(outcome, message.seq, now, guest_changed=False)

    async def _commit(
        self, outcome: Outcome, seq: int, now: datetime, *, guest_changed: bool = True
    ) -> None:
        context = outcome.context
        commit = StepCommit(
            phone_number_id=self.phone_number_id,
            guest_id=self.guest_id,
            hotel_id=self.hotel_id,
            context=context.to_dict(),
            guest_data=context.accumulated_data,
            language=context.language,
            inbound_seq=seq,
            outbound=tuple(self._outbound(outcome)),
            requests=tuple(self._requests(outcome, now)),
            scheduled=tuple(self._scheduled(outcome, now)),
            at=now,
            guest_changed=guest_changed,
        )
        rows = await self._deps.store.conversations.commit_step(commit)
        self._context = context
        self._deps.guests.update(
            self.hotel_id, self.guest_id, context.accumulated_data, context.language
        )
        self._deps.sender.submit(rows)
        self._log_step(outcome, seq)

    def _outbound(self, outcome: Outcome) -> list[OutboundMessage]:
        return [
            OutboundMessage(
                phone_number_id=self.phone_number_id,
                guest_id=self.guest_id,
                body=effect.body,
                priority=Priority.REPLY,
            )
            for effect in outcome.effects
            if isinstance(effect, SendMessage)
        ]

    def _requests(self, outcome: Outcome, now: datetime) -> list[RequestRecord]:
        return [
            RequestRecord(
                hotel_id=self.hotel_id,
                department=effect.department,
                guest_id=self.guest_id,
                flow_id=effect.flow_id,
                kind=effect.kind,
                data=dict(effect.data),
                created_at=now,
            )
            for effect in outcome.effects
            if isinstance(effect, CreateRequest)
        ]

    def _scheduled(self, outcome: Outcome, now: datetime) -> list[ScheduledMessage]:
        return [
            ScheduledMessage(
                hotel_id=self.hotel_id,
                phone_number_id=self.phone_number_id,
                guest_id=self.guest_id,
                message_type=effect.message_type,
                scheduled_at=now + timedelta(minutes=effect.after_minutes),
                data=_merge(effect.data, {"department": self.dept}),
            )
            for effect in outcome.effects
            if isinstance(effect, ScheduleMessage)
        ]

    def _log_step(self, outcome: Outcome, seq: int) -> None:
        context = outcome.context
        kinds = [type(e).__name__ for e in outcome.effects]
        silent = any(isinstance(e, Silence) for e in outcome.effects)
        log.info(
            "step_committed",
            hotel=self.hotel_id,
            dept=self.dept,
            guest=self.guest_id,
            flow=context.current_flow,
            step=context.current_step,
            seq=seq,
            effects=kinds,
            silent=silent,
            errors=context.error_count,
        )


def _merge(
    a: Mapping[str, JSONScalar], b: Mapping[str, JSONScalar]
) -> dict[str, JSONScalar]:
    return {**a, **b}
