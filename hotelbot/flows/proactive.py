"""The proactive model: scheduled-message templates, their triggers, quiet hours (issue 10).

Owns: the frozen dataclasses hotelbot.config builds from a hotel file's `scheduled_messages`
and `quiet_hours`, read by hotelbot.scheduler. Must never do I/O, import asyncio, read the
clock or log. Everything here is already validated.

    trigger                    fires
    hours_before_checkout: N   N hours (or minutes_before_checkout) before the stay's check_out
    hours_after_check_in: N    N hours (or minutes_after_check_in) after the stay's check_in
    daily_at: "HH:MM"          at that local time on each morning of the stay (the day after
                               check-in through the check-out day), between the two
    after_request: {flow, status, hours|minutes}
                               that long after a request of `flow` moved to `status`
    broadcast: true            only when an operator broadcasts it to a segment
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum

from hotelbot.flows.model import Text
from hotelbot.typedefs import Dept, FlowId

# What a scheduled text may name: the stay's and the guest's values, filled at send time in
# the hotel's time zone and formatted for the guest's language.
SCHEDULED_VARIABLES = frozenset({
    "guest_name", "room", "hotel_name", "department", "checkout_time", "checkout_date",
    "check_in_time", "check_in_date",
})


class Category(StrEnum):
    """WhatsApp's sense: service goes out when due; marketing honours quiet hours and opt-out."""

    SERVICE = "service"
    MARKETING = "marketing"


class TriggerKind(StrEnum):
    BEFORE_CHECKOUT = "before_checkout"
    AFTER_CHECK_IN = "after_check_in"
    DAILY = "daily"
    AFTER_REQUEST = "after_request"
    BROADCAST = "broadcast"


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger:
    kind: TriggerKind
    minutes: int = 0  # the offset of before_checkout, after_check_in and after_request
    at: time | None = None  # daily: the local time
    flow: FlowId | None = None  # after_request: the request's flow
    status: str = "done"  # after_request: the status it moved to

    @property
    def stay_relative(self) -> bool:
        return self.kind in (TriggerKind.BEFORE_CHECKOUT, TriggerKind.AFTER_CHECK_IN,
                             TriggerKind.DAILY)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledTemplate:
    """One kind of scheduled message of a hotel (the seed's ScheduledMessageTemplate)."""

    id: str  # the message type: checkout_reminder, breakfast_survey, ...
    trigger: Trigger
    text: Text  # per language, with {variables} (SCHEDULED_VARIABLES and hotel variables)
    department: Dept  # whose number sends it
    active: bool = True
    category: Category = Category.SERVICE
    template: str | None = None  # the hotel's message_templates id, for outside the window
    reply_flow: FlowId | None = None  # the flow a guest's reply starts


@dataclass(frozen=True, slots=True, kw_only=True)
class QuietHours:
    """Local times [start, end) when a category is not sent; wraps midnight when end < start.

    A message due inside waits for `end` (the morning); DST is the time zone's business."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end
