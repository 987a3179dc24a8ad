"""Holds: the conversations a staff member has taken over, as the conversation actors see them.

Owns: the in-memory map (phone_number_id, guest_id) -> until, loaded from the handoffs table
at start and kept current by the console (which writes the table first). Must never block or
do I/O except in `load`.

Why a hold sits in front of the engine and not inside it (issue 11): it is staff state, not
conversation state. The actor checks it before stepping; while it holds, the guest's message
is recorded and marked done with the context untouched (no reply, no error count, no
cooloff, no rate-limit notice), and the console shows it. The engine's rules never need to
know a person is talking, and a release simply lets the next message step as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hotelbot.store import Handoff

Key = tuple[str, str]


class HandoffSource(Protocol):
    async def active(self) -> list[Handoff]: ...


class Holds:
    """Which conversations staff hold, and until when."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until: dict[Key, datetime] = {}

    async def load(self, source: HandoffSource) -> None:
        self._until = {(h.phone_number_id, h.guest_id): h.until for h in await source.active()}

    def hold(self, phone_number_id: str, guest_id: str, until: datetime) -> None:
        self._until[(phone_number_id, guest_id)] = until

    def release(self, phone_number_id: str, guest_id: str) -> None:
        self._until.pop((phone_number_id, guest_id), None)

    def held(self, phone_number_id: str, guest_id: str, now: datetime) -> bool:
        until = self._until.get((phone_number_id, guest_id))
        return until is not None and now < until

    def expired(self, now: datetime) -> list[Key]:
        """Holds whose time is up (still listed until released)."""
        return [key for key, until in self._until.items() if until <= now]

    def __len__(self) -> int:
        return len(self._until)
