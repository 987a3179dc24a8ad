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
  date     read by dateparser (maintained; imported on first use, ~0.4 s, its first parse
           loads its language data, ~0.4 s more) in the guest's language and the hotel's,
           with the hotel's date order (DMY or MDY, from its locale), "now" injected as
           RELATIVE_BASE, future dates preferred and a day and a month required, so "2" or
           "205" is never a date: "25/12", "25/12/2026", "2026-12-25", "25 dec",
           "december 25 2026", "tomorrow", "in 3 days", "amanhã". Hand-written
           (hotelbot.flows.moment), tried when dateparser finds nothing, for what it lacks:
           weekday names ("friday", "next friday": its day-and-month rule refuses them),
           month-first when only that makes sense in a day-first hotel ("12/25"), and
           "depois de amanhã". Without a year it is the next such date, today included (dateparser
           skips to next year's). Resolved in the hotel's timezone from `now`; saved ISO
           ("2026-12-25"). min/max are days from today, default min 0: a past date is
           invalid unless min is negative.
  time     hand-written (hotelbot.flows.moment: dateparser reads "7" as the 7th of the month
           and has no notion of an ambiguous hour): "7pm", "7:30 pm", "7.30pm", "19:30",
           "19.30", "19h30", "19h", "1930", "930", "noon", "midnight", "now"/"asap" (the
           hotel's current time); bare hours "13".."23" and "0". A bare "1".."12" is
           ambiguous (morning or evening?) and rejected. min/max, when set, are the window in
           hours of the day (e.g. 8 and 20; outside: Bound.RANGE). Saved "HH:MM"; with `past`
           resolved to a local date-time "2026-11-26T19:00": a time already past today is
           tomorrow's (past: tomorrow) or refused (past: refuse, Bound.PAST).
  room     the hotel's room_pattern must fully match, after dropping a leading "room", "rm",
           "no", "#", "habitacion", "quarto", "chambre", "zimmer"; tried as typed, then
           upper-cased.
  phone    phonenumbers (maintained): a valid number for its country, written with +/00 and
           a country code or, without one, read in the hotel's phone_region; saved E.164
           ("+442079460000").
  email    email-validator (maintained): syntax only, no DNS (check_deliverability off);
           saved normalized (domain lower-case).
  rating   an integer in min..max (default 1..5; outside: Bound.RANGE): "4", "4/5", "4 stars",
           "4 - good", or star symbols ("⭐⭐⭐⭐", "****").
  choice   one of the validator's choices by number, or by title in any language; saved as
           the choice id.
  reference  a booking reference: the hotel's reference_pattern (default 3-20 letters,
           digits or dashes) fully matches, as typed or upper-cased, after dropping a leading
           "ref", "booking", "#"; saved upper-cased ("ab1234" -> "AB1234"); "205" is a
           reference, "tomorrow" is not (it must hold a digit).
  name     a person's name: 2-80 characters, letters (any script), spaces, apostrophes,
           hyphens and dots, at least two letters, no digits; saved as typed, trimmed.
           Hand-written: no maintained library validates personal names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from hotelbot.flows.model import DEFAULT_REFERENCE_PATTERN, Hotel, Validator, ValidatorKind
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
    RANGE = "range"  # integer, number or rating outside min..max; a time outside its window
    PAST = "past"  # a time of day already past today, where the step refuses it


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
    """What parsing needs to know about the hotel and the guest: the clock reading, the zone,
    the room and reference rules, the phone region, the date order and the languages (the
    guest's first)."""

    now: datetime
    timezone: str
    room_pattern: str
    reference_pattern: str = DEFAULT_REFERENCE_PATTERN
    region: str | None = None
    date_order: str = "DMY"
    languages: tuple[str, ...] = ("en",)

    @staticmethod
    def of(hotel: Hotel, now: datetime, language: str) -> Locale:
        """The locale for a guest of `hotel` writing in `language` at `now`."""
        return Locale(now=now, timezone=hotel.timezone, room_pattern=hotel.room_pattern,
                      reference_pattern=hotel.reference_pattern, region=hotel.phone_region,
                      date_order=hotel.date_order,
                      languages=tuple(dict.fromkeys((language, *hotel.languages))))

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
        return _numbered(norm, len(titles))
    return match_title(title_index(titles), norm)


def match_indexed(by_title: Mapping[str, int], count: int, text: str) -> int | None:
    """match_choice with the titles' index built already (title_index of `count` options):
    a menu's titles are the same for every guest (hotelbot.flows.render.entry_index)."""
    norm = normalize(text)
    if norm.isascii() and norm.isdigit():
        return _numbered(norm, count)
    return match_title(by_title, norm)


def _numbered(norm: str, count: int) -> int | None:
    number = int(norm)
    return number - 1 if 1 <= number <= count else None


def title_index(titles: Sequence[Iterable[str]]) -> dict[str, int]:
    """Each option's titles (`titles` as match_choice takes them), normalized -> the index of
    the first option so titled: what match_title looks a typed answer up in."""
    return {normalize(t): i for i in reversed(range(len(titles))) for t in titles[i]}


def match_title(by_title: Mapping[str, int], norm: str) -> int | None:
    """The index of the option a normalized typed answer (not a number) names by its title
    (`by_title`: title_index), or by the title with its number in front; None: none."""
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


def _phone(_: Validator, text: str, locale: Locale) -> JSONScalar:
    raw = text.strip()
    if raw.startswith("00"):  # the international prefix most of the world dials
        raw = "+" + raw[2:]
    if len(raw) > 40:
        return None
    try:
        number = phonenumbers.parse(raw, locale.region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(_: Validator, text: str, __: Locale) -> JSONScalar:
    value = text.strip().strip("<>").rstrip(".")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


_REFERENCE_PREFIX = re.compile(
    r"^(?:booking|reservation|reserva|reservation|buchung|ref|reference|referencia|no|nr|#)"
    r"\s*[.:#]?\s*", re.IGNORECASE)


def _reference(_: Validator, text: str, locale: Locale) -> JSONScalar:
    raw = text.strip().strip(".,;:!?")
    m = _REFERENCE_PREFIX.match(raw)
    candidate = raw[m.end():].strip() if m and m.end() < len(raw) else raw
    try:
        pattern = re.compile(locale.reference_pattern)
    except re.error:
        return None
    if not any(ch.isdigit() for ch in candidate):  # "tomorrow" is a word, not a reference
        return None
    matches = any(pattern.fullmatch(form) for form in (candidate, candidate.upper()))
    return candidate.upper() if matches else None


_NAME_CHARS = re.compile(r"[^\W\d_]+(?:[ '’.\-]+[^\W\d_]*)*\.?")


def _name(v: Validator, text: str, _: Locale) -> Parsed:
    value = " ".join(text.split())
    if not _NAME_CHARS.fullmatch(value) or sum(ch.isalpha() for ch in value) < 2:
        return None
    low = v.min_length if v.min_length is not None else 2
    high = v.max_length if v.max_length is not None else 80
    if len(value) < low:
        return Bound.TOO_SHORT
    return Bound.TOO_LONG if len(value) > high else value


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
    norm = normalize(text)
    if not norm or norm.isdigit() or len(norm) > 60:  # "2", "205": never a date
        return None
    found = _dateparser_date(text.strip(), locale) or parse_date(norm, today)
    if found is None:
        return None
    offset = (found - today).days
    low = v.min if v.min is not None else 0
    if offset < low or (v.max is not None and offset > v.max):
        return None
    return found.isoformat()


def _dateparser_date(text: str, locale: Locale) -> date | None:
    """The date dateparser reads, relative to the hotel's local now; None if none.

    Imported here, not at the top: dateparser costs ~0.4 s to import and is needed only when
    a guest types a date.
    """
    from dateparser.date import DateDataParser  # lazy: import cost

    local_now = locale.local_now().replace(tzinfo=None)
    found = _dateparser_once(DateDataParser, text, locale, local_now)
    today = local_now.date()
    if found is not None and found.year == today.year + 1 and (found.month, found.day) == (
            today.month, today.day):
        # dateparser's "future" skips today ("25/11" typed on 25 Nov reads next year's):
        # read again from yesterday; an explicit year still gives next year.
        again = _dateparser_once(DateDataParser, text, locale, local_now - timedelta(days=1))
        if again == today:
            return today
    return found


def warm_dates(hotels: Iterable[Hotel], now: datetime) -> int:
    """Read one date in each language of each hotel, so that dateparser's import and its
    language data (0.2-0.45 s at first use) are paid at start-up (`hotelbot serve`, in a
    thread), not inside the first guest's step that asks for a date. Returns how many."""
    read = 0
    for hotel in hotels:
        for language in hotel.languages:
            _dateparser_date("25/12", Locale.of(hotel, now, language))
            read += 1
    return read


def _dateparser_once(parser: Any, text: str, locale: Locale, base: datetime) -> date | None:
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future",
                "DATE_ORDER": locale.date_order, "REQUIRE_PARTS": ["day", "month"],
                "RETURN_TIME_AS_PERIOD": False}
    try:
        data = parser(languages=list(_dateparser_languages(locale.languages)),
                      settings=settings).get_date_data(text)
    except Exception:  # any: a guest's text must never break the engine)
        return None
    if data is None or data.date_obj is None or data.period not in (None, "day"):
        return None
    found: datetime = data.date_obj
    return found.date()


def _dateparser_languages(languages: tuple[str, ...]) -> tuple[str, ...]:
    """The languages dateparser knows among `languages` (it refuses unknown codes)."""
    from dateparser.data.languages_info import language_order  # lazy: import cost

    known = frozenset(language_order)
    return tuple(code for code in languages if code in known) or ("en",)


def _time(v: Validator, text: str, locale: Locale) -> Parsed:
    local_now = locale.local_now()
    found = parse_time(normalize(text), local_now)
    if found is None:
        return None
    hours = found[0] + found[1] / 60
    if (v.min is not None and hours < v.min) or (v.max is not None and hours > v.max):
        return Bound.RANGE
    if v.past is None:
        return f"{found[0]:02d}:{found[1]:02d}"
    # Resolved to a concrete local date-time: today, or (already past) tomorrow or refused.
    # "now" is never past: it reads the clock it is compared with.
    day = local_now.date()
    if (found[0], found[1]) < (local_now.hour, local_now.minute):
        if v.past == "refuse":
            return Bound.PAST
        day += timedelta(days=1)
    return f"{day.isoformat()}T{found[0]:02d}:{found[1]:02d}"


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
    ValidatorKind.REFERENCE: _reference,
    ValidatorKind.NAME: _name,
}
