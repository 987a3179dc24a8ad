"""Typed answers: parse and validate what a guest typed at an input step.

Owns: one parser per `ValidatorKind` and `match_choice`, the single rule for matching a typed
answer to numbered options (menus, choices, confirm buttons). Must never raise on guest text,
read the clock (time arrives as `now`), do I/O or log. A rejection says which bound an answer
of the right form missed (`Bound`: text too short or too long, a number out of range) so the
guest is told that bound, not the form again.

Accepted forms (guest text is first `normalize`d: case, accents and edge punctuation ignored):
  text     stripped, not empty; min_length to max_length (default 1000) characters, each a
           bound of its own; saved as typed (the guest's own words, never normalized).
  integer  "3", "+3", "-2", or a number word one..ten in en/es/pt/fr/de; min/max inclusive
           (outside: Bound.RANGE).
  number   "2.5" or "2,5" (decimal comma); min/max inclusive (outside: Bound.RANGE).
  (the date and time words themselves are hotelbot.flows.moment's)
  date     "25/12", "25/12/2026", "25-12-26", "2026-12-25", "25 dec", "december 25 2026",
           "25 de diciembre", "today", "tomorrow", "day after tomorrow" and weekday names
           ("friday", "next friday"), in en/es/pt/fr/de. Day first ("3/4" is 3 April) unless
           only month-first makes sense ("12/25"). Without a year it is the next such date
           (today included). Resolved in the hotel's timezone from `now`; saved ISO
           ("2026-12-25"). min/max are days from today, default min 0: a past date is
           invalid unless min is negative.
  time     "7pm", "7:30 pm", "7.30pm", "19:30", "19.30", "19h30", "19h", "1930", "930",
           "noon", "midnight", "now"/"asap" (the hotel's current time); bare hours "13".."23"
           and "0". A bare "1".."12" is ambiguous (morning or evening?) and rejected. Saved
           "HH:MM". min/max, when set, are hours of the day (e.g. 7 and 22.5).
  room     the hotel's room_pattern must fully match, after dropping a leading "room", "rm",
           "no", "#", "habitacion", "quarto", "chambre", "zimmer"; tried as typed, then
           upper-cased.
  phone    7-15 digits, with optional +/00 prefix, spaces, dashes, dots, parentheses; saved
           "+<digits>" when international, else digits.
  email    one "@", a dotted domain, no spaces, <= 254 characters; domain saved lower-case.
  rating   an integer in min..max (default 1..5; outside: Bound.RANGE): "4", "4/5", "4 stars",
           "4 - good", or star symbols ("⭐⭐⭐⭐", "****").
  choice   one of the validator's choices by number, or by title in any language; saved as
           the choice id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotelbot.flows.model import Validator, ValidatorKind
from hotelbot.flows.moment import parse_date, parse_time
from hotelbot.flows.text import normalize
from hotelbot.typedefs import JSONScalar

DEFAULT_MAX_TEXT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """The answer is valid; `value` is what gets saved."""

    value: JSONScalar


class Bound(Enum):
    """The bound an answer of the right form missed (an Enum, not a StrEnum: a parser's str
    result is the guest's text)."""

    TOO_SHORT = "too_short"  # text under min_length
    TOO_LONG = "too_long"  # text over max_length
    RANGE = "range"  # integer, number or rating outside min..max


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """The answer is invalid for `kind`: not of its form (`bound` None: the engine says
    strings["invalid_<kind>"]) or of its form but past `bound` (the engine names the bound)."""

    kind: ValidatorKind
    bound: Bound | None = None


Answer = Accepted | Rejected
Parsed = JSONScalar | Bound  # what a parser found: the value, None (not its form) or a bound


@dataclass(frozen=True, slots=True, kw_only=True)
class Locale:
    """What parsing needs to know about the hotel: its clock reading, zone and room rule."""

    now: datetime
    timezone: str
    room_pattern: str

    def today(self) -> date:
        return self.local_now().date()

    def local_now(self) -> datetime:
        try:
            return self.now.astimezone(ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return self.now


_LEADING_NUMBER = re.compile(r"([0-9]{1,3})\s*[.):\-]?\s*(.+)")


def match_choice(titles: Sequence[Iterable[str]], text: str) -> int | None:
    """Index of the option a typed answer names, or None.

    Args:
        titles: per option (in the order shown, option 1 first), its titles in every language.
        text: what the guest typed.

    Returns:
        The 0-based index: by number ("2", "2.", " 2 "), by title (normalized, any language),
        or by the title with its number in front ("2. Club sandwich").
    """
    norm = normalize(text)
    if norm.isascii() and norm.isdigit():
        number = int(norm)
        return number - 1 if 1 <= number <= len(titles) else None
    by_title = {normalize(t): i for i in reversed(range(len(titles))) for t in titles[i]}
    if norm in by_title:
        return by_title[norm]
    m = _LEADING_NUMBER.fullmatch(norm)
    if m and m.group(2) in by_title:
        return by_title[m.group(2)]
    return None


_NUMERAL = re.compile(r"[+-]?[0-9]{1,12}(?:[.,][0-9]{1,9})?")
_NUMERIC_KINDS = frozenset({ValidatorKind.INTEGER, ValidatorKind.NUMBER, ValidatorKind.RATING})


def numeric_answer(validator: Validator | None, text: str) -> bool:
    """Whether `text` is a numeral typed where the validator reads a number (integer, number,
    rating): there it is an answer, never a global word ("0" at "How many?" is out of range,
    not the main menu)."""
    return (validator is not None and validator.kind in _NUMERIC_KINDS
            and _NUMERAL.fullmatch(normalize(text)) is not None)


def parse_answer(validator: Validator, text: str, locale: Locale) -> Answer:
    """Parse and validate `text` for `validator`.

    Returns:
        Accepted(value) or Rejected(kind). Never raises.
    """
    value = _PARSERS[validator.kind](validator, text, locale)
    if isinstance(value, Bound):
        return Rejected(kind=validator.kind, bound=value)
    return Rejected(kind=validator.kind) if value is None else Accepted(value=value)


def _within(value: float, validator: Validator) -> bool:
    low_ok = validator.min is None or value >= validator.min
    return low_ok and (validator.max is None or value <= validator.max)


def _text(v: Validator, text: str, _: Locale) -> Parsed:
    value = text.strip()
    if not value:
        return None
    if v.min_length is not None and len(value) < v.min_length:
        return Bound.TOO_SHORT
    high = v.max_length if v.max_length is not None else DEFAULT_MAX_TEXT
    return Bound.TOO_LONG if len(value) > high else value


_NUMBER_WORDS = {
    word: n
    for n, words in enumerate(
        [
            ("zero", "cero", "zero", "zero", "null"),
            ("one", "uno", "um", "un", "eins"),
            ("two", "dos", "dois", "deux", "zwei"),
            ("three", "tres", "tres", "trois", "drei"),
            ("four", "cuatro", "quatro", "quatre", "vier"),
            ("five", "cinco", "cinco", "cinq", "funf"),
            ("six", "seis", "seis", "six", "sechs"),
            ("seven", "siete", "sete", "sept", "sieben"),
            ("eight", "ocho", "oito", "huit", "acht"),
            ("nine", "nueve", "nove", "neuf", "neun"),
            ("ten", "diez", "dez", "dix", "zehn"),
        ]
    )
    for word in words
}
_NUMBER_WORDS.update({"una": 1, "uma": 1, "une": 1, "ein": 1, "eine": 1, "duas": 2})
_INTEGER = re.compile(r"[+-]?[0-9]{1,9}")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,9}(?:[.,][0-9]{1,9})?")


def _integer(v: Validator, text: str, _: Locale) -> Parsed:
    norm = normalize(text)
    if _INTEGER.fullmatch(norm):
        value = int(norm)
    elif norm in _NUMBER_WORDS:
        value = _NUMBER_WORDS[norm]
    else:
        return None
    return value if _within(value, v) else Bound.RANGE


def _number(v: Validator, text: str, _: Locale) -> Parsed:
    norm = normalize(text)
    if not _DECIMAL.fullmatch(norm):
        return _integer(v, text, _)
    value = float(norm.replace(",", "."))
    return value if _within(value, v) else Bound.RANGE


_ROOM_PREFIX = re.compile(
    r"^(?:room|rm|no|nr|num|number|habitacion|hab|quarto|chambre|zimmer|#)\s*[.:#]?\s*"
)


def _room(_: Validator, text: str, locale: Locale) -> JSONScalar:
    raw = text.strip().strip(".,;:!?")
    lowered = raw.casefold()
    m = _ROOM_PREFIX.match(lowered)
    candidate = raw[m.end():].strip() if m and m.end() < len(raw) else raw
    try:
        pattern = re.compile(locale.room_pattern)
    except re.error:
        return None
    for form in (candidate, candidate.upper()):
        if form and pattern.fullmatch(form):
            return form
    return None


def _phone(_: Validator, text: str, __: Locale) -> JSONScalar:
    raw = re.sub(r"[\s\-.()]", "", text.strip())
    international = raw.startswith(("+", "00"))
    digits = raw[1:] if raw.startswith("+") else raw[2:] if raw.startswith("00") else raw
    if not (digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15):
        return None
    return f"+{digits}" if international else digits


_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)*\.[^@\s.0-9]{2,}")


def _email(_: Validator, text: str, __: Locale) -> JSONScalar:
    value = text.strip().strip("<>").rstrip(".")
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        return None
    local, _sep, domain = value.partition("@")
    return f"{local}@{domain.lower()}"


_STARS = frozenset("⭐★*✩☆🌟")
_RATING = re.compile(r"([0-9]{1,2})(?:\s*/\s*[0-9]{1,2})?(?:\s*[^0-9].*)?")


def rating_range(v: Validator) -> range:
    """The ratings a validator accepts (default 1..5), as integers."""
    low = int(v.min) if v.min is not None else 1
    high = int(v.max) if v.max is not None else 5
    return range(low, max(low, high) + 1)


def _rating(v: Validator, text: str, _: Locale) -> Parsed:
    raw = "".join(text.split())
    if raw and all(ch in _STARS or ch == "\ufe0f" for ch in raw):
        value = sum(1 for ch in raw if ch in _STARS)
    else:
        m = _RATING.fullmatch(normalize(text))
        if m is None:
            return None
        value = int(m.group(1))
    return value if value in rating_range(v) else Bound.RANGE


def _choice(v: Validator, text: str, _: Locale) -> JSONScalar:
    index = match_choice([c.title.by_lang.values() for c in v.choices], text)
    return None if index is None else v.choices[index].id


def _date(v: Validator, text: str, locale: Locale) -> JSONScalar:
    today = locale.today()
    found = parse_date(normalize(text), today)
    if found is None:
        return None
    offset = (found - today).days
    low = v.min if v.min is not None else 0
    if offset < low or (v.max is not None and offset > v.max):
        return None
    return found.isoformat()


def _time(v: Validator, text: str, locale: Locale) -> JSONScalar:
    found = parse_time(normalize(text), locale.local_now())
    if found is None:
        return None
    hours = found[0] + found[1] / 60
    if (v.min is not None and hours < v.min) or (v.max is not None and hours > v.max):
        return None
    return f"{found[0]:02d}:{found[1]:02d}"


_PARSERS: Mapping[ValidatorKind, Callable[[Validator, str, Locale], Parsed]] = {
    ValidatorKind.TEXT: _text,
    ValidatorKind.INTEGER: _integer,
    ValidatorKind.NUMBER: _number,
    ValidatorKind.DATE: _date,
    ValidatorKind.TIME: _time,
    ValidatorKind.ROOM: _room,
    ValidatorKind.PHONE: _phone,
    ValidatorKind.EMAIL: _email,
    ValidatorKind.RATING: _rating,
    ValidatorKind.CHOICE: _choice,
}
