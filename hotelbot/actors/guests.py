"""The guest book: each guest's shared data (name, room, language), cached in memory.

Owns: a bounded LRU cache of GuestRecord keyed (hotel_id, guest_id), loaded from the store on
a miss. A hotel's departments share one guest record; two hotels never see each other's guest,
because the hotel is part of the key. Every write to guests goes through this process (the
conversation actors commit it in their step transaction, then `update` it here), so the cache
never holds stale data or language (last_inbound_at is read from the store by whoever needs
the 24-hour window, never from here). It also holds, in memory, each guest's hotel-wide
Limits (rate limit and cooloff, engine rule 2b); the cooloff is also committed with the step
that changed it (guests.cooloff_until), so after a restart it still holds at every number.
Must never write to the store itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from hotelbot.flows import Limits
from hotelbot.store import GuestRecord
from hotelbot.typedefs import JSONScalar


class GuestSource(Protocol):
    async def load(self, hotel_id: str, guest_id: str) -> GuestRecord | None: ...


class GuestBook:
    def __init__(self, source: GuestSource, *, capacity: int = 100_000) -> None:
        self._source = source
        self._capacity = capacity
        self._cache: OrderedDict[tuple[str, str], GuestRecord] = OrderedDict()
        self._limits: OrderedDict[tuple[str, str], Limits] = OrderedDict()

    async def get(self, hotel_id: str, guest_id: str) -> GuestRecord:
        """The guest's record; an empty one for a guest never seen in this hotel."""
        key = (hotel_id, guest_id)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        loaded = await self._source.load(hotel_id, guest_id)
        record = loaded or GuestRecord(hotel_id=hotel_id, guest_id=guest_id, data={})
        if key not in self._cache:  # another actor may have put a newer one meanwhile
            self.put(record)
        return self._cache[key]

    def prime(self, record: GuestRecord) -> None:
        """A guest's row as an inbound transaction just committed it: cached unless the book
        holds the guest already (what it holds is never older: every write passes here)."""
        if (record.hotel_id, record.guest_id) not in self._cache:
            self.put(record)

    def peek(self, hotel_id: str, guest_id: str) -> GuestRecord | None:
        """The cached record, if any (never loads)."""
        return self._cache.get((hotel_id, guest_id))

    def put(self, record: GuestRecord) -> None:
        key = (record.hotel_id, record.guest_id)
        self._cache[key] = record
        self._cache.move_to_end(key)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)

    def update(
        self, hotel_id: str, guest_id: str, data: Mapping[str, JSONScalar], language: str
    ) -> None:
        """Record a committed change of the guest's data and language."""
        old = self._cache.get((hotel_id, guest_id))
        self.put(
            GuestRecord(
                hotel_id=hotel_id,
                guest_id=guest_id,
                data=dict(data),
                language=language,
                last_inbound_at=old.last_inbound_at if old else None,
                profile_name=old.profile_name if old else None,
                cooloff_until=old.cooloff_until if old else None,
            )
        )

    def set_cooloff(self, hotel_id: str, guest_id: str, until: datetime | None) -> None:
        """Record a committed change of the guest's hotel-wide cooloff."""
        old = self._cache.get((hotel_id, guest_id))
        if old is not None:
            self.put(replace(old, cooloff_until=until))

    def forget(self, hotel_id: str, guest_id: str) -> None:
        """Drop the cached record (the guest was erased: `guest forget`, retention)."""
        self._cache.pop((hotel_id, guest_id), None)
    def limits(self, hotel_id: str, guest_id: str) -> Limits | None:
        """The guest's hotel-wide rate limit and cooloff (every department's conversation
        reads and writes the same); None when not known since this process started."""
        return self._limits.get((hotel_id, guest_id))

    def set_limits(self, hotel_id: str, guest_id: str, limits: Limits) -> None:
        key = (hotel_id, guest_id)
        self._limits[key] = limits
        self._limits.move_to_end(key)
        while len(self._limits) > self._capacity:
            self._limits.popitem(last=False)

    def __len__(self) -> int:
        return len(self._cache)
