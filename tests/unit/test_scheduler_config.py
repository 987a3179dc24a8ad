"""The hotel file's scheduler part under `check-config`: each fault with file, line, reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotelbot.config import check_config, load_hotels
from hotelbot.flows import Category, TriggerKind
from hotelbot.typedefs import HotelId
from tests.paths import CONFIG


def test_the_demo_hotels_scheduled_messages_load() -> None:
    hotel = load_hotels(CONFIG).hotels[HotelId("demo_hotel")]
    assert set(hotel.scheduled) == {"checkout_reminder", "breakfast_survey", "welcome",
                                    "feedback_request", "spa_offer"}
    reminder = hotel.scheduled["checkout_reminder"]
    assert (reminder.trigger.kind, reminder.trigger.minutes) == (TriggerKind.BEFORE_CHECKOUT, 120)
    assert (reminder.department, reminder.template, reminder.reply_flow) == (
        "front_desk", "checkout_reminder", "stay_extension")
    feedback = hotel.scheduled["feedback_request"].trigger
    assert (feedback.kind, feedback.flow, feedback.status, feedback.minutes) == (
        TriggerKind.AFTER_REQUEST, "room_service_order", "done", 120)
    assert hotel.quiet_hours[Category.MARKETING].start.hour == 21
    assert hotel.pms_token_env == "HOTELBOT_DEMO_PMS_TOKEN"


@pytest.mark.parametrize(("old", "new", "path", "reason"), [
    ("{checkout_time}. Would", "{checkout_hour}. Would",
     "scheduled_messages.checkout_reminder.text", "unknown variable {checkout_hour}"),
    ("reply_flow: stay_extension", "reply_flow: stay_extensions",
     "scheduled_messages.checkout_reminder.reply_flow", "unknown flow 'stay_extensions'"),
    ("reply_flow: stay_extension", "reply_flow: room_service_order",
     "scheduled_messages.checkout_reminder.reply_flow",
     "the department 'front_desk' does not offer flow 'room_service_order'"),
    ("department: front_desk", "department: spa",
     "scheduled_messages.checkout_reminder.department", "unknown department 'spa'"),
    ("template: checkout_reminder", "template: checkout_v9",
     "scheduled_messages.checkout_reminder.template", "unknown WhatsApp template 'checkout_v9'"),
    ("trigger: {hours_before_checkout: 2}", "trigger: {hours_before_checkout: -2}",
     "scheduled_messages.checkout_reminder.trigger.hours_before_checkout", "must be at least 0"),
    ("trigger: {hours_before_checkout: 2}", "trigger: {daily_at: '25:00'}",
     "scheduled_messages.checkout_reminder.trigger.daily_at", 'expected a local time "HH:MM"'),
    ("trigger: {hours_before_checkout: 2}", "trigger: {every: week}",
     "scheduled_messages.checkout_reminder.trigger.every", "unknown key 'every'"),
    ("category: service", "category: promo",
     "scheduled_messages.checkout_reminder.category", "expected service or marketing"),
    ('marketing: {from: "21:00", to: "09:00"}', 'marketing: {from: "21:00", to: "21:00"}',
     "quiet_hours.marketing", "from and to are the same time"),
    ("pms_token_env: HOTELBOT_DEMO_PMS_TOKEN", "pms_token_env: demo token",
     "pms_token_env", "expected an environment variable name"),
], ids=lambda v: str(v)[:24])
def test_a_fault_is_reported_with_its_file_line_and_reason(
    tmp_path: Path, old: str, new: str, path: str, reason: str,
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "demo_hotel.yaml"
    text = hotel.read_text(encoding="utf-8")
    assert old in text
    hotel.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = check_config(config)
    found = [p for p in problems if p.path == path]
    assert found, [str(p) for p in problems]
    assert found[0].file == "hotels/demo_hotel.yaml" and found[0].line is not None
    assert reason in found[0].reason


def test_a_missing_translation_is_a_fault(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "seaside_inn.yaml"
    hotel.write_text(hotel.read_text(encoding="utf-8") + """
scheduled_messages:
  welcome:
    trigger: {hours_after_check_in: 1}
    department: front_desk
    text: {pt: "Bem-vindo, {guest_name}!"}
""", encoding="utf-8")
    [problem] = check_config(config)
    assert (problem.file, problem.path) == ("hotels/seaside_inn.yaml",
                                            "scheduled_messages.welcome.text")
    assert problem.reason == "missing translation for 'en'"
