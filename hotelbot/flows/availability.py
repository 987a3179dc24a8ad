"""Opening hours: whether a flow or an option can be served now, and what to say when not.

Owns: reading Hours (daily windows in the hotel's timezone; the hotel file's
`opening_hours`) against `now`; the next opening; a menu as it reads at this time (an option
that is closed says when it opens, in its row description); the notice for a closed choice
(strings["closed"]: what, its window, and when it opens again, "today at 07:00" or
"tomorrow at 07:00", times in the guest's language by Babel); and which items of a basket
cannot be served now. The engine calls these where a choice is made (a menu option, a flow
started by a reply to a proactive message) and before an end step creates its request, so no
request is created that cannot be served.
Must never do I/O, read the clock (now arrives as a value) or log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotelbot.flows.basket import BASKET, item_name, lines
from hotelbot.flows.context import Context
from hotelbot.flows.i18n import display_locale, show_time
from hotelbot.flows.memo import remember
from hotelbot.flows.model import (
    FLOW_PREFIX,
    Flow,
    Hotel,
    Hours,
    Option,
    Step,
    StepKind,
    Text,
    Validator,
)
from hotelbot.typedefs import FlowId, JSONScalar
from hotelbot.whatsapp import limits

__all__ = ["closed_items", "closed_notice", "is_open", "local", "menu_view", "option_hours",
           "rolled_over", "window_label"]

_DAY = 24 * 60


def local(hotel: Hotel, now: datetime) -> datetime:
    """`now` on the hotel's clock."""
    try:
        return now.astimezone(ZoneInfo(hotel.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return now


def _minute(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def _inside(window: tuple[int, int], minute: int) -> bool:
    start, end = window
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # runs past midnight (or all day when equal)


def is_open(hours: Hours | None, moment: datetime) -> bool:
    """Whether `moment` (the hotel's local time) falls in one of the windows; None: always."""
    return hours is None or any(_inside(w, _minute(moment)) for w in hours.windows)


def _next_opening(hours: Hours, moment: datetime) -> tuple[datetime, tuple[int, int]]:
    """When the next window opens after `moment`, and that window."""
    minute = _minute(moment)
    best: tuple[int, tuple[int, int]] | None = None
    for window in hours.windows:
        wait = (window[0] - minute) % _DAY or _DAY
        if best is None or wait < best[0]:
            best = (wait, window)
    assert best is not None  # Hours always has a window (config checks)
    opening = moment.replace(second=0, microsecond=0) + timedelta(minutes=best[0])
    return opening, best[1]


def _clock(minutes: int) -> time:
    minutes %= _DAY
    return time(minutes // 60, minutes % 60)


def _say(hotel: Hotel, key: str, lang: str, **values: str) -> str:
    text = hotel.strings.get(key)
    body = text.get(lang, hotel.default_language) if text is not None else ""
    for name, value in values.items():
        body = body.replace("{" + name + "}", value)
    return body


def window_label(hotel: Hotel, low: float, high: float, lang: str) -> tuple[str, str]:
    """A window in hours of the day (8, 20.5) as the guest's times ("08:00", "20:30")."""
    where = display_locale(lang, hotel.locale)
    return (show_time(_clock(round(low * 60)), where),
            show_time(_clock(round(high * 60)) if high < 24 else time(23, 59), where))


def _opens(hotel: Hotel, hours: Hours, moment: datetime, lang: str) -> tuple[str, str, str]:
    """(start, end, when): the next window's times and "today/tomorrow at 07:00"."""
    where = display_locale(lang, hotel.locale)
    opening, window = _next_opening(hours, moment)
    clock = show_time(opening.time(), where)
    key = "opens_today" if opening.date() == moment.date() else "opens_tomorrow"
    return (show_time(_clock(window[0]), where), show_time(_clock(window[1]), where),
            _say(hotel, key, lang, time=clock))


def closed_notice(hotel: Hotel, what: str, hours: Hours, moment: datetime, lang: str) -> str:
    """strings["closed"]: "Sorry, Breakfast is available from 07:00 to 10:30. It opens
    again tomorrow at 07:00." """
    start, end, when = _opens(hotel, hours, moment, lang)
    return _say(hotel, "closed", lang, what=what, start=start, end=end, when=when)


def option_hours(hotel: Hotel, option: Option) -> Hours | None:
    """The option's own hours, else those of the flow it starts."""
    if option.hours is not None:
        return option.hours
    target = option.next.default or ""
    if target.startswith(FLOW_PREFIX) and not option.next.branches:
        flow = hotel.flows.get(FlowId(target.removeprefix(FLOW_PREFIX)))
        return flow.hours if flow is not None else None
    return None


# Memo of menu_view: a menu reads the same for a whole minute, and a turn views its menu twice
# (the step answered, the step shown; issue 13). Keyed by the hotel's and the step's ids, each
# entry holding both so an id is never reused while cached (a reload brings new ones). Pure.
_VIEWS: dict[tuple[int, int, int, str], tuple[Hotel, Step, Step]] = {}
_VIEWS_MAX = 4096


def menu_view(hotel: Hotel, step: Step, moment: datetime, lang: str) -> Step:
    """A menu as it reads at `moment`: each closed option says when it opens, in its row
    description when the menu is a list (4-10 options), else (buttons and numbered menus
    show no descriptions) in a line under the menu's text. Memoized per minute of the
    hotel's clock (all it reads of `moment`)."""
    if step.kind is not StepKind.MENU:
        return step
    key = (id(hotel), id(step), _minute(moment), lang)
    hit = _VIEWS.get(key)
    if hit is not None and hit[0] is hotel and hit[1] is step:
        return hit[2]
    view = _menu_view(hotel, step, moment, lang)
    remember(_VIEWS, key, (hotel, step, view), _VIEWS_MAX)
    return view


def _menu_view(hotel: Hotel, step: Step, moment: datetime, lang: str) -> Step:
    as_list = limits.BUTTONS_MAX < len(step.options) <= limits.ROWS_MAX
    options, notes = [], []
    for option in step.options:
        hours = option_hours(hotel, option)
        if hours is not None and not is_open(hours, moment):
            _, _, when = _opens(hotel, hours, moment, lang)
            note = _say(hotel, "opens_at", lang, when=when)
            if as_list:
                option = replace(option, description=Text({lang: note[
                    : limits.ROW_DESCRIPTION_MAX]}))
            else:
                notes.append(f"{option.title.get(lang, hotel.default_language)}: {note}")
        options.append(option)
    if not notes and options == list(step.options):
        return step
    text = step.text
    if notes:
        body = "\n\n".join((step.text.get(lang, hotel.default_language), "\n".join(notes)))
        text = Text({lang: body})
    return replace(step, options=tuple(options), text=text)


def rolled_over(hotel: Hotel, validator: Validator, value: JSONScalar, now: datetime,
                lang: str) -> str:
    """For a time answer taken for tomorrow (past: tomorrow, already past today): the time
    in the guest's language, to say which day was understood; "" otherwise."""
    if validator.past != "tomorrow" or not isinstance(value, str) or len(value) != 16:
        return ""
    if value[:10] == local(hotel, now).date().isoformat():
        return ""
    try:
        return show_time(time.fromisoformat(value[11:]), display_locale(lang, hotel.locale))
    except ValueError:
        return ""


def _item_hours(flow: Flow, item: str) -> list[tuple[Option, Hours]]:
    """The hours an item is served in: its option's, and those of the options that lead to
    the menu it is on (a "Breakfast" category)."""
    found: list[tuple[Option, Hours]] = []
    for step in flow.steps.values():
        for option in step.options:
            if option.id != item:
                continue
            if option.hours is not None:
                found.append((option, option.hours))
            for other in flow.steps.values():
                for leading in other.options:
                    if leading.hours is not None and step.id in leading.next.targets():
                        found.append((leading, leading.hours))
    return found


def closed_items(hotel: Hotel, flow: Flow, ctx: Context, moment: datetime) -> str:
    """For a basket that holds items not served now: the notice naming them; else ""."""
    lang, default = ctx.language, hotel.default_language
    for item, _ in lines(ctx.step_data.get(BASKET)):
        for option, hours in _item_hours(flow, item):
            if not is_open(hours, moment):
                what = item_name(flow, item, lang, default)
                if option.id != item:  # closed with its category: "Pancakes (Breakfast)"
                    what = f"{what} ({option.title.get(lang, default)})"
                return closed_notice(hotel, what, hours, moment, lang)
    return ""
