"""The outbound pacer: every message hotelbot sends goes out here, one task per sending number.

Owns (the per-number loop itself is lane.py): taking committed outbox rows, handed over by
`submit` (straight into the number's bounded buffer when they fit) or pulled from SQLite when
some wait there (a bounded batch at a time, by priority then id), deciding when each may go
(pacing.py's rules: the number's rate over any one-second window, the pair rate per recipient,
backoff on 130429 / 131056 / other retryable errors), deciding how it may go (window.py: free-
form inside the 24-hour window, its template outside, or skipped), marking rows `sending`
before the POST and `sent` / `failed` / `skipped` after, and the recovery of rows a crash
caught in `sending`.

Must never: send a row that is not committed (`submit` takes only rows whose transaction
returned, everything else comes from the store); send a row twice (a row is POSTed only when
its `mark_sending` moved it from pending, so a row pulled before it was handed over goes once);
lose one (a row that does not fit stays pending in the store, and the lane pulls when it knows
or suspects rows wait there); hold more than one batch of payloads per number in memory (a
broadcast of 10 000 rows is pulled 100 at a time); let a guest's later message overtake an
earlier one of the same priority (one row in flight per recipient; a row waiting for a retry
holds the rows behind it); retry forever (bounded attempts, then `failed` with the reason);
resend a row that was `sending` when the process died before `sending_grace` passed without a
status naming it (its `biz_opaque_callback_data` is "outbox:<id>", which Meta echoes in every
status).

    submit(rows) ──offer──▶ lane(number): buffer (fits) | store (pulled later, a batch at a time)
        ──▶ pick ready rows (priority, pacing)
        ──▶ mark_sending (one write) ──▶ POST (concurrently, one per recipient)
        ──▶ sent (marks batched) | retry: reschedule + hold the recipient | failed | skipped
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from hotelbot.clock import Clock
from hotelbot.outbound.lane import NumberLane
from hotelbot.outbound.pacing import NumberPacer, PacingPolicy
from hotelbot.outbound.window import OUTSIDE_WINDOW
from hotelbot.store import OutboundMessage
from hotelbot.whatsapp import REENGAGEMENT_REQUIRED

log = structlog.get_logger(__name__)

MAX_WINDOWS_CACHED = 100_000  # (number, guest) last-message times kept in memory
# "sent" marks ride with the next `mark_sending` write, or are written alone this many
# seconds after the first of them (real time; wait_idle and close write them at once)
MARKS_DELAY = 0.05


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

    async def pull(
        self, phone_number_id: str, *, now: datetime, limit: int,
        exclude_ids: Collection[int] = (), exclude_guests: Collection[str] = (),
    ) -> tuple[list[OutboundMessage], set[str] | None]: ...

    async def earliest_due(self, phone_number_id: str, *, after: datetime) -> datetime | None:
        ...

    async def mark_sending(
        self, ids: Sequence[int], at: datetime, *, sent: Sequence[tuple[int, str, datetime]] = ()
    ) -> set[int]: ...

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
        self._lanes: dict[str, NumberLane] = {}
        self._counts = _Counts()
        self._closed = False
        self._marks: list[tuple[int, str, datetime]] = []
        self._marks_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set by start()
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

    def _window_known(self, number: str, guest: str) -> datetime | None:
        """When `guest` last wrote to `number`, when the inbox told of it (else None)."""
        return self._last_inbound.get((number, guest))

    def _windows_known(self, number: str, guests: set[str]) -> dict[str, datetime] | None:
        """When each guest last wrote to `number`, when the inbox told of every one (else
        None: `_windows_of` reads the others from the store)."""
        cache, found = self._last_inbound, {}
        for guest in guests:
            at = cache.get((number, guest))
            if at is None:
                return None
            found[guest] = at
        return found

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
                self._lane(number).stored(priority=0)
            else:
                self._counts.skipped += 1
                await self._outbox.skip(row_id, OUTSIDE_WINDOW, self._clock.now())
                log.info("send_skipped", outbound=row_id, reason=OUTSIDE_WINDOW, code=code)

    def submit(self, rows: Iterable[OutboundMessage], *, first_sending: bool = False) -> None:
        """Committed rows (with their ids) are waiting in the outbox: hand them to their
        numbers' lanes, which buffer them when they fit and pull them later when not (never
        blocks, never reads the store). `first_sending`: the first row was committed
        `sending` under a reservation (`reserve`): its POST starts now."""
        if self._closed:
            # Pending rows are sent at the next start; a row committed `sending` is resolved
            # by the start's recovery (its status, or sent after the grace).
            return
        for k, row in enumerate(rows):
            lane = self._lane(row.phone_number_id)
            if k == 0 and first_sending:
                lane.launch_reserved(row)
            else:
                lane.offer(row)

    def reserve(self, phone_number_id: str, guest_id: str) -> bool:
        """May a reply to the guest be committed `sending`, its POST right after the commit
        with no write of its own? True reserves it (NumberLane.reserve says when)."""
        if self._closed:
            return False
        return self._lane(phone_number_id).reserve(guest_id)

    def release(self, phone_number_id: str, guest_id: str) -> None:
        """Give back a reservation the step did not use."""
        lane = self._lanes.get(phone_number_id)
        if lane is not None:
            lane.release(guest_id)

    async def wait_idle(self) -> None:
        """Until no row is in flight or ready to go now (rows waiting for a retry time or
        for their pacing may remain), and every "sent" mark is written."""
        while True:
            if self._recovery is not None and not self._recovery.done():
                await self._recovering.wait()
            lanes = list(self._lanes.values())
            for lane in lanes:
                await lane.wait_idle()
            self._flush()
            if self._flusher is not None:
                await asyncio.gather(self._flusher, return_exceptions=True)
            recovery_idle = self._recovery is None or self._recovery.done() or (
                self._recovering.is_set())
            if (all(lane.idle for lane in self._lanes.values()) and self._flusher is None
                    and not self._marks and recovery_idle):
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
        self._loop = asyncio.get_running_loop()
        caught = await self._outbox.sending()
        if caught:
            log.warning("sends_unconfirmed_at_start", rows=len(caught),
                        grace_seconds=self._settings.sending_grace)
        self._recovery = asyncio.create_task(self._recover_forever(), name="pacer-recovery")
        for number in await self._outbox.numbers_with_pending():
            self._lane(number).stored()

    async def close(self, grace: float = 5.0) -> None:
        """Stop pulling; give in-flight sends `grace` seconds; what is left stays in the store."""
        self._closed = True
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        await asyncio.gather(*(lane.close(grace) for lane in self._lanes.values()))
        self._flush()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    def _lane(self, number: str) -> NumberLane:
        lane = self._lanes.get(number)
        if lane is None:
            rules = NumberPacer(self._policy_of(number))
            lane = self._lanes[number] = NumberLane(self, number, rules)
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
                        self._lane(number).stored()
            except Exception:
                log.exception("pacer_recovery_failed")
            self._recovering.set()
            await self._clock.sleep(self._settings.recovery_every)

    # --- results (called by the lanes) ----------------------------------------------------

    def _mark_sent(self, row_id: int, wamid: str) -> None:
        """Meta accepted a row: its mark rides with the next `mark_sending` write
        (`_take_marks`), or is written alone MARKS_DELAY seconds after the first waiting mark.
        Until written the row is `sending` on disk, which a crash resolves as any other
        (its `sent` status, else sent again after the grace)."""
        self._counts.sent += 1
        if not self._marks and self._marks_timer is None:
            loop = self._loop or asyncio.get_running_loop()
            self._marks_timer = loop.call_later(MARKS_DELAY, self._flush)
        self._marks.append((row_id, wamid, self._clock.now()))

    def _take_marks(self) -> list[tuple[int, str, datetime]]:
        """The marks waiting, for a lane's `mark_sending` write to carry (one write, not two)."""
        marks, self._marks = self._marks, []
        return marks

    def _flush(self) -> None:
        """Write the marks waiting now (the timer's end, wait_idle, close)."""
        if self._marks_timer is not None:
            self._marks_timer.cancel()
            self._marks_timer = None
        if self._marks and self._flusher is None:
            loop = self._loop or asyncio.get_running_loop()
            self._flusher = loop.create_task(self._flush_marks(), name="pacer-marks")

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
