"""One sending number's task: the pacer's lane (pacer.py says which rules it keeps).

Owns: the number's pacing state (pacing.NumberPacer), a bounded buffer of rows (one head row
per guest, by priority then id), the rows in flight, read receipts waiting, what may wait in
the store, and the loop that picks what may go now, marks it `sending`, POSTs it and records
the outcome. Must never: hold more than one batch of rows, POST two rows of one guest at once,
let a guest's later row overtake one of theirs still in the store, exceed the number's rate of
POSTs in any one second, POST a row its `mark_sending` did not move (someone else has it), or
leave a row marked `sending` without its POST (a closing lane ends its round).
Shares the Pacer's store, transport, clock and counters (`lane.pacer`).

Where the buffer's rows come from: a committed row handed over by `offer` goes straight in when
it fits (room, and nothing of its guest here or in the store); otherwise it stays pending in
the store, and the lane remembers that something waits there: `_behind` (guests with rows in
the store behind theirs here, or waiting for a retry time), `_backlog` (rows it knows nothing
precise of: the start, a recovery, a full buffer, a 131047 resent as its template). It pulls
from the store only then: when a guest of `_behind` has nothing here any more (`_freed`), a row
comes due (`_due_at`), or the backlog has nothing ready here; a pull that got everything due
lists who still has rows in the store (the new `_behind`) and clears the backlog.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from hotelbot.clock import Clock
from hotelbot.errors import GraphAPIError, RateLimited
from hotelbot.log import debug_enabled
from hotelbot.outbound.pacing import WINDOW, NumberPacer
from hotelbot.outbound.window import OUTSIDE_WINDOW, Route, route, route_after_131047
from hotelbot.store import OutboundMessage, outbox_callback
from hotelbot.whatsapp import PAIR_RATE_LIMIT, REENGAGEMENT_REQUIRED, THROUGHPUT_LIMIT

if TYPE_CHECKING:
    from hotelbot.outbound.pacer import Pacer

log = structlog.get_logger(__name__)

MAX_RECEIPTS = 10_000  # read receipts waiting per number (best effort: past it, dropped)
INTERNAL_FAILURE = -1  # error_code of a row that failed inside hotelbot, before Meta saw it


@dataclass(eq=False)
class NumberLane:
    """One sending number: its pacing state, a bounded buffer of pulled rows, the in-flight."""

    pacer: Pacer
    number: str
    rules: NumberPacer
    buffer: list[OutboundMessage] = field(default_factory=list)  # by priority, then id
    in_flight: dict[int, str] = field(default_factory=dict)  # row id -> recipient
    _flying: set[str] = field(default_factory=set)  # the recipients of in_flight, and _reserved
    _reserved: set[str] = field(default_factory=set)  # guests whose next POST is reserved
    _backlog: bool = False  # the store may hold rows of this number nothing here accounts for
    _suspicions: int = 0  # how often the backlog was raised (a pull keeps a raise it missed)
    _behind: set[str] = field(default_factory=set)  # guests with pending rows in the store
    _behind_since_pull: set[str] | None = None  # added to _behind while a pull reads
    _freed: bool = False  # a guest of _behind has no row here any more: pull their next one
    _check_due: bool = False  # look up when the store's rows waiting for a retry come due
    _resending: set[int] = field(default_factory=set)  # already `sending`: 131047 templates
    _parked: bool = False  # waiting for a wake or its timer, having found nothing to do
    _stir: bool = False  # a send ended otherwise than accepted: the lane looks again
    _picking: set[str] = field(default_factory=set)  # guests of the round being launched
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

    def stored(self, priority: int | None = None) -> None:
        """Rows of this number wait in the store that nobody handed over (the start, a
        recovery, a row resent as its template): pull them, before the buffered rows of a
        lower `priority` when one is given (a reply never waits behind a broadcast)."""
        self._suspect()
        self._check_due = True
        if priority is not None:
            self._urgent = priority if self._urgent is None else min(self._urgent, priority)
        self.wake()

    def offer(self, row: OutboundMessage) -> None:
        """A committed row: into the buffer when it fits, else it stays pending in the store
        and a later pull finds it. Never blocks, never reads the store."""
        if self._closing:
            return  # pending in the store: sent at the next start
        guest = row.guest_id
        if row.id in self.in_flight:
            return  # a pull found it first
        if self._backlog or guest in self._behind or row.not_before is not None:
            # Older rows may wait in the store (of this guest, or of a better priority).
            if row.not_before is not None:
                self._suspect()
                self._check_due = True
            priority = int(row.priority)
            self._urgent = priority if self._urgent is None else min(self._urgent, priority)
            self.wake()
            return
        if guest in self._flying or guest in self._picking:
            self._wait_behind(guest)  # pulled when their row in flight is done
            return
        for held in self.buffer:
            if held.id == row.id:
                return  # a pull found it first
            if held.guest_id == guest:
                self._wait_behind(guest)
                return
        buffer = self.buffer
        if len(buffer) >= self.pacer._settings.batch:
            worst = buffer[-1]
            self._suspect()  # one of them waits in the store: pulled when there is room
            if (row.priority, row.id) >= (worst.priority, worst.id) or (
                    worst.id in self._resending):  # (already `sending`: it stays here)
                return
            buffer.pop()  # still pending in the store
        bisect.insort(buffer, row, key=_order)
        self.wake()

    def reserve(self, guest: str) -> bool:
        """Reserve the POST of a reply to `guest` that a step is about to commit, when it may
        go the moment it is committed: nothing of the guest here, in flight or in the store,
        room in flight, the guest's pacing ready, their 24-hour window known open. The step
        then commits the row already `sending` (no write of its own before the POST) and
        hands it to `launch_reserved`, or gives the reservation back (`release`)."""
        if (self._closing or self._backlog or guest in self._flying or guest in self._picking
                or guest in self._behind):
            return False
        pacer = self.pacer
        if len(self.in_flight) + len(self._reserved) >= pacer._settings.max_in_flight:
            return False
        for held in self.buffer:  # (a plain loop: a generator's any() costs more per call)
            if held.guest_id == guest:
                return False
        clock = pacer._clock
        now_m = clock.monotonic()
        if self.rules.ready_at(guest, now_m) > now_m:
            return False
        last_inbound_at = pacer._window_known(self.number, guest)
        if last_inbound_at is None or route(last_inbound_at=last_inbound_at, now=clock.now(),
                                            has_template=False) is not Route.FREE_FORM:
            return False
        self.rules.sent(guest, now_m)  # counted at once, as a pick does
        self._reserved.add(guest)
        self._flying.add(guest)
        return True

    def release(self, guest: str) -> None:
        """A reservation the step did not use (its commit failed, or wrote nothing)."""
        if guest in self._reserved:
            self._reserved.discard(guest)
            self._flying.discard(guest)
            self._left(guest)
            self.wake()

    def launch_reserved(self, row: OutboundMessage) -> None:
        """POST a row its step committed `sending` under this lane's reservation."""
        guest = row.guest_id
        self._reserved.discard(guest)
        self._flying.add(guest)
        self.in_flight[row.id] = guest
        loop = self.pacer._loop or asyncio.get_running_loop()
        self._track(loop.create_task(self._send(row, Route.FREE_FORM), name="pacer-send"))

    def _suspect(self) -> None:
        """Rows of this number may wait in the store that nothing here accounts for."""
        self._backlog = True
        self._suspicions += 1

    def _wait_behind(self, guest: str) -> None:
        """`guest` has a pending row in the store behind what is here (or none here at all)."""
        self._behind.add(guest)
        if self._behind_since_pull is not None:
            self._behind_since_pull.add(guest)

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
                # The rows it held may be in the store only: pull them after a pause.
                self._suspect()
                retry = clock.monotonic() + self.pacer._settings.idle_poll
                self._due_at = retry if self._due_at is None else min(self._due_at, retry)
            finally:
                self._picking = set()
            if self._check_due:
                await self._find_due()
            if self._wake.is_set():
                continue  # woken while looking: look again before waiting
            if not self._sends:
                self._idle.set()  # nothing can go now: what is left waits for time or a wake
            self._parked = True
            try:
                await self._wait(self._next_delay(), clock)
            finally:
                self._parked = False
            self._idle.clear()  # awake: busy until it finds nothing to do again

    async def _pick(self) -> list[tuple[OutboundMessage, Route]]:
        """The rows that may go now, in priority order, at most one per recipient."""
        capacity = (self.pacer._settings.max_in_flight - len(self.in_flight)
                    - len(self._reserved))
        if capacity <= 0:
            return []
        now_m, now = self.pacer._clock.monotonic(), self.pacer._clock.now()
        if self._must_pull(now_m):
            await self._pull(now)
            now_m, now = self.pacer._clock.monotonic(), self.pacer._clock.now()  # after the read
        chosen: list[OutboundMessage] = []
        taken = set(self._flying)
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
        if len(chosen) == len(self.buffer):
            self.buffer = []
        else:
            chosen_ids = {r.id for r in chosen}
            self.buffer = [r for r in self.buffer if r.id not in chosen_ids]
        guests = self._picking = {r.guest_id for r in chosen}
        windows = self.pacer._windows_known(self.number, guests)
        if windows is None:  # a guest the inbox has not told of since the start
            windows = await self.pacer._windows_of(self.number, guests)
        picked: list[tuple[OutboundMessage, Route]] = []
        for row in chosen:
            how = Route.FREE_FORM if _is_template(row.body) else route(
                last_inbound_at=windows.get(row.guest_id), now=now,
                has_template=row.template is not None)
            if how is Route.SKIP:  # (its slot of the number's rate stays used: never above)
                self._left(row.guest_id)
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
        rate of POSTs in any one second, whatever those delays were. (A caller first tries
        `_free_post_slot`: a slot free now costs no coroutine.)"""
        clock = self.pacer._clock
        while (wait := self._free_post_slot()) is not None:
            await clock.sleep(wait)

    def _free_post_slot(self) -> float | None:
        """Take a slot of the number's rate now (None), or the seconds until one frees."""
        now = self.pacer._clock.monotonic()
        posts = self._posts
        while posts and posts[0] <= now - 1.0:
            posts.popleft()
        if len(posts) < self.rules.policy.per_second:
            posts.append(now)
            return None
        return posts[0] + WINDOW - now

    async def _receipt(self, wamid: str) -> None:
        try:
            if self._free_post_slot() is not None:
                await self._post_slot()
            await self.pacer._transport.mark_read(self.number, wamid)
            self.pacer._counts.marked_read += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # blue ticks are best effort: never a retry, never a crash
            log.debug("mark_read_failed", number=self.number, error=type(exc).__name__)

    def _must_pull(self, now_m: float) -> bool:
        """Whether something known or suspected to wait in the store may be pulled now."""
        urgent, self._urgent = self._urgent, None
        if self._due_at is not None and self._due_at <= now_m:
            self._due_at = None
            self._suspect()  # a row waiting for its retry time came due
            return True
        if self._freed:
            return True
        if not self._backlog:
            return False  # everything pending is here, in flight, or of a guest still busy
        if urgent is not None and (not self.buffer or urgent < max(
                int(r.priority) for r in self.buffer)):
            return True
        return not self._any_ready(now_m)

    async def _pull(self, now: datetime) -> None:
        """Refill the buffer from the store with the head row (best priority, then oldest) of
        guests not in it yet: one row per guest, so one guest's thousand rows never crowd out
        the others, and at most `batch` rows in all (the rest stays pending in the store).
        A pull that got every due row lists who still has rows in the store: `_behind`."""
        now_m = self.pacer._clock.monotonic()
        present = {r.guest_id for r in self.buffer} | self._flying
        exclude = {r.id for r in self.buffer} | set(self.in_flight)
        batch = self.pacer._settings.batch
        self._freed = False  # set again when a guest is freed while it reads
        suspicions = self._suspicions  # (the backlog stays raised while it reads)
        self._behind_since_pull = set()
        try:
            fresh, waiting = await self.pacer._outbox.pull(
                self.number, now=now, limit=batch, exclude_ids=exclude,
                exclude_guests=present | self._held(now_m))
        finally:
            added, self._behind_since_pull = self._behind_since_pull, None
        if waiting is None:
            self._suspect()  # the batch was full: more may be due
        else:
            self._behind = waiting | added
            self._backlog = self._suspicions != suspicions  # raised while it read: kept
        # Rows may have been handed over or launched while it read: one per guest, never twice.
        present = {r.guest_id for r in self.buffer} | self._flying
        here = {r.id for r in self.buffer} | set(self.in_flight)
        heads: list[OutboundMessage] = []
        for row in fresh:
            if row.id in here:
                continue
            if row.guest_id in present:
                self._behind.add(row.guest_id)  # stays in the store behind their head row
                continue
            present.add(row.guest_id)
            heads.append(row)
        merged = sorted([*self.buffer, *heads], key=_order)
        if len(merged) > batch:
            self._suspect()  # the rows cut off stay pending in the store
        self.buffer = merged[:batch]

    def _any_ready(self, now_m: float) -> bool:
        busy = self._flying
        return any(r.guest_id not in busy and self.rules.ready_at(r.guest_id, now_m) <= now_m
                   for r in self.buffer)

    def _held(self, now_m: float) -> set[str]:
        return {r.guest_id for r in self.buffer if self.rules.ready_at(r.guest_id, now_m) > now_m}

    async def _find_due(self) -> None:
        """When the next row waiting in the store for a retry comes due (a timer for it):
        asked after a start, a recovery or a row committed with a `not_before`; the lane's
        own retries set their timer themselves."""
        clock = self.pacer._clock
        self._check_due = False
        try:
            due = await self.pacer._outbox.earliest_due(self.number, after=clock.now())
        except Exception:
            log.exception("pacer_due_lookup_failed", number=self.number)
            due = clock.now() + timedelta(seconds=self.pacer._settings.idle_poll)
            self._check_due = True  # look again then
        if due is not None:
            at = clock.monotonic() + max((due - clock.now()).total_seconds(), 0.0)
            # (a retry recorded while it read keeps its own, earlier, timer)
            self._due_at = at if self._due_at is None else min(self._due_at, at)

    def _next_delay(self) -> float | None:
        """Seconds until a buffered row may go, a stored row comes due, or a receipt may go."""
        now_m = self.pacer._clock.monotonic()
        if len(self.in_flight) >= self.pacer._settings.max_in_flight:
            return None  # a completion wakes the lane
        busy = self._flying  # their next rows wait for a completion (a wake)
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
        """Until a wake, or `delay` seconds (None: no timer; a timer is one task, a wake none)."""
        if delay is not None and delay <= 0:
            await asyncio.sleep(0)
            return
        if delay is None:
            await self._wake.wait()
            return
        alarm = asyncio.create_task(self._alarm(delay, clock), name="pacer-alarm")
        try:
            await self._wake.wait()
        finally:
            if not alarm.done():
                alarm.cancel()
                with suppress(asyncio.CancelledError):
                    await alarm

    async def _alarm(self, delay: float, clock: Clock) -> None:
        await clock.sleep(delay)
        self._wake.set()  # (not wake(): time passing alone does not make the lane busy)

    async def _launch(self, picked: list[tuple[OutboundMessage, Route]]) -> None:
        pacer = self.pacer
        marks = pacer._take_marks()  # the "sent" marks waiting ride with this write
        try:
            moved = await pacer._outbox.mark_sending([r.id for r, _ in picked],
                                                     pacer._clock.now(), sent=marks)
        except BaseException:
            if marks:  # still `sending` on disk: a status resolves them, or the grace
                log.error("send_marks_failed", rows=len(marks))
            raise
        resending = self._resending
        loop = pacer._loop or asyncio.get_running_loop()  # (once: each lookup is a syscall)
        for row, how in picked:
            if row.id in resending:
                resending.discard(row.id)  # still `sending` from its first POST
            elif row.id not in moved:
                # Not pending any more: a pull found it before it was handed over and it went,
                # or a status moved it. Whoever moved it owns it: never a second POST.
                log.debug("send_not_pending", outbound=row.id)
                self._left(row.guest_id)
                continue
            self.in_flight[row.id] = row.guest_id
            self._flying.add(row.guest_id)
            self._track(loop.create_task(self._send(row, how), name="pacer-send"))

    def _requeue(self, row: OutboundMessage) -> None:
        """Back into the buffer a row already `sending` (its template after Meta's 131047),
        within the bound: the worst pending row makes room (it stays in the store)."""
        buffer = self.buffer
        if len(buffer) >= self.pacer._settings.batch:
            for k in range(len(buffer) - 1, -1, -1):
                if buffer[k].id not in self._resending:
                    del buffer[k]
                    self._suspect()
                    break
        self._resending.add(row.id)
        bisect.insort(buffer, row, key=_order)
        self.wake()

    def _left(self, guest: str) -> None:
        """A row of `guest` left the buffer and the flight: their next one may be pulled."""
        if guest in self._behind:
            self._freed = True

    def _track(self, task: asyncio.Task[None]) -> None:
        self._sends.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """A POST ended. The lane looks again only when that may change what it does: a
        parked lane with nothing buffered, nothing waiting in the store and a plain success
        stays parked (as it would after a look), idle once nothing is in flight."""
        sends = self._sends
        sends.discard(task)
        if self._parked and not (self._stir or self._freed or self._backlog or self.buffer):
            if not sends:
                self._idle.set()
            return
        self._stir = False
        self.wake()

    # --- one send -------------------------------------------------------------------------------

    async def _send(self, row: OutboundMessage, how: Route) -> None:
        pacer = self.pacer
        try:
            body = _body(row, how)
            if self._free_post_slot() is not None:
                await self._post_slot()
            wamid = await pacer._transport.send(row.phone_number_id, row.guest_id, body)
        except GraphAPIError as exc:
            self._stir = True
            await self._failed_send(row, how, exc)
        except asyncio.CancelledError:
            raise  # closing: the row stays `sending`; the next start resolves it
        except Exception as exc:
            self._stir = True
            await self._fail(row, INTERNAL_FAILURE, f"hotelbot: {type(exc).__name__}: {exc}")
            log.error("send_failed_internal", outbound=row.id, error=type(exc).__name__,
                      exc_info=exc)
        else:
            if how is Route.TEMPLATE:
                pacer._counts.templates += 1
            pacer._mark_sent(row.id, wamid)
            if debug_enabled():  # (a filtered debug call still assembles a bound logger)
                log.debug("message_sent", outbound=row.id, guest=row.guest_id, as_template=(
                    how is Route.TEMPLATE), attempts=row.attempts + 1)
        finally:
            self.in_flight.pop(row.id, None)
            self._flying.discard(row.guest_id)
            self._left(row.guest_id)

    async def _failed_send(self, row: OutboundMessage, how: Route, exc: GraphAPIError) -> None:
        pacer, now_m = self.pacer, self.pacer._clock.monotonic()
        attempts = row.attempts + 1
        jitter = pacer._rng.random()
        if exc.code == REENGAGEMENT_REQUIRED:
            again = route_after_131047(has_template=row.template is not None,
                                       sent_as_template=how is Route.TEMPLATE)
            if again is Route.TEMPLATE:  # Meta says the window is closed: its template, now
                self._requeue(_as_template(row))
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
        self._wait_behind(row.guest_id)
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


def _order(row: OutboundMessage) -> tuple[int, int]:
    """The buffer's order: priority, then id (the order of commits)."""
    return (int(row.priority), row.id)


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
