"""A guest's own requests: "my requests" lists them, a request staff have not acknowledged
can be cancelled by the guest (issue 8 point 19). Pure.

Owns: what the guest reads about their requests: the list (each with what it is, when it was
made and where it stands; a Cancel row for each one still `new`), and the answer to a cancel.
The engine only asks for them (effects ListRequests / CancelRequest); the actor reads and
cancels in the store and sends these messages. Must never do I/O, read the clock or log.

Reply ids: "~requests:cancel:<id>" (no configured flow has "~").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hotelbot.flows.effects import SendMessage
from hotelbot.flows.model import Hotel
from hotelbot.flows.render import clip, join, string, substitute, text_message
from hotelbot.typedefs import FlowId
from hotelbot.whatsapp import limits

__all__ = ["CANCEL_PREFIX", "GuestRequest", "cancel_message", "requests_message"]

CANCEL_PREFIX = "~requests:cancel:"


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestRequest:
    """One of the guest's open requests, as the list shows it."""

    id: int
    flow_id: str
    kind: str
    status: str  # new | acknowledged
    created_at: datetime | None = None


def _what(hotel: Hotel, request: GuestRequest, lang: str) -> str:
    flow = hotel.flows.get(FlowId(request.flow_id))
    return flow.title.get(lang, hotel.default_language) if flow is not None else request.kind


def requests_message(hotel: Hotel, lang: str, requests: Sequence[GuestRequest]
                     ) -> SendMessage:
    """The guest's open requests, newest first: "#12 Room service order — waiting for staff"
    a line; the ones still new can be cancelled (a list row each, at most 10)."""
    if not requests:
        return text_message(string(hotel, "requests_none", lang))
    lines = []
    for request in requests:
        state = string(hotel, f"request_status_{request.status}", lang) or request.status
        lines.append(f"#{request.id} {_what(hotel, request, lang)} — {state}")
    body = join(string(hotel, "requests_title", lang), "\n".join(lines))
    cancellable = [r for r in requests if r.status == "new"][:limits.ROWS_MAX]
    if not cancellable:
        return text_message(body)
    body = join(body, string(hotel, "requests_cancel_hint", lang))
    rows = [{"id": f"{CANCEL_PREFIX}{r.id}",
             "title": clip(substitute(string(hotel, "request_cancel_row", lang),
                                      {"id": str(r.id)}), limits.ROW_TITLE_MAX),
             "description": clip(_what(hotel, r, lang), limits.ROW_DESCRIPTION_MAX)}
            for r in cancellable]
    button = clip(string(hotel, "menu_button", lang), limits.LIST_BUTTON_MAX)
    interactive = {
        "type": "list",
        "body": {"text": clip(body, limits.INTERACTIVE_BODY_MAX)},
        "footer": {"text": clip(string(hotel, "nav_footer", lang), limits.FOOTER_TEXT_MAX)},
        "action": {"button": button, "sections": [{"rows": rows}]},
    }
    return SendMessage(body={"type": "interactive", "interactive": interactive})


def cancel_message(hotel: Hotel, lang: str, request_id: int, cancelled: bool) -> SendMessage:
    """The answer to a cancel: done, or too late (staff already have it, or it is not the
    guest's open request)."""
    key = "guest_cancelled" if cancelled else "request_not_cancellable"
    return text_message(substitute(string(hotel, key, lang), {"id": str(request_id)}))
