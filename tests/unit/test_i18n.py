"""What guests read of dates, times, amounts and counts: Babel (CLDR) in their language."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from hotelbot.config import load_hotels
from hotelbot.flows.availability import closed_notice, is_open, local
from hotelbot.flows.basket import money
from hotelbot.flows.i18n import display_locale, expand_plurals, readable_moment
from hotelbot.flows.model import Hours, Orders
from tests.paths import CONFIG
from tests.unit.fixtures import build_hotel


@pytest.mark.parametrize(("language", "hotel_locale", "code"), [
    ("en", "en_GB", "en_GB"), ("en", "pt_PT", "en_PT"), ("pt", "pt_PT", "pt_PT"),
    ("de", "en_GB", "de"), ("xx", "en_GB", "en"), ("fr", "nonsense", "fr"),
])
def test_the_guests_language_in_the_hotels_country(
    language: str, hotel_locale: str, code: str
) -> None:
    assert str(display_locale(language, hotel_locale)) == code


@pytest.mark.parametrize(("value", "language", "shown"), [
    ("2026-12-04", "en", "Friday, December 4, 2026"),
    ("2026-12-04", "en_GB", "Friday, 4 December 2026"),
    ("2026-12-04", "pt_PT", "sexta-feira, 4 de dezembro de 2026"),
    ("2026-12-04", "de", "Freitag, 4. Dezember 2026"),
    ("19:30", "en_GB", "19:30"),
    ("19:30", "en", "7:30\u202fPM"),
    ("2026-11-26T19:00", "en_GB", "Thursday 26 November, 19:00"),
    ("2026-11-26T19:00", "fr", "jeu. 26 novembre, 19:00"),
    ("2026-02-30", "en", None), ("AB1234", "en", None), ("205", "en", None),
])
def test_dates_and_times_read_in_the_guests_language(
    value: str, language: str, shown: str | None
) -> None:
    assert readable_moment(value, display_locale(language, "")) == shown


@pytest.mark.parametrize(("count", "language", "text"), [
    ("1", "en", "1 minute"), ("15", "en", "15 minutes"), ("0", "en", "0 minutes"),
    ("0", "fr", "0 minute"), ("1", "fr", "1 minute"), ("2", "fr", "2 minutes"),
    ("1", "pt", "1 minuto"), ("2", "pt", "2 minutos"),
    ("1.5", "en", "1.5 minutes"), ("many", "en", "{n, plural, one {# minute} other {# minutes}}"),
])
def test_plurals_follow_cldr_rules(count: str, language: str, text: str) -> None:
    forms = {"en": "{n, plural, one {# minute} other {# minutes}}",
             "fr": "{n, plural, one {# minute} other {# minutes}}",
             "pt": "{n, plural, one {# minuto} other {# minutos}}"}
    assert expand_plurals(forms[language], {"n": count}, language) == text


def test_an_exact_number_form_wins_and_text_without_plurals_is_untouched() -> None:
    template = "{n, plural, =0 {nothing yet} one {# item} other {# items}}"
    assert expand_plurals(template, {"n": "0"}, "en") == "nothing yet"
    assert expand_plurals("Room {room}", {"room": "1"}, "en") == "Room {room}"


@pytest.mark.parametrize(("locale", "currency", "shown"), [
    ("en_GB", "GBP", "£12.50"), ("pt_PT", "EUR", "12,50\u00a0€"), ("de_DE", "EUR", "12,50\u00a0€"),
    ("en_US", "USD", "$12.50"),
])
def test_amounts_in_the_hotels_currency_and_locale(locale: str, currency: str,
                                                   shown: str) -> None:
    from dataclasses import replace

    hotel = replace(build_hotel(), locale=locale, orders=Orders(currency=currency))
    assert money(hotel, Decimal("12.5")) == shown


@pytest.mark.parametrize(("hhmm", "open_"), [
    ("06:59", False), ("07:00", True), ("10:29", True), ("10:30", False), ("23:59", False),
])
def test_hours_are_half_open_windows(hhmm: str, open_: bool) -> None:
    hours = Hours(windows=((7 * 60, 10 * 60 + 30),))
    moment = datetime.fromisoformat(f"2026-11-25T{hhmm}")
    assert is_open(hours, moment) is open_


def test_a_window_past_midnight_and_the_next_opening_today_or_tomorrow() -> None:
    hotel = load_hotels(CONFIG).hotels["demo_hotel"]  # type: ignore[index]  # London
    bar = Hours(windows=((22 * 60, 2 * 60),))
    assert is_open(bar, datetime(2026, 11, 25, 1, 30)) and not is_open(bar, datetime(2026, 11,
                                                                                    25, 3))
    evening = local(hotel, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    assert closed_notice(hotel, "The bar", bar, evening, "en").endswith("today at 22:00.")
    night = local(hotel, datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    split = Hours(windows=((7 * 60, 10 * 60), (18 * 60, 22 * 60)))
    assert "from 07:00 to 10:00" in closed_notice(hotel, "Dinner", split, night, "en")
    late = local(hotel, datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    notice = closed_notice(hotel, "Dinner", split, late, "en")
    assert "from 18:00 to 22:00" in notice and notice.endswith("today at 18:00.")
