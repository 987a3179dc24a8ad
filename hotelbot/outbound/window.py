"""The 24-hour customer-service window, pure: may this message go out free-form, as a
template, or not at all? (issue 9; Cloud API fact sheet section 5.6)

Rules:
    - The window of (sending number, guest) opens at the guest's last message TO THAT NUMBER
      (Meta's own timestamp of it) and lasts 24 hours; each new message re-opens it.
      Business messages, templates and receipts never open it.
    - Inside it, any message goes out as written. A send is judged open only while at least
      `margin` of the window is left: the pacer may hold a message a little, and a free-form
      message that reaches Meta after the window closed fails with 131047.
    - Outside it, only an approved template may go out: a message that names one is sent as
      that template; one that names none is skipped with reason `outside_window` (never sent,
      never retried).
    - A 131047 answer ("re-engagement required": Meta saw the window closed, even when our
      clock did not) routes the row the same way as a closed window.
Must never read the clock (now comes in) or do I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

__all__ = ["OUTSIDE_WINDOW", "WINDOW", "Route", "closes_at", "route", "route_after_131047"]

WINDOW = timedelta(hours=24)
DEFAULT_MARGIN = timedelta(minutes=1)
OUTSIDE_WINDOW = "outside_window"  # the skip reason recorded on the outbound row


class Route(StrEnum):
    FREE_FORM = "free_form"  # inside the window: send the message as written
    TEMPLATE = "template"  # outside it: send the message's approved template instead
    SKIP = "skip"  # outside it with no template: record `outside_window`, never send


def closes_at(last_inbound_at: datetime | None) -> datetime | None:
    """When the window of a guest who last wrote at `last_inbound_at` closes (None: never
    opened)."""
    return None if last_inbound_at is None else last_inbound_at + WINDOW


def route(
    *, last_inbound_at: datetime | None, now: datetime, has_template: bool,
    margin: timedelta = DEFAULT_MARGIN,
) -> Route:
    """How a message to this guest from this number may go out at `now`."""
    closing = closes_at(last_inbound_at)
    if closing is not None and now < closing - margin:
        return Route.FREE_FORM
    return Route.TEMPLATE if has_template else Route.SKIP


def route_after_131047(*, has_template: bool, sent_as_template: bool) -> Route:
    """Where a row goes when Meta says the window is closed. A template that itself got
    131047 (it should not) is not retried: skip it."""
    return Route.TEMPLATE if has_template and not sent_as_template else Route.SKIP
