"""The per-guest inbound rate limit (the seed's anti-spam), as a pure token bucket.

Owns: the bucket arithmetic. Must never read the clock (time is passed in, monotonic
seconds) or do I/O. DESIGN.md: a burst of 20, then one message a second; a guest past it gets
one notice, the excess is recorded and not answered, and other guests are never slowed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    burst: int = 20
    per_second: float = 1.0


class TokenBucket:
    """A token bucket; `noticed` remembers that the guest was told once per flood."""

    __slots__ = ("_limit", "_stamp", "_tokens", "noticed")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self._limit = limit
        self._tokens = float(limit.burst)
        self._stamp = now
        self.noticed = False

    def allow(self, now: float) -> bool:
        """Take one token if there is one. A guest who gets a token again is no longer noticed."""
        elapsed = max(0.0, now - self._stamp)
        self._stamp = max(self._stamp, now)
        refill = elapsed * self._limit.per_second
        self._tokens = min(float(self._limit.burst), self._tokens + refill)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.noticed = False
            return True
        return False

    def full(self, now: float) -> bool:
        """True when the bucket would be full at `now`: the guest has been quiet long enough."""
        elapsed = max(0.0, now - self._stamp)
        return self._tokens + elapsed * self._limit.per_second >= self._limit.burst
