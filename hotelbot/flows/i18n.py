"""Dates, times and plurals as a guest reads them, by Babel (CLDR). Pure.

Owns: the locale a guest's texts are written in (the guest's language in the hotel's
country: "en" at a hotel in en_GB reads en_GB, at one in pt_PT en_PT), dates and times in it
("Friday, 25 December 2026", "19:00" or "7:00 PM", "Thursday 26 November, 19:00"), how a
collected value reads (an ISO date, "HH:MM" or local date-time is formatted, never shown as
"2026-12-04"), and plural forms by CLDR's rules: a text may hold
`{count, plural, one {# item} other {# items}}` (ICU's form; `#` is the number; categories
zero/one/two/few/many/other, `=N` for an exact number), chosen for the guest's language.
Must never raise on any value, do I/O, read the clock or log.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time

__all__ = ["display_locale", "expand_plurals", "readable_moment", "show_date", "show_datetime",
           "show_time"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")
_HHMM = re.compile(r"[0-9]{2}:[0-9]{2}")


@lru_cache(maxsize=256)
def display_locale(language: str, hotel_locale: str) -> Locale:
    """The guest's language in the hotel's country when CLDR has it, else the language."""
    territory = None
    with contextlib.suppress(ValueError, UnknownLocaleError):
        territory = Locale.parse(hotel_locale).territory
    for code in (f"{language}_{territory}" if territory else None, language, "en"):
        if code is None:
            continue
        try:
            return Locale.parse(code)
        except (ValueError, UnknownLocaleError):
            continue
    return Locale("en")


def show_date(day: date, locale: Locale) -> str:
    """ "Friday, 25 December 2026" in the locale."""
    return str(format_date(day, "full", locale=locale))


def show_time(moment: time, locale: Locale) -> str:
    """ "19:00" (en_GB, pt_PT) or "7:00 PM" (en, en_US)."""
    return str(format_time(moment, "short", locale=locale))


def show_datetime(moment: datetime, locale: Locale) -> str:
    """ "Thursday 26 November, 19:00": the day (no year: a request is for the coming days)
    and the time, joined the locale's way."""
    pattern = str(locale.datetime_formats.get("full", "{1}, {0}"))
    day = str(format_skeleton("MMMMEEEEd", moment.date(), locale=locale))
    return pattern.replace("{1}", day).replace("{0}", show_time(moment.time(), locale))


def readable_moment(value: str, locale: Locale) -> str | None:
    """An ISO date, local date-time or "HH:MM" as the guest reads it; None for other text."""
    try:
        if _ISO_DATETIME.fullmatch(value):
            return show_datetime(datetime.fromisoformat(value), locale)
        if _ISO_DATE.fullmatch(value):
            return show_date(date.fromisoformat(value), locale)
        if _HHMM.fullmatch(value):
            return show_time(time.fromisoformat(value), locale)
    except ValueError:
        return None
    return None


_PLURAL = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*),\s*plural,((?:\s*(?:=[0-9]+|zero|one|two|few|"
                     r"many|other)\s*\{[^{}]*\})+)\s*\}")
_FORM = re.compile(r"(=[0-9]+|zero|one|two|few|many|other)\s*\{([^{}]*)\}")


@lru_cache(maxsize=64)  # Babel parses a locale anew each call: ~10 µs (issue 13)
def _plural_locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return Locale("en")


def expand_plurals(template: str, values: Mapping[str, str], language: str) -> str:
    """Each `{name, plural, one {...} other {...}}` replaced by the form CLDR's rules pick for
    the number `values[name]` in `language` (`#` in it becomes the number). A block whose
    number is missing or not a number stays as written."""
    if "plural," not in template:
        return template
    numbers = tuple(values.get(name, "") for name in _plural_names(template))
    return _expanded(template, language, numbers)


@lru_cache(maxsize=1024)  # config texts: few, and each read on every message showing it
def _plural_names(template: str) -> tuple[str, ...]:
    """The name each plural block of `template` counts, in order."""
    return tuple(match.group(1) for match in _PLURAL.finditer(template))


@lru_cache(maxsize=4096)  # a basket's count is shown on each of its messages (issue 13)
def _expanded(template: str, language: str, numbers: tuple[str, ...]) -> str:
    """`template` with its plural blocks picked for `numbers` (one per block, in order)."""
    locale = _plural_locale(language)
    values = dict(zip(_plural_names(template), numbers, strict=True))

    def pick(match: re.Match[str]) -> str:
        raw = values.get(match.group(1), "")
        try:
            number = float(raw)
        except ValueError:
            return match.group(0)
        forms = dict(_FORM.findall(match.group(2)))
        exact = f"={int(number)}" if number.is_integer() else ""
        chosen = forms.get(exact) or forms.get(locale.plural_form(number)) or forms.get("other")
        return match.group(0) if chosen is None else chosen.replace("#", raw)

    return _PLURAL.sub(pick, template)
