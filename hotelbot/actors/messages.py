"""The letters an actor's mailbox carries: Tell, Ask (with its reply future), Stop.

Owns: the three letter types, nothing else. Must never: carry behaviour, or be seen by an
actor's `receive` (which gets the message inside the letter, never the letter itself).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Tell:
    """A told message: handled once, in arrival order; nobody waits for a result."""

    message: object


@dataclass(frozen=True, slots=True, kw_only=True)
class Ask:
    """An asked message: `reply` gets receive's return value or the exception it raised."""

    message: object
    reply: asyncio.Future[object]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """Wakes an idle actor that is stopping, so it can finish; never handed to receive."""


Letter = Tell | Ask | Stop
STOP = Stop()
