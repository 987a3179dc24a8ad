"""Staff passwords and login attempts: Argon2 hashing and the login rate limit.

Owns: hashing and checking passwords (argon2-cffi's Argon2id with its library defaults) and
the per-user / per-address limit on failed logins. Must never log a password or a hash,
never say whether a username exists (an unknown user costs the same hash check), and never
keep more than `max_keys` addresses in memory.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD = 10  # characters

_hasher = PasswordHasher()
# Checked when the username is unknown, so that answering "wrong" takes as long either way.
_DUMMY = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    """The Argon2id hash to store.

    Raises:
        ValueError: shorter than MIN_PASSWORD characters.
    """
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Does `password` match `stored_hash` (None: unknown user, always False)?"""
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginLimits:
    per_user: int = 5  # failed logins of one username ...
    per_address: int = 20  # ... or from one address ...
    window: float = 900.0  # ... within this many seconds: refused until the window passes


class LoginLimiter:
    """Failed logins per username and per client address in a sliding window (monotonic
    seconds come in: the caller owns the clock)."""

    def __init__(self, limits: LoginLimits | None = None, max_keys: int = 10_000) -> None:
        self.limits = limits or LoginLimits()
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, user: str, address: str, now: float) -> float:
        """Seconds until `user` from `address` may try again (0: now)."""
        waits = [self._wait(f"u:{user.lower()}", self.limits.per_user, now),
                 self._wait(f"a:{address}", self.limits.per_address, now)]
        return max(waits)

    def failed(self, user: str, address: str, now: float) -> None:
        for key in (f"u:{user.lower()}", f"a:{address}"):
            times = self._failures.setdefault(key, deque())
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, user: str) -> None:
        self._failures.pop(f"u:{user.lower()}", None)

    def _wait(self, key: str, limit: int, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - self.limits.window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.limits.window - now
