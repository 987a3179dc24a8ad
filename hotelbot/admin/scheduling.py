"""The scheduler's admin commands (issue 10): the queue, cancelling a row, broadcasts.

Owns: `stay_put` (a stay, as the PMS API takes it), `queue` (a hotel's scheduled rows, by
status), `queue_cancel` (a pending row becomes skipped, reason cancelled), `broadcast` (one
message type to a segment: in-house guests, arriving tomorrow, or a list of numbers).
Registered into the one command table by the package (admin/__init__.py). Must never show a
full phone number unless asked, and never send: a broadcast adds rows the scheduler fires
(quiet hours, opt-out and the window apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import orjson

from hotelbot.admin.commands import (
    DEFAULT_LIMIT,
    AdminTargets,
    Command,
    CommandError,
    Param,
    Reply,
    mask_guest,
)
from hotelbot.scheduler import BroadcastError, Segment, broadcast, parse_stay
from hotelbot.store import ScheduledMessage, ScheduledStatus
from hotelbot.typedefs import HotelId

MAX_QUEUE = 1000


async def _queue(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    hotel = _hotel(targets, request)
    status = request.get("status", ScheduledStatus.PENDING.value)
    if status not in {s.value for s in ScheduledStatus} | {"all"}:
        raise CommandError("'status' must be one of: all, "
                           + ", ".join(s.value for s in ScheduledStatus))
    limit = request.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_QUEUE:
        raise CommandError(f"'limit' must be an integer from 1 to {MAX_QUEUE}")
    full = request.get("full", False) is True
    rows = await targets.store.scheduled.listing(
        hotel, None if status == "all" else ScheduledStatus(str(status)), limit)
    return {"hotel": hotel, "queue": [_row(r, full=full) for r in rows]}


async def _queue_cancel(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    id_ = request.get("id")
    if not isinstance(id_, int) or isinstance(id_, bool) or id_ < 1:
        raise CommandError("'id' must be a positive integer (a scheduled row's id)")
    if targets.scheduler is None:
        raise CommandError("no scheduler is running")
    if not await targets.scheduler.cancel(id_):
        row = await targets.store.scheduled.get(id_)
        if row is None:
            raise CommandError(f"no scheduled row with id {id_}")
        raise CommandError(f"scheduled row {id_} is {row.status.value}, not pending")
    return {"id": id_, "status": ScheduledStatus.SKIPPED.value, "reason": "cancelled"}


async def _broadcast(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    hotel_id = _hotel(targets, request)
    hotel = targets.config.get().hotels[HotelId(hotel_id)]
    message_type = request.get("message_type")
    segment = request.get("segment")
    if segment not in {s.value for s in Segment}:
        raise CommandError("'segment' must be one of: " + ", ".join(s.value for s in Segment))
    raw_numbers = request.get("numbers", "")
    if not isinstance(raw_numbers, str):
        raise CommandError("'numbers' must be a comma-separated list of WhatsApp numbers")
    numbers = [n for n in (part.strip() for part in raw_numbers.split(",")) if n]
    now = targets.now()
    broadcast_id = request.get("id") or f"{message_type}-{now.strftime('%Y%m%dT%H%M%S')}"
    if targets.scheduler is None:
        raise CommandError("no scheduler is running")
    try:
        result = await broadcast(targets.scheduler, targets.store, hotel,
                                 message_type=str(message_type), segment=Segment(str(segment)),
                                 numbers=numbers, broadcast_id=str(broadcast_id), now=now)
    except BroadcastError as exc:
        raise CommandError(str(exc)) from None
    return {"hotel": hotel_id, "broadcast_id": result.broadcast_id, "rows": result.rows,
            "due": result.due.isoformat(), "refused": list(result.refused)}


async def _stay_put(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    """A stay as the PMS API takes it, through the socket (`hotelbot stays import`)."""
    hotel_id = _hotel(targets, request)
    hotel = targets.config.get().hotels[HotelId(hotel_id)]
    ref = request.get("booking_ref")
    raw = request.get("stay")
    try:
        body = orjson.loads(raw) if isinstance(raw, str) else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not isinstance(ref, str):
        raise CommandError("'booking_ref' (text) and 'stay' (a JSON object) are required")
    if targets.scheduler is None:
        raise CommandError("no scheduler is running")
    parsed = parse_stay(hotel, ref, body)
    if isinstance(parsed, list):
        return {"ok": False, "error": "invalid stay",
                "fields": [{"field": f.field, "reason": f.reason} for f in parsed]}
    applied = await targets.scheduler.put_stay(hotel, parsed)
    return {"hotel": hotel_id, "booking_ref": ref, "pending": len(applied.open_rows)}


def _hotel(targets: AdminTargets, request: Mapping[str, object]) -> str:
    hotel = request.get("hotel")
    hotels = targets.config.get().hotels
    if not isinstance(hotel, str) or hotel not in hotels:
        raise CommandError(f"unknown hotel {hotel!r}; known hotels: {', '.join(sorted(hotels))}")
    return hotel


def _row(row: ScheduledMessage, *, full: bool) -> Reply:
    return {
        "id": row.id, "type": row.message_type, "guest": row.guest_id if full
        else mask_guest(row.guest_id), "due": _iso(row.scheduled_at), "status": row.status.value,
        "reason": row.skip_reason or "", "booking_ref": row.booking_ref or "",
        "outbox_id": row.outbox_id,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


SCHEDULER_COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command(name="queue", run=_queue, doc="a hotel's scheduled messages (pending by due time)",
            params=(
        Param(key="hotel", help="the hotel's id"),
        Param(key="status", required=False, metavar="S",
              choices=("all", *(s.value for s in ScheduledStatus)),
              help="only rows with this status (default pending)"),
        Param(key="limit", kind="int", required=False, metavar="N",
              help=f"at most N rows (1-{MAX_QUEUE}, default {DEFAULT_LIMIT})"),
        Param(key="full", kind="bool", required=False, help="show full guest numbers"),
    )),
    Command(name="queue_cancel", run=_queue_cancel,
            doc="cancel a pending scheduled message (it becomes skipped: cancelled)",
            params=(Param(key="id", kind="int", help="the scheduled row's id"),)),
    Command(name="stay_put", run=_stay_put,
            doc="add or update a stay as the PMS API does (hotelbot stays import uses it)",
            params=(
        Param(key="hotel", help="the hotel's id"),
        Param(key="booking_ref", metavar="REF", help="the booking reference"),
        Param(key="stay", metavar="JSON", help="the stay's fields as a JSON object"),
    )),
    Command(name="broadcast", run=_broadcast,
            doc="send a scheduled message type to a segment of a hotel's guests", params=(
        Param(key="hotel", help="the hotel's id"),
        Param(key="message_type", metavar="TYPE", help="a scheduled_messages type, e.g. spa_offer"),
        Param(key="segment", help="in_house, arriving_tomorrow, or numbers (with --numbers)"),
        Param(key="numbers", required=False, metavar="N1,N2",
              help="comma-separated WhatsApp numbers (segment numbers)"),
        Param(key="id", required=False, metavar="ID",
              help="the broadcast's id: the same id again adds nothing"),
    )),
)}
