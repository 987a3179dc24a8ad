"""A jumpable clock for tests (after Trio's MockClock): time moves only when a test says so.

Owns: fake wall-clock and monotonic time and the sleepers waiting on it. FakeClock must never
read the real clock; `sleep` returns only when `jump` has moved time past the sleeper's
deadline. ShiftedClock runs at the real pace from a chosen wall-clock time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


class FakeClock:
    """Implements hotelbot.clock.Clock. `jump(seconds)` moves both clocks and wakes sleepers."""

    def __init__(self, start: datetime = DEFAULT_START, monotonic_start: float = 1_000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self._start = start.astimezone(UTC)
        self._monotonic_start = monotonic_start
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._monotonic_start + self._elapsed

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has been jumped `seconds` ahead; sleep(<=0) just yields."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.monotonic() + seconds, next(self._seq), waiter))
        await waiter

    def jump(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._elapsed += seconds
        now = self.monotonic()
        while self._sleepers and self._sleepers[0][0] <= now:
            _deadline, _seq, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    def jump_to(self, when: datetime) -> None:
        """Jump to an aware wall-clock time (not before now)."""
        self.jump((when - self.now()).total_seconds())

    @property
    def sleeping(self) -> int:
        """How many sleepers are waiting (cancelled ones excluded)."""
        return sum(1 for _d, _s, waiter in self._sleepers if not waiter.done())

    def next_deadline(self) -> float | None:
        """The earliest sleeper's monotonic deadline, or None."""
        pending = [d for d, _s, waiter in self._sleepers if not waiter.done()]
        return min(pending) if pending else None

    async def wait_sleeping(self, count: int = 1, *, max_yields: int = 10_000) -> None:
        """Let the loop run until at least `count` tasks sleep on this clock.

        Raises:
            TimeoutError: they did not within `max_yields` turns of the loop.
        """
        for _ in range(max_yields):
            if self.sleeping >= count:
                return
            await asyncio.sleep(0)
        raise TimeoutError(f"{self.sleeping} sleepers, wanted {count}")


class ShiftedClock:
    """Implements hotelbot.clock.Clock: the real clock's pace (monotonic time and sleeps are
    real), its wall clock starting at `start`. For end-to-end tests whose answers depend on
    the hotel's time of day (opening hours, "7pm" today or tomorrow)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self._start = start.astimezone(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FrozenWallClock:
    """Implements hotelbot.clock.Clock: the wall clock stands still at `at` while monotonic
    time and sleeps are real. For end-to-end tests of rules that count wall-clock time (the
    inbound rate limit's refill), so they do not depend on how fast the machine is."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("at must be an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
