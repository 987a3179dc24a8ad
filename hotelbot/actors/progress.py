"""The step observer: what each committed step did to the guest's way through a flow, counted.

Owns: `FunnelRecorder`, which the conversation actors call after every committed step. It
classifies the step (flows.progress), counts it in the app's metrics (steps, cooloffs, expired
contexts) and tallies the funnel in memory; `open_funnel_recorder` adds the tally to the
store every `flush_every` seconds and once more on stop. Must never block a step (it only
counts in memory) or hold a guest's identity (funnel rows are counts per hotel-local day).
A crash loses at most the last `flush_every` seconds of funnel counts, never a guest message.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from hotelbot.clock import Clock
from hotelbot.flows import Context, Hotel, Mark, Outcome, progress
from hotelbot.metrics import Metrics
from hotelbot.store import FunnelKey, FunnelRepository

log = structlog.get_logger(__name__)


class FunnelRecorder:
    """Counts steps into `metrics` and a funnel tally (a StepObserver of the actors)."""

    def __init__(self, funnel: FunnelRepository, metrics: Metrics | None = None) -> None:
        self._funnel = funnel
        self._metrics = metrics
        self._tally: Counter[FunnelKey] = Counter()
        # (hotel, flow) -> its steps counter: prometheus' labels() is a lookup with checks
        # (bounded by the configuration's hotels and flows)
        self._steps: dict[tuple[str, str], Any] = {}

    def stepped(self, hotel: Hotel, before: Context, outcome: Outcome, now: datetime) -> None:
        """One committed step of `hotel` (the context `before` it, the engine's outcome).
        Never raises: counting must not turn a committed step into a failed one."""
        try:
            self._count(hotel, before, outcome, now)
        except Exception:
            log.exception("step_count_failed", hotel=hotel.hotel_id)

    def _count(self, hotel: Hotel, before: Context, outcome: Outcome, now: datetime) -> None:
        moved = progress(hotel, before, outcome, now)
        day = now.astimezone(ZoneInfo(hotel.timezone)).date().isoformat()
        for mark, flow, step in moved.marks:
            self._tally[(hotel.hotel_id, day, flow, step, mark.value)] += 1
        if self._metrics is not None:
            key = (hotel.hotel_id, moved.flow)
            steps = self._steps.get(key)
            if steps is None:
                steps = self._steps[key] = self._metrics.steps.labels(*key)
            steps.inc()
            if moved.has(Mark.COOLOFF):
                self._metrics.cooloffs.labels(hotel.hotel_id, moved.flow).inc()
            for mark, flow, _step in moved.marks:
                if mark is Mark.EXPIRED:
                    self._metrics.expired_contexts.labels(hotel.hotel_id, flow).inc()

    async def flush(self) -> None:
        """Add the tally to the store (kept in memory for the next flush if the write fails)."""
        tally, self._tally = self._tally, Counter()
        try:
            await self._funnel.add(tally)
        except Exception:
            self._tally.update(tally)
            raise


@asynccontextmanager
async def open_funnel_recorder(
    funnel: FunnelRepository, clock: Clock, metrics: Metrics | None = None,
    *, flush_every: float = 5.0,
) -> AsyncIterator[FunnelRecorder]:
    """A recorder whose tally reaches the store every `flush_every` seconds and at exit."""
    recorder = FunnelRecorder(funnel, metrics)

    async def flush_forever() -> None:
        while True:
            await clock.sleep(flush_every)
            try:
                await recorder.flush()
            except Exception:
                log.exception("funnel_flush_failed")

    task = asyncio.create_task(flush_forever(), name="funnel-flush")
    try:
        yield recorder
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await recorder.flush()
