"""Moments: the dates and times of day guests type, in en/es/pt/fr/de. Pure.

Owns: reading an already-normalized answer as a calendar date (numeric, ISO, worded, relative
or weekday forms) or as an hour and minute (12- and 24-hour clocks, "noon", "now"); the forms
are listed in hotelbot.flows.validators' docstring. Must never raise on guest text, apply a
validator's limits (validators does), read the clock (today and the local time arrive as
values), do I/O or log.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

__all__ = ["parse_date", "parse_time"]


def _names(*groups: str) -> dict[str, int]:
    """Map each space-separated name of group i to i (names are already normalized)."""
    return {name: i for i, group in enumerate(groups) for name in group.split()}


_WEEKDAYS = _names(
    "monday mon lunes segunda segunda-feira lundi montag",
    "tuesday tue tues martes terca terca-feira mardi dienstag",
    "wednesday wed miercoles quarta quarta-feira mercredi mittwoch",
    "thursday thu thur thurs jueves quinta quinta-feira jeudi donnerstag",
    "friday fri viernes sexta sexta-feira vendredi freitag",
    "saturday sat sabado samedi samstag",
    "sunday sun domingo dimanche sonntag",
)
_MONTHS = {
    name: i + 1
    for name, i in _names(
        "january jan enero ene janeiro janvier janv januar",
        "february feb febrero fevereiro fev fevrier fevr februar",
        "march mar marzo marco mars marz",
        "april apr abril avril",
        "may mayo maio mai",
        "june jun junio junho juin juni",
        "july jul julio julho juillet juil juli",
        "august aug agosto ago aout august",
        "september sep sept septiembre setembro set septembre",
        "october oct octubre outubro out octobre oktober okt",
        "november nov noviembre novembro novembre",
        "december dec diciembre dic dezembro dez decembre dezember",
    ).items()
}
_RELATIVE = {
    **dict.fromkeys(("today", "hoy", "hoje", "aujourd'hui", "heute"), 0),
    **dict.fromkeys(("tomorrow", "manana", "amanha", "demain", "morgen"), 1),
    **dict.fromkeys(
        ("day after tomorrow", "pasado manana", "depois de amanha", "apres-demain",
         "apres demain", "ubermorgen"),
        2,
    ),
}
_FILLER = frozenset(
    ("on", "the", "of", "de", "del", "do", "da", "le", "am", "next", "this", "proximo",
     "proxima", "prochain")
)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_NUMERIC_DATE = re.compile(r"([0-9]{1,2})[/.\-]([0-9]{1,2})(?:[/.\-]([0-9]{4}|[0-9]{2}))?")
_ORDINAL = re.compile(r"^([0-9]{1,2})(?:st|nd|rd|th|er|o|a|º|ª)?$")


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _upcoming(month: int, day: int, today: date) -> date | None:
    """The next `day`/`month` on or after today (Feb 29 waits for a leap year)."""
    for year in range(today.year, today.year + 9):
        found = _make(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _day_month(a: int, b: int) -> tuple[int, int]:
    """Day first, unless only month-first makes sense (12/25)."""
    return (b, a) if a <= 12 < b else (a, b)


def parse_date(norm: str, today: date) -> date | None:
    """The date a normalized answer names, relative to `today` (the hotel's local date).

    Returns:
        The date, or None if the text names no date (or an impossible one, like 31/02).
    """
    if norm in _RELATIVE:
        return today + timedelta(days=_RELATIVE[norm])
    if m := _ISO_DATE.fullmatch(norm):
        return _make(int(m[1]), int(m[2]), int(m[3]))
    if m := _NUMERIC_DATE.fullmatch(norm):
        day, month = _day_month(int(m[1]), int(m[2]))
        if m[3] is None:
            return _upcoming(month, day, today)
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        return _make(year, month, day)
    return _worded_date(norm, today)


def _worded_date(norm: str, today: date) -> date | None:
    words = [w for w in re.split(r"[\s,]+", norm) if w and w not in _FILLER]
    if len(words) == 1 and words[0] in _WEEKDAYS:
        return today + timedelta(days=(_WEEKDAYS[words[0]] - today.weekday()) % 7)
    months = [_MONTHS[w] for w in words if w in _MONTHS]
    rest = [w for w in words if w not in _MONTHS]
    if len(months) != 1 or not 1 <= len(rest) <= 2:
        return None
    day_match = _ORDINAL.match(rest[0])
    year_text = rest[1] if len(rest) == 2 else None
    if day_match is None or (year_text is not None and not re.fullmatch(r"[0-9]{4}", year_text)):
        return None
    day = int(day_match[1])
    if year_text is None:
        return _upcoming(months[0], day, today)
    return _make(int(year_text), months[0], day)


_SPECIAL_TIMES = {
    **dict.fromkeys(("noon", "midday", "mediodia", "meio-dia", "meio dia", "midi", "mittag"),
                    (12, 0)),
    **dict.fromkeys(("midnight", "medianoche", "meia-noite", "meia noite", "minuit",
                     "mitternacht"), (0, 0)),
}
_NOW_WORDS = frozenset(("now", "asap", "right now", "ahora", "agora", "maintenant", "jetzt"))
_TIME_LEAD = re.compile(r"^(?:at|around|about|by|a las|a la|as|a|um|vers|gegen)\s+")
_TIME_TAIL = re.compile(r"\s*(?:o'?clock|uhr|hrs|horas|heures)$")
_CLOCK = re.compile(
    r"(?P<h>[0-9]{1,2})(?:\s*(?P<sep>[:.h])\s*(?P<m>[0-9]{2})?)?\s*(?P<ap>am|pm|a|p)?"
)
_COMPACT = re.compile(r"(?P<h>[0-9]{1,2})(?P<m>[0-9]{2})\s*(?P<ap>am|pm|a|p)?")


def parse_time(norm: str, local_now: datetime) -> tuple[int, int] | None:
    """The time of day a normalized answer names; "now" reads `local_now` (the hotel's time).

    Returns:
        (hour, minute) on the 24-hour clock, or None if unclear (a bare "1".."12") or invalid.
    """
    if norm in _NOW_WORDS:
        return local_now.hour, local_now.minute
    text = _TIME_TAIL.sub("", _TIME_LEAD.sub("", norm))
    text = text.replace("a.m", "am").replace("p.m", "pm").strip()
    if text in _SPECIAL_TIMES:
        return _SPECIAL_TIMES[text]
    m = _COMPACT.fullmatch(text) or _CLOCK.fullmatch(text)
    if m is None:
        return None
    groups = m.groupdict()
    hour, minute = int(groups["h"]), int(groups["m"] or 0)
    if minute > 59:
        return None
    explicit = groups["m"] is not None or groups.get("sep") == "h"
    return _clock_hour(hour, minute, groups["ap"], explicit)


def _clock_hour(hour: int, minute: int, ampm: str | None, explicit: bool) -> tuple[int, int] | None:
    if ampm is not None:
        if not 1 <= hour <= 12:
            return None
        return (hour % 12 + (12 if ampm.startswith("p") else 0), minute)
    if hour > 23 or (not explicit and 1 <= hour <= 12):
        return None
    return hour, minute
