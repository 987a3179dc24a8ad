"""The console's pages: the board of requests, a request, the conversations, live updates.

Owns: the handlers of /console/ (besides login and logout, auth.py), what each page shows and
the server-sent event stream that keeps them live. Must never show a request or conversation
outside the signed-in staff member's hotel and departments (the desk's lookups raise NotFound,
answered 404 exactly like a missing one), never accept a form without its CSRF token (the
middleware checks), and never put a full phone number on a page (masked) or in a log.

Live updates: /console/events sends `changed` whenever what the page shows changed (the
board: the hotel's newest request id or latest update; a conversation: its messages and their
delivery states), polled from the store once a second per open page, with `new` true when a
request appeared. The page fetches its fragment again; no script is inline (CSP).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import orjson
from aiohttp import web

from hotelbot.store import (
    TRANSITIONS,
    InboundMessage,
    OutboundRow,
    RequestRecord,
    RequestStatus,
    StaffRecord,
    TransitionRefused,
)
from hotelbot.typedefs import Dept, FlowId
from hotelbot.web.console.auth import GATE, csrf_token, staff_of
from hotelbot.web.console.desk import ACTIONS, Desk, NotFound

DESK = web.AppKey("console_desk", Desk)
STREAMS_CLOSING = web.AppKey("console_streams_closing", asyncio.Event)
COLUMNS = (RequestStatus.NEW, RequestStatus.ACKNOWLEDGED, RequestStatus.DONE,
           RequestStatus.CANCELLED)
POLL_SECONDS = 1.0
TICKS = {"pending": "🕓", "sending": "🕓", "sent": "✓", "delivered": "✓✓", "read": "✓✓",
         "failed": "⚠", "skipped": "⊘"}


def mask(guest_id: str) -> str:
    """A phone number as staff see it: country code and last three digits."""
    if len(guest_id) <= 5:
        return "•" * len(guest_id)
    return f"+{guest_id[:2]}{'•' * (len(guest_id) - 5)}{guest_id[-3:]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    request: RequestRecord
    department: str  # its name, in the hotel's language
    guest_name: str
    room: str
    masked: str
    handle: str  # the guest in the conversation's URL (auth.Gate.handle)
    created: str  # in the hotel's timezone
    updated: str
    fields: tuple[tuple[str, str], ...]  # every collected value: (label, value)
    actions: tuple[str, ...]


async def _context(request: web.Request, **values: object) -> dict[str, object]:
    staff = staff_of(request)
    desk = request.app[DESK]
    return {"staff": staff, "hotel": desk.hotel(staff), "csrf": await csrf_token(request),
            **values}


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%d %b %H:%M")


async def _cards(request: web.Request, requests: Sequence[RequestRecord]) -> list[Card]:
    staff = staff_of(request)
    desk = request.app[DESK]
    gate = request.app[GATE]
    hotel = desk.hotel(staff)
    zone = ZoneInfo(hotel.timezone)
    lang = hotel.default_language
    cards = []
    for req in requests:
        guest = await desk.guest(staff, req.guest_id)
        data = {**(guest.data if guest else {}), **req.data}
        flow = hotel.flows.get(FlowId(req.flow_id))
        labels = flow.labels if flow else {}
        fields = tuple(
            (labels[k].get(lang, lang) if k in labels else k.replace("_", " ").capitalize(),
             "" if v is None else str(v))
            for k, v in req.data.items() if v not in (None, ""))
        dept = hotel.departments.get(Dept(req.department))
        actions = tuple(a for a, s in ACTIONS.items() if s in TRANSITIONS[req.status])
        cards.append(Card(
            request=req, department=dept.name.get(lang, lang) if dept else req.department,
            guest_name=str(data.get("guest_name") or data.get("name") or ""),
            room=str(data.get("room") or ""), masked=mask(req.guest_id),
            handle=gate.handle(req.guest_id),
            created=_local(req.created_at, zone), updated=_local(req.updated_at, zone),
            fields=fields, actions=actions))
    return cards


async def _board_values(request: web.Request) -> dict[str, object]:
    staff = staff_of(request)
    desk = request.app[DESK]
    q = request.query
    department, status, search = q.get("department", ""), q.get("status", ""), q.get("q", "")
    requests = [r for r in await request.app[DESK].recent(staff)
                if staff.sees_department(r.department)
                and (not department or r.department == department)
                and (not status or r.status == status)]
    cards = await _cards(request, requests)
    if search.strip():
        needle = search.strip().lower()
        cards = [c for c in cards if needle in c.room.lower() or needle in c.guest_name.lower()]
    departments = desk.departments(staff)
    shown = [d for d in departments if not department or d == department]
    hotel = desk.hotel(staff)
    lang = hotel.default_language
    board = [(hotel.departments[d].name.get(lang, lang), d,
              [(s, [c for c in cards if c.request.department == d and c.request.status == s])
               for s in COLUMNS if not status or s == status])
             for d in shown]
    return {"board": board, "departments": [(d, hotel.departments[d].name.get(lang, lang))
                                            for d in departments],
            "statuses": COLUMNS, "filters": {"department": department, "status": status,
                                             "q": search},
            "query": request.query_string}


def _rendered(template: str, values_of: Callable[[web.Request], Awaitable[dict[str, object]]]
              ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page (or the fragment a live update swaps in): `template` over `values_of`."""
    async def handler(request: web.Request) -> web.StreamResponse:
        values = await values_of(request)
        return aiohttp_jinja2.render_template(template, request,
                                              await _context(request, **values))
    return handler


board = _rendered("board.html", _board_values)
board_fragment = _rendered("_board.html", _board_values)


async def request_page(request: web.Request) -> web.StreamResponse:
    staff = staff_of(request)
    desk = request.app[DESK]
    try:
        found = await desk.request(staff, _int(request.match_info["id"]))
    except NotFound:
        raise web.HTTPNotFound(text="no such request") from None
    cards = await _cards(request, [found])
    return aiohttp_jinja2.render_template("request.html", request,
                                          await _context(request, card=cards[0]))


async def act(request: web.Request) -> web.StreamResponse:
    """POST /console/requests/{id}/{action}: acknowledge, done, cancel (with a reason)."""
    staff = staff_of(request)
    desk = request.app[DESK]
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound(text="no such action")
    form = await request.post()
    reason = str(form.get("reason", ""))
    request_id = _int(request.match_info["id"])
    try:
        await desk.move(staff, request_id, action, reason)
    except NotFound:
        raise web.HTTPNotFound(text="no such request") from None
    except TransitionRefused as exc:
        if exc.reason == "reason_required":
            card = (await _cards(request, [await desk.request(staff, request_id)]))[0]
            return aiohttp_jinja2.render_template(
                "request.html", request,
                await _context(request, card=card, ask_reason=True, error=str(exc)),
                status=409)
        raise web.HTTPConflict(text=f"{exc}: reload the board") from None
    back = str(form.get("back", "")) or "/console/"
    raise web.HTTPSeeOther(back if back.startswith("/console/") else "/console/")


# --- conversations ------------------------------------------------------------------------------


async def conversations(request: web.Request) -> web.StreamResponse:
    staff = staff_of(request)
    desk = request.app[DESK]
    hotel = desk.hotel(staff)
    numbers = {str(hotel.departments[d].phone_number_id): d for d in desk.departments(staff)}
    zone = ZoneInfo(hotel.timezone)
    lang = hotel.default_language
    rows = []
    for number, guest_id, last in await desk.recent_guests(tuple(numbers)):
        dept = numbers[number]
        record = await desk.guest(staff, guest_id)
        name = str(record.data.get("guest_name") or "") if record else ""
        rows.append({"department": dept, "department_name": hotel.departments[dept].name.get(
            lang, lang), "handle": request.app[GATE].handle(guest_id), "masked": mask(guest_id),
            "name": name,
            "last": _local(last, zone),
            "held": desk.holds.held(number, guest_id, desk.now())})
    return aiohttp_jinja2.render_template("conversations.html", request,
                                          await _context(request, rows=rows))


async def _conversation_values(request: web.Request) -> dict[str, object]:
    staff = staff_of(request)
    desk = request.app[DESK]
    department, guest_id = request.match_info["department"], _guest(request)
    try:
        number = desk.number_of(staff, department)
    except NotFound:
        raise web.HTTPNotFound(text="no such conversation") from None
    history = await desk.history(number, guest_id)
    if not history.inbound and not history.outbound:
        raise web.HTTPNotFound(text="no such conversation")
    hotel = desk.hotel(staff)
    zone = ZoneInfo(hotel.timezone)
    timeline = [(at, 0, m.seq, _in(m, zone)) for m, at in history.inbound]
    timeline += [(at, 1, r.message.id, _out(r, at, zone)) for r, at in history.outbound]
    messages = [m for *_order, m in sorted(timeline, key=lambda t: t[:3])]
    record = await desk.guest(staff, guest_id)
    window = await desk.window(number, guest_id)
    handoff = await desk.handoff(number, guest_id)
    paused = await desk.paused_until(number, guest_id)
    return {"department": department, "handle": request.match_info["guest"],
            "masked": mask(guest_id),
            "name": str(record.data.get("guest_name") or "") if record else "",
            "messages": messages, "window": window,
            "closes": _local(window.closes_at, zone), "handoff": handoff,
            "held": desk.holds.held(number, guest_id, desk.now()),
            "until": _local(handoff.until, zone) if handoff else "",
            "templates": sorted(hotel.message_templates),
            "paused_until": _local(paused, zone) if paused else "",
            "notice": request.query.get("notice", ""),
            "error": request.query.get("error", "")}


def _in(message: InboundMessage, zone: ZoneInfo) -> dict[str, object]:
    return {"direction": "in",
            "at": _local(message.sent_at, zone), "text": _text_of(message.kind, message.payload),
            "tick": ""}


def _out(row: OutboundRow, committed: datetime, zone: ZoneInfo) -> dict[str, object]:
    return {"direction": "out", "at": _local(row.sent_at or committed, zone),
            "text": _body_text(row.message.body),
            "tick": TICKS.get(str(row.state), ""), "state": str(row.state),
            "why": row.skip_reason or row.error_title or ""}


def _text_of(kind: str, payload: Mapping[str, object]) -> str:
    inner = payload.get(kind)
    if kind == "text" and isinstance(inner, dict):
        return str(inner.get("body", ""))
    if kind == "interactive" and isinstance(inner, dict):
        for reply in ("button_reply", "list_reply"):
            chosen = inner.get(reply)
            if isinstance(chosen, dict):
                return f"[{chosen.get('title', '')}]"
    if kind == "button" and isinstance(inner, dict):
        return f"[{inner.get('text', '')}]"
    return f"({kind})"


def _body_text(body: Mapping[str, object]) -> str:
    kind = body.get("type")
    inner = body.get(kind) if isinstance(kind, str) else None
    if kind == "text" and isinstance(inner, dict):
        return str(inner.get("body", ""))
    if kind == "interactive" and isinstance(inner, dict):
        text = inner.get("body")
        return str(text.get("text", "")) if isinstance(text, dict) else "(menu)"
    if kind == "template" and isinstance(inner, dict):
        return f"(template {inner.get('name', '')})"
    return f"({kind})"


conversation = _rendered("conversation.html", _conversation_values)
messages_fragment = _rendered("_messages.html", _conversation_values)


async def conversation_action(request: web.Request) -> web.StreamResponse:
    """POST .../take, .../release, .../reply (text), .../template (template), .../lift (the
    guest's cooloff: they may write again at once)."""
    staff = staff_of(request)
    desk = request.app[DESK]
    await _conversation_values(request)  # 404 for a conversation this staff cannot see
    department, guest_id = request.match_info["department"], _guest(request)
    action = request.match_info["action"]
    form = await request.post()
    page = f"/console/conversations/{department}/{request.match_info['guest']}"
    try:
        if action == "take":
            await desk.take(staff, department, guest_id)
        elif action == "release":
            await desk.release(staff, department, guest_id)
        elif action == "reply":
            await desk.reply(staff, department, guest_id, str(form.get("text", "")))
        elif action == "template":
            await desk.send_template(staff, department, guest_id,
                                     str(form.get("template", "")))
        elif action == "lift":
            lifted = await desk.lift_pause(staff, department, guest_id)
            notice = ("Pause lifted: the guest may write again." if lifted
                      else "The guest was not paused (any more).")
            raise web.HTTPSeeOther(f"{page}?notice={_quote(notice)}")
        else:
            raise web.HTTPNotFound(text="no such action")
    except (ValueError, KeyError, TimeoutError) as exc:  # TimeoutError: lift
        raise web.HTTPSeeOther(f"{page}?error={_quote(str(exc))}") from None
    raise web.HTTPSeeOther(page)


# --- live updates -------------------------------------------------------------------------------


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `changed` (`new`: a request appeared) when the page's
    data changed; a comment every 15 s keeps proxies from closing the stream."""
    staff = staff_of(request)
    desk = request.app[DESK]
    conversation_key = None
    if "department" in request.query:
        try:
            number = desk.number_of(staff, request.query["department"])
        except NotFound:
            raise web.HTTPNotFound(text="no such conversation") from None
        guest_id = request.app[GATE].guest_of(request.query.get("guest", ""))
        if guest_id is None:
            raise web.HTTPNotFound(text="no such conversation")
        conversation_key = (number, guest_id)
        seen = await desk.history_stamp(*conversation_key)
        if not (seen[0] or seen[2]):  # no message in (counts of inbound, outbound)
            raise web.HTTPNotFound(text="no such conversation")  # none with this number
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    closing = request.app[STREAMS_CLOSING]
    with contextlib.suppress(ConnectionResetError):  # the page went away
        await _stream(response, desk, staff, conversation_key, closing)
    return response


async def _stream(response: web.StreamResponse, desk: Desk, staff: StaffRecord,
                  conversation_key: tuple[str, str] | None, closing: asyncio.Event) -> None:
    last: object = None
    newest = 0
    quiet = 0.0
    while not closing.is_set():
        if conversation_key is None:
            stamp: object = await desk.board_stamp(staff)
            top = int(stamp[0]) if isinstance(stamp, tuple) else 0
        else:
            stamp, top = await desk.history_stamp(*conversation_key), 0
        if last is not None and stamp != last:
            data = orjson.dumps({"new": top > newest}).decode()
            await response.write(f"event: changed\ndata: {data}\n\n".encode())
            quiet = 0.0
        elif quiet >= 15:
            await response.write(b": keep-alive\n\n")
            quiet = 0.0
        last, newest = stamp, max(newest, top)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), POLL_SECONDS)
        quiet += POLL_SECONDS


async def close_streams(app: web.Application) -> None:
    """on_shutdown: end the event streams, so a graceful stop does not wait for browsers
    to hang up (aiohttp waits for running handlers before the cleanup contexts unwind; a
    signal is its documented place for closing long-lived responses)."""
    app[STREAMS_CLOSING].set()


def _guest(request: web.Request) -> str:
    guest_id = request.app[GATE].guest_of(request.match_info["guest"])
    if guest_id is None:
        raise web.HTTPNotFound(text="no such conversation")
    return guest_id


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise web.HTTPNotFound(text="no such request") from None


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:200])
