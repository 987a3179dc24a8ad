"""The pacing rules of one sending number, pure: when may the next message go, and to whom.

Owns the arithmetic of WhatsApp's sending limits (Cloud API fact sheet sections 5 and 6); the
pacer task (pacer.py) asks it before every send and tells it what happened. Must never read the
clock, sleep, draw randomness of its own, do I/O or import asyncio: times come in as monotonic
seconds and jitter as a number in [0, 1), so every rule is tested on a fake clock.

Rules:
    number rate    at most `per_second` sends in ANY window of one second (a sliding window of
                   the last sends, not a per-second counter that allows 2x across a boundary);
                   default 80 (Meta's default throughput), up to 1000 (upgraded numbers).
                   Within that hard cap the sends are spread evenly (GCRA): 90 % of the rate
                   with bursts of a tenth of it. Meta counts on its side of the network: a
                   second's quota sent in one burst, followed by the next burst a second
                   later, can land in one of Meta's seconds when the network delays one burst
                   more than the other. Spread out, a jitter of up to 100 ms cannot push
                   Meta's count over the limit.
    pair rate      per recipient a token bucket of `pair_burst` sends, one token back every
                   `pair_interval` seconds and 5 % more (Meta: one message per 6 s to the same
                   user, with a short burst that borrows from later; the margin keeps network
                   jitter from making two sends look closer at Meta than they left here).
    130429         throughput exceeded: the whole number pauses (Retry-After, else exponential
                   with jitter from 1 s); other numbers are unaffected.
    131056         pair rate exceeded: that recipient pauses 4^X s (1, 4, 16, 64, 256 ...; X =
                   consecutive 131056 for the pair), jitter only upwards; other guests go on.
    other errors   a retryable error retries that row with exponential backoff and equal jitter,
                   at most `max_attempts` attempts in all; then the row fails with its reason.
    priorities     the caller offers rows in priority order (reply < service < marketing) and
                   sends the first one that is ready: a reply never waits behind a broadcast.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["NumberPacer", "PacingPolicy", "PacingStatistics"]

MAX_PER_SECOND = 1000  # Meta's highest automatic throughput tier
WINDOW = 1.0 + 1e-6  # one second, and a microsecond so float rounding never lets N+1 in
SMOOTHED_SHARE = 0.9  # the even pace: 90 % of the number's rate ...
BURST_SHARE = 0.1  # ... with bursts of a tenth of it (90 % + 10 % = the rate in any second)
PAIR_MARGIN = 1.05  # a guest's tokens come back 5 % slower than the pair interval


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingPolicy:
    """The limits of one sending number.

    Raises:
        ValueError: a limit out of its documented range.
    """

    per_second: int = 80
    pair_interval: float = 6.0
    pair_burst: int = 6
    max_attempts: int = 6
    base_backoff: float = 1.0
    max_backoff: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= self.per_second <= MAX_PER_SECOND:
            raise ValueError(f"per_second must be 1-{MAX_PER_SECOND}, not {self.per_second}")
        if self.pair_interval <= 0 or self.pair_burst < 1:
            raise ValueError("pair_interval must be positive and pair_burst at least 1")
        if self.max_attempts < 1 or not 0 < self.base_backoff <= self.max_backoff:
            raise ValueError("max_attempts >= 1 and 0 < base_backoff <= max_backoff")


@dataclass(slots=True)
class _Pair:
    tokens: float
    stamp: float
    paused_until: float = 0.0
    strikes: int = 0  # consecutive 131056 answers for this pair


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingStatistics:
    sent: int
    pairs: int
    number_paused_until: float
    pair_limited: int
    number_limited: int


@dataclass(slots=True)
class NumberPacer:
    """Pacing state of one sending number. Mutable, owned by that number's pacer task."""

    policy: PacingPolicy = field(default_factory=PacingPolicy)
    _window: deque[float] = field(default_factory=deque)  # send times within the last second
    _pairs: dict[str, _Pair] = field(default_factory=dict)
    _paused_until: float = 0.0
    _tat: float = 0.0  # GCRA's theoretical arrival time of the next send
    _throttle_strikes: int = 0
    _sent: int = 0
    _pair_limited: int = 0
    _number_limited: int = 0

    # --- asking --------------------------------------------------------------------------

    def number_ready_at(self, now: float) -> float:
        """The earliest time (>= now) at which this number may send anything."""
        window = self._window
        while window and window[0] <= now - 1.0:
            window.popleft()
        at = max(now, self._paused_until, self._tat - self._tolerance)
        if len(window) >= self.policy.per_second:
            at = max(at, window[len(window) - self.policy.per_second] + WINDOW)
        return at

    @property
    def _interval(self) -> float:
        return 1.0 / (self.policy.per_second * SMOOTHED_SHARE)

    @property
    def _tolerance(self) -> float:
        burst = max(1, int(self.policy.per_second * BURST_SHARE))
        return (burst - 1) * self._interval

    def _count(self, now: float) -> None:
        """One call to the messages endpoint at `now`: the window and the even pace."""
        self._window.append(now)
        self._tat = max(self._tat, now) + self._interval

    def ready_at(self, recipient: str, now: float) -> float:
        """The earliest time (>= now) at which a message to `recipient` may go."""
        at = self.number_ready_at(now)
        pair = self._pairs.get(recipient)
        if pair is None:
            return at
        tokens = self._refilled(pair, now)
        if tokens < 1.0:
            at = max(at, now + (1.0 - tokens) * self.policy.pair_interval * PAIR_MARGIN)
        return max(at, pair.paused_until)

    # --- telling ---------------------------------------------------------------------------

    def sent(self, recipient: str, now: float) -> None:
        """A message to `recipient` was accepted by Meta at `now` (or is being sent)."""
        self._count(now)
        self._sent += 1
        self._throttle_strikes = 0
        pair = self._pairs.get(recipient)
        if pair is None:
            pair = self._pairs[recipient] = _Pair(tokens=float(self.policy.pair_burst), stamp=now)
        pair.tokens = self._refilled(pair, now) - 1.0
        pair.stamp = max(pair.stamp, now)
        pair.strikes = 0

    def used(self, now: float) -> None:
        """A call that counts against the number's rate but goes to no recipient (a read
        receipt: Meta's throughput counts every call to the messages endpoint)."""
        self._count(now)

    def pair_limited(self, recipient: str, now: float, jitter: float) -> float:
        """Meta answered 131056 for `recipient`: pause that pair 4^X s; returns the delay."""
        self._pair_limited += 1
        pair = self._pairs.get(recipient)
        if pair is None:
            pair = self._pairs[recipient] = _Pair(tokens=0.0, stamp=now)
        delay = min(4.0 ** pair.strikes, self.policy.max_backoff) * (1.0 + jitter / 10)
        pair.strikes += 1  # Meta's schedule governs the retry (fact sheet 5.2), not our bucket
        pair.paused_until = max(pair.paused_until, now + delay)
        return delay

    def number_limited(self, now: float, retry_after: float, jitter: float) -> float:
        """Meta answered 130429 (throughput): pause the whole number; returns the delay."""
        self._number_limited += 1
        base = self.policy.base_backoff * 2.0 ** self._throttle_strikes
        self._throttle_strikes += 1
        delay = min(max(base, retry_after), self.policy.max_backoff) * (1.0 + jitter / 10)
        self._paused_until = max(self._paused_until, now + delay)
        return delay

    def hold(self, recipient: str, until: float, now: float) -> None:
        """Keep `recipient` waiting until `until` (a row of theirs waits for a retry: the rows
        behind it must not overtake it)."""
        pair = self._pairs.get(recipient)
        if pair is None:
            pair = self._pairs[recipient] = _Pair(tokens=float(self.policy.pair_burst), stamp=now)
        pair.paused_until = max(pair.paused_until, until)

    def retry_delay(self, attempts: int, jitter: float, at_least: float = 0.0) -> float | None:
        """Seconds before attempt `attempts + 1` of a row after a retryable error, or None
        when `attempts` used them all (the row then fails with its reason)."""
        if attempts >= self.policy.max_attempts:
            return None
        base = max(self.policy.base_backoff * 2.0 ** (attempts - 1), at_least)
        capped = min(base, self.policy.max_backoff)
        return capped * (0.5 + jitter / 2)  # "equal jitter": half fixed, half random

    def forget_idle(self, now: float) -> int:
        """Drop pairs whose bucket is full again and that are not paused; returns how many.
        Keeps memory bounded by the recipients of the last few minutes."""
        idle = [r for r, p in self._pairs.items()
                if p.paused_until <= now and self._refilled(p, now) >= self.policy.pair_burst]
        for recipient in idle:
            del self._pairs[recipient]
        return len(idle)

    def statistics(self) -> PacingStatistics:
        return PacingStatistics(
            sent=self._sent, pairs=len(self._pairs), number_paused_until=self._paused_until,
            pair_limited=self._pair_limited, number_limited=self._number_limited,
        )

    def _refilled(self, pair: _Pair, now: float) -> float:
        elapsed = max(0.0, now - pair.stamp)
        refill = elapsed / (self.policy.pair_interval * PAIR_MARGIN)
        return min(float(self.policy.pair_burst), pair.tokens + refill)
