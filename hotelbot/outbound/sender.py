"""The outbound sender: committed outbox rows -> Graph API, in order per recipient.

Owns: one FIFO lane per (sending number, guest), created on demand and gone when empty, so
a guest's replies arrive in the order their steps committed while different guests are sent
concurrently; retries of retryable errors with backoff (Meta's 4^X seconds for the pair-rate
limit 131056, exponential with jitter otherwise); the final state of every row in the store
(sent with its wamid, or failed with Meta's code).

Must never: send a row that is not committed (callers submit what `commit_step` returned),
block its caller (`submit` is sync), or lose a row: a row whose lane is cancelled at
shutdown stays `pending` in the store and is sent again at the next start
(`store.outbox.pending()`). A row that fails for a reason that is not Meta's (a body the
envelope refuses, a bug) is marked failed with that reason (code INTERNAL_FAILURE) and the
rows behind it go on (issue 14): nothing wedges a lane, no task dies unlogged.

`open_sender` is its resource: it re-submits what a previous run left pending (the outbox
recovery) and closes it on exit. The per-number pacer (pacing.py's rules) replaces the lane
scheduling behind the same `submit` interface.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from hotelbot.clock import Clock
from hotelbot.errors import GraphAPIError, RateLimited
from hotelbot.store import OutboundMessage
from hotelbot.whatsapp import PAIR_RATE_LIMIT

log = structlog.get_logger(__name__)

INTERNAL_FAILURE = -1  # error_code of a row that failed inside hotelbot, before Meta saw it


class Transport(Protocol):
    async def send(self, phone_number_id: str, guest_id: str, body: Mapping[str, object]) -> str:
        """Send one message; returns its wamid. Raises GraphAPIError."""
        ...


class OutboxStore(Protocol):
    """The outbox repository (store.outbox), as far as the sender reads and writes it."""

    async def pending(self) -> list[OutboundMessage]: ...

    async def mark_sent_many(self, sent: Sequence[tuple[int, str, datetime]]) -> None: ...

    async def mark_failed(self, id: int, code: int, detail: str, at: datetime) -> None: ...

    async def reschedule(self, id: int, not_before: datetime, attempts: int, code: int) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderStatistics:
    sent: int
    failed: int
    retried: int
    lanes: int
    queued: int


Lane = tuple[str, str]


class DirectSender:
    """Sends outbox rows through a Transport, one lane per recipient."""

    def __init__(
        self,
        transport: Transport,
        store: OutboxStore,
        clock: Clock,
        *,
        max_attempts: int = 6,
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
    ) -> None:
        self._transport = transport
        self._store = store
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._queues: dict[Lane, deque[OutboundMessage]] = {}
        self._tasks: dict[Lane, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        # "sent" marks are written in batches by one flusher task: one store job for all the
        # sends that completed while the previous batch was being committed.
        self._marks: list[tuple[int, str, datetime]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._sent = self._failed = self._retried = 0

    def submit(self, rows: Iterable[OutboundMessage]) -> None:
        """Queue committed rows for sending (never blocks)."""
        if self._closed:
            return  # still pending in the store: sent at the next start
        for row in rows:
            lane = (row.phone_number_id, row.guest_id)
            self._queues.setdefault(lane, deque()).append(row)
            if lane not in self._tasks:
                self._idle.clear()
                self._tasks[lane] = asyncio.create_task(self._run_lane(lane), name="send-lane")

    async def wait_idle(self) -> None:
        """Wait until every submitted row reached a final state (recorded) or a retry wait."""
        await self._idle.wait()

    async def close(self, grace: float = 5.0) -> None:
        """Stop taking rows; give the lanes `grace` seconds to finish, then cancel them.

        Rows not sent by then stay pending in the store (sent at the next start).
        """
        self._closed = True
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._flusher is not None:  # the marks of what was sent are kept
            await asyncio.gather(self._flusher, return_exceptions=True)

    def statistics(self) -> SenderStatistics:
        return SenderStatistics(
            sent=self._sent,
            failed=self._failed,
            retried=self._retried,
            lanes=len(self._tasks),
            queued=sum(len(q) for q in self._queues.values()),
        )

    async def _run_lane(self, lane: Lane) -> None:
        queue = self._queues[lane]
        try:
            while queue:
                row = queue[0]
                try:
                    await self._send_row(row)
                except Exception as exc:  # a row's fault must not wedge its lane (issue 14)
                    await self._fail_internal(row, exc)
                queue.popleft()
        finally:
            if not queue:
                self._queues.pop(lane, None)
            self._tasks.pop(lane, None)
            self._update_idle()

    def _update_idle(self) -> None:
        if not self._tasks and self._flusher is None:
            self._idle.set()

    def _mark_sent(self, row_id: int, wamid: str) -> None:
        self._marks.append((row_id, wamid, self._clock.now()))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_marks(), name="send-marks")

    async def _flush_marks(self) -> None:
        try:
            while self._marks:
                batch, self._marks = self._marks, []
                try:
                    await self._store.mark_sent_many(batch)
                except Exception:
                    # Still `pending` on disk: sent again after a restart (at-least-once).
                    log.exception("send_marks_failed", rows=len(batch))
        finally:
            self._flusher = None
            self._update_idle()

    async def _send_row(self, row: OutboundMessage) -> None:
        attempts = row.attempts
        while True:
            attempts += 1
            try:
                wamid = await self._transport.send(row.phone_number_id, row.guest_id, row.body)
            except GraphAPIError as exc:
                if not exc.retryable or attempts >= self._max_attempts:
                    await self._fail(row, exc, attempts)
                    return
                delay = self._backoff(exc, attempts)
                self._retried += 1
                log.info(
                    "send_retry", outbound=row.id, code=exc.code, attempt=attempts, delay=delay
                )
                not_before = self._clock.now() + timedelta(seconds=delay)
                await self._store.reschedule(row.id, not_before, attempts, exc.code)
                await self._clock.sleep(delay)
                continue
            self._sent += 1
            self._mark_sent(row.id, wamid)
            log.info("message_sent", outbound=row.id, guest=row.guest_id, attempts=attempts)
            return

    async def _fail(self, row: OutboundMessage, exc: GraphAPIError, attempts: int) -> None:
        self._failed += 1
        await self._store.mark_failed(row.id, exc.code, exc.details, self._clock.now())
        log.warning(
            "send_failed", outbound=row.id, guest=row.guest_id, code=exc.code, attempts=attempts
        )

    async def _fail_internal(self, row: OutboundMessage, exc: Exception) -> None:
        """Record a failure that is not Meta's (a body the envelope refuses, a bug)."""
        self._failed += 1
        detail = f"hotelbot: {type(exc).__name__}: {exc}"[:500]
        log.error("send_failed_internal", outbound=row.id, guest=row.guest_id,
                  error=type(exc).__name__, exc_info=exc)
        try:
            await self._store.mark_failed(
                row.id, INTERNAL_FAILURE, detail, self._clock.now()
            )
        except Exception:
            log.exception("send_fail_mark_failed", outbound=row.id)

    def _backoff(self, exc: GraphAPIError, attempts: int) -> float:
        """Seconds to wait before attempt `attempts + 1` (whatsapp-cloud-api.md section 6)."""
        if exc.code == PAIR_RATE_LIMIT:
            # Meta's advice: 1, 4, 16, 64, 256 s; jitter only upwards so we never retry early.
            wait = min(4.0 ** (attempts - 1), self._max_backoff)
            return wait * (1.0 + random.random() / 10)
        base = self._base_backoff * 2.0 ** (attempts - 1)
        if isinstance(exc, RateLimited):
            base = max(base, exc.retry_after)
        capped = min(base, self._max_backoff)
        return capped * (0.5 + random.random() / 2)  # "equal jitter": half fixed, half random


@asynccontextmanager
async def open_sender(
    transport: Transport, outbox: OutboxStore, clock: Clock, *, grace: float = 5.0
) -> AsyncIterator[DirectSender]:
    """The sender, with the recovery of a previous run: every outbox row still pending is
    submitted first (replies committed before a crash are sent, at least once). On exit the
    sender stops taking rows and gives in-flight sends `grace` seconds; the rest stays
    pending on disk for the next start.
    """
    sender = DirectSender(transport, outbox, clock)
    sender.submit(await outbox.pending())
    try:
        yield sender
    finally:
        await sender.close(grace=grace)
