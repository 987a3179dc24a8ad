"""The scheduler actor: scheduled rows from SQLite, fired on time through the pacer (issue 10).

Owns: the timing wheel of the rows due within `lookahead` (far rows stay in SQLite, loaded as
they come near), the one task that sleeps until the wheel's next deadline (or a refill, or a
wake-up) on the injected clock, firing (claim -> decide -> one transaction with the outbox
rows -> pacer), and the scheduler's API: stays, request changes, broadcasts, cancel, the
lookup a guest's reply uses. Must never send anything that is not committed in the same
transaction that marks its row sent, never hold a row that is not pending in the wheel, and
never decide what a message says (triggers.py does, pure).

    start:  rows left `due` by a crash are decided first; then the window is loaded
    loop:   sleep until min(wheel deadline, next refill) or a wake-up
            advance(now) -> ids -> claim (pending -> due, one write)
                         -> decide each (guest, opt-out, window) -> complete (ONE transaction:
                            rows sent/skipped/failed + their outbox rows) -> pacer.submit
            refill: pending rows due before now + lookahead join the wheel (a wake-up from a
                    step loads only the rows with ids above the highest seen)
    stop:   the task is cancelled; the wheel is dropped (its rows are pending on disk)

A row fires once: claim moves only pending rows, complete only due ones, and complete's
transaction holds the outbox row. A crash between claim and complete leaves the row due; the
next start decides it (the outbox row was never committed, so nothing was sent).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from hotelbot.clock import Clock
from hotelbot.flows import Hotel, Hotels, ScheduledReply
from hotelbot.scheduler.firing import decide_rows, windows_needed
from hotelbot.scheduler.stays import put_stay
from hotelbot.scheduler.triggers import (
    request_dues,
)
from hotelbot.scheduler.wheel import TimingWheel
from hotelbot.store import (
    Fired,
    OutboundMessage,
    ScheduledMessage,
    ScheduledStatus,
    StayApplied,
    StayRecord,
    Store,
)
from hotelbot.typedefs import Dept, HotelId, JSONScalar

log = structlog.get_logger(__name__)

BATCH = 500  # rows claimed and decided per transaction
# A deadline this close counts as come: a due is a datetime turned into monotonic seconds, and
# float rounding must not leave the loop waiting a microsecond (or spinning) short of it.
SLACK = 0.001
IN_FLIGHT = 8  # firings committing at once
RETRY_AFTER = 1.0  # seconds after a failed turn (the store refused a write) before the next


class Sender(Protocol):
    def submit(self, rows: tuple[OutboundMessage, ...]) -> None: ...


class Guests(Protocol):
    """The guest book (actors.GuestBook): the cache of the guests' shared data."""

    def update(self, hotel_id: str, guest_id: str, data: dict[str, JSONScalar],
               language: str) -> None: ...


class SchedulerObserver(Protocol):
    """Watches the scheduler (the app's metrics: hotelbot.metrics.SchedulerMeter); called on
    the loop, must not block or raise."""

    def pending(self, count: int) -> None:
        """Rows waiting in the timer wheel now (due within the look-ahead)."""

    def fired(self, lateness: float) -> None:
        """A row was decided (sent, skipped or failed) `lateness` seconds after it was due."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerSettings:
    lookahead: float = 3600.0  # seconds of rows held in the wheel; the rest stay in SQLite
    reply_window: float = 4 * 3600.0  # a guest's next message this soon answers a send


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerStatistics:
    in_wheel: int
    fired: int  # rows decided (sent + skipped + failed)
    sent: int
    skipped: int
    failed: int
    # Of the last LATENESS_KEPT rows: the timer's lateness (the wheel fired it, minus its due
    # time) and the commit's (its outbox row and `sent` mark committed, minus its due time).
    fire_p50_ms: float
    fire_p99_ms: float
    fire_max_ms: float
    late_p50_ms: float
    late_p99_ms: float
    late_max_ms: float


LATENESS_KEPT = 100_000
# Conversations whose last scheduled send the reply lookup keeps in memory (issue 13): an idle
# guest's every message asks it; a conversation past this many is read from the store again.
REPLIES_KEPT = 50_000


class SchedulerActor:
    """The scheduler (module docstring). Made by `open_scheduler`."""

    def __init__(self, store: Store, sender: Sender, clock: Clock, hotels: Callable[[], Hotels],
                 guests: Guests, settings: SchedulerSettings | None = None,
                 observer: SchedulerObserver | None = None) -> None:
        self._store = store
        self._observer = observer
        self._sender = sender
        self._clock = clock
        self._hotels = hotels
        self._guests = guests
        self._settings = settings or SchedulerSettings()
        self._wheel: TimingWheel[int] = TimingWheel(start=clock.monotonic(), levels=3)
        self._loaded_until = clock.now()
        self._refill_at = clock.monotonic()
        self._max_id = 0
        self._woken = asyncio.Event()
        self._new_rows = False
        self._task: asyncio.Task[None] | None = None
        self._lateness: deque[float] = deque(maxlen=LATENESS_KEPT)
        self._fire_lateness: deque[float] = deque(maxlen=LATENESS_KEPT)
        self._counts = {ScheduledStatus.SENT: 0, ScheduledStatus.SKIPPED: 0,
                        ScheduledStatus.FAILED: 0}
        # Firings in flight (claim -> decide -> complete): the loop does not wait for their
        # commits, so a row due meanwhile is not late by them; their writes share the group
        # commits. At most IN_FLIGHT at once (past it, the loop waits: backpressure).
        self._firing: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._sleeping_until: float | None = None  # the loop waits until then (monotonic)
        self._retry_due = False  # a firing failed: decide the rows it left due again
        # (number, guest) -> the last scheduled row sent there, or None when none was: read
        # from the store on the conversation's first lookup, dropped whenever a row is sent to
        # it (the next lookup reads the committed one) or the guest is forgotten.
        self._last_sent: OrderedDict[tuple[str, str], ScheduledMessage | None] = OrderedDict()
        self._completed = 0  # firings committed (or failed): a lookup's read may be stale

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Decide the rows a crash left due, load the window, start the task."""
        left = await self._store.scheduled.due()
        for start in range(0, len(left), BATCH):
            await self._decide(left[start:start + BATCH])
        await self._refill(full=True)
        self._observe_pending()
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._firing:  # let the firings in flight commit (else their rows wait, due)
            await asyncio.gather(*self._firing, return_exceptions=True)
        self._wheel.stop()

    def wake(self) -> None:
        """New rows were committed (a step's `schedule:`): load those due soon."""
        self._new_rows = True
        self._woken.set()

    def statistics(self) -> SchedulerStatistics:
        late, fire = sorted(self._lateness), sorted(self._fire_lateness)

        def pick(values: list[float], q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0

        c = self._counts
        return SchedulerStatistics(
            in_wheel=len(self._wheel), fired=sum(c.values()), sent=c[ScheduledStatus.SENT],
            skipped=c[ScheduledStatus.SKIPPED], failed=c[ScheduledStatus.FAILED],
            fire_p50_ms=pick(fire, 0.5), fire_p99_ms=pick(fire, 0.99),
            fire_max_ms=pick(fire, 1.0), late_p50_ms=pick(late, 0.5),
            late_p99_ms=pick(late, 0.99), late_max_ms=pick(late, 1.0))

    # --- the API ---------------------------------------------------------------------------

    def track(self, rows: Iterable[ScheduledMessage]) -> None:
        """Pending rows just committed or moved: into the wheel if due within the window."""
        for row in rows:
            self._max_id = max(self._max_id, row.id)
            if row.status is not ScheduledStatus.PENDING:
                self._wheel.cancel(row.id)
            elif row.scheduled_at < self._loaded_until:
                self._wheel.add(row.id, self._mono(row.scheduled_at))
            else:
                self._wheel.cancel(row.id)
        self._observe_pending()
        self._woken.set()

    def guest_changed(self, hotel_id: str, guest_id: str, data: dict[str, JSONScalar],
                      language: str | None) -> None:
        """A stay wrote the guest's name and room: the guest book follows."""
        if language is None:
            language = ""
        self._guests.update(hotel_id, guest_id, data, language)

    def forget(self, ids: Iterable[int]) -> None:
        for id_ in ids:
            self._wheel.cancel(id_)
        self._observe_pending()

    def forget_guest(self, numbers: Iterable[str], guest_id: str) -> None:
        """The guest's data was erased: nothing of it stays in the reply lookup's memory."""
        for number in numbers:
            self._last_sent.pop((number, guest_id), None)

    async def request_changed(self, *, hotel_id: str, request_id: int, guest_id: str,
                              flow_id: str, status: str, at: datetime) -> list[int]:
        """A request moved to `status` (staff marked it done, ...): schedule what the hotel's
        after_request templates ask for. Returns the new rows' ids (a repeat adds none)."""
        hotel = self._hotels().hotels.get(HotelId(hotel_id))
        if hotel is None:
            return []
        dues = request_dues(hotel, request_id=request_id, flow_id=flow_id, status=status, at=at)
        rows = [ScheduledMessage(
            hotel_id=hotel_id, guest_id=guest_id, message_type=d.message_type,
            phone_number_id=hotel.departments[Dept(d.department)].phone_number_id,
            scheduled_at=d.at, trigger_key=d.key, data={"request_id": request_id})
            for d in dues]
        return await self.insert(rows)

    async def put_stay(self, hotel: Hotel, stay: StayRecord) -> StayApplied:
        """Store a stay and re-plan its rows (scheduler/stays.py: put_stay)."""
        return await put_stay(self, self._store, hotel, stay, self._clock.now())

    async def insert(self, rows: Sequence[ScheduledMessage]) -> list[int]:
        """Commit new pending rows (a trigger key already there is not repeated); track them."""
        ids = await self._store.scheduled.insert(rows, self._clock.now())
        inserted = list(zip(ids, rows, strict=False)) if len(ids) == len(rows) else []
        if inserted:
            self.track(replace(row, id=id_) for id_, row in inserted)
        else:
            self.wake()  # some keys were there already: let the refill find the new ones
        return ids

    async def cancel(self, id: int, reason: str = "cancelled") -> bool:
        done = await self._store.scheduled.cancel(id, reason, self._clock.now())
        self._wheel.cancel(id)
        return done

    async def answered(self, phone_number_id: str, guest_id: str, quoted: str,
                       now: datetime) -> ScheduledReply | None:
        """The scheduled message a guest's message may answer (flows.reply_event decides)."""
        if quoted:
            row = await self._store.scheduled.by_wamid(quoted)
            if row is not None and (row.phone_number_id, row.guest_id) == (phone_number_id,
                                                                           guest_id):
                return _reply(row, quoted=True, recent=True)
        row = await self._last_sent_to(phone_number_id, guest_id)
        if row is None or row.done_at is None:
            return None
        recent = now - row.done_at <= timedelta(seconds=self._settings.reply_window)
        return _reply(row, quoted=False, recent=recent) if recent else None

    async def _last_sent_to(self, phone_number_id: str, guest_id: str) -> ScheduledMessage | None:
        """The store's last_sent, read once per conversation: a message of an idle guest does
        not wait for a read. Only `_decide` marks rows sent; it drops their conversations."""
        key = (phone_number_id, guest_id)
        if key in self._last_sent:
            self._last_sent.move_to_end(key)
            return self._last_sent[key]
        completed = self._completed
        row = await self._store.scheduled.last_sent(phone_number_id, guest_id)
        if completed == self._completed:  # no firing committed while it read: still the last
            self._last_sent[key] = row  # None too: nothing sent there yet
            while len(self._last_sent) > REPLIES_KEPT:
                self._last_sent.popitem(last=False)
        return row

    # --- the loop --------------------------------------------------------------------------

    def _mono(self, at: datetime) -> float:
        return self._clock.monotonic() + (at - self._clock.now()).total_seconds()

    async def _run(self) -> None:
        while True:
            try:
                await self._turn()
            except asyncio.CancelledError:
                raise
            except Exception:  # a store fault: rows stay pending/due on disk; try again soon
                log.exception("scheduler_turn_failed")
                await self._clock.sleep(RETRY_AFTER)
                with contextlib.suppress(Exception):
                    await self._decide(await self._store.scheduled.due())

    async def _turn(self) -> None:
        """One wait and what follows it: fire what is due, load what comes near."""
        now = self._clock.monotonic()
        deadline = self._wheel.next_deadline()
        wake_at = self._refill_at if deadline is None else min(deadline, self._refill_at)
        if wake_at > now + SLACK and not self._woken.is_set():
            await self._wait(wake_at - now)
        self._woken.clear()
        if self._retry_due:
            self._retry_due = False
            await self._clock.sleep(RETRY_AFTER)
            await self._decide(await self._store.scheduled.due())
        if self._new_rows:
            self._new_rows = False
            await self._refill(full=False)
        now = self._clock.monotonic()
        if deadline is not None and deadline <= now + SLACK:
            now = max(now, deadline)  # dues are datetimes turned into floats: no spin
        fired = self._wheel.advance(now)
        fired_at = self._clock.now()
        ids = [key for key, _due in fired]
        for start in range(0, len(ids), BATCH):
            await self._slots.acquire()
            task = asyncio.create_task(self._fire(ids[start:start + BATCH], fired_at))
            self._firing.add(task)
            task.add_done_callback(self._fired_done)
        if self._clock.monotonic() >= self._refill_at:
            await self._refill(full=True)
        self._observe_pending()

    def _observe_pending(self) -> None:
        if self._observer is not None:
            self._observer.pending(len(self._wheel))

    async def wait_idle(self, *, limit: float = 10.0) -> None:
        """Until the loop sleeps towards a deadline still ahead with nothing to do (tests,
        benchmarks: after moving a fake clock). `limit`: real seconds at most."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        while loop.time() < end:
            if self._task is not None and self._task.done():
                return
            until = self._sleeping_until
            if not self._firing and until is not None and self._clock.monotonic() < until \
                    and not self._woken.is_set():
                return
            await asyncio.sleep(0.001)

    async def _wait(self, seconds: float) -> None:
        self._sleeping_until = self._clock.monotonic() + seconds
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waker = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._sleeping_until = None
            for task in (sleeper, waker):
                task.cancel()

    async def _refill(self, *, full: bool) -> None:
        now = self._clock.now()
        if full:
            self._loaded_until = now + timedelta(seconds=self._settings.lookahead)
            self._refill_at = self._clock.monotonic() + self._settings.lookahead / 2
        after = 0 if full else self._max_id
        rows = await self._store.scheduled.pending_before(self._loaded_until, after_id=after)
        for row in rows:
            self._max_id = max(self._max_id, row.id)
            if row.id not in self._wheel:
                self._wheel.add(row.id, self._mono(row.scheduled_at))

    async def _fire(self, ids: list[int], fired_at: datetime) -> None:
        claimed = await self._store.scheduled.claim(ids, fired_at)
        await self._decide(claimed, fired_at)

    def _fired_done(self, task: asyncio.Task[None]) -> None:
        self._firing.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            # A store fault: the rows stay due; the next turn's retry decides them again.
            log.error("scheduler_fire_failed", error=repr(task.exception()))
            self._retry_due = True
            self._woken.set()

    async def _decide(self, rows: Sequence[ScheduledMessage],
                      fired_at: datetime | None = None) -> None:
        """Decide due rows (firing.py) and commit them with their outbox rows; send."""
        if not rows:
            return
        hotels = self._hotels()
        context = await self._store.scheduled.fire_context(
            {(row.hotel_id, row.guest_id) for row in rows}, windows_needed(hotels, rows))
        fired, updates = decide_rows(hotels, rows, context, self._clock.now())
        try:
            sent = await self._store.scheduled.complete(fired, self._clock.now())
        finally:  # (no await before the pop: no lookup sees the old row after the commit)
            self._completed += 1  # a lookup reading meanwhile must not keep what it read
            for row in rows:
                self._last_sent.pop((row.phone_number_id, row.guest_id), None)
        for update in updates:
            self._guests.update(update.hotel_id, update.guest_id, update.data, update.language)
        self._count(fired, rows, fired_at, self._clock.now())
        if sent:
            self._sender.submit(tuple(sent))

    def _count(self, fired: Sequence[Fired], rows: Sequence[ScheduledMessage],
               fired_at: datetime | None, now: datetime) -> None:
        due_of = {row.id: row.scheduled_at for row in rows}
        for f in fired:
            if f.status in self._counts:
                self._counts[f.status] += 1
            self._lateness.append(max(0.0, (now - due_of[f.id]).total_seconds()))
            if fired_at is not None:  # not the rows a crash left due (decided at start)
                self._fire_lateness.append(max(0.0, (fired_at - due_of[f.id]).total_seconds()))
            if self._observer is not None:  # when the wheel fired it (else: decided now)
                self._observer.fired(max(0.0, ((fired_at or now) - due_of[f.id])
                                         .total_seconds()))
        log.info("scheduled_fired", rows=len(fired),
                 sent=sum(1 for f in fired if f.outbound is not None))


def _reply(row: ScheduledMessage, *, quoted: bool, recent: bool) -> ScheduledReply:
    assert row.done_at is not None
    return ScheduledReply(reply_flow=row.reply_flow, sent_at=row.done_at, quoted=quoted,
                          recent=recent)


@contextlib.asynccontextmanager
async def open_scheduler(store: Store, sender: Sender, clock: Clock,
                         hotels: Callable[[], Hotels], guests: Guests,
                         settings: SchedulerSettings | None = None,
                         observer: SchedulerObserver | None = None
                         ) -> AsyncIterator[SchedulerActor]:
    """Start the scheduler (rows left due are decided, the window loaded); stop it on exit."""
    actor = SchedulerActor(store, sender, clock, hotels, guests, settings, observer)
    await actor.start()
    try:
        yield actor
    finally:
        await actor.close()

