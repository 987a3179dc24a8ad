"""Typed answers and conditions: what a guest may type, and what is saved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotelbot.flows.conditions import holds
from hotelbot.flows.model import Choice, Condition, Op, Text, Validator, ValidatorKind
from hotelbot.flows.validators import (
    Accepted,
    Bound,
    Locale,
    Rejected,
    match_choice,
    parse_answer,
)
from hotelbot.typedefs import JSONScalar

# Wednesday 25 Nov 2026, 23:30 UTC = 23:30 in Lisbon (WET).
LOCALE = Locale(now=datetime(2026, 11, 25, 23, 30, tzinfo=UTC), timezone="Europe/Lisbon",
                room_pattern=r"[0-9]{3}[A-Z]?")
K = ValidatorKind


def parsed(kind: ValidatorKind, text: str, **limits: float | int) -> JSONScalar | str:
    answer = parse_answer(Validator(kind=kind, **limits), text, LOCALE)  # type: ignore[arg-type]
    return answer.value if isinstance(answer, Accepted) else "REJECTED"


@pytest.mark.parametrize(("text", "iso"), [
    ("25/12", "2026-12-25"), ("25/12/2026", "2026-12-25"), ("25-12-26", "2026-12-25"),
    ("2026-12-25", "2026-12-25"), ("25.12", "2026-12-25"), ("12/25", "2026-12-25"),
    ("1/1", "2027-01-01"), ("25/11", "2026-11-25"), ("24/11", "2027-11-24"),
    ("today", "2026-11-25"), ("Tomorrow", "2026-11-26"), ("day after tomorrow", "2026-11-27"),
    ("mañana", "2026-11-26"), ("amanhã", "2026-11-26"), ("demain", "2026-11-26"),
    ("friday", "2026-11-27"), ("next Friday", "2026-11-27"), ("wednesday", "2026-11-25"),
    ("tuesday", "2026-12-01"), ("sexta-feira", "2026-11-27"), ("samstag", "2026-11-28"),
    ("25 dec", "2026-12-25"), ("Dec 25th", "2026-12-25"), ("december 25 2026", "2026-12-25"),
    ("25 de diciembre", "2026-12-25"), ("3 janvier", "2027-01-03"), ("29/02", "2028-02-29"),
])
def test_dates_are_guest_friendly_future_and_iso(text: str, iso: str) -> None:
    assert parsed(K.DATE, text) == iso


@pytest.mark.parametrize("text", [
    "31/02", "25/12/2025", "2020-01-01", "13/13", "yesterday", "someday", "", "32 dec",
    "25 dec 26 extra", "2026-02-30",
])
def test_bad_or_past_dates_are_rejected(text: str) -> None:
    assert parsed(K.DATE, text) == "REJECTED"


def test_date_window_in_days_from_today() -> None:
    assert parsed(K.DATE, "2026-11-20", min=-30) == "2026-11-20"
    assert parsed(K.DATE, "2027-06-01", max=30) == "REJECTED"
    assert parsed(K.DATE, "tomorrow", min=1, max=1) == "2026-11-26"


def test_today_is_the_hotels_today() -> None:
    tokyo = Locale(now=LOCALE.now, timezone="Asia/Tokyo", room_pattern=".*")
    answer = parse_answer(Validator(kind=K.DATE), "today", tokyo)
    assert answer == Accepted(value="2026-11-26")


@pytest.mark.parametrize(("text", "hhmm"), [
    ("7pm", "19:00"), ("7 PM", "19:00"), ("7:30 pm", "19:30"), ("7.30pm", "19:30"),
    ("7:30 p.m.", "19:30"), ("19:30", "19:30"), ("19.30", "19:30"), ("19h30", "19:30"),
    ("19h", "19:00"), ("7h", "07:00"), ("1930", "19:30"), ("930", "09:30"), ("0700", "07:00"),
    ("noon", "12:00"), ("midnight", "00:00"), ("mediodía", "12:00"), ("12am", "00:00"),
    ("12pm", "12:00"), ("at 8am", "08:00"), ("13", "13:00"), ("now", "23:30"),
    ("10 o'clock", "REJECTED"), ("7", "REJECTED"), ("25:00", "REJECTED"), ("19:75", "REJECTED"),
    ("13pm", "REJECTED"), ("later", "REJECTED"),
])
def test_times(text: str, hhmm: str) -> None:
    assert parsed(K.TIME, text) == hhmm


def test_time_window_in_hours() -> None:
    assert parsed(K.TIME, "6am", min=7, max=22) == "REJECTED"
    assert parsed(K.TIME, "10:30pm", min=7, max=22) == "REJECTED"
    assert parsed(K.TIME, "9pm", min=7, max=22) == "21:00"
    window = Validator(kind=K.TIME, min=8, max=20)
    assert parse_answer(window, "9pm", LOCALE) == Rejected(kind=K.TIME, bound=Bound.RANGE)


# LOCALE reads 23:30 in Lisbon on Wednesday 25 November.
@pytest.mark.parametrize(("past", "text", "value"), [
    ("tomorrow", "7pm", "2026-11-26T19:00"), ("tomorrow", "23:45", "2026-11-25T23:45"),
    ("tomorrow", "now", "2026-11-25T23:30"), ("refuse", "23:45", "2026-11-25T23:45"),
    ("refuse", "7pm", Bound.PAST),
])
def test_a_time_is_resolved_to_today_or_tomorrow_or_refused(
    past: str, text: str, value: str | Bound
) -> None:
    answer = parse_answer(Validator(kind=K.TIME, past=past), text, LOCALE)  # type: ignore[arg-type]
    expected = Rejected(kind=K.TIME, bound=value) if isinstance(value, Bound) else Accepted(
        value=value)
    assert answer == expected


@pytest.mark.parametrize(("kind", "text", "value", "limits"), [
    (K.INTEGER, "3", 3, {}), (K.INTEGER, " +3. ", 3, {}), (K.INTEGER, "three", 3, {}),
    (K.INTEGER, "dos", 2, {}), (K.INTEGER, "21", "REJECTED", {"max": 20}),
    (K.INTEGER, "0", "REJECTED", {"min": 1}), (K.INTEGER, "2.5", "REJECTED", {}),
    (K.NUMBER, "2,5", 2.5, {}), (K.NUMBER, "2.5", 2.5, {"max": 3}),
    (K.NUMBER, "4", "REJECTED", {"max": 3}), (K.NUMBER, "abc", "REJECTED", {}),
    (K.ROOM, "412", "412", {}), (K.ROOM, "Room 412", "412", {}), (K.ROOM, "#412b", "412B", {}),
    (K.ROOM, "quarto 101", "101", {}), (K.ROOM, "41", "REJECTED", {}),
    (K.ROOM, "room", "REJECTED", {}),
    (K.PHONE, "+351 912 345 678", "+351912345678", {}),
    (K.PHONE, "(201) 555-0123", "REJECTED", {}),  # no country code, and no region to read it in
    (K.PHONE, "0044 20 1234 5678", "+442012345678", {}), (K.PHONE, "123", "REJECTED", {}),
    (K.PHONE, "+12 abc 4567890", "REJECTED", {}), (K.PHONE, "+44 12345", "REJECTED", {}),
    (K.EMAIL, "Ana@Example.COM", "Ana@example.com", {}), (K.EMAIL, "a@b", "REJECTED", {}),
    (K.EMAIL, "a b@c.com", "REJECTED", {}), (K.EMAIL, "a@@c.com", "REJECTED", {}),
    (K.RATING, "4", 4, {}), (K.RATING, "4/5", 4, {}), (K.RATING, "4 stars", 4, {}),
    (K.RATING, "⭐⭐⭐", 3, {}), (K.RATING, "*****", 5, {}), (K.RATING, "5 - Excellent", 5, {}),
    (K.RATING, "6", "REJECTED", {}), (K.RATING, "great", "REJECTED", {}),
    (K.RATING, "9", 9, {"min": 0, "max": 10}),
    (K.TEXT, "  no onions  ", "no onions", {}), (K.TEXT, "   ", "REJECTED", {}),
    (K.TEXT, "ab", "REJECTED", {"min_length": 3}), (K.TEXT, "abcd", "REJECTED",
                                                    {"max_length": 3}),
])
def test_typed_answers(kind: ValidatorKind, text: str, value: JSONScalar,
                       limits: dict[str, float]) -> None:
    assert parsed(kind, text, **limits) == value


@pytest.mark.parametrize(("kind", "text", "limits", "bound"), [
    (K.TEXT, "tv", {"min_length": 3, "max_length": 500}, Bound.TOO_SHORT),
    (K.TEXT, "abcd", {"max_length": 3}, Bound.TOO_LONG),
    (K.TEXT, "x" * 1001, {}, Bound.TOO_LONG),
    (K.TEXT, "   ", {"min_length": 3}, None),
    (K.INTEGER, "0", {"min": 1, "max": 20}, Bound.RANGE),
    (K.INTEGER, "zero", {"min": 1}, Bound.RANGE),
    (K.INTEGER, "2.5", {"min": 1, "max": 20}, None),
    (K.NUMBER, "4", {"max": 3}, Bound.RANGE),
    (K.NUMBER, "abc", {"max": 3}, None),
    (K.RATING, "6", {}, Bound.RANGE),
    (K.RATING, "0", {"min": 1, "max": 10}, Bound.RANGE),
    (K.RATING, "great", {}, None),
])
def test_a_rejection_names_the_bound_an_answer_of_the_right_form_missed(
    kind: ValidatorKind, text: str, limits: dict[str, float], bound: Bound | None
) -> None:
    answer = parse_answer(Validator(kind=kind, **limits), text, LOCALE)  # type: ignore[arg-type]
    assert answer == Rejected(kind=kind, bound=bound)


@pytest.mark.parametrize(("text", "region", "e164"), [
    ("(201) 555-0123", "US", "+12015550123"),
    ("020 7946 0000", "GB", "+442079460000"),
    ("912 345 678", "PT", "+351912345678"),
    ("+351 912 345 678", "GB", "+351912345678"),  # a country code wins over the region
    ("07700 900123", "GB", "REJECTED"),  # Ofcom's range for drama: not a real number
    ("12345", "PT", "REJECTED"),
])
def test_phone_numbers_are_read_in_the_hotels_region_and_saved_e164(
    text: str, region: str, e164: str
) -> None:
    locale = replace(LOCALE, region=region)
    answer = parse_answer(Validator(kind=K.PHONE), text, locale)
    assert (answer.value if isinstance(answer, Accepted) else "REJECTED") == e164


@pytest.mark.parametrize(("text", "value"), [
    ("ana@example.co.uk", "ana@example.co.uk"), ("<Ana@Example.COM>", "Ana@example.com"),
    ("ana.lopez+hotel@mail.example.org", "ana.lopez+hotel@mail.example.org"),
    ("ana@example", "REJECTED"), ("ana@.com", "REJECTED"), ("ana@exa mple.com", "REJECTED"),
    ("ana@" + "x" * 250 + ".com", "REJECTED"),
])
def test_email_addresses_by_syntax_without_dns(text: str, value: str) -> None:
    assert parsed(K.EMAIL, text) == value


@pytest.mark.parametrize("text", ["2", "205", "12", "0", "2026", "2 coffees", "room 205"])
def test_a_bare_number_is_never_a_date(text: str) -> None:
    assert parsed(K.DATE, text) == "REJECTED"


@pytest.mark.parametrize(("order", "text", "iso"), [
    ("DMY", "3/4", "2027-04-03"), ("MDY", "3/4", "2027-03-04"),
    ("MDY", "12/25", "2026-12-25"), ("DMY", "12/25", "2026-12-25"),
])
def test_numeric_dates_follow_the_hotels_date_order(order: str, text: str, iso: str) -> None:
    answer = parse_answer(Validator(kind=K.DATE), text, replace(LOCALE, date_order=order))
    assert answer == Accepted(value=iso)


@pytest.mark.parametrize(("text", "language", "iso"), [
    ("in 3 days", "en", "2026-11-28"), ("5 de enero", "es", "2027-01-05"),
    ("depois de amanhã", "pt", "2026-11-27"), ("übermorgen", "de", "2026-11-27"),
])
def test_dates_in_the_guests_language(text: str, language: str, iso: str) -> None:
    locale = replace(LOCALE, languages=(language, "en"))
    assert parse_answer(Validator(kind=K.DATE), text, locale) == Accepted(value=iso)


@pytest.mark.parametrize(("text", "value"), [
    ("205", "205"), ("AB1234", "AB1234"), ("ab1234", "AB1234"), ("ref: BK-2026-77", "BK-2026-77"),
    ("#4711", "4711"), ("tomorrow", "REJECTED"), ("hello there", "REJECTED"), ("12", "REJECTED"),
    ("ABCDEFGHIJKLMNOPQRSTU1", "REJECTED"),
])
def test_booking_references_fit_the_hotels_pattern(text: str, value: str) -> None:
    assert parsed(K.REFERENCE, text) == value


def test_a_hotel_may_set_its_own_reference_pattern() -> None:
    strict = replace(LOCALE, reference_pattern=r"[A-Z]{2}[0-9]{4}")
    validator = Validator(kind=K.REFERENCE)
    assert parse_answer(validator, "ab1234", strict) == Accepted(value="AB1234")
    assert parse_answer(validator, "205", strict) == Rejected(kind=K.REFERENCE)


@pytest.mark.parametrize(("text", "value"), [
    ("Ana Lopez", "Ana Lopez"), ("  José   María  ", "José María"), ("O'Brien", "O'Brien"),
    ("Jean-Luc Picard", "Jean-Luc Picard"), ("Dr. Ana", "Dr. Ana"), ("李小龙", "李小龙"),
    ("205", "REJECTED"), ("Ana 2", "REJECTED"), ("A", "REJECTED"), ("!!", "REJECTED"),
    ("ana@example.com", "REJECTED"),
])
def test_names_are_letters(text: str, value: str) -> None:
    assert parsed(K.NAME, text) == value


def test_a_bad_room_pattern_rejects_instead_of_raising() -> None:
    broken = Locale(now=LOCALE.now, timezone="Europe/Lisbon", room_pattern="([")
    assert parse_answer(Validator(kind=K.ROOM), "412", broken) == Rejected(kind=K.ROOM)


def test_choices_match_by_number_or_title_in_any_language_and_save_the_id() -> None:
    validator = Validator(kind=K.CHOICE, choices=(
        Choice(id="slow", title=Text({"en": "Slow service", "pt": "Serviço lento"})),
        Choice(id="cold", title=Text({"en": "Cold food", "pt": "Comida fria"}))))
    answers = {text: parse_answer(validator, text, LOCALE) for text in
               ("2", "servico LENTO", "1. slow service", "3", "food")}
    assert answers["2"] == Accepted(value="cold")
    assert answers["servico LENTO"] == Accepted(value="slow")
    assert answers["1. slow service"] == Accepted(value="slow")
    assert answers["3"] == answers["food"] == Rejected(kind=K.CHOICE)


@pytest.mark.parametrize(("text", "index"), [
    ("1", 0), ("2.", 1), (" 2 ", 1), ("Café", 0), ("CAFE!", 0), ("2. Tea", 1), ("2) tea", 1),
    ("0", None), ("3", None), ("coffee", None), ("", None), ("1 2", None),
])
def test_match_choice(text: str, index: int | None) -> None:
    assert match_choice([["Café", "Cafe com leite"], ["Tea", "Chá"]], text) == index


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40), kind=st.sampled_from(list(ValidatorKind)))
def test_parsing_never_raises(text: str, kind: ValidatorKind) -> None:
    answer = parse_answer(Validator(kind=kind), text, LOCALE)
    assert isinstance(answer, Accepted | Rejected)


@pytest.mark.parametrize(("condition", "data", "expected"), [
    (Condition(var="rating", op=Op.LE, value=2), {"rating": 2}, True),
    (Condition(var="rating", op=Op.LE, value=2), {"rating": "3"}, False),
    (Condition(var="rating", op=Op.LT, value=2), {}, False),
    (Condition(var="rating", op=Op.NE, value=2), {}, True),
    (Condition(var="item", op=Op.EQ, value="Café"), {"item": "cafe"}, True),
    (Condition(var="item", op=Op.IN, value=("tea", "coffee")), {"item": "Tea"}, True),
    (Condition(var="item", op=Op.NOT_IN, value=("tea",)), {"item": None}, True),
    (Condition(var="note", op=Op.PRESENT), {"note": ""}, False),
    (Condition(var="note", op=Op.ABSENT), {"note": ""}, True),
    (Condition(var="day", op=Op.GE, value="2026-12-01"), {"day": "2026-12-25"}, True),
    (Condition(var="vip", op=Op.EQ, value=True), {"vip": True}, True),
    (Condition(var="vip", op=Op.EQ, value=True), {"vip": 1}, False),
    (Condition(var="n", op=Op.GT, value=2), {"n": "many"}, False),
    (Condition(all=(Condition(var="a", op=Op.PRESENT), Condition(var="b", op=Op.ABSENT))),
     {"a": 1}, True),
    (Condition(any=(Condition(var="a", op=Op.EQ, value=2), Condition(var="b", op=Op.PRESENT))),
     {"a": 1}, False),
    (Condition(), {}, True),
])
def test_conditions(condition: Condition, data: dict[str, JSONScalar], expected: bool) -> None:
    assert holds(condition, data) is expected


def test_warm_dates_reads_one_date_per_language_of_each_hotel() -> None:
    import sys

    from hotelbot.flows import warm_dates
    from tests.unit.fixtures import build_hotel

    hotels = [build_hotel(), build_hotel(languages=("pt", "en", "es"))]
    read = warm_dates(hotels, datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert read == len(hotels[0].languages) + 3
    assert "dateparser.date" in sys.modules  # paid now, not in a guest's first date step
