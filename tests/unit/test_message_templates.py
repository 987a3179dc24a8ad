"""WhatsApp message templates: the hotel file's `message_templates`, rendered for a guest.

A rendered template object (the `template` of a Graph API template message) must pass Meta's
own schema and the documented limits, carry the language code the hotel configured, and never
hold what Meta refuses in a parameter (newlines, tabs, more than 4 spaces in a row).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotelbot.config import check_config, load_hotels
from hotelbot.devtools.meta_spec import check_send
from hotelbot.flows.render import template_object
from hotelbot.typedefs import HotelId
from hotelbot.whatsapp import check_message, envelope
from tests.paths import CONFIG

GUEST = "34600000001"
HOTELS = load_hotels(CONFIG)
DEMO = HOTELS.hotels[HotelId("demo_hotel")]
SEASIDE = HOTELS.hotels[HotelId("seaside_inn")]


def _send_body(template: dict[str, object]) -> dict[str, object]:
    return envelope(GUEST, {"type": "template", "template": template})


def test_a_checkout_reminder_is_rendered_with_the_guests_data_and_passes_metas_schema() -> None:
    template = template_object(DEMO, "checkout_reminder",
                               {"guest_name": "Maria", "checkout_time": "11:00"}, "en")
    assert template == {
        "name": "checkout_reminder_v1",
        "language": {"code": "en_GB", "policy": "deterministic"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Maria"},
                                            {"type": "text", "text": "11:00"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0",
             "parameters": [{"type": "payload", "payload": "flow:late_checkout"}]},
        ],
    }
    body = _send_body(template)
    assert check_send(body) == [] and check_message(body) == []


def test_the_language_code_follows_the_guest_and_falls_back_to_the_hotels_default() -> None:
    values = {"guest_name": "Ana", "checkout_time": "11h"}
    assert template_object(SEASIDE, "checkout_reminder", values, "en")["language"] == {
        "code": "en_GB", "policy": "deterministic"}
    assert template_object(SEASIDE, "checkout_reminder", values, "de")["language"] == {
        "code": "pt_PT", "policy": "deterministic"}


def test_parameters_never_carry_what_meta_refuses() -> None:
    template = template_object(DEMO, "feedback_request",
                               {"guest_name": "Maria\nLopez\t  the     third"}, "en")
    [body] = [c for c in template["components"] if c["type"] == "body"]  # type: ignore[attr-defined,index]
    text = body["parameters"][0]["text"]
    assert "\n" not in text and "\t" not in text and "     " not in text


def test_a_missing_value_is_an_error_not_an_empty_parameter() -> None:
    with pytest.raises(ValueError, match="checkout_time"):
        template_object(DEMO, "checkout_reminder", {"guest_name": "Maria"}, "en")


@pytest.mark.parametrize(
    ("replace", "path", "reason"),
    [
        ("name: checkout_reminder_v1", "message_templates.checkout_reminder.name",
         "approved template's name"),
        ("language: {en: en_GB}\n    body: [guest_name, checkout_time]",
         "message_templates.checkout_reminder.language.en", "Meta's language code"),
        ("language: {en: en_GB}\n    body: [guest_name]",
         "message_templates.feedback_request.language", "default language 'en'"),
    ],
)
def test_a_bad_message_template_is_reported_with_its_path(
    tmp_path: Path, replace: str, path: str, reason: str
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "demo_hotel.yaml"
    text = hotel.read_text()
    broken = {
        "name: checkout_reminder_v1": "name: Checkout Reminder",
        "language: {en: en_GB}\n    body: [guest_name, checkout_time]":
            "language: {en: english}\n    body: [guest_name, checkout_time]",
        "language: {en: en_GB}\n    body: [guest_name]": "language: {}\n    body: [guest_name]",
    }[replace]
    assert replace in text
    hotel.write_text(text.replace(replace, broken, 1))
    problems = [p for p in check_config(config) if p.path == path]
    assert problems and reason in problems[0].reason and problems[0].line


def test_a_date_or_time_parameter_reads_in_the_guests_language_not_as_iso() -> None:
    template = template_object(SEASIDE, "checkout_reminder",
                               {"guest_name": "Rui", "checkout_time": "2026-12-04T11:00"}, "pt")
    params = template["components"][0]["parameters"]  # type: ignore[index]
    assert params[1] == {"type": "text", "text": "sexta, 4 de dezembro, 11:00"}
    assert check_send(_send_body(template)) == []
