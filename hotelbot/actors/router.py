"""The hotel/department router: inbound message -> the conversation actor that owns it.

Owns: the map phone_number_id -> (hotel, department); one ConversationActor per
(phone_number_id, guest_id), spawned on demand under a Supervisor and passivated when idle;
what happens to a message whose step crashed (parked, with the engine's answer to StepFailed);
recovery at start; the periodic clean-up of stale contexts. Must never: decide what a guest
reads (the rate limit, the apology and every other rule are the engine's), block the webhook
(`dispatch` is sync), crash on an unknown number, or lose a recorded message (a message that
cannot be handed over stays `received` on disk and is replayed at the next start). A flooding
guest never slows another: each conversation has its own actor, and the engine's rate limit
answers the excess with silence.

Lifecycle of a conversation actor:

     dispatch(msg) ──no actor──▶ spawn (snapshot restored lazily) ──▶ ACTIVE ◀─┐
                                                                     │  │       │ tell(Inbound)
          idle > passivate_after, mailbox empty ─────────────────────┘  │ ──────┘
                 ▼                                                      │ receive raised
          graceful stop (drain) ─▶ dropped from memory                  ▼
                                                       Supervisor: RESTART from the snapshot
                                                       (the failed message is parked with its
                                                       traceback and the engine's answer to
                                                       StepFailed, the apology) or, past the
                                                       restart budget, ABORT: the actor is gone;
                                                       its queued messages are parked (no apology)

Messages come from the inbox (inbox.py: accept, replay at start, redispatch); the router only
dispatches them. Conversations report back through an explicit port (`ConversationReport`:
handled, limited), given to each actor when it is spawned.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from hotelbot.actors.base import ActorRef
from hotelbot.actors.conversation import (
    ConversationActor,
    ConversationDeps,
    ConversationStore,
    Inbound,
    Unlock,
    UnlockStatus,
)
from hotelbot.actors.supervisor import Supervisor, SupervisorDecision
from hotelbot.errors import ActorDeadError, MailboxFull
from hotelbot.flows import Context, Event, Guest, SendMessage, StepFailed, new_context, step
from hotelbot.store import InboundMessage, InboundParams, OutboundMessage, Priority
from hotelbot.typedefs import GuestId, HotelId, NumberId

log = structlog.get_logger(__name__)

Key = tuple[NumberId, GuestId]  # a conversation: (phone_number_id, guest_id)


class RouterStore(ConversationStore, Protocol):
    """The same repositories: inbound (replay, attempts, park, purge), conversations (expiry)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterSettings:
    passivate_after: float = 300.0  # seconds idle before an actor is dropped from memory
    sweep_every: float = 30.0  # seconds between passivation sweeps
    context_retention: timedelta = timedelta(hours=24)  # idle contexts older are deleted
    # Meta retries a webhook for up to 7 days: processed messages are kept a day longer (dedupe).
    inbound_retention: timedelta = timedelta(days=8)
    purge_every: float = 3600.0  # seconds between purges of old processed messages
    max_restarts: int = 3  # per conversation within restart_window
    restart_window: float = 60.0
    mailbox_size: int = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterStatistics:
    active: int
    dispatched: int
    limited: int
    unknown_number: int
    passivated: int
    parked: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveConversation:
    """A conversation actor in memory (admin `actors`, the mailbox metrics)."""

    phone_number_id: str
    guest_id: str
    hotel_id: str
    department: str
    queued: int  # messages waiting in its mailbox
    idle_seconds: float  # since its last message was dispatched


class Router:
    """Routes recorded inbound messages to conversation actors and supervises them."""

    def __init__(
        self,
        deps: ConversationDeps,
        store: RouterStore,
        settings: RouterSettings | None = None,
    ) -> None:
        self._deps = deps
        self._store = store
        # Inbound.key (seq, or wamid while not recorded) of messages with an actor, not handled
        self._in_flight: set[int | str] = set()
        self._next_purge = 0.0  # monotonic time of the next inbound purge
        self._idle = asyncio.Event()
        self._idle.set()
        self._settings = settings or RouterSettings()
        self._supervisor: Supervisor[Key] = Supervisor(
            clock=deps.clock,
            max_restarts=self._settings.max_restarts,
            window_seconds=self._settings.restart_window,
            on_decision=self._on_decision,
            name="conversations",
            factory=self._conversation,
        )
        self._hotel_of: tuple[object, Mapping[NumberId, HotelId]] = (None, {})
        self.accepting = False  # True between start() and stop(): /readyz
        self._last_used: dict[Key, float] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._dispatched = self._limited = self._unknown = 0
        self._passivated = self._parked = 0

    # -- the inbox's side --------------------------------------------------------------------

    def hotel_of(self) -> Mapping[NumberId, HotelId]:
        """phone_number_id -> hotel_id for every configured department number."""
        hotels = self._deps.hotels()
        if self._hotel_of[0] is not hotels:  # rebuilt only when the configuration changes
            numbers = hotels.numbers.items()
            self._hotel_of = (hotels, {number: hotel for number, (hotel, _d) in numbers})
        return self._hotel_of[1]

    def dispatch(self, message: InboundMessage, event: Event, *, replayed: bool = False) -> None:
        """Hand a recorded message to its conversation (never blocks, never raises).

        `replayed`: handed over again (replay at start, an operator's replay, a stranded
        message); the engine does not count it against the rate limit.
        """
        key = (NumberId(message.phone_number_id), GuestId(message.guest_id))
        if key[0] not in self._deps.hotels().numbers:
            self._unknown += 1
            log.warning("unknown_phone_number_id", number=message.phone_number_id)
            self._background(self._store.inbound.park(message.seq, "unknown phone_number_id"))
            return
        inbound = Inbound(seq=message.seq, event=event, wamid=message.wamid, replayed=replayed,
                          quoted=_quoted(message.payload))
        refused = self._hand(key, inbound)
        if refused is not None:
            # Still `received` on disk: the inbox's sweep hands it over again (or next start).
            log.warning("dispatch_deferred", guest=message.guest_id, reason=refused)

    def take(
        self, message: InboundMessage, event: Event, record: InboundParams
    ) -> asyncio.Future[int | None] | None:
        """Hand over a message NOT recorded yet: its conversation records it `done` in its
        step's own transaction (one durable write for both) and resolves the returned future
        with its seq (None: a duplicate, nothing written), or fails it (the step crashed and
        the message could not be parked). None when it cannot be handed over now (not
        accepting, unknown number, mailbox full, actor stopping): record it first, as usual.
        Never blocks, never raises.
        """
        if not self.accepting:
            return None
        key = (NumberId(message.phone_number_id), GuestId(message.guest_id))
        if key[0] not in self._deps.hotels().numbers:
            return None  # recorded the usual way, which parks it with the reason
        recorded: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        inbound = Inbound(seq=None, event=event, wamid=message.wamid,
                          quoted=_quoted(message.payload), record=record, recorded=recorded)
        return recorded if self._hand(key, inbound) is None else None

    def _hand(self, key: Key, inbound: Inbound) -> str | None:
        """Put `inbound` in its conversation's mailbox (spawning the actor if needed) and track
        it; the reason when it could not be (MailboxFull, ActorDeadError)."""
        self._last_used[key] = self._deps.clock.monotonic()
        try:
            ref = self._supervisor.get(key) or self._spawn(key)
            ref.tell_nowait(inbound)
        except (MailboxFull, ActorDeadError) as exc:
            return type(exc).__name__
        self._dispatched += 1
        self._in_flight.add(inbound.key)
        self._idle.clear()
        return None

    def holds(self, seq: int) -> bool:
        """True while message `seq` is with an actor (dispatched, not yet handled)."""
        return seq in self._in_flight

    # -- the conversations' side: ConversationReport --------------------------------------------

    def handled(self, key: int | str) -> None:
        """The Inbound of this key finished (its step committed) or failed (being parked)."""
        self._in_flight.discard(key)
        if not self._in_flight:
            self._idle.set()

    def limited(self, seq: int) -> None:
        """Inbound `seq` was past the guest's rate limit (the engine decided; counted here)."""
        self._limited += 1

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the periodic sweep and accept messages."""
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="router-sweep")
        self.accepting = True

    async def stop(self) -> None:
        """Stop the sweep, drain every conversation (each step commits), finish side tasks."""
        self.accepting = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self._supervisor.stop_all()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until every mailbox is empty and side tasks are done (tests, shutdown)."""
        while not self._idle.is_set() or self._tasks:
            await self._idle.wait()
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def statistics(self) -> RouterStatistics:
        return RouterStatistics(
            active=len(self._supervisor),
            dispatched=self._dispatched,
            limited=self._limited,
            unknown_number=self._unknown,
            passivated=self._passivated,
            parked=self._parked,
        )

    def conversations(self) -> list[ActiveConversation]:
        """Every conversation actor in memory, with its mailbox depth."""
        numbers = self._deps.hotels().numbers
        now = self._deps.clock.monotonic()
        found = []
        for key in self._supervisor.keys():  # noqa: SIM118
            hotel_id, dept = numbers.get(key[0], ("", ""))
            found.append(ActiveConversation(
                phone_number_id=key[0], guest_id=key[1], hotel_id=hotel_id, department=dept,
                queued=self._queued(key),
                idle_seconds=max(0.0, now - self._last_used.get(key, now))))
        return found

    async def release_guest(self, hotel_id: HotelId, guest_id: GuestId) -> int:
        """Stop the guest's conversations at the hotel (they drain and snapshot) and drop the
        cached guest record, before the guest's data is erased; returns how many stopped.
        A message arriving after the erasure starts afresh."""
        numbers = [n for n, (h, _d) in self._deps.hotels().numbers.items() if h == hotel_id]
        keys = [(n, guest_id) for n in numbers if (n, guest_id) in set(self._supervisor.keys())]
        await asyncio.gather(*(self._supervisor.stop(key) for key in keys))
        self._deps.guests.forget(hotel_id, guest_id)
        return len(keys)

    async def ask_context(self, phone_number_id: NumberId, guest_id: GuestId) -> object:
        """The in-memory context of an active conversation, else None."""
        from hotelbot.actors.conversation import GetContext

        ref = self._supervisor.get((phone_number_id, guest_id))
        return None if ref is None else await ref.ask(GetContext())

    async def unlock(self, phone_number_id: NumberId, guest_id: GuestId,
                     timeout: float | None = 5.0) -> UnlockStatus:  # noqa: ASYNC109
        """Lift a guest's cooloff (and reset their error count) with one department number:
        the public way for staff (`hotelbot admin unlock`, the staff console) to let a guest
        write again before the cooloff ends. Goes through the conversation's actor, so it is
        ordered with the guest's own messages, and is committed like a step.

        Raises:
            TimeoutError: the conversation did not answer within `timeout` seconds.
            ActorDeadError: the conversation is stopping (the router is shutting down).
        """
        key = (phone_number_id, guest_id)
        if phone_number_id not in self._deps.hotels().numbers:
            return UnlockStatus.UNKNOWN_NUMBER
        self._last_used[key] = self._deps.clock.monotonic()
        ref = self._supervisor.get(key) or self._spawn(key)
        status = await ref.ask(Unlock(), timeout)
        if not isinstance(status, UnlockStatus):
            raise TypeError(f"a conversation answered Unlock with {status!r}")
        return status

    async def cooloff_until(self, phone_number_id: NumberId,
                            guest_id: GuestId) -> datetime | None:
        """When the guest's cooloff with this number ends, if one is in force now: the
        conversation's own (in memory, else its snapshot) or the guest's hotel-wide one.
        Read-only (spawns no actor); the staff console offers "Lift the pause" from it."""
        department_of = self._deps.hotels().numbers.get(phone_number_id)
        if department_of is None:
            return None
        ends = []
        limits = self._deps.guests.limits(department_of[0], guest_id)
        if limits is not None and limits.cooloff_until is not None:
            ends.append(limits.cooloff_until)
        context = await self.ask_context(phone_number_id, guest_id)
        if not isinstance(context, Context):
            snapshot = await self._store.conversations.load(phone_number_id, guest_id)
            try:
                context = None if snapshot is None else Context.from_dict(snapshot)
            except (KeyError, TypeError, ValueError):
                context = None  # unreadable: the actor starts afresh, with no cooloff
        if context is not None and context.cooloff_until is not None:
            ends.append(context.cooloff_until)
        now = self._deps.clock.now()
        aware = [e if e.tzinfo else e.replace(tzinfo=UTC) for e in ends]
        return max((e for e in aware if e > now), default=None)

    # -- passivation and clean-up --------------------------------------------------------------

    async def passivate_idle(self) -> int:
        """Stop actors idle longer than passivate_after with an empty mailbox."""
        horizon = self._deps.clock.monotonic() - self._settings.passivate_after
        idle = [
            key for key in self._supervisor.keys()  # noqa: SIM118
            if self._last_used.get(key, 0.0) <= horizon and not self._queued(key)
        ]
        for key in idle:
            self._last_used.pop(key, None)
        await asyncio.gather(*(self._supervisor.stop(key) for key in idle))
        self._passivated += len(idle)
        return len(idle)

    async def expire_stale(self) -> int:
        """Delete contexts idle past the retention (the timeout itself is the engine's), and,
        at most every purge_every seconds, processed messages past the dedupe window."""
        now = self._deps.clock.now()
        if self._deps.clock.monotonic() >= self._next_purge:
            self._next_purge = self._deps.clock.monotonic() + self._settings.purge_every
            await self._store.inbound.purge(now - self._settings.inbound_retention)
        return await self._store.conversations.expire(now - self._settings.context_retention)

    async def _sweep_forever(self) -> None:
        while True:
            await self._deps.clock.sleep(self._settings.sweep_every)
            try:
                passivated = await self.passivate_idle()
                expired = await self.expire_stale()
            except Exception:
                log.exception("router_sweep_failed")
                continue
            if passivated or expired:
                log.info("router_swept", passivated=passivated, expired=expired)

    # -- supervision -------------------------------------------------------------------------

    def _spawn(self, key: Key) -> ActorRef:
        """A conversation actor for `key`, from the supervisor's factory (`_conversation`)."""
        return self._supervisor.spawn(key, name="conversation")

    def _conversation(self, key: Key) -> ConversationActor:
        """The supervisor's factory: a key's ConversationActor, at spawn and at each restart,
        for the department its number belongs to now (one bound method for every conversation,
        not an object each).

        Raises:
            LookupError: the number is no longer configured (a reload removed it): the
                restart fails and the supervisor aborts the conversation.
        """
        department_of = self._deps.hotels().numbers.get(key[0])
        if department_of is None:
            raise LookupError("phone_number_id no longer configured")
        hotel_id, dept = department_of
        return ConversationActor(
            self._deps, self, hotel_id=hotel_id, dept=dept,
            phone_number_id=key[0], guest_id=key[1], mailbox_size=self._settings.mailbox_size,
        )

    def _on_decision(
        self, key: Key, decision: SupervisorDecision, exc: Exception, message: object
    ) -> None:
        if not isinstance(message, Inbound):
            return
        if isinstance(exc, ActorDeadError):  # dropped from an aborted mailbox: never handled
            self.handled(message.key)
        self._parked += 1
        error = "".join(traceback.format_exception(exc))
        apologize = not isinstance(exc, ActorDeadError)
        if message.seq is None:
            self._background(self._park_unrecorded(key, message, error, apologize))
        else:
            self._background(self._park(key, message.seq, error, apologize))
        log.error("step_failed", guest=key[1], seq=message.seq, decision=decision.value)

    async def _park(self, key: Key, seq: int, error: str, apologize: bool) -> None:
        reply = self._apology(key) if apologize else None
        rows = await self._store.inbound.park(seq, error, reply)
        self._deps.sender.submit(rows)

    async def _park_unrecorded(self, key: Key, message: Inbound, error: str,
                               apologize: bool) -> None:
        """A message not recorded yet whose step failed: recorded parked (with the apology)
        in one transaction, then the webhook may answer; if even that fails, the webhook
        records it the usual way or answers 503 (Meta retries)."""
        if message.record is None:
            return
        reply = self._apology(key) if apologize else None
        try:
            seq, rows = await self._store.inbound.park_unrecorded(message.record, error, reply)
        except BaseException as exc:
            message.fail(exc)
            raise
        message.resolve(seq)
        self._deps.sender.submit(rows)

    def _apology(self, key: Key) -> OutboundMessage | None:
        """The engine's answer to StepFailed, as a reply row (None if it says nothing).

        The crashed actor's context is gone with it (it restarts from its snapshot): the engine
        gets a fresh one and the guest's shared record, which hold what the answer depends on.
        """
        department_of = self._deps.hotels().numbers.get(key[0])
        if department_of is None:
            return None
        hotel_id, dept = department_of
        hotel = self._deps.hotels().hotels[hotel_id]
        record = self._deps.guests.peek(hotel_id, key[1])
        guest = None if record is None else Guest(data=record.data, language=record.language)
        context = new_context(hotel, guest_id=key[1], phone_number_id=key[0], department=dept)
        outcome = step(hotel, context, StepFailed(), self._deps.clock.now(), guest=guest)
        bodies = [e.body for e in outcome.effects if isinstance(e, SendMessage)]
        if not bodies:
            return None
        return OutboundMessage(
            phone_number_id=key[0], guest_id=key[1], body=bodies[0], priority=Priority.REPLY,
        )

    # -- helpers -------------------------------------------------------------------------------

    def _queued(self, key: Key) -> int:
        ref = self._supervisor.get(key)
        return ref.statistics().queued if ref is not None else 0

    def _background(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._side_task_done)

    def _side_task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The message stays `received` on disk: replayed at the next start.
            log.error("router_side_task_failed", error=repr(task.exception()))


@asynccontextmanager
async def open_router(
    deps: ConversationDeps, store: RouterStore, settings: RouterSettings | None = None
) -> AsyncIterator[Router]:
    """A started router (accepting, sweeping); on exit it drains every conversation."""
    router = Router(deps, store, settings)
    await router.start()
    try:
        yield router
    finally:
        await router.stop()


def _quoted(payload: Mapping[str, object]) -> str:
    """The wamid a guest's message quotes (`context.id`: a reply or a button tap), or ""."""
    context = payload.get("context")
    quoted = context.get("id") if isinstance(context, dict) else None
    return quoted if isinstance(quoted, str) else ""
