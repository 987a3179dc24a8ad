"""The outbound pacer: every message hotelbot sends goes out here, one task per sending number.

Owns: pulling committed outbox rows from SQLite (a bounded batch at a time, by priority then
id), deciding when each may go (pacing.py's rules: the number's rate over any one-second
window, the pair rate per recipient, backoff on 130429 / 131056 / other retryable errors),
deciding how it may go (window.py: free-form inside the 24-hour window, its template outside,
or skipped), marking rows `sending` before the POST and `sent` / `failed` / `skipped` after,
and the recovery of rows a crash caught in `sending`.

Must never: send a row that is not committed (rows come from the store, `submit` only wakes
the number's task); hold more than one batch of payloads per number in memory (a broadcast of
10 000 rows is pulled 100 at a time); let a guest's later message overtake an earlier one of
the same priority (one row in flight per recipient; a row waiting for a retry holds the rows
behind it); retry forever (bounded attempts, then `failed` with the reason); resend a row that
was `sending` when the process died before `sending_grace` passed without a status naming it
(its `biz_opaque_callback_data` is "outbox:<id>", which Meta echoes in every status).

    submit(rows) ──wake──▶ lane(number): pull batch ──▶ pick ready rows (priority, pacing)
        ──▶ mark_sending (one write) ──▶ POST (concurrently, one per recipient)
        ──▶ sent (marks batched) | retry: reschedule + hold the recipient | failed | skipped
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from hotelbot.clock import Clock
from hotelbot.errors import GraphAPIError, RateLimited
from hotelbot.outbound.pacing import WINDOW, NumberPacer, PacingPolicy
from hotelbot.outbound.window import OUTSIDE_WINDOW, Route, route, route_after_131047
from hotelbot.store import OutboundMessage, outbox_callback
from hotelbot.whatsapp import PAIR_RATE_LIMIT, REENGAGEMENT_REQUIRED, THROUGHPUT_LIMIT

log = structlog.get_logger(__name__)

MAX_RECEIPTS = 10_000  # read receipts waiting per number (best effort: past it, dropped)
MAX_WINDOWS_CACHED = 100_000  # (number, guest) last-message times kept in memory
INTERNAL_FAILURE = -1  # error_code of a row that failed inside hotelbot, before Meta saw it


class Transport(Protocol):
    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        """Send one message; returns its wamid. Raises GraphAPIError."""
        ...

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        """Mark a guest's message read (blue ticks). Raises GraphAPIError."""
        ...


class PacerOutbox(Protocol):
    """The outbox repository (store.outbox), as far as the pacer reads and writes it."""

    async def numbers_with_pending(self) -> list[str]: ...

    async def next_batch(
        self, phone_number_id: str, *, now: datetime, limit: int,
        exclude_ids: Collection[int] = (), exclude_guests: Collection[str] = (),
    ) -> list[OutboundMessage]: ...

    async def earliest_due(self, phone_number_id: str, *, after: datetime) -> datetime | None:
        ...

    async def mark_sending(self, ids: Sequence[int], at: datetime) -> None: ...

    async def mark_sent_many(self, sent: Sequence[tuple[int, str, datetime]]) -> None: ...

    async def mark_failed(
        self, id: int, code: int, detail: str, at: datetime, *, title: str = ""
    ) -> None: ...

    async def reschedule(self, id: int, not_before: datetime, attempts: int, code: int) -> None:
        ...

    async def skip(self, id: int, reason: str, at: datetime) -> None: ...

    async def resend_as_template(self, id: int) -> str | None: ...

    async def sending(self) -> list[OutboundMessage]: ...

    async def release_sending(self, before: datetime) -> list[int]: ...


class Windows(Protocol):
    """When each guest last wrote to a number (store.windows)."""

    async def last_inbound_many(
        self, phone_number_id: str, guest_ids: Collection[str]
    ) -> dict[str, datetime]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PacerSettings:
    batch: int = 100  # rows pulled from the store at a time, per number
    max_in_flight: int = 64  # concurrent POSTs per number (Graph round trips are 100-300 ms)
    sending_grace: float = 120.0  # seconds a row caught in `sending` waits for a status
    recovery_every: float = 30.0  # seconds between checks of rows caught in `sending`
    idle_poll: float = 1.0  # seconds between pulls while rows wait for a retry time


@dataclass(frozen=True, slots=True, kw_only=True)
class PacerStatistics:
    sent: int
    failed: int
    skipped: int
    retried: int
    templates: int  # sent as their template (outside the window)
    marked_read: int
    in_flight: int
    buffered: int
    numbers: int


@dataclass(slots=True)
class _Counts:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    templates: int = 0
    marked_read: int = 0


class Pacer:
    """The pacer of every sending number. Create it with `open_pacer`."""

    def __init__(
        self,
        transport: Transport,
        outbox: PacerOutbox,
        windows: Windows,
        clock: Clock,
        *,
        policy_of: Callable[[str], PacingPolicy] = lambda number: PacingPolicy(),
        settings: PacerSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._transport = transport
        self._outbox = outbox
        self._windows = windows
        self._clock = clock
        self._policy_of = policy_of
        self._settings = settings or PacerSettings()
        self._rng = rng or random.Random()
        self._lanes: dict[str, _Lane] = {}
        self._counts = _Counts()
        self._closed = False
        self._marks: list[tuple[int, str, datetime]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._recovering = asyncio.Event()  # set while the recovery task sleeps
        # When each guest last wrote to each number (the window), as far as this process saw:
        # every guest message passes through the inbox, which tells the pacer (saw_inbound);
        # what it has not seen since the start is read from the store once.
        self._last_inbound: OrderedDict[tuple[str, str], datetime] = OrderedDict()

    # --- the producers' side ----------------------------------------------------------------

    def mark_read(self, phone_number_id: str, wamid: str) -> None:
        """Mark a handled guest message read (blue ticks), before the replies that follow it.
        Best effort: not durable, one attempt; it counts against the number's rate."""
        if not self._closed:
            self._lane(phone_number_id).read_receipt(wamid)

    def saw_inbound(self, phone_number_id: str, guest_id: str, sent_at: datetime) -> None:
        """A guest wrote to a number at `sent_at` (Meta's time): their window (re)opened."""
        key = (phone_number_id, guest_id)
        known = self._last_inbound.get(key)
        if known is None or sent_at > known:
            self._last_inbound[key] = sent_at
        self._last_inbound.move_to_end(key)
        while len(self._last_inbound) > MAX_WINDOWS_CACHED:
            self._last_inbound.popitem(last=False)

    async def _windows_of(self, number: str, guests: set[str]) -> dict[str, datetime]:
        """When each guest last wrote to `number`: from what the inbox told, else the store."""
        found = {g: at for g in guests if (at := self._last_inbound.get((number, g)))}
        missing = guests - set(found)
        if missing:
            stored = await self._windows.last_inbound_many(number, missing)
            for guest, at in stored.items():
                self.saw_inbound(number, guest, at)
            found.update(stored)
        return found

    async def reengage(self, failed: Sequence[tuple[int, int]]) -> None:
        """Rows a `failed` status just failed, with Meta's code: a 131047 (the window closed,
        as Meta saw it) is sent again as the row's template, or skipped when it has none."""
        for row_id, code in failed:
            if code != REENGAGEMENT_REQUIRED:
                continue
            number = await self._outbox.resend_as_template(row_id)
            if number is not None:
                log.info("send_as_template_after_131047", outbound=row_id)
                self._lane(number).arrived(0)
            else:
                self._counts.skipped += 1
                await self._outbox.skip(row_id, OUTSIDE_WINDOW, self._clock.now())
                log.info("send_skipped", outbound=row_id, reason=OUTSIDE_WINDOW, code=code)

    def submit(self, rows: Iterable[OutboundMessage]) -> None:
        """Committed rows are waiting in the outbox: wake their numbers' tasks (never blocks)."""
        if self._closed:
            return  # still pending in the store: sent at the next start
        for row in rows:
            self._lane(row.phone_number_id).arrived(int(row.priority))

    async def wait_idle(self) -> None:
        """Until no row is in flight or ready to go now (rows waiting for a retry time or
        for their pacing may remain), and every "sent" mark is written."""
        while True:
            if self._recovery is not None and not self._recovery.done():
                await self._recovering.wait()
            lanes = list(self._lanes.values())
            for lane in lanes:
                await lane.wait_idle()
            if self._flusher is not None:
                await asyncio.gather(self._flusher, return_exceptions=True)
            recovery_idle = self._recovery is None or self._recovery.done() or (
                self._recovering.is_set())
            if (all(lane.idle for lane in self._lanes.values()) and self._flusher is None
                    and recovery_idle):
                return

    def statistics(self) -> PacerStatistics:
        c = self._counts
        return PacerStatistics(
            sent=c.sent, failed=c.failed, skipped=c.skipped, retried=c.retried,
            templates=c.templates, marked_read=c.marked_read,
            in_flight=sum(len(x.in_flight) for x in self._lanes.values()),
            buffered=sum(len(x.buffer) for x in self._lanes.values()), numbers=len(self._lanes),
        )

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Recovery, then wake the number of every pending row."""
        caught = await self._outbox.sending()
        if caught:
            log.warning("sends_unconfirmed_at_start", rows=len(caught),
                        grace_seconds=self._settings.sending_grace)
        self._recovery = asyncio.create_task(self._recover_forever(), name="pacer-recovery")
        for number in await self._outbox.numbers_with_pending():
            self._lane(number).wake()

    async def close(self, grace: float = 5.0) -> None:
        """Stop pulling; give in-flight sends `grace` seconds; what is left stays in the store."""
        self._closed = True
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        await asyncio.gather(*(lane.close(grace) for lane in self._lanes.values()))
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    def _lane(self, number: str) -> _Lane:
        lane = self._lanes.get(number)
        if lane is None:
            lane = self._lanes[number] = _Lane(self, number, NumberPacer(self._policy_of(number)))
            lane.start()
        return lane

    async def _recover_forever(self) -> None:
        """Rows caught in `sending` by a crash: sent again only when no status named them
        within `sending_grace` (a `sent` status marks them sent; see store reconciliation)."""
        while True:
            self._recovering.clear()
            try:
                cutoff = self._clock.now() - timedelta(seconds=self._settings.sending_grace)
                released = await self._outbox.release_sending(cutoff)
                if released:
                    log.warning("unconfirmed_sends_released", rows=len(released))
                    for number in await self._outbox.numbers_with_pending():
                        self._lane(number).wake()
            except Exception:
                log.exception("pacer_recovery_failed")
            self._recovering.set()
            await self._clock.sleep(self._settings.recovery_every)

    # --- results (called by the lanes) ----------------------------------------------------

    def _mark_sent(self, row_id: int, wamid: str) -> None:
        self._counts.sent += 1
        self._marks.append((row_id, wamid, self._clock.now()))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_marks(), name="pacer-marks")

    async def _flush_marks(self) -> None:
        try:
            while self._marks:
                batch, self._marks = self._marks, []
                try:
                    await self._outbox.mark_sent_many(batch)
                except Exception:
                    # Still `sending` on disk: resolved by a status, or sent again after the grace.
                    log.exception("send_marks_failed", rows=len(batch))
        finally:
            self._flusher = None


@dataclass(eq=False)
class _Lane:
    """One sending number: its pacing state, a bounded buffer of pulled rows, the in-flight."""

    pacer: Pacer
    number: str
    rules: NumberPacer
    buffer: list[OutboundMessage] = field(default_factory=list)
    in_flight: dict[int, str] = field(default_factory=dict)  # row id -> recipient
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _sends: set[asyncio.Task[None]] = field(default_factory=set)
    _closing: bool = False
    _urgent: int | None = None  # the best priority committed since the last pull
    _receipts: list[str] = field(default_factory=list)  # wamids to mark read, oldest first
    _due_at: float | None = None  # monotonic time a row waiting in the store for a retry is due
    _posts: deque[float] = field(default_factory=deque)  # when each POST of the last second left

    @property
    def idle(self) -> bool:
        """Nothing in flight and nothing that may go now (what is left waits for time)."""
        return self._idle.is_set() and not self._sends

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"pacer-{self.number[-4:]}")
        self._task.add_done_callback(self._ended)

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def read_receipt(self, wamid: str) -> None:
        if len(self._receipts) < MAX_RECEIPTS:  # past it, blue ticks are dropped, not queued
            self._receipts.append(wamid)
        self.wake()

    def arrived(self, priority: int) -> None:
        """A row of `priority` was committed for this number: pull it soon, before the buffered
        rows of a lower priority (a reply never waits behind a broadcast)."""
        self._urgent = priority if self._urgent is None else min(self._urgent, priority)
        self.wake()

    async def wait_idle(self) -> None:
        while not self.idle:
            await self._idle.wait()
            if self._sends:
                await asyncio.gather(*list(self._sends), return_exceptions=True)
                await asyncio.sleep(0)  # let the loop see what they changed

    async def close(self, grace: float) -> None:
        """Stop after the current round: rows already marked `sending` still get their POST
        (cancelling the round between the mark and the POST would leave them to the grace)."""
        self._closing = True
        self.wake()
        if self._task is not None:
            done, _ = await asyncio.wait([self._task], timeout=grace)
            if not done:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sends:
            await asyncio.wait(list(self._sends), timeout=grace)
        for task in list(self._sends):
            task.cancel()
        await asyncio.gather(*list(self._sends), return_exceptions=True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("pacer_lane_died", number=self.number, error=repr(task.exception()))

    # --- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        clock = self.pacer._clock
        while not self._closing:
            self._wake.clear()
            try:
                self._send_receipts()
                picked = await self._pick()
                if picked:
                    await self._launch(picked)
                    continue
            except Exception:
                log.exception("pacer_lane_failed", number=self.number)
            if not self.buffer and not self.in_flight:
                await self._find_due()
            if self._wake.is_set():
                continue  # woken while looking: look again before waiting
            if not self._sends:
                self._idle.set()  # nothing can go now: what is left waits for time or a wake
            await self._wait(self._next_delay(), clock)
            self._idle.clear()  # awake: busy until it finds nothing to do again

    async def _pick(self) -> list[tuple[OutboundMessage, Route]]:
        """The rows that may go now, in priority order, at most one per recipient."""
        capacity = self.pacer._settings.max_in_flight - len(self.in_flight)
        if capacity <= 0:
            return []
        now_m, now = self.pacer._clock.monotonic(), self.pacer._clock.now()
        if self._must_pull(now_m):
            await self._pull(now)
            now_m, now = self.pacer._clock.monotonic(), self.pacer._clock.now()  # after the read
        chosen: list[OutboundMessage] = []
        taken: set[str] = set(self.in_flight.values())
        for row in self.buffer:
            if len(chosen) >= capacity:
                break
            ready = row.guest_id not in taken and self.rules.ready_at(row.guest_id, now_m) <= now_m
            taken.add(row.guest_id)  # a guest's later rows wait behind this one
            if ready:
                chosen.append(row)
                self.rules.sent(row.guest_id, now_m)  # counted at once: the POST starts now
        if not chosen:
            return []
        chosen_ids = {r.id for r in chosen}
        self.buffer = [r for r in self.buffer if r.id not in chosen_ids]
        windows = await self.pacer._windows_of(self.number, {r.guest_id for r in chosen})
        picked: list[tuple[OutboundMessage, Route]] = []
        for row in chosen:
            how = Route.FREE_FORM if _is_template(row.body) else route(
                last_inbound_at=windows.get(row.guest_id), now=now,
                has_template=row.template is not None)
            if how is Route.SKIP:  # (its slot of the number's rate stays used: never above)
                await self._skip(row, OUTSIDE_WINDOW)
                continue
            picked.append((row, how))
        return picked

    def _send_receipts(self) -> None:
        """Read receipts first: blue ticks, then the reply. Within the number's rate."""
        now_m = self.pacer._clock.monotonic()
        while self._receipts and self.rules.number_ready_at(now_m) <= now_m:
            wamid = self._receipts.pop(0)
            self.rules.used(now_m)
            self._track(asyncio.create_task(self._receipt(wamid), name="pacer-read"))

    async def _post_slot(self) -> None:
        """The hard cap where it counts, when the POST leaves: the pace is decided before the
        store's writes that precede a POST, whose delays vary; never more than the number's
        rate of POSTs in any one second, whatever those delays were."""
        clock, limit = self.pacer._clock, self.rules.policy.per_second
        while True:
            now = clock.monotonic()
            while self._posts and self._posts[0] <= now - 1.0:
                self._posts.popleft()
            if len(self._posts) < limit:
                self._posts.append(now)
                return
            await clock.sleep(self._posts[0] + WINDOW - now)

    async def _receipt(self, wamid: str) -> None:
        try:
            await self._post_slot()
            await self.pacer._transport.mark_read(self.number, wamid)
            self.pacer._counts.marked_read += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # blue ticks are best effort: never a retry, never a crash
            log.debug("mark_read_failed", number=self.number, error=type(exc).__name__)

    def _must_pull(self, now_m: float) -> bool:
        urgent, self._urgent = self._urgent, None
        if self._due_at is not None and self._due_at <= now_m:
            self._due_at = None
            return True
        if urgent is not None and (not self.buffer or urgent < max(
                int(r.priority) for r in self.buffer)):
            return True
        return not self._any_ready(now_m)

    async def _pull(self, now: datetime) -> None:
        """Refill the buffer from the store with the head row (best priority, then oldest) of
        guests not in it yet: one row per guest, so one guest's thousand rows never crowd out
        the others, and at most `batch` rows in all (the rest stays pending in the store)."""
        now_m = self.pacer._clock.monotonic()
        present = {r.guest_id for r in self.buffer} | set(self.in_flight.values())
        exclude = {r.id for r in self.buffer} | set(self.in_flight)
        batch = self.pacer._settings.batch
        fresh = await self.pacer._outbox.next_batch(
            self.number, now=now, limit=batch, exclude_ids=exclude,
            exclude_guests=present | self._held(now_m))
        heads: list[OutboundMessage] = []
        for row in fresh:
            if row.guest_id not in present:
                present.add(row.guest_id)
                heads.append(row)
        merged = sorted([*self.buffer, *heads], key=lambda r: (int(r.priority), r.id))
        self.buffer = merged[:batch]

    def _any_ready(self, now_m: float) -> bool:
        busy = set(self.in_flight.values())
        return any(r.guest_id not in busy and self.rules.ready_at(r.guest_id, now_m) <= now_m
                   for r in self.buffer)

    def _held(self, now_m: float) -> set[str]:
        return {r.guest_id for r in self.buffer if self.rules.ready_at(r.guest_id, now_m) > now_m}

    async def _find_due(self) -> None:
        """When the next row waiting in the store for a retry comes due (a timer for it)."""
        clock = self.pacer._clock
        try:
            due = await self.pacer._outbox.earliest_due(self.number, after=clock.now())
        except Exception:
            log.exception("pacer_due_lookup_failed", number=self.number)
            due = clock.now() + timedelta(seconds=self.pacer._settings.idle_poll)
        self._due_at = None if due is None else (
            clock.monotonic() + max((due - clock.now()).total_seconds(), 0.0))

    def _next_delay(self) -> float | None:
        """Seconds until a buffered row may go, a stored row comes due, or a receipt may go."""
        now_m = self.pacer._clock.monotonic()
        if len(self.in_flight) >= self.pacer._settings.max_in_flight:
            return None  # a completion wakes the lane
        busy = set(self.in_flight.values())  # their next rows wait for a completion (a wake)
        waits = [self.rules.ready_at(r.guest_id, now_m) - now_m
                 for r in self.buffer if r.guest_id not in busy]
        if self._due_at is not None:
            waits.append(self._due_at - now_m)
        if self._receipts:
            waits.append(self.rules.number_ready_at(now_m) - now_m)
        if waits:
            return max(min(waits), 0.0)
        return None

    async def _wait(self, delay: float | None, clock: Clock) -> None:
        if delay is not None and delay <= 0:
            await asyncio.sleep(0)
            return
        waiter = asyncio.ensure_future(self._wake.wait())
        sleeper = None if delay is None else asyncio.ensure_future(clock.sleep(delay))
        try:
            await asyncio.wait([t for t in (waiter, sleeper) if t is not None],
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                if task is not None and not task.done():
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task

    async def _launch(self, picked: list[tuple[OutboundMessage, Route]]) -> None:
        await self.pacer._outbox.mark_sending([r.id for r, _ in picked], self.pacer._clock.now())
        for row, how in picked:
            self.in_flight[row.id] = row.guest_id
            self._track(asyncio.create_task(self._send(row, how), name="pacer-send"))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._sends.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        self.wake()

    # --- one send -------------------------------------------------------------------------------

    async def _send(self, row: OutboundMessage, how: Route) -> None:
        pacer = self.pacer
        try:
            body = _body(row, how)
            await self._post_slot()
            wamid = await pacer._transport.send(row.phone_number_id, row.guest_id, body)
        except GraphAPIError as exc:
            await self._failed_send(row, how, exc)
        except asyncio.CancelledError:
            raise  # closing: the row stays `sending`; the next start resolves it
        except Exception as exc:
            await self._fail(row, INTERNAL_FAILURE, f"hotelbot: {type(exc).__name__}: {exc}")
            log.error("send_failed_internal", outbound=row.id, error=type(exc).__name__,
                      exc_info=exc)
        else:
            if how is Route.TEMPLATE:
                pacer._counts.templates += 1
            pacer._mark_sent(row.id, wamid)
            log.info("message_sent", outbound=row.id, guest=row.guest_id, as_template=(
                how is Route.TEMPLATE), attempts=row.attempts + 1)
        finally:
            self.in_flight.pop(row.id, None)

    async def _failed_send(self, row: OutboundMessage, how: Route, exc: GraphAPIError) -> None:
        pacer, now_m = self.pacer, self.pacer._clock.monotonic()
        attempts = row.attempts + 1
        jitter = pacer._rng.random()
        if exc.code == REENGAGEMENT_REQUIRED:
            again = route_after_131047(has_template=row.template is not None,
                                       sent_as_template=how is Route.TEMPLATE)
            if again is Route.TEMPLATE:  # Meta says the window is closed: its template, now
                self.buffer.insert(0, _as_template(row))
                return
            await self._skip(row, OUTSIDE_WINDOW)
            return
        if not exc.retryable or attempts >= self.rules.policy.max_attempts:
            await self._fail(row, exc.code, exc.details, exc.title)
            return
        if exc.code == PAIR_RATE_LIMIT:
            delay = self.rules.pair_limited(row.guest_id, now_m, jitter)
        elif exc.code == THROUGHPUT_LIMIT or (isinstance(exc, RateLimited) and exc.code == 0):
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else 0.0
            delay = self.rules.number_limited(now_m, retry_after, jitter)
        else:
            at_least = exc.retry_after if isinstance(exc, RateLimited) else 0.0
            wait = self.rules.retry_delay(attempts, jitter, at_least)
            if wait is None:
                await self._fail(row, exc.code, exc.details, exc.title)
                return
            delay = wait
        self.rules.hold(row.guest_id, now_m + delay, now_m)  # the rows behind it wait too
        self.buffer = [r for r in self.buffer if r.guest_id != row.guest_id]  # re-pulled in order
        pacer._counts.retried += 1
        log.info("send_retry", outbound=row.id, code=exc.code, attempt=attempts,
                 delay=round(delay, 3))
        not_before = pacer._clock.now() + timedelta(seconds=delay)
        await pacer._outbox.reschedule(row.id, not_before, attempts, exc.code)
        due = now_m + delay
        self._due_at = due if self._due_at is None else min(self._due_at, due)

    async def _fail(self, row: OutboundMessage, code: int, detail: str, title: str = "") -> None:
        self.pacer._counts.failed += 1
        log.warning("send_failed", outbound=row.id, guest=row.guest_id, code=code, title=title)
        try:
            await self.pacer._outbox.mark_failed(row.id, code, detail[:500],
                                                 self.pacer._clock.now(), title=title)
        except Exception:
            log.exception("send_fail_mark_failed", outbound=row.id)

    async def _skip(self, row: OutboundMessage, reason: str) -> None:
        self.pacer._counts.skipped += 1
        log.info("send_skipped", outbound=row.id, guest=row.guest_id, reason=reason)
        await self.pacer._outbox.skip(row.id, reason, self.pacer._clock.now())


def _body(row: OutboundMessage, how: Route) -> dict[str, object]:
    """What goes to the Graph API: the row's body (or its template), with its callback id."""
    if how is Route.TEMPLATE and row.template is not None:
        body: dict[str, object] = {"type": "template", "template": dict(row.template)}
    else:
        body = dict(row.body)
    body["biz_opaque_callback_data"] = outbox_callback(row.id)
    return body


def _as_template(row: OutboundMessage) -> OutboundMessage:
    """The row to send again as its template (after Meta's 131047)."""
    template = dict(row.template or {})
    return replace(row, body={"type": "template", "template": template}, template=None)


def _is_template(body: Mapping[str, object]) -> bool:
    """A template message may go out inside and outside the window."""
    return body.get("type") == "template"


@asynccontextmanager
async def open_pacer(
    transport: Transport,
    outbox: PacerOutbox,
    windows: Windows,
    clock: Clock,
    *,
    policy_of: Callable[[str], PacingPolicy] = lambda number: PacingPolicy(),
    settings: PacerSettings | None = None,
    grace: float = 5.0,
) -> AsyncIterator[Pacer]:
    """The pacer, started with the recovery of a previous run (pending rows woken, rows
    caught in `sending` left for their statuses); closed on exit."""
    pacer = Pacer(transport, outbox, windows, clock, policy_of=policy_of, settings=settings)
    await pacer.start()
    try:
        yield pacer
    finally:
        await pacer.close(grace)
