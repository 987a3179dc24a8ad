"""The funnel: per hotel, day, flow and step, how many guests reached, completed, abandoned,
expired or hit a cooloff (counts the conversation actors report, see flows/progress.py).

Owns: the SQL of the funnel_counts table, its repository seam and the SQLite implementation.
Must never hold a guest's identity (counts only, so the funnel survives a guest's erasure and
holds no personal data), never show one hotel's counts to another, and never write except
through the group-commit writer. Days are the hotel's own dates (the caller gives them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from hotelbot.store.database import Database

FunnelKey = tuple[str, str, str, str, str]  # (hotel_id, day, flow_id, step_id, mark)


@dataclass(frozen=True, slots=True, kw_only=True)
class FunnelCount:
    """One counter: `step_id` is "" for a whole-flow mark (completed)."""

    flow_id: str
    step_id: str
    mark: str
    count: int


class FunnelRepository(Protocol):
    async def add(self, counts: Mapping[FunnelKey, int]) -> None:
        """Add `counts` to the stored counters (one transaction)."""
        ...

    async def counts(
        self, hotel_id: str, *, since_day: str = "", flow_id: str | None = None
    ) -> list[FunnelCount]:
        """A hotel's counters summed over days >= `since_day` (ISO dates), by flow and step."""
        ...


class SqliteFunnel:
    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, counts: Mapping[FunnelKey, int]) -> None:
        rows = [(*key, n) for key, n in counts.items() if n]
        if rows:
            await self._db.write(lambda conn: conn.executemany(_ADD, rows))

    async def counts(
        self, hotel_id: str, *, since_day: str = "", flow_id: str | None = None
    ) -> list[FunnelCount]:
        rows = await self._db.fetchall(_COUNTS, (hotel_id, since_day, flow_id, flow_id))
        return [FunnelCount(flow_id=f, step_id=s, mark=m, count=int(n)) for f, s, m, n in rows]


_ADD = (
    "INSERT INTO funnel_counts (hotel_id, day, flow_id, step_id, mark, count)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hotel_id, day, flow_id, step_id, mark)"
    " DO UPDATE SET count = funnel_counts.count + excluded.count"
)
_COUNTS = (
    "SELECT flow_id, step_id, mark, sum(count) FROM funnel_counts"
    " WHERE hotel_id = ? AND day >= ? AND (? IS NULL OR flow_id = ?)"
    " GROUP BY flow_id, step_id, mark ORDER BY flow_id, step_id, mark"
)
