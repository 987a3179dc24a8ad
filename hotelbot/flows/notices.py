"""What a guest reads when staff act in the console (issue 11): the hotel's own texts.

Owns: choosing and filling the system string of a staff action (a request acknowledged, done
or cancelled; a conversation handed back to the bot). Must never do I/O, read the clock or
log: the console calls it and sends the result through the outbound pacer.

    acknowledged  "<kind>_acknowledged" when the hotel has it (order: "The kitchen has your
                  order — about 25 minutes"), else "request_acknowledged"
    done          "request_done"
    cancelled     "request_cancelled" with {reason}
    released      "staff_released"
Every text may use {department}, {hotel_name}, {guest_name}, {room} and the hotel variables.
"""

from __future__ import annotations

from collections.abc import Mapping

from hotelbot.flows.effects import SendMessage
from hotelbot.flows.model import Hotel
from hotelbot.flows.render import format_value, substitute, text_message
from hotelbot.typedefs import Dept, JSONScalar

NOTICE_KEYS = {
    "acknowledged": "request_acknowledged",
    "done": "request_done",
    "cancelled": "request_cancelled",
    "released": "staff_released",
}


def staff_notice(
    hotel: Hotel, action: str, *, language: str | None, department: str, kind: str = "",
    data: Mapping[str, JSONScalar] | None = None, reason: str = "",
) -> SendMessage | None:
    """The text message telling the guest of a staff `action` (a NOTICE_KEYS key), in their
    language; None when the hotel's strings have no text for it (nothing is sent)."""
    key = NOTICE_KEYS[action]
    if action == "acknowledged" and kind and f"{kind}_acknowledged" in hotel.strings:
        key = f"{kind}_acknowledged"
    text = hotel.strings.get(key)
    if text is None:
        return None
    lang = language if language in hotel.languages else hotel.default_language
    dept = hotel.departments.get(Dept(department))
    values = {name: t.get(lang, hotel.default_language) for name, t in hotel.variables.items()}
    values.update({"guest_name": "", "room": ""})
    values.update({k: format_value(v) for k, v in (data or {}).items()})
    values["hotel_name"] = hotel.name
    values["department"] = dept.name.get(lang, hotel.default_language) if dept else department
    values["reason"] = reason
    return text_message(substitute(text.get(lang, hotel.default_language), values))
