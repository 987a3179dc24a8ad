"""The per-conversation inbound rate limit (the seed's anti-spam), as a pure token bucket.

Owns: the bucket's state (kept in the conversation's Context, so it survives passivation and
restarts) and its arithmetic. Must never read the clock (time arrives as `now`), do I/O, or
decide what the guest reads: the engine's spam rule does (engine.py, rule 0). docs/design.md: a
burst of 20, then one message a second (Policy.spam_burst, Policy.spam_per_second).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Bucket", "take"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """One conversation's bucket; the default is a full one (a new guest, an older snapshot)."""

    tokens: float | None = None  # tokens left at `counted_at`; None: a full bucket
    counted_at: datetime | None = None  # when they were counted (aware)
    noticed: bool = False  # this flood got its notice; cleared when a token is granted again


def take(bucket: Bucket, *, burst: int, per_second: float, now: datetime) -> tuple[bool, Bucket]:
    """Take one token if there is one, after refilling `per_second` since `counted_at`.

    Args:
        bucket: the state as last counted.
        burst: the bucket's size (a full bucket lets `burst` messages through at once).
        per_second: tokens added back per second, up to `burst`.
        now: the current time (aware). A clock that went backwards adds nothing.

    Returns:
        Whether the message is within the limit, and the bucket after it. A guest who is
        granted a token again is no longer `noticed` (the next flood gets a new notice).
    """
    if bucket.tokens is None or bucket.counted_at is None:
        tokens, stamp = float(burst), now
    else:
        elapsed = max(0.0, (now - bucket.counted_at).total_seconds())
        tokens = min(float(burst), bucket.tokens + elapsed * per_second)
        stamp = max(bucket.counted_at, now)
    if tokens >= 1.0:
        return True, Bucket(tokens=tokens - 1.0, counted_at=stamp)
    return False, Bucket(tokens=tokens, counted_at=stamp, noticed=bucket.noticed)
