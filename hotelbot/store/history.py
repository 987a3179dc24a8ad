"""A conversation's history for the staff console: what the guest wrote and what went out.

Owns: the read-only queries over inbound and outbound of one (phone_number_id, guest_id).
Must never write, and never read across conversations (both keys are always given; the caller
checked the hotel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hotelbot.store import codec
from hotelbot.store.database import Database
from hotelbot.store.records import InboundMessage, OutboundRow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a row written before created_at was kept


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """Each message with the time it entered hotelbot (inbound: recorded; outbound: committed),
    by which the two interleave: a guest's own timestamps are whole seconds."""

    inbound: tuple[tuple[InboundMessage, datetime], ...]  # oldest first
    outbound: tuple[tuple[OutboundRow, datetime], ...]  # oldest first


class HistoryRepository(Protocol):
    async def of(self, phone_number_id: str, guest_id: str, limit: int = 50) -> History: ...

    async def stamp(self, phone_number_id: str, guest_id: str) -> tuple[object, ...]:
        """Changes whenever a message arrives, goes out or changes state."""
        ...

    async def guests_of(self, phone_number_ids: tuple[str, ...],
                        limit: int = 50) -> list[tuple[str, str, datetime]]:
        """(number, guest, last message time) of the conversations with these numbers,
        most recent first."""
        ...


class SqliteHistory:
    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, phone_number_id: str, guest_id: str, limit: int = 50) -> History:
        key = (phone_number_id, guest_id, limit)
        inbound = await self._db.fetchall(_INBOUND, key)
        outbound = await self._db.fetchall(_OUTBOUND, key)
        return History(
            inbound=tuple((codec.inbound_from_row(r[:-1]), codec.decode_time(r[-1]))
                          for r in reversed(inbound)),
            outbound=tuple((codec.outbound_row_from_row(r[:-1]),
                            codec.decode_optional_time(r[-1]) or _EPOCH)
                           for r in reversed(outbound)),
        )

    async def stamp(self, phone_number_id: str, guest_id: str) -> tuple[object, ...]:
        key = (phone_number_id, guest_id)
        inbound = await self._db.fetchone(_INBOUND_STAMP, key)
        outbound = await self._db.fetchone(_OUTBOUND_STAMP, key)
        return (*inbound, *outbound)

    async def guests_of(self, phone_number_ids: tuple[str, ...],
                        limit: int = 50) -> list[tuple[str, str, datetime]]:
        if not phone_number_ids:
            return []
        marks = ", ".join("?" * len(phone_number_ids))
        # The windows hold each (number, guest)'s latest message time (what the messages'
        # max(sent_at) is, without reading every message kept): one row a guest, not one a
        # message, and the newest `limit` of them kept by a top-N sort. Of those, a guest whose
        # messages retention purged is left out, as before (checked for these rows only: such
        # a guest wrote before everyone who still has messages, so never takes one's place).
        rows = await self._db.fetchall(
            "SELECT w.phone_number_id, w.guest_id, w.last_inbound_at FROM"
            " (SELECT phone_number_id, guest_id, last_inbound_at FROM windows"
            f"  WHERE phone_number_id IN ({marks}) ORDER BY last_inbound_at DESC LIMIT ?) w"
            " WHERE EXISTS (SELECT 1 FROM inbound i WHERE i.phone_number_id = w.phone_number_id"
            "  AND i.guest_id = w.guest_id AND i.kind != 'rejected')"
            " ORDER BY w.last_inbound_at DESC",
            (*phone_number_ids, limit))
        return [(n, g, codec.decode_time(at)) for n, g, at in rows]


_INBOUND = (
    f"SELECT {codec.INBOUND_COLUMNS}, received_at FROM inbound"
    " WHERE phone_number_id = ? AND guest_id = ?"
    " AND kind != 'rejected' ORDER BY seq DESC LIMIT ?"
)
_OUTBOUND = (
    f"SELECT {codec.OUTBOUND_ROW_COLUMNS}, created_at FROM outbound WHERE phone_number_id = ?"
    " AND guest_id = ? ORDER BY id DESC LIMIT ?"
)
_INBOUND_STAMP = (
    "SELECT count(*), max(seq) FROM inbound WHERE phone_number_id = ? AND guest_id = ?"
)
_OUTBOUND_STAMP = (
    "SELECT count(*), max(id), group_concat(state) FROM (SELECT id, state FROM outbound"
    " WHERE phone_number_id = ? AND guest_id = ? ORDER BY id DESC LIMIT 50)"
)
