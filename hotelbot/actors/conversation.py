"""One guest's conversation with one department number: load -> engine -> persist -> send.

Owns: the conversation's in-memory Context, the step cycle for each inbound message, and
turning engine effects into store rows. Must never: decide what the guest reads (every rule,
the rate limit and the guest-data merge included, is the engine's), send anything that is not
committed, commit a step without marking its inbound done in the same transaction, or run two
steps of one conversation at once (the actor's mailbox guarantees one message at a time).

Lifecycle (driven by the Router, see router.py):

    (no actor) --first message--> ACTIVE: context restored from its snapshot (or new)
        ACTIVE --Inbound--> engine step(context, event, guest=the guest's shared record)
               --> commit_step (ONE transaction: snapshot + outbox rows + requests +
                   scheduled + inbound done, + the guest's row only on GuestChanged)
               --> sender.submit(committed rows) --> ACTIVE
           (past the rate limit the step is a Silence, with the notice the first time:
            committed the same way, so the excess is recorded, not answered)
        ACTIVE --Unlock (staff)--> engine step(context, CooloffLifted) --> commit (no inbound)
        ACTIVE --Inbound while staff hold it (holds.py)--> recorded and marked done, context
               untouched, nothing sent (the console shows it) --> ACTIVE
        ACTIVE --idle past passivate_after--> stopped and dropped (state is on disk)
        ACTIVE --receive raised--> supervisor restarts it from its last snapshot; the
               router asks the engine for the apology (StepFailed) and parks the message
        ACTIVE --raised past the restart budget--> supervisor aborts it (ABORT): no drain;
               the router parks the failed message (apology) and every queued one (none)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import structlog

from hotelbot.actors.base import Actor
from hotelbot.actors.guests import GuestBook
from hotelbot.actors.holds import Holds
from hotelbot.clock import Clock
from hotelbot.flows import (
    CancelRequest,
    Context,
    CooloffLifted,
    CreateRequest,
    Effect,
    Event,
    Guest,
    GuestChanged,
    GuestRequest,
    Hotel,
    Hotels,
    Limits,
    ListRequests,
    OptOutChanged,
    Outcome,
    ScheduledReply,
    ScheduleMessage,
    SendMessage,
    Silence,
    SilenceReason,
    cancel_message,
    may_answer,
    new_context,
    reply_event,
    requests_message,
    step,
)
from hotelbot.store import (
    ConversationRepository,
    GuestRecord,
    InboundParams,
    InboundRepository,
    OutboundMessage,
    Priority,
    RequestRecord,
    RequestRepository,
    ScheduledMessage,
    StepCommit,
)
from hotelbot.typedefs import Dept, GuestId, HotelId, JSONScalar, NumberId

log = structlog.get_logger(__name__)


class ConversationStore(Protocol):
    """The repositories an actor uses: snapshots and steps, inbound's done mark, and the
    guest's own requests ("my requests", a guest's cancel)."""

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def requests(self) -> RequestRepository: ...

    @property
    def inbound(self) -> InboundRepository: ...


class Sender(Protocol):
    """The outbound pacer, as a conversation uses it."""

    def submit(self, rows: tuple[OutboundMessage, ...], *, first_sending: bool = False) -> None:
        ...

    def reserve(self, phone_number_id: str, guest_id: str) -> bool:
        """May the step's first reply be committed `sending`, its POST right after?"""
        ...

    def release(self, phone_number_id: str, guest_id: str) -> None: ...

    def mark_read(self, phone_number_id: str, wamid: str) -> None: ...


class ScheduledLookup(Protocol):
    async def __call__(self, phone_number_id: str, guest_id: str, quoted: str,
                       now: datetime) -> ScheduledReply | None: ...


class ConversationReport(Protocol):
    """What a conversation tells its router: an explicit port, given when it is spawned."""

    def handled(self, key: int | str) -> None:
        """The Inbound of this `key` (Inbound.key) finished (its step committed) or failed."""

    def limited(self, seq: int) -> None:
        """Inbound `seq` was past the guest's rate limit (recorded, not answered)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """A guest message for the actor; `replayed`: handed over again (not counted against the
    guest's rate limit, see the engine's rules).

    Either recorded already (`seq`), or not yet (`seq` None): then `record` is the message
    encoded for the store, recorded `done` in the step's own transaction, and `recorded` is
    resolved with its seq once that committed (None: the wamid was recorded before and nothing
    was written), or fails; the webhook's 200 waits for it (inbox.py).
    """

    seq: int | None
    event: Event
    wamid: str = ""  # marked read (blue ticks) once handled, when the hotel wants it
    replayed: bool = False
    quoted: str = ""  # the wamid the message quotes (context.id), if any
    record: InboundParams | None = None
    recorded: asyncio.Future[int | None] | None = None

    @property
    def key(self) -> int | str:
        """What the router tracks it by while it is with the actor: its seq, else its wamid."""
        return self.wamid if self.seq is None else self.seq

    def resolve(self, seq: int | None) -> None:
        """Its record committed (seq) or was a duplicate (None): the webhook may answer."""
        if self.recorded is not None and not self.recorded.done():
            self.recorded.set_result(seq)

    def fail(self, error: BaseException) -> None:
        """Nothing of it was recorded: the webhook records it the usual way (or answers 503)."""
        if self.recorded is not None and not self.recorded.done():
            self.recorded.set_exception(error)


class StepObserver(Protocol):
    """Told of every committed step (metrics, the funnel: actors/progress.py). Never blocks."""

    def stepped(self, hotel: Hotel, before: Context, outcome: Outcome, now: datetime) -> None:
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class GetContext:
    """Ask for the current context (admin socket, tests)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unlock:
    """Staff lift the guest's cooloff (and error count) with this department number."""


class UnlockStatus(StrEnum):
    LIFTED = "lifted"  # a cooloff was in force: the guest may write again at once
    NOT_COOLING = "not_cooling"  # no cooloff in force: the error count was reset all the same
    NO_CONVERSATION = "no_conversation"  # the guest never wrote to this number
    UNKNOWN_NUMBER = "unknown_number"  # no configured department has this number


@dataclass(frozen=True, slots=True)
class ConversationDeps:
    """What every conversation actor shares (one instance for all: keeps actors small)."""

    store: ConversationStore
    sender: Sender
    guests: GuestBook
    clock: Clock
    hotels: Callable[[], Hotels]
    observer: StepObserver | None = None  # metrics and the funnel (issue 12)
    holds: Holds | None = None  # conversations staff took over (the console)
    scheduled: Callable[[], None] = lambda: None  # a step scheduled messages: wake the scheduler
    # The scheduled message a guest's message may answer (the scheduler's lookup; issue 10).
    answered: ScheduledLookup | None = None


class ConversationActor(Actor):
    """The actor for (phone_number_id, guest_id) of a hotel's department."""

    __slots__ = ("_context", "_deps", "_report", "dept", "guest_id", "hotel_id",
                 "phone_number_id")

    def __init__(
        self, deps: ConversationDeps, report: ConversationReport, *, hotel_id: HotelId,
        dept: Dept, phone_number_id: NumberId, guest_id: GuestId, mailbox_size: int = 10_000,
    ) -> None:
        super().__init__(mailbox_size=mailbox_size)
        self._deps = deps
        self._report = report
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
                self._report.handled(message.key)
            return None
        if isinstance(message, GetContext):
            return self._context
        if isinstance(message, Unlock):
            return await self._unlock()
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _hotel(self) -> Hotel:
        return self._deps.hotels().hotels[self.hotel_id]

    async def _load(self, hotel: Hotel) -> tuple[GuestRecord, Context]:
        """The guest's shared record and this conversation's context. The first time (the
        context not in memory yet) both come from ONE read of the store: the snapshot and the
        guest's row; afterwards from memory (the guest book, the actor)."""
        guests = self._deps.guests
        if self._context is not None:
            return await guests.get(self.hotel_id, self.guest_id), self._context
        snapshot, stored = await self._deps.store.conversations.load_with_guest(
            self.phone_number_id, self.guest_id, self.hotel_id)
        if guests.peek(self.hotel_id, self.guest_id) is None:
            guests.prime(stored or GuestRecord(hotel_id=self.hotel_id, guest_id=self.guest_id,
                                               data={}))
        record = await guests.get(self.hotel_id, self.guest_id)
        if snapshot is not None:
            try:
                return record, Context.from_dict(snapshot)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("snapshot_unreadable", guest=self.guest_id, error=str(exc))
        return record, new_context(
            hotel,
            guest_id=self.guest_id,
            phone_number_id=self.phone_number_id,
            department=self.dept,
            language=record.language,
            accumulated_data=record.data,
        )

    async def _on_inbound(self, message: Inbound) -> None:
        hotel = self._hotel()
        record, context = await self._load(hotel)
        now = self._deps.clock.now()
        holds = self._deps.holds
        if holds is not None and holds.held(self.phone_number_id, self.guest_id, now):
            await self._commit(Outcome(context=context, effects=()), message, now)
            return
        event = await self._answering(hotel, context, message, now)
        # From reading the guest's hotel-wide limits to sharing the step's: no await, so no
        # other conversation of the guest steps in between (they share one allowance).
        guest = Guest(data=record.data, language=record.language,
                      limits=self._limits(record, context))
        outcome = step(hotel, context, event, now, guest=guest,
                       replayed=message.replayed)
        self._share_limits(outcome.context)  # before any await: no other step in between
        outcome = await self._requests_asked(hotel, outcome, now)
        if not await self._commit(outcome, message, now, cooloff_of=record):
            return  # a redelivery of a message handled before: nothing was written or sent
        if self._deps.observer is not None:
            self._deps.observer.stepped(hotel, context, outcome, now)
        if hotel.read_receipts and message.wamid and not message.replayed:
            self._deps.sender.mark_read(self.phone_number_id, message.wamid)

    async def _unlock(self) -> UnlockStatus:
        """The engine's CooloffLifted on the conversation, committed like a step (no inbound)."""
        if self._context is None and await self._deps.store.conversations.load(
                self.phone_number_id, self.guest_id) is None:
            return UnlockStatus.NO_CONVERSATION
        hotel = self._hotel()
        record, context = await self._load(hotel)
        now = self._deps.clock.now()
        until = context.cooloff_until
        limits = self._limits(record, context)
        if limits is not None and limits.cooloff_until is not None:
            until = limits.cooloff_until  # started at another of the hotel's numbers
        cooling = until is not None and now < (until if until.tzinfo else until.replace(tzinfo=UTC))
        guest = Guest(data=record.data, language=record.language, limits=limits)
        outcome = step(hotel, context, CooloffLifted(), now, guest=guest)
        self._share_limits(outcome.context)
        await self._commit(outcome, None, now, cooloff_of=record)
        log.info("cooloff_lifted", hotel=self.hotel_id, dept=self.dept, guest=self.guest_id,
                 was_cooling=cooling)
        return UnlockStatus.LIFTED if cooling else UnlockStatus.NOT_COOLING

    async def _requests_asked(self, hotel: Hotel, outcome: Outcome, now: datetime) -> Outcome:
        """Carry out ListRequests / CancelRequest: read or cancel in the store, and put the
        engine's wording of the result (flows.requests_message / cancel_message) in their
        place, so the reply commits with the step like any other."""
        if not any(isinstance(e, ListRequests | CancelRequest) for e in outcome.effects):
            return outcome  # (nearly every step)
        effects: list[Effect] = []
        language = outcome.context.language
        for effect in outcome.effects:
            if isinstance(effect, ListRequests):
                found = await self._deps.store.requests.open_for_guest(self.hotel_id,
                                                                       self.guest_id)
                shown = [GuestRequest(id=r.id, flow_id=r.flow_id, kind=r.kind,
                                      status=r.status.value, created_at=r.created_at)
                         for r in found]
                effects.append(requests_message(hotel, language, shown))
            elif isinstance(effect, CancelRequest):
                cancelled = await self._deps.store.requests.cancel_by_guest(
                    effect.request_id, self.hotel_id, self.guest_id, at=now)
                log.info("request_cancel_by_guest", hotel=self.hotel_id, guest=self.guest_id,
                         request=effect.request_id, cancelled=cancelled)
                effects.append(cancel_message(hotel, language, effect.request_id, cancelled))
            else:
                effects.append(effect)
        return Outcome(context=outcome.context, effects=tuple(effects))

    def _share_limits(self, context: Context) -> None:
        """The step's rate limit and cooloff become the guest's, for all the hotel's numbers."""
        self._deps.guests.set_limits(self.hotel_id, self.guest_id,
                                     Limits(rate=context.rate, cooloff_until=context.cooloff_until))

    async def _answering(self, hotel: Hotel, context: Context, message: Inbound,
                         now: datetime) -> Event:
        """The event, or FlowRequested when it answers a scheduled message (flows/reply.py)."""
        lookup = self._deps.answered
        if lookup is None or message.replayed or not may_answer(hotel, context, message.event,
                                                                 now):
            return message.event
        answered = await lookup(self.phone_number_id, self.guest_id, message.quoted, now)
        return reply_event(hotel, context, message.event, answered, now)

    def _limits(self, record: GuestRecord, context: Context) -> Limits | None:
        """The guest's hotel-wide limits: as shared in memory, else (after a restart) the
        cooloff the store kept for the guest, so switching numbers does not dodge it."""
        shared = self._deps.guests.limits(self.hotel_id, self.guest_id)
        if shared is None and record.cooloff_until is not None:
            return Limits(rate=context.rate, cooloff_until=record.cooloff_until)
        return shared

    async def _commit(self, outcome: Outcome, message: Inbound | None, now: datetime,
                      cooloff_of: GuestRecord | None = None) -> bool:
        """Commit the step, with its message when that is not recorded yet; False when the
        message proved a duplicate (then nothing was committed and the context stays).
        `cooloff_of`: the guest's record the step started from; a hotel-wide cooloff the step
        started, lifted or ended is stored with the step."""
        context = outcome.context
        seq = None if message is None else message.seq
        cooloff = context.cooloff_until
        cooloff_changed = cooloff_of is not None and cooloff != cooloff_of.cooloff_until
        parts = self._parts(outcome, now)
        changed, opt, outbound = parts.changed, parts.opt_out, parts.outbound
        # A reply to what the guest just wrote goes out right after the commit: the pacer
        # reserves its POST now, and the row is committed `sending` (no write of its own).
        sender = self._deps.sender
        first_sending = bool(outbound and message is not None and not message.replayed
                             and sender.reserve(self.phone_number_id, self.guest_id))
        commit = StepCommit(
            phone_number_id=self.phone_number_id,
            guest_id=self.guest_id,
            hotel_id=self.hotel_id,
            context=context.to_dict(),
            guest_data=changed.data if changed else context.accumulated_data,
            language=changed.language if changed else context.language,
            inbound_seq=seq,
            outbound=outbound,
            requests=parts.requests,
            scheduled=parts.scheduled,
            at=now,
            guest_changed=changed is not None,
            opt_out=None if opt is None else opt.opted_out,
            cooloff_changed=cooloff_changed,
            cooloff_until=cooloff,
            first_sending=first_sending,
        )
        try:
            if message is not None and message.record is not None:
                done = await self._deps.store.conversations.commit_recorded_step(
                    commit, message.record)
                message.resolve(done.seq)
                if done.seq is None:
                    log.info("inbound_duplicate", hotel=self.hotel_id, guest=self.guest_id)
                    if first_sending:
                        sender.release(self.phone_number_id, self.guest_id)
                    return False
                rows, seq = done.outbound, done.seq
            else:
                rows = await self._deps.store.conversations.commit_step(commit)
        except BaseException:
            if first_sending:
                sender.release(self.phone_number_id, self.guest_id)
            raise
        self._context = context
        if cooloff_changed:
            self._deps.guests.set_cooloff(self.hotel_id, self.guest_id, cooloff)
        if changed is not None:
            self._deps.guests.update(self.hotel_id, self.guest_id, changed.data, changed.language)
        sender.submit(rows, first_sending=first_sending)
        if commit.scheduled:
            self._deps.scheduled()  # the scheduler loads rows due soon (issue 10)
        if seq is not None and parts.spam:
            self._report.limited(seq)
        self._log_step(outcome, seq)
        return True

    def _parts(self, outcome: Outcome, now: datetime) -> _StepParts:
        """What the step's effects put into its commit, in one pass over them."""
        outbound: list[OutboundMessage] = []
        requests: list[RequestRecord] = []
        scheduled: list[ScheduledMessage] = []
        changed: GuestChanged | None = None
        opt: OptOutChanged | None = None
        spam = False
        for effect in outcome.effects:
            if isinstance(effect, SendMessage):
                outbound.append(OutboundMessage(
                    phone_number_id=self.phone_number_id,
                    guest_id=self.guest_id,
                    body=effect.body,
                    priority=Priority.REPLY,
                ))
            elif isinstance(effect, GuestChanged):
                changed = changed or effect
            elif isinstance(effect, CreateRequest):
                requests.append(RequestRecord(
                    hotel_id=self.hotel_id,
                    department=effect.department,
                    guest_id=self.guest_id,
                    flow_id=effect.flow_id,
                    kind=effect.kind,
                    data=dict(effect.data),
                    created_at=now,
                ))
            elif isinstance(effect, ScheduleMessage):
                scheduled.append(ScheduledMessage(
                    hotel_id=self.hotel_id,
                    phone_number_id=self.phone_number_id,
                    guest_id=self.guest_id,
                    message_type=effect.message_type,
                    scheduled_at=now + timedelta(minutes=effect.after_minutes),
                    data=_merge(effect.data, {"department": self.dept}),
                ))
            elif isinstance(effect, OptOutChanged):
                opt = opt or effect
            elif isinstance(effect, Silence):
                spam = spam or effect.reason is SilenceReason.SPAM
        return _StepParts(outbound=tuple(outbound), requests=tuple(requests),
                          scheduled=tuple(scheduled), changed=changed, opt_out=opt, spam=spam)

    def _log_step(self, outcome: Outcome, seq: int | None) -> None:
        if not log.is_enabled_for(logging.DEBUG):
            return  # its fields cost more than the filtered call
        context = outcome.context
        kinds = [type(e).__name__ for e in outcome.effects]
        silent = any(isinstance(e, Silence) for e in outcome.effects)
        # debug, not info: three lines per guest message were a whole cost at the default
        # level (issue 13); the metrics count steps, sends and webhooks.
        log.debug(
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


@dataclass(frozen=True, slots=True)
class _StepParts:
    """A step's effects sorted for its commit (ConversationActor._parts)."""

    outbound: tuple[OutboundMessage, ...]
    requests: tuple[RequestRecord, ...]
    scheduled: tuple[ScheduledMessage, ...]
    changed: GuestChanged | None  # the first GuestChanged
    opt_out: OptOutChanged | None  # the first OptOutChanged
    spam: bool  # a Silence for the rate limit: the inbound is reported limited


def _merge(
    a: Mapping[str, JSONScalar], b: Mapping[str, JSONScalar]
) -> dict[str, JSONScalar]:
    return {**a, **b}
