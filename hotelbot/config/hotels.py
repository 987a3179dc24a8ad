"""Hotel files and shared strings: config/strings.yaml and config/hotels/<id>.yaml, parsed.

Owns: parsing config/strings.yaml (system texts, global words) and config/hotels/<id>.yaml
(departments, numbers, languages, variables, string and word overrides) into StringsDoc and
HotelDoc, the per-language text merge, and the origins of what a hotel file defines. A
hotel's `overrides` section stays raw here: hotelbot/config/overrides.py applies it. Every
fault is recorded on the file's Source with its YAML path. Must never do I/O, import asyncio,
read the clock or log.

Origins: a logical key names each part of a hotel's configuration ("room_service_order.steps.
category.options.edit.kids.title", "$strings.welcome", "$hotel.departments.front_desk");
`origins` maps the longest known prefix of a key to (file, YAML path) so a problem found later
is reported where the operator wrote (or must write) the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import babel
import babel.numbers
import phonenumbers

from hotelbot.config.source import (
    Source,
    boolean,
    ident,
    integer,
    items,
    join,
    kind_of,
    lang,
    mapping,
    number,
    string,
    text,
)
from hotelbot.flows import (
    DEFAULT_REFERENCE_PATTERN,
    Department,
    Hours,
    MessageTemplate,
    Orders,
    Policy,
    Retention,
    Sending,
    Text,
    WordKind,
    normalize,
)
from hotelbot.typedefs import Dept, FlowId, Lang, NumberId

__all__ = [
    "DEFAULT_ROOM_PATTERN", "REQUIRED_STRINGS", "WORD_KINDS", "HotelDoc", "Origins",
    "StringsDoc", "Words", "merge_text", "normalized_words", "parse_hotel", "parse_strings",
    "parse_words",
]

REQUIRED_STRINGS = (
    "invalid_option", "invalid_text", "invalid_too_short", "invalid_too_long", "invalid_range",
    "invalid_too_low", "invalid_too_high", "invalid_integer", "invalid_number", "invalid_date",
    "invalid_time", "invalid_room", "invalid_phone", "invalid_email", "invalid_rating",
    "invalid_choice", "invalid_reference", "invalid_name", "cooloff", "expired",
    "skip_not_allowed", "back_at_start", "unsupported", "closed", "opens_today",
    "opens_tomorrow", "opens_at", "invalid_time_window", "invalid_time_past",
    "time_tomorrow",
    "confirm", "change", "menu_button", "numbered_hint", "skip_hint", "error", "spam", "welcome",
    "nav_footer", "acknowledged", "stuck_example", "stuck_way_out", "example_date",
    "stale_tap", "flow_changed", "remembered_check", "loop_notice",
    "requests_title", "requests_none", "requests_cancel_hint", "request_cancel_row",
    "request_status_new", "request_status_acknowledged", "guest_cancelled",
    "request_not_cancellable", "opted_out", "opted_in",
)
WORD_KINDS: tuple[WordKind, ...] = ("back", "menu", "skip", "thanks", "requests", "person",
                                    "stop", "start")
DEFAULT_ROOM_PATTERN = r"[0-9]{1,4}[A-Za-z]?"
_PHONE_NUMBER_ID = re.compile(r"^[0-9]{5,20}$")
_HOTEL_KEYS = frozenset({"id", "name", "timezone", "languages", "room_pattern", "variables",
                         "departments", "strings", "words", "overrides", "read_receipts",
                         "message_templates", "retention", "conversation", "locale",
                         "phone_region", "reference_pattern", "orders", "opening_hours",
                         "scheduled_messages", "quiet_hours", "pms_token_env"})
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")  # Meta: lowercase letters, digits, underscores
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")  # Meta's codes: en, en_US, pt_BR...
MAX_TEMPLATE_BUTTONS = 10
MAX_PAYLOAD = 256
# WhatsApp's limits (Cloud API: 80 messages/s by default, up to 1000 after Meta's upgrade; one
# message per 6 s to a guest, bursts of up to 45 in 6 s borrowed from later).
MAX_MESSAGES_PER_SECOND = 1000
MAX_PAIR_BURST = 45

# The hotel file's `conversation:` settings (engine rules 2, 4, 7, 12): key -> the Policy
# field, its bounds (inclusive) and what it means. Outside them a guest would be locked out for
# days, never cooled off, or flooded: check-config refuses the file.
POLICY_BOUNDS: Mapping[str, tuple[str, float, float, str]] = {
    "max_errors": ("max_errors", 2, 20, "consecutive invalid answers that start a cooloff"),
    "cooloff_minutes": ("cooloff_minutes", 1, 1440, "minutes of a cooloff"),
    "timeout_minutes": ("timeout_minutes", 5, 1440, "idle minutes before a conversation expires"),
    "inbound_burst": ("spam_burst", 1, 200, "messages a guest may send at once"),
    "inbound_per_second": ("spam_per_second", 0.05, 20, "messages a second after the burst"),
    "loop_replies": ("loop_replies", 3, 100, "identical replies in a row that make a loop"),
    "loop_minutes": ("loop_minutes", 1, 1440, "minutes within which those replies count"),
}

Origins = dict[str, tuple[str, str]]
Words = Mapping[WordKind, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class StringsDoc:
    """config/strings.yaml: system texts and global words, for every hotel."""

    strings: Mapping[str, Text]
    words: Words


@dataclass(frozen=True, slots=True, kw_only=True)
class HotelDoc:
    """A hotel file, parsed; `overrides` is still raw (applied by `apply_overrides`)."""

    id: str
    name: str
    timezone: str
    languages: tuple[str, ...]
    room_pattern: str
    variables: Mapping[str, Text]
    departments: Mapping[Dept, Department]
    strings: Mapping[str, Text]  # shared strings with this hotel's overrides merged in
    words: Words  # shared words plus this hotel's extra words (not yet normalized)
    overrides: Mapping[str, object]
    origins: Origins
    read_receipts: bool = True
    message_templates: Mapping[str, MessageTemplate] = field(default_factory=dict)
    retention: Retention = field(default_factory=Retention)
    policy: Policy = field(default_factory=Policy)
    locale: str = "en"
    phone_region: str | None = None
    date_order: str = "DMY"
    reference_pattern: str = DEFAULT_REFERENCE_PATTERN
    orders: Orders = field(default_factory=Orders)
    # opening_hours, parsed: flow id -> Hours, and (flow, step, option) -> Hours.
    flow_hours: Mapping[str, Hours] = field(default_factory=dict)
    option_hours: Mapping[tuple[str, str, str], Hours] = field(default_factory=dict)


def merge_text(base: Text | None, extra: Text) -> Text:
    """Per-language merge: the override's languages replace the base's, others stay."""
    return Text({**(base.by_lang if base else {}), **extra.by_lang})


def parse_strings(src: Source) -> StringsDoc:
    """config/strings.yaml -> StringsDoc (plain strings are English)."""
    raw = mapping(src, src.data, "", allowed={"strings", "words"}, required=("strings", "words"),
                  what="strings.yaml") or {}
    found: dict[str, Text] = {}
    table = raw.get("strings")
    if isinstance(table, dict):
        for key, value in table.items():
            path = join("strings", key)
            if ident(src, key, path, "string key") is not None:
                body = text(src, value, path, "en")
                if body is not None:
                    found[key] = body
        for key in REQUIRED_STRINGS:
            if key not in table:
                src.fault("strings", f"missing required string '{key}'")
    elif "strings" in raw:
        src.fault("strings", "expected a mapping of key -> text")
    words = parse_words(src, raw.get("words", {}), "words")
    return StringsDoc(strings=found, words=words)


def parse_words(src: Source, value: object, path: str) -> Words:
    """`back|menu|skip|thanks|requests|person|stop|start -> lang -> [words]`."""
    raw = mapping(src, value, path, allowed=set(WORD_KINDS), what="words") or {}
    found: dict[WordKind, dict[str, tuple[str, ...]]] = {}
    for kind in WORD_KINDS:
        per_lang = raw.get(kind, {})
        kpath = join(path, kind)
        if not isinstance(per_lang, dict):
            src.fault(kpath, "expected a mapping of language -> list of words")
            continue
        for code, listed in per_lang.items():
            lpath = join(kpath, code)
            listed_items = items(src, listed, lpath) if lang(src, code, lpath) else None
            if listed_items is not None:
                words = [string(src, w, join(lpath, i)) for i, w in enumerate(listed_items)]
                found.setdefault(kind, {})[code] = tuple(w for w in words if w is not None)
    return found


def parse_hotel(src: Source, hotel_id: str, shared: StringsDoc) -> HotelDoc | None:
    """A hotel file -> HotelDoc; None when it is too broken to check further."""
    raw = mapping(src, src.data, "", allowed=_HOTEL_KEYS, what="a hotel",
                  required=("id", "name", "timezone", "languages", "departments"))
    if raw is None:
        return None
    if "id" in raw and raw["id"] != hotel_id:
        src.fault("id", f"hotel id {raw['id']!r} must match the file name '{hotel_id}'")
    languages = _languages(src, raw.get("languages"))
    name = string(src, raw.get("name"), "name") if "name" in raw else None
    timezone = string(src, raw.get("timezone"), "timezone") if "timezone" in raw else None
    room_pattern = _room_pattern(src, raw.get("room_pattern", DEFAULT_ROOM_PATTERN))
    reference_pattern = _pattern(src, raw.get("reference_pattern", DEFAULT_REFERENCE_PATTERN),
                                 "reference_pattern")
    where = _locale(src, raw.get("locale", languages[0] if languages else "en"))
    region = _phone_region(src, raw.get("phone_region", where.territory if where else None))
    if not languages or name is None or timezone is None or room_pattern is None:
        return None
    dlang = languages[0]
    origins: Origins = {"$hotel": (src.file, "")}
    strings = _hotel_strings(src, raw.get("strings", {}), dlang, shared, origins)
    extra_words = parse_words(src, raw.get("words", {}), "words")
    words = {k: {**shared.words.get(k, {})} for k in WORD_KINDS}
    for kind, per_lang in extra_words.items():
        for code, listed in per_lang.items():
            words[kind][code] = words[kind].get(code, ()) + listed
    overrides = raw.get("overrides", {})
    if not isinstance(overrides, dict):
        src.fault("overrides", "expected a mapping of flow id -> overrides")
        overrides = {}
    return HotelDoc(
        id=hotel_id, name=name, timezone=timezone, languages=languages,
        room_pattern=room_pattern, variables=_variables(src, raw.get("variables", {}), dlang),
        departments=_departments(src, raw.get("departments"), dlang),
        strings=strings, words=words, overrides=overrides, origins=origins,
        read_receipts=boolean(src, raw.get("read_receipts", True), "read_receipts") is not False,
        message_templates=_message_templates(src, raw.get("message_templates", {}), languages),
        retention=_retention(src, raw.get("retention", {}), "retention"),
        policy=_policy(src, raw.get("conversation", {}), "conversation"),
        locale=str(where) if where is not None else "en", phone_region=region,
        date_order=_date_order(where), reference_pattern=reference_pattern or
        DEFAULT_REFERENCE_PATTERN, orders=_orders(src, raw.get("orders", {})),
        **_opening_hours(src, raw.get("opening_hours", {})),
    )


def normalized_words(words: Words, languages: tuple[str, ...]) -> dict[WordKind, dict[str,
                                                                                 frozenset[str]]]:
    """Words of the enabled languages only, normalized like guest text."""
    return {kind: {code: frozenset(normalize(w) for w in listed)
                   for code, listed in words.get(kind, {}).items() if code in languages}
            for kind in WORD_KINDS}


def _languages(src: Source, value: object) -> tuple[str, ...]:
    listed = items(src, value, "languages") or []
    found = [lang(src, code, join("languages", i)) for i, code in enumerate(listed)]
    codes = tuple(c for c in found if c is not None)
    if len(set(codes)) != len(codes):
        src.fault("languages", "a language is listed twice")
    if not listed and value is not None:
        src.fault("languages", "list at least one language (the first is the default)")
    return tuple(dict.fromkeys(codes)) if len(codes) == len(listed) else ()


def _room_pattern(src: Source, value: object) -> str | None:
    return _pattern(src, value, "room_pattern")


def _pattern(src: Source, value: object, path: str) -> str | None:
    pattern = string(src, value, path)
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        src.fault(path, f"not a valid regular expression: {exc}")
        return None
    return pattern


def _locale(src: Source, value: object) -> babel.Locale | None:
    """`locale: en_GB`: the Babel (CLDR) locale amounts and dates are written in."""
    code = string(src, value, "locale")
    if code is None:
        return None
    try:
        return babel.Locale.parse(code.replace("-", "_"))
    except (ValueError, babel.UnknownLocaleError):
        src.fault("locale", f"unknown locale {code!r} (use a CLDR code such as en_GB, pt_PT)")
        return None


def _phone_region(src: Source, value: object) -> str | None:
    """`phone_region: GB`: where a phone number typed without a country code is read."""
    if value is None:
        return None
    code = string(src, value, "phone_region")
    if code is not None and code.upper() not in phonenumbers.SUPPORTED_REGIONS:
        src.fault("phone_region", f"unknown phone region {code!r} (a two-letter country "
                  "code such as GB, PT)")
        return None
    return code.upper() if code is not None else None


_WINDOW = re.compile(r"([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})")


def _opening_hours(src: Source, value: object) -> dict[str, dict[Any, Hours]]:
    """`opening_hours: {flows: {flow: hours}, options: {flow: {step: {option: hours}}}}`;
    hours are "07:00-23:00" or a list of such windows, in the hotel's timezone. Whether the
    flows and options exist is checked once the hotel's flows are known (the loader)."""
    raw = mapping(src, value, "opening_hours", allowed={"flows", "options"},
                  what="opening hours") or {}
    flows: dict[str, Hours] = {}
    for flow_id, hours in _named(src, raw.get("flows", {}), "opening_hours.flows").items():
        found = _hours(src, hours, join("opening_hours.flows", flow_id))
        if found is not None:
            flows[flow_id] = found
    options: dict[tuple[str, str, str], Hours] = {}
    base = "opening_hours.options"
    for flow_id, steps in _named(src, raw.get("options", {}), base).items():
        for step_id, opts in _named(src, steps, join(base, flow_id)).items():
            where = join(join(base, flow_id), step_id)
            for option_id, hours in _named(src, opts, where).items():
                found = _hours(src, hours, join(where, option_id))
                if found is not None:
                    options[(flow_id, step_id, option_id)] = found
    return {"flow_hours": flows, "option_hours": options}


def _named(src: Source, value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        src.fault(path, f"expected a mapping of id -> ..., got {kind_of(value)}")
        return {}
    return {key: item for key, item in value.items()
            if ident(src, key, join(path, key), "id") is not None}


def _hours(src: Source, value: object, path: str) -> Hours | None:
    """ "07:00-23:00" or ["07:00-10:30", "18:00-22:00"]: daily windows; "22:00-02:00" runs
    past midnight."""
    listed = value if isinstance(value, list) else [value]
    windows: list[tuple[int, int]] = []
    for i, raw in enumerate(listed):
        where = join(path, i) if isinstance(value, list) else path
        m = _WINDOW.fullmatch(raw.strip()) if isinstance(raw, str) else None
        if m is None:
            src.fault(where, f"expected opening hours such as \"07:00-23:00\", got {raw!r}")
            return None
        start_h, start_m, end_h, end_m = (int(g) for g in m.groups())
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if start_h > 23 or start_m > 59 or end_m > 59 or end > 24 * 60 or start == end:
            src.fault(where, f"{raw!r} is not a window of the day (00:00 to 24:00, start and "
                      "end different)")
            return None
        windows.append((start, end))
    if not windows:
        src.fault(path, "list at least one window, e.g. \"07:00-23:00\"")
        return None
    return Hours(windows=tuple(windows))


def _orders(src: Source, value: object) -> Orders:
    """`orders: {currency, charge_to_room, prices: {item: price}}`: what a basket costs."""
    raw = mapping(src, value, "orders", allowed={"currency", "charge_to_room", "prices"},
                  what="orders") or {}
    default = Orders()
    currency = string(src, raw.get("currency", default.currency), "orders.currency")
    if currency is not None and currency not in babel.numbers.list_currencies():
        src.fault("orders.currency", f"unknown currency {currency!r} (an ISO 4217 code such "
                  "as EUR, GBP)")
        currency = None
    charge = boolean(src, raw.get("charge_to_room", default.charge_to_room),
                     "orders.charge_to_room")
    prices: dict[str, Decimal] = {}
    listed = raw.get("prices", {})
    if not isinstance(listed, dict):
        src.fault("orders.prices", "expected a mapping of item (option id) -> price")
        listed = {}
    for item, price in listed.items():
        path = join("orders.prices", item)
        if ident(src, item, path, "item id") is None:
            continue
        if isinstance(price, bool) or not isinstance(price, int | float | str):
            src.fault(path, f"expected a price such as 12.50, got {price!r}")
            continue
        try:
            amount = Decimal(str(price))
        except ArithmeticError:
            src.fault(path, f"expected a price such as 12.50, got {price!r}")
            continue
        if not amount.is_finite() or amount < 0 or amount > 100000 or amount != round(amount, 2):
            src.fault(path, "a price is a number from 0 to 100000 with at most 2 decimals")
            continue
        prices[item] = amount
    return Orders(currency=currency or default.currency, prices=prices,
                  charge_to_room=default.charge_to_room if charge is None else charge)


def _date_order(where: babel.Locale | None) -> str:
    """DMY, MDY or YMD: the order of the locale's short date pattern ("dd/MM/y" -> DMY)."""
    if where is None:
        return "DMY"
    pattern = where.date_formats["short"].pattern
    firsts = sorted((pattern.find(ch), ch) for ch in "dMy" if ch in pattern)
    order = "".join({"d": "D", "M": "M", "y": "Y"}[ch] for _, ch in firsts)
    return order if order in ("DMY", "MDY", "YMD") else "DMY"


def _variables(src: Source, value: object, dlang: str) -> dict[str, Text]:
    if not isinstance(value, dict):
        src.fault("variables", "expected a mapping of name -> text")
        return {}
    found: dict[str, Text] = {}
    for name, raw in value.items():
        path = join("variables", name)
        if ident(src, name, path, "variable name") is not None:
            body = text(src, raw, path, dlang)
            if body is not None:
                found[name] = body
    return found


def _hotel_strings(
    src: Source, value: object, dlang: str, shared: StringsDoc, origins: Origins
) -> dict[str, Text]:
    found = dict(shared.strings)
    for key in found:
        origins[f"$strings.{key}"] = ("strings.yaml", f"strings.{key}")
    if not isinstance(value, dict):
        src.fault("strings", "expected a mapping of string key -> text")
        return found
    for key, raw in value.items():
        path = join("strings", key)
        if key not in shared.strings:
            src.fault(path, f"unknown string '{key}' (not in strings.yaml)")
            continue
        body = text(src, raw, path, dlang)
        if body is not None:
            found[key] = merge_text(found[key], body)
            origins[f"$strings.{key}"] = (src.file, path)
    return found


def _departments(src: Source, value: object, dlang: str) -> dict[Dept, Department]:
    if not isinstance(value, dict) or not value:
        src.fault("departments", "expected a non-empty mapping of department id -> department")
        return {}
    found: dict[Dept, Department] = {}
    for dept_id, raw_dept in value.items():
        path = join("departments", dept_id)
        raw = mapping(src, raw_dept, path, allowed={"phone_number_id", "name", "main_flow",
                      "flows", "sending"}, required=("phone_number_id", "name", "main_flow"),
                      what="a department")
        if raw is None or ident(src, dept_id, path, "department id") is None:
            continue
        number_id = raw.get("phone_number_id")
        number_id = str(number_id) if isinstance(number_id, int) else number_id
        if not isinstance(number_id, str) or not _PHONE_NUMBER_ID.match(number_id):
            src.fault(join(path, "phone_number_id"), "expected the number's phone_number_id "
                      "(digits only, from Meta's WhatsApp Manager)")
            number_id = None
        name = text(src, raw["name"], join(path, "name"), dlang) if "name" in raw else None
        main = ident(src, raw.get("main_flow"), join(path, "main_flow"), "flow id")
        listed = items(src, raw.get("flows", []), join(path, "flows")) or []
        flows = [ident(src, f, join(join(path, "flows"), i), "flow id")
                 for i, f in enumerate(listed)]
        ids = tuple(FlowId(f) for f in dict.fromkeys([main, *flows]) if f is not None)
        sending = _sending(src, raw.get("sending", {}), join(path, "sending"))
        if number_id is None or name is None or main is None or sending is None:
            continue
        found[Dept(dept_id)] = Department(
            id=Dept(dept_id), phone_number_id=NumberId(number_id), name=name,
            main_flow=FlowId(main), flows=ids, sending=sending)
    return found


def _policy(src: Source, value: object, path: str) -> Policy:
    """`conversation: {max_errors, cooloff_minutes, timeout_minutes, inbound_burst,
    inbound_per_second, loop_replies, loop_minutes}`, each optional (POLICY_BOUNDS); a
    refused value keeps its default (the file is refused anyway)."""
    raw = mapping(src, value, path, allowed=set(POLICY_BOUNDS), what="conversation settings")
    if raw is None:
        return Policy()
    found: dict[str, float] = {}
    for key, (field_name, low, high, meaning) in POLICY_BOUNDS.items():
        if key not in raw:
            continue
        where = join(path, key)
        whole = isinstance(low, int) and isinstance(high, int)
        got = integer(src, raw[key], where) if whole else number(src, raw[key], where)
        if got is None:
            continue
        if not low <= got <= high:
            src.fault(where, f"must be from {low} to {high} ({meaning})")
            continue
        found[field_name] = got
    return Policy(**found)  # type: ignore[arg-type]


def _sending(src: Source, value: object, path: str) -> Sending | None:
    """`sending: {messages_per_second, pair_interval_seconds, pair_burst}`, each optional."""
    raw = mapping(src, value, path, allowed={"messages_per_second", "pair_interval_seconds",
                                             "pair_burst"}, what="sending limits")
    if raw is None:
        return None
    default = Sending()
    rate = raw.get("messages_per_second", default.messages_per_second)
    interval = raw.get("pair_interval_seconds", default.pair_interval_seconds)
    burst = raw.get("pair_burst", default.pair_burst)
    rate_ok = integer(src, rate, join(path, "messages_per_second"), low=1)
    interval_ok = number(src, interval, join(path, "pair_interval_seconds"))
    burst_ok = integer(src, burst, join(path, "pair_burst"), low=1)
    if rate_ok is not None and rate_ok > MAX_MESSAGES_PER_SECOND:
        src.fault(join(path, "messages_per_second"),
                  f"must be at most {MAX_MESSAGES_PER_SECOND} (WhatsApp's highest throughput)")
        rate_ok = None
    if interval_ok is not None and not 0 < interval_ok <= 3600:
        src.fault(join(path, "pair_interval_seconds"), "must be more than 0 and at most 3600")
        interval_ok = None
    if burst_ok is not None and burst_ok > MAX_PAIR_BURST:
        src.fault(join(path, "pair_burst"),
                  f"must be at most {MAX_PAIR_BURST} (WhatsApp's burst to one guest)")
        burst_ok = None
    if rate_ok is None or interval_ok is None or burst_ok is None:
        return None
    return Sending(messages_per_second=rate_ok, pair_interval_seconds=interval_ok,
                   pair_burst=burst_ok)


# The shortest ages a hotel may set: processed messages dedupe Meta's retries (up to 7 days).
_RETENTION_MINIMUM = {"inbound_days": 8, "outbound_days": 1, "requests_days": 1,
                      "guests_days": 1}
MAX_RETENTION_DAYS = 36_500


def _retention(src: Source, value: object, path: str) -> Retention:
    """`retention: {inbound_days, outbound_days, requests_days, guests_days}`, each optional."""
    raw = mapping(src, value, path, allowed=set(_RETENTION_MINIMUM), what="retention ages")
    default = Retention()
    if raw is None:
        return default
    ages: dict[str, int] = {}
    for key, low in _RETENTION_MINIMUM.items():
        given = integer(src, raw.get(key, getattr(default, key)), join(path, key), low=1)
        if given is not None and given < low:
            src.fault(join(path, key), f"must be at least {low} days: a processed message"
                      " is the duplicate check of Meta's retries, which last up to 7 days")
            given = None
        elif given is not None and given > MAX_RETENTION_DAYS:
            src.fault(join(path, key), f"must be at most {MAX_RETENTION_DAYS} days")
            given = None
        ages[key] = getattr(default, key) if given is None else given
    return Retention(**ages)


def _message_templates(
    src: Source, value: object, languages: tuple[str, ...]
) -> dict[str, MessageTemplate]:
    """`message_templates: {id: {name, language: {lang: code}, body: [...], buttons: [...]}}`:
    the WhatsApp templates this hotel had approved by Meta (sent outside the 24-hour window)."""
    if not isinstance(value, dict):
        src.fault("message_templates", "expected a mapping of template id -> message template")
        return {}
    found: dict[str, MessageTemplate] = {}
    for template_id, spec in value.items():
        path = join("message_templates", template_id)
        fields = mapping(src, spec, path, allowed={"name", "language", "body", "buttons"},
                         required=("name", "language"), what="a message template")
        if fields is None or ident(src, template_id, path, "template id") is None:
            continue
        name = string(src, fields.get("name"), join(path, "name"))
        if name is not None and not _TEMPLATE_NAME.fullmatch(name):
            src.fault(join(path, "name"), "expected the approved template's name at Meta "
                      "(lowercase letters, digits and underscores, at most 512)")
            name = None
        codes = _template_languages(src, fields.get("language"), join(path, "language"),
                                    languages)
        body = [ident(src, v, join(join(path, "body"), i), "value name")
                for i, v in enumerate(items(src, fields.get("body", []), join(path, "body"))
                                      or [])]
        buttons = [string(src, b, join(join(path, "buttons"), i))
                   for i, b in enumerate(items(src, fields.get("buttons", []),
                                               join(path, "buttons")) or [])]
        if len(buttons) > MAX_TEMPLATE_BUTTONS:
            src.fault(join(path, "buttons"), f"at most {MAX_TEMPLATE_BUTTONS} quick replies")
        for i, payload in enumerate(buttons):
            if payload is not None and len(payload) > MAX_PAYLOAD:
                src.fault(join(join(path, "buttons"), i), f"at most {MAX_PAYLOAD} characters")
        if name is None or codes is None or None in body or None in buttons:
            continue
        found[template_id] = MessageTemplate(
            id=template_id, name=name, languages=codes,
            body=tuple(b for b in body if b is not None),
            buttons=tuple(b for b in buttons if b is not None)[:MAX_TEMPLATE_BUTTONS])
    return found


def _template_languages(
    src: Source, value: object, path: str, languages: tuple[str, ...]
) -> dict[Lang, str] | None:
    raw = mapping(src, value, path, allowed=set(languages), what="language codes")
    if raw is None:
        return None
    codes: dict[Lang, str] = {}
    for code_lang, code in raw.items():
        text = string(src, code, join(path, code_lang))
        if text is not None and not _LANGUAGE_CODE.fullmatch(text):
            src.fault(join(path, code_lang), "expected Meta's language code (e.g. en_US, pt_PT)")
        elif text is not None:
            codes[Lang(code_lang)] = text
    if languages and languages[0] not in codes:
        src.fault(path, f"needs the code for the hotel's default language '{languages[0]}'")
        return None
    return codes
