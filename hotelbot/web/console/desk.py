"""The desk: what staff do from the console, with its effects on guests.

Owns: moving a request through its states (the rules are store/requests.py's) with the
guest's notice in the same transaction, the hooks that run when a request is done, taking
over / releasing a conversation (the holds the actors read), a staff member's reply inside
the 24-hour window and the re-engagement template outside it, and the sweep that hands timed
out conversations back to the bot. Must never: let one hotel's staff touch another hotel's
request or guest (every call names the staff member, whose hotel bounds it), send anything
not committed first, or word a guest's text itself (the hotel's strings, flows/notices.py).

    staff action ──▶ check (hotel, department) ──▶ ONE transaction: state + outbox row
                 ──▶ pacer.submit (window rule: a free-form notice outside the window is
                     skipped, never sent) ──▶ on_done hooks (the scheduler's feedback trigger)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from hotelbot.actors import Holds, UnlockStatus
from hotelbot.clock import Clock
from hotelbot.flows import Hotel, Hotels, staff_notice, template_object, text_message
from hotelbot.outbound import Pacer, Route, route
from hotelbot.store import (
    GuestRecord,
    Handoff,
    History,
    OutboundMessage,
    Priority,
    RequestRecord,
    RequestStatus,
    StaffRecord,
    Store,
)
from hotelbot.typedefs import Dept, GuestId, HotelId, NumberId

log = structlog.get_logger(__name__)

DoneHook = Callable[[RequestRecord], Awaitable[object] | object]

BOARD_SIZE = 300  # the newest requests of the hotel a board shows (and its stamp watches)

ACTIONS: Mapping[str, RequestStatus] = {
    "acknowledge": RequestStatus.ACKNOWLEDGED,
    "done": RequestStatus.DONE,
    "cancel": RequestStatus.CANCELLED,
}
_NOTICE = {RequestStatus.ACKNOWLEDGED: "acknowledged", RequestStatus.DONE: "done",
           RequestStatus.CANCELLED: "cancelled"}


class Cooloffs(Protocol):
    """A guest's pause after repeated wrong answers, as the console sees and lifts it
    (hotelbot.actors.Router: the lift goes through the conversation's actor)."""

    async def cooloff_until(self, phone_number_id: NumberId,
                            guest_id: GuestId) -> datetime | None: ...

    async def unlock(self, phone_number_id: NumberId, guest_id: GuestId,
                     timeout: float | None = ...) -> UnlockStatus: ...  # noqa: ASYNC109


class NotFound(LookupError):
    """No such request or conversation for this staff member (another hotel's is the same)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskStatistics:
    moved: int  # requests acknowledged, done or cancelled
    replies: int  # staff messages sent (free-form and templates)
    taken: int  # conversations taken over
    released: int  # handed back (by staff or by the timeout)
    holding: int  # conversations held now


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    open: bool  # a free-form reply may go out now
    closes_at: datetime | None  # None: the guest never wrote to this number


class Desk:
    """Staff actions; one per application (`app[DESK]`)."""

    def __init__(self, *, store: Store, pacer: Pacer, hotels: Callable[[], Hotels],
                 clock: Clock, holds: Holds, handoff_timeout: float,
                 cooloffs: Cooloffs | None = None) -> None:
        self._store = store
        self._cooloffs = cooloffs
        self._pacer = pacer
        self._hotels = hotels
        self._clock = clock
        self.holds = holds
        self.handoff_timeout = timedelta(seconds=handoff_timeout)
        self._done_hooks: list[DoneHook] = []
        self._counts = {"moved": 0, "replies": 0, "taken": 0, "released": 0}

    def statistics(self) -> DeskStatistics:
        return DeskStatistics(**self._counts, holding=len(self.holds))

    # --- hooks ------------------------------------------------------------------------------

    def on_done(self, hook: DoneHook) -> None:
        """Call `hook(request)` after a request is marked done and committed (the scheduler's
        feedback trigger). A failing hook is logged; the request stays done."""
        self._done_hooks.append(hook)

    # --- lookups (every one bounded by the staff member's hotel and departments) -------------

    def hotel(self, staff: StaffRecord) -> Hotel:
        return self._hotels().hotels[HotelId(staff.hotel_id)]

    def departments(self, staff: StaffRecord) -> list[Dept]:
        return [d for d in self.hotel(staff).departments if staff.sees_department(d)]

    async def request(self, staff: StaffRecord, request_id: int) -> RequestRecord:
        found = await self._store.requests.get(staff.hotel_id, request_id)
        if found is None or not staff.sees_department(found.department):
            raise NotFound(f"request {request_id}")
        return found

    def number_of(self, staff: StaffRecord, department: str) -> str:
        dept = self.hotel(staff).departments.get(Dept(department))
        if dept is None or not staff.sees_department(department):
            raise NotFound(f"department {department}")
        return dept.phone_number_id

    async def guest(self, staff: StaffRecord, guest_id: str) -> GuestRecord | None:
        return await self._store.guests.load(staff.hotel_id, guest_id)

    def now(self) -> datetime:
        return self._clock.now()

    async def recent(self, staff: StaffRecord) -> list[RequestRecord]:
        """The hotel's BOARD_SIZE newest requests (the caller filters by department)."""
        return await self._store.requests.recent(staff.hotel_id, limit=BOARD_SIZE)

    async def board_stamp(self, staff: StaffRecord) -> tuple[int, str]:
        """Changes when what `recent` shows the staff member changes."""
        return await self._store.requests.stamp(staff.hotel_id, staff.departments,
                                                window=BOARD_SIZE)

    async def history(self, number: str, guest_id: str) -> History:
        return await self._store.history.of(number, guest_id)

    async def history_stamp(self, number: str, guest_id: str) -> tuple[object, ...]:
        return await self._store.history.stamp(number, guest_id)

    async def recent_guests(self, numbers: tuple[str, ...]) -> list[tuple[str, str, datetime]]:
        return await self._store.history.guests_of(numbers)

    async def handoff(self, number: str, guest_id: str) -> Handoff | None:
        return await self._store.handoffs.get(number, guest_id)

    # --- requests ---------------------------------------------------------------------------

    async def move(self, staff: StaffRecord, request_id: int, action: str,
                   reason: str = "") -> RequestRecord:
        """Acknowledge, complete or cancel a request and tell the guest.

        Raises:
            NotFound: not this staff member's request.
            TransitionRefused: the rules refuse it (a done request cannot be acknowledged;
                cancelling a done one needs a reason), or it moved meanwhile.
            KeyError: unknown action.
        """
        target = ACTIONS[action]
        request = await self.request(staff, request_id)
        moved, _results = await self._move(request, target, reason, by=staff.username)
        return moved

    async def move_for_operator(self, request_id: int, status: str,
                                reason: str = "") -> tuple[RequestRecord, list[object]]:
        """The admin socket's ack/done/cancel (the machine's operator, any hotel): the same
        move as staff make, the guest told and the done hooks run. Returns the request as
        moved and what the done hooks returned (the scheduler: the new rows' ids).

        Raises:
            NotFound: no request has this id.
            TransitionRefused: the rules refuse it, or it moved meanwhile.
            ValueError: unknown status.
        """
        target = RequestStatus(status)
        for hotel_id in self._hotels().hotels:
            found = await self._store.requests.get(hotel_id, request_id)
            if found is not None:
                return await self._move(found, target, reason, by="admin")
        raise NotFound(f"no request with id {request_id}")

    async def _move(self, request: RequestRecord, target: RequestStatus, reason: str, *,
                    by: str) -> tuple[RequestRecord, list[object]]:
        hotel = self._hotels().hotels[HotelId(request.hotel_id)]
        record = await self._store.guests.load(request.hotel_id, request.guest_id)
        notice = staff_notice(
            hotel, _NOTICE[target], language=record.language if record else None,
            department=request.department, kind=request.kind,
            data={**(record.data if record else {}), **request.data}, reason=reason.strip())
        number = hotel.departments[Dept(request.department)].phone_number_id
        row = None if notice is None else OutboundMessage(
            phone_number_id=number, guest_id=request.guest_id, body=notice.body,
            priority=Priority.REPLY)
        now = self._clock.now()
        committed = await self._store.requests.transition(
            request.hotel_id, request.id, seen=request.status, to=target, at=now,
            note=reason, notice=row)
        if committed is not None:
            self._pacer.submit((committed,))
        self._counts["moved"] += 1
        log.info("request_moved", hotel=request.hotel_id, request=request.id,
                 status=str(target), staff=by)
        # None only if the guest's data was erased meanwhile
        moved = (await self._store.requests.get(request.hotel_id, request.id)
                 or replace(request, status=target))
        results = await self._run_done_hooks(moved) if target is RequestStatus.DONE else []
        return moved, results

    async def _run_done_hooks(self, request: RequestRecord) -> list[object]:
        results: list[object] = []
        for hook in self._done_hooks:
            try:
                result = hook(request)
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                log.exception("done_hook_failed", request=request.id)
                continue
            results.append(result)
        return results

    # --- conversations ----------------------------------------------------------------------

    async def window(self, number: str, guest_id: str) -> Window:
        last = await self._store.windows.last_inbound(number, guest_id)
        now = self._clock.now()
        free = route(last_inbound_at=last, now=now, has_template=False) is Route.FREE_FORM
        return Window(open=free, closes_at=None if last is None else last + timedelta(hours=24))

    async def paused_until(self, number: str, guest_id: str) -> datetime | None:
        """When the guest's cooloff with this number ends, if one is in force now."""
        if self._cooloffs is None:
            return None
        return await self._cooloffs.cooloff_until(NumberId(number), GuestId(guest_id))

    async def lift_pause(self, staff: StaffRecord, department: str, guest_id: str) -> bool:
        """Lift the guest's cooloff (and error count) with the department's number, like
        `hotelbot admin unlock`; True when one was in force.

        Raises:
            NotFound: not this staff member's department.
        """
        number = self.number_of(staff, department)
        if self._cooloffs is None:
            return False
        status = await self._cooloffs.unlock(NumberId(number), GuestId(guest_id))
        log.info("pause_lifted", hotel=staff.hotel_id, dept=department, guest=guest_id,
                 staff=staff.username, status=str(status))
        return status is UnlockStatus.LIFTED

    async def take(self, staff: StaffRecord, department: str, guest_id: str) -> Handoff:
        number = self.number_of(staff, department)
        now = self._clock.now()
        handoff = Handoff(phone_number_id=number, guest_id=guest_id, hotel_id=staff.hotel_id,
                          staff=staff.username, taken_at=now, until=now + self.handoff_timeout)
        await self._store.handoffs.take(handoff)
        self.holds.hold(number, guest_id, handoff.until)
        self._counts["taken"] += 1
        log.info("conversation_taken", hotel=staff.hotel_id, dept=department,
                 guest=guest_id, staff=staff.username)
        return handoff

    async def release(self, staff: StaffRecord, department: str, guest_id: str) -> bool:
        number = self.number_of(staff, department)
        return await self._hand_back(staff.hotel_id, department, number, guest_id)

    async def _hand_back(self, hotel_id: str, department: str, number: str,
                         guest_id: str) -> bool:
        """End a hold and tell the guest the bot is back (the hotel's staff_released)."""
        self.holds.release(number, guest_id)
        ended = await self._store.handoffs.release(number, guest_id)
        if ended is None:
            return False
        hotel = self._hotels().hotels[HotelId(hotel_id)]
        record = await self._store.guests.load(hotel_id, guest_id)
        notice = staff_notice(hotel, "released", language=record.language if record else None,
                              department=department, data=record.data if record else None)
        if notice is not None:
            await self._send(OutboundMessage(phone_number_id=number, guest_id=guest_id,
                                             body=notice.body, priority=Priority.REPLY))
        self._counts["released"] += 1
        log.info("conversation_released", hotel=hotel_id, dept=department, guest=guest_id)
        return True

    async def reply(self, staff: StaffRecord, department: str, guest_id: str,
                    text: str) -> OutboundMessage:
        """A staff member's free-form reply (inside the window; the pacer enforces it too).
        While the conversation is held, replying renews the hold's timeout.

        Raises:
            ValueError: empty text, or the 24-hour window is closed.
        """
        number = self.number_of(staff, department)
        if not text.strip():
            raise ValueError("write a reply first")
        if not (await self.window(number, guest_id)).open:
            raise ValueError("the 24-hour window is closed: send a template instead")
        if self.holds.held(number, guest_id, self._clock.now()):
            await self.take(staff, department, guest_id)  # talking renews the hold
        body = text_message(text).body
        return await self._send_staff(OutboundMessage(phone_number_id=number, guest_id=guest_id,
                                                body=body, priority=Priority.REPLY))

    async def send_template(self, staff: StaffRecord, department: str, guest_id: str,
                            template_id: str) -> OutboundMessage:
        """The hotel's approved template (re-engagement outside the window).

        Raises:
            KeyError: the hotel has no such template.
            ValueError: the guest's data lacks a value the template needs.
        """
        number = self.number_of(staff, department)
        hotel = self.hotel(staff)
        record = await self.guest(staff, guest_id)
        language = (record.language if record else None) or hotel.default_language
        template = template_object(hotel, template_id, record.data if record else {}, language)
        body = {"type": "template", "template": template}
        return await self._send_staff(OutboundMessage(phone_number_id=number, guest_id=guest_id,
                                                body=body, priority=Priority.REPLY,
                                                template=template))

    async def _send(self, message: OutboundMessage) -> OutboundMessage:
        committed = await self._store.outbox.add(message, self._clock.now())
        self._pacer.submit((committed,))
        return committed

    async def _send_staff(self, message: OutboundMessage) -> OutboundMessage:
        self._counts["replies"] += 1
        return await self._send(message)

    # --- timeouts ---------------------------------------------------------------------------

    async def sweep_forever(self, every: float = 5.0) -> None:
        """Hand timed-out conversations back to the bot (with the notice), every `every` s."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("handoff_sweep_failed")
            await asyncio.sleep(every)

    async def sweep(self) -> int:
        now = self._clock.now()
        expired = [h for h in await self._store.handoffs.active() if h.until <= now]
        hotels = self._hotels()
        for h in expired:
            found = hotels.numbers.get(NumberId(h.phone_number_id))
            department = str(found[1]) if found else ""
            await self._hand_back(h.hotel_id, department, h.phone_number_id, h.guest_id)
        return len(expired)
