"""When scheduled messages are due, and what one says when it fires: pure (issue 10).

Owns: a stay's plan (the dues of its stay-relative templates and its checkout), the dues a
request's change of status triggers, quiet hours, and the decision for one due row (send it
as text, or as its WhatsApp template outside the 24-hour window, or skip it, and why). Must
never do I/O, read the clock, log or import asyncio: times come in as aware datetimes.

Rules:
    local times   a daily time ("10:00") is a wall-clock time in the hotel's time zone, built
                  with zoneinfo on each date: 10:00 stays 10:00 across a DST change (the UTC
                  instant moves by an hour). A time that does not exist that day (the hour
                  skipped in spring) is read with fold=0, i.e. as the offset before the change.
    keys          a row's trigger key names its stay and type, plus the date for a daily one
                  and the check-out instant for one before check-out (and the checkout row):
                  an extension after a reminder went out plans a new reminder; a welcome
                  goes once per stay.
    each morning  a daily template fires on every date from the day after check-in through
                  the check-out day, when that moment lies strictly between check-in and
                  check-out (the 10:00 of a 09:00 checkout day is not "during the stay").
    the past      a due more than PAST_GRACE before `now` is left out of a plan (a stay
                  upserted after the fact does not send yesterday's welcome).
    quiet hours   a due inside its category's quiet hours (local time) moves to their end (the
                  morning); service has none unless the hotel gives it some.
    deciding      at fire time, in this order: no such template any more -> failed
                  (unknown_message_type); inactive -> skipped (inactive_template); an end
                  step's row whose type the hotel triggers after a request's status instead
                  -> skipped (awaits_request); marketing to a guest who said STOP -> skipped
                  (opted_out); outside the 24-hour window without a WhatsApp template ->
                  skipped (outside_window); a template whose values are missing outside the
                  window -> failed (template_values: the name). Else it is sent: the text
                  in the guest's language (else the hotel's default), and the template for
                  the pacer to use if the window closes before it leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hotelbot.flows import (
    SCHEDULED_VARIABLES,
    Category,
    Hotel,
    QuietHours,
    ScheduledTemplate,
    TriggerKind,
    format_value,
    substitute,
    template_object,
)
from hotelbot.typedefs import JSONScalar

PAST_GRACE = timedelta(minutes=5)
CHECKOUT = "checkout"  # the message_type of a stay's checkout row (kind checkout)


@dataclass(frozen=True, slots=True, kw_only=True)
class Due:
    """One planned row: its type, when (aware UTC), its trigger key, what it carries."""

    message_type: str
    at: datetime
    key: str
    department: str = ""  # the sending department ("" for a checkout row)


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    phone_number_id: str
    body: Mapping[str, object]
    template: Mapping[str, object] | None
    category: Category
    reply_flow: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Skip:
    reason: str
    failed: bool = False  # failed rather than skipped on purpose


def stay_plan(hotel: Hotel, *, booking_ref: str, check_in: datetime, check_out: datetime,
              now: datetime) -> list[Due]:
    """The dues of a stay: each active stay-relative template's, and its checkout."""
    found: list[Due] = []
    for spec in hotel.scheduled.values():
        if not spec.active or not spec.trigger.stay_relative:
            continue
        for at, suffix in _stay_moments(hotel, spec, check_in, check_out):
            at = quiet_adjusted(hotel, spec.category, at)
            if at >= now - PAST_GRACE:
                found.append(Due(message_type=spec.id, at=at, department=spec.department,
                                 key=f"stay:{booking_ref}:{spec.id}{suffix}"))
    found.append(Due(message_type=CHECKOUT, at=check_out.astimezone(UTC),
                     key=f"stay:{booking_ref}:{CHECKOUT}:{_instant(check_out)}"))
    return sorted(found, key=lambda d: (d.at, d.key))


def _stay_moments(hotel: Hotel, spec: ScheduledTemplate, check_in: datetime,
                  check_out: datetime) -> list[tuple[datetime, str]]:
    trigger = spec.trigger
    if trigger.kind is TriggerKind.BEFORE_CHECKOUT:  # a new checkout (extension): a new one
        return [((check_out - timedelta(minutes=trigger.minutes)).astimezone(UTC),
                 f":{_instant(check_out)}")]
    if trigger.kind is TriggerKind.AFTER_CHECK_IN:
        return [((check_in + timedelta(minutes=trigger.minutes)).astimezone(UTC), "")]
    if trigger.kind is not TriggerKind.DAILY or trigger.at is None:
        return []
    zone = ZoneInfo(hotel.timezone)
    first = check_in.astimezone(zone).date() + timedelta(days=1)
    last = check_out.astimezone(zone).date()
    moments = []
    day = first
    while day <= last:
        at = local_moment(zone, day, trigger.at)
        if check_in < at < check_out:
            moments.append((at, f":{day.isoformat()}"))
        day += timedelta(days=1)
    return moments


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M")


def local_moment(zone: ZoneInfo, day: date, at: time) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone` (DST: module docstring)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def quiet_adjusted(hotel: Hotel, category: Category, at: datetime) -> datetime:
    """`at`, or the end of its category's quiet hours when it falls inside them."""
    quiet = hotel.quiet_hours.get(category)
    return at if quiet is None else after_quiet(quiet, ZoneInfo(hotel.timezone), at)


def after_quiet(quiet: QuietHours, zone: ZoneInfo, at: datetime) -> datetime:
    local = at.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return at.astimezone(UTC)
    day = local.date() if local.time().replace(tzinfo=None) < quiet.end \
        else local.date() + timedelta(days=1)
    return local_moment(zone, day, quiet.end)


def request_dues(hotel: Hotel, *, request_id: int, flow_id: str, status: str,
                 at: datetime) -> list[Due]:
    """The rows a request moving to `status` triggers (after_request templates of its flow)."""
    found = []
    for spec in hotel.scheduled.values():
        trigger = spec.trigger
        if (spec.active and trigger.kind is TriggerKind.AFTER_REQUEST
                and trigger.flow == flow_id and trigger.status == status):
            due = quiet_adjusted(hotel, spec.category, at + timedelta(minutes=trigger.minutes))
            found.append(Due(message_type=spec.id, at=due, department=spec.department,
                             key=f"request:{request_id}:{spec.id}:{status}"))
    return found


def stay_values(*, guest_name: str, room: str, check_in: datetime,
                check_out: datetime) -> dict[str, JSONScalar]:
    """What a stay's rows carry (their `data`): filled into the text when it fires."""
    return {"guest_name": guest_name, "room": room, "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat()}


def text_values(hotel: Hotel, spec: ScheduledTemplate, language: str,
                data: Mapping[str, JSONScalar],
                guest: Mapping[str, JSONScalar]) -> dict[str, str]:
    """The {variables} of a scheduled text: hotel variables, the guest's data, the row's
    data (a stay's name, room and times, in the hotel's time zone)."""
    default = hotel.default_language
    values = {name: text.get(language, default) for name, text in hotel.variables.items()}
    values["hotel_name"] = hotel.name
    department = hotel.departments.get(spec.department)
    values["department"] = department.name.get(language, default) if department else ""
    values.update({k: format_value(v) for k, v in guest.items() if v is not None})
    values.update({k: format_value(v) for k, v in data.items()
                   if v is not None and k not in ("check_in", "check_out")})
    values.update({name: "" for name in SCHEDULED_VARIABLES if name not in values})
    zone = ZoneInfo(hotel.timezone)
    for key, name in (("check_in", "check_in"), ("check_out", "checkout")):
        raw = data.get(key)
        if isinstance(raw, str):
            local = datetime.fromisoformat(raw).astimezone(zone)
            values[f"{name}_time"] = local.strftime("%H:%M")
            values[f"{name}_date"] = local.date().isoformat()
    return values


def decide(hotel: Hotel, *, message_type: str, from_stay_or_trigger: bool, language: str,
           data: Mapping[str, JSONScalar], guest: Mapping[str, JSONScalar],
           opted_out: bool, window_open: bool) -> Send | Skip:
    """What becomes of one due row (module docstring, "deciding")."""
    spec = hotel.scheduled.get(message_type)
    if spec is None:
        return Skip(reason="unknown_message_type", failed=True)
    if not spec.active:
        return Skip(reason="inactive_template")
    if spec.trigger.kind is TriggerKind.AFTER_REQUEST and not from_stay_or_trigger:
        return Skip(reason="awaits_request")
    if spec.category is Category.MARKETING and opted_out:
        return Skip(reason="opted_out")
    if not window_open and spec.template is None:
        return Skip(reason="outside_window")
    lang = language if language in hotel.languages else hotel.default_language
    values = text_values(hotel, spec, lang, data, guest)
    template = None
    if spec.template is not None:
        merged: dict[str, JSONScalar] = {**values}
        try:
            template = template_object(hotel, spec.template, merged, lang)
        except ValueError as exc:
            if not window_open:
                return Skip(reason=f"template_values: {exc}", failed=True)
    body = substitute(spec.text.get(lang, hotel.default_language), values)
    number = hotel.departments[spec.department].phone_number_id
    return Send(phone_number_id=number, template=template, category=spec.category,
                reply_flow=spec.reply_flow,
                body={"type": "text", "text": {"body": body, "preview_url": False}})
