"""The operator's admin commands (issue 12): `actors`, `funnel`, `guest export|forget`.

Owns: their handlers and params, joined to the one command table (`COMMANDS`) by the
package's __init__ (`OPS_COMMANDS`). Times in replies are in the hotel's timezone. Must never
show a guest's full number except in a guest export (which exists to hand the guest their
data), log a full number (the log processor masks `guest`), or erase a guest without first
stopping their conversations (the router drains them, so no step writes the guest back).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from hotelbot.admin.commands import (
    AdminTargets,
    Command,
    CommandError,
    Param,
    Reply,
    jsonable,
    mask_guest,
)
from hotelbot.flows import Hotel
from hotelbot.store import FunnelCount
from hotelbot.typedefs import FlowId, GuestId, HotelId

log = structlog.get_logger(__name__)

DEFAULT_FUNNEL_DAYS = 30
_MARKS = ("completed", "abandoned", "expired", "cooloff")


def _hotel(targets: AdminTargets, request: Mapping[str, object]) -> Hotel:
    hotels = targets.config.get().hotels
    hotel = request.get("hotel")
    if not isinstance(hotel, str) or hotel not in hotels:
        raise CommandError(f"unknown hotel {hotel!r}; known hotels: {', '.join(sorted(hotels))}")
    return hotels[HotelId(hotel)]


def local(value: datetime, hotel: Hotel) -> str:
    """An aware time as ISO 8601 in the hotel's timezone."""
    return value.astimezone(ZoneInfo(hotel.timezone)).isoformat(timespec="seconds")


# --- actors --------------------------------------------------------------------------------


async def _actors(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    router = targets.router
    hotels = targets.config.get().hotels
    wanted_hotel = request.get("hotel")
    if wanted_hotel is not None and wanted_hotel not in hotels:
        raise CommandError(f"unknown hotel {wanted_hotel!r}")
    department = request.get("department")
    full = request.get("full", False) is True
    now = targets.now()
    rows = []
    for c in sorted(router.conversations(), key=lambda c: (c.hotel_id, c.department,
                                                             c.idle_seconds)):
        if (wanted_hotel and c.hotel_id != wanted_hotel) or (
                department and c.department != department):
            continue
        hotel = hotels.get(HotelId(c.hotel_id))
        last = now - timedelta(seconds=c.idle_seconds)
        rows.append({
            "hotel": c.hotel_id, "department": c.department,
            "phone_number_id": c.phone_number_id,
            "guest": c.guest_id if full else mask_guest(c.guest_id),
            "queued": c.queued, "idle_seconds": round(c.idle_seconds, 1),
            "last_message_at": local(last, hotel) if hotel else last.isoformat(),
        })
    return {"actors": rows, "count": len(rows)}


# --- funnel --------------------------------------------------------------------------------


async def _funnel(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    hotel = _hotel(targets, request)
    flow = request.get("flow")
    if flow is not None and (not isinstance(flow, str) or FlowId(flow) not in hotel.flows):
        raise CommandError(f"unknown flow {flow!r} at {hotel.hotel_id}; its flows: "
                           f"{', '.join(sorted(hotel.flows))}")
    days = request.get("days", DEFAULT_FUNNEL_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise CommandError("'days' must be an integer from 1 to 3650")
    if targets.funnel is not None:
        await targets.funnel.flush()  # the counts of the last seconds too
    today = targets.now().astimezone(ZoneInfo(hotel.timezone)).date()
    since = today - timedelta(days=days - 1)
    counts = await targets.store.funnel.counts(hotel.hotel_id, since_day=since.isoformat(),
                                 flow_id=flow if isinstance(flow, str) else None)
    return {"hotel": hotel.hotel_id, "since": since.isoformat(), "until": today.isoformat(),
            "timezone": hotel.timezone, "flows": _funnel_flows(hotel, counts)}


def _funnel_flows(hotel: Hotel, counts: Sequence[FunnelCount]) -> list[dict[str, object]]:
    by_flow: dict[str, dict[str, object]] = {}
    for count in counts:
        entry = by_flow.setdefault(count.flow_id, {
            "flow": count.flow_id, "steps": {}, **dict.fromkeys(_MARKS, 0)})
        if count.mark == "reached":
            steps = entry["steps"]
            assert isinstance(steps, dict)
            steps[count.step_id] = steps.get(count.step_id, 0) + count.count
        else:
            previous = entry.get(count.mark, 0)
            entry[count.mark] = (previous if isinstance(previous, int) else 0) + count.count
    flows = []
    for flow_id in sorted(by_flow):
        entry = by_flow[flow_id]
        reached = entry["steps"]
        assert isinstance(reached, dict)
        flow = hotel.flows.get(FlowId(flow_id))
        order = list(flow.steps) if flow is not None else []
        entry["steps"] = [{"step": s, "reached": reached.get(s, 0)}
                          for s in [*order, *sorted(set(reached) - set(order))]]
        flows.append(entry)
    return flows


# --- guest data rights -----------------------------------------------------------------------

_TIME_KEY = re.compile(r"(^at$|_at$|^last_activity$)")


async def _guest(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    hotel = _hotel(targets, request)
    what = request.get("action")
    number = request.get("number")
    if not isinstance(number, str) or not number.strip():
        raise CommandError("'number' is required: the guest's WhatsApp number")
    guest = number.strip().lstrip("+").replace(" ", "")
    numbers = [d.phone_number_id for d in hotel.departments.values()]
    guest_data = targets.store.guest_data
    if what == "export":
        tables = await guest_data.export(hotel.hotel_id, guest, numbers)
        rows = sum(len(v) for v in tables.values())
        log.info("guest_exported", hotel=hotel.hotel_id, guest=guest, rows=rows)
        return {"hotel": hotel.hotel_id, "guest": guest, "timezone": hotel.timezone,
                "exported_at": local(targets.now(), hotel),
                "tables": {name: [_local_times(row, hotel) for row in found]
                           for name, found in tables.items()}}
    if what == "forget":
        stopped = await targets.router.release_guest(HotelId(hotel.hotel_id), GuestId(guest))
        report = await guest_data.forget(hotel.hotel_id, guest, numbers)
        if targets.scheduler is not None:  # its memory of what was sent to the guest
            targets.scheduler.forget_guest(numbers, guest)
        log.info("guest_forgotten", hotel=hotel.hotel_id, guest=guest,
                 deleted=sum(report.deleted.values()),
                 anonymised=sum(report.anonymised.values()), conversations_stopped=stopped)
        return {"hotel": hotel.hotel_id, "guest": mask_guest(guest),
                "deleted": report.deleted, "anonymised": report.anonymised,
                "kept_as": report.pseudonym}
    raise CommandError("'action' must be export or forget")


def _local_times(row: Mapping[str, object], hotel: Hotel) -> dict[str, object]:
    shown: dict[str, object] = {}
    for key, value in row.items():
        if isinstance(value, str) and _TIME_KEY.search(key):
            with contextlib.suppress(ValueError):  # not a time after all: shown as stored
                value = local(datetime.fromisoformat(value), hotel)
        shown[key] = jsonable(value)
    return shown


_HOTEL = Param(key="hotel", help="the hotel's id")
OPS_COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command(name="actors", run=_actors,
            doc="conversations in memory, with their mailbox depth", params=(
        Param(key="hotel", required=False, metavar="H", help="only this hotel's"),
        Param(key="department", required=False, metavar="D", help="only this department's"),
        Param(key="full", kind="bool", required=False, help="show full guest numbers"),
    )),
    Command(name="funnel", run=_funnel,
            doc="per flow: how many reached each step, completed, abandoned, expired, "
                "hit a cooloff", params=(
        _HOTEL,
        Param(key="flow", required=False, metavar="F", help="only this flow"),
        Param(key="days", kind="int", required=False, metavar="N",
              help=f"the last N days, today included (default {DEFAULT_FUNNEL_DAYS})"),
    )),
    Command(name="guest", run=_guest,
            doc="a guest's data at a hotel: export it (JSON) or forget it (erase; requests "
                "kept anonymised)", params=(
        Param(key="action", choices=("export", "forget"), metavar="export|forget",
              help="export: everything stored; forget: erase it"),
        _HOTEL,
        Param(key="number", metavar="NUMBER", help="the guest's WhatsApp number"),
    )),
)}
