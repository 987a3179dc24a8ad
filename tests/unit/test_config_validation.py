"""Each kind of bad configuration is reported with its file, YAML path, line and reason.

Every case copies the tests' configuration (tests/data/config) into tmp_path and breaks one
thing in one file.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotelbot.config import check_config, load_hotels
from hotelbot.errors import FlowDefinitionError, Problem
from hotelbot.flows import Policy, Sending
from hotelbot.typedefs import Dept, HotelId
from tests.paths import CONFIG


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    old: str  # text replaced (must occur in the file)
    new: str
    path: str  # expected YAML path of the problem
    reason: str  # fragment of the expected reason
    line_of: str  # expected line: the first one containing this ("^...": starting with it)


# The tests' hotels lift the pacing (tests/data/config): each department carries this line.
SENDING = ("    sending: {messages_per_second: 1000, pair_interval_seconds: 0.01, pair_burst: 45}"
           "  # tests\n")

CASES = [
    Case("yaml_syntax", "flows/late_checkout.yaml", "title: Late checkout",
         "title: [Late checkout", "", "invalid YAML", "start:"),
    Case("unknown_key", "flows/late_checkout.yaml", "    request: late_checkout",
         "    request: late_checkout\n    colour: blue", "steps.done.colour",
         "unknown key 'colour'", "colour:"),
    Case("wrong_type", "flows/late_checkout.yaml", "validate: {kind: time}",
         "validate: {kind: time}\n    optional: maybe", "steps.checkout_time.optional",
         "expected true or false", "optional: maybe"),
    Case("bad_step_id", "flows/late_checkout.yaml", "  done:\n", "  Done!:\n",
         "steps.Done!", "bad step id", "Done!:"),
    Case("dangling_next", "flows/late_checkout.yaml", "    next: done", "    next: finish",
         "steps.confirm.next", "unknown step 'finish'", "next: finish"),
    Case("dangling_change", "flows/late_checkout.yaml", "change: checkout_time",
         "change: checkout_tim", "steps.confirm.change", "unknown step 'checkout_tim'",
         "change: checkout_tim"),
    Case("bad_start", "flows/late_checkout.yaml", "start: checkout_time", "start: begin",
         "start", "unknown step 'begin'", "start: begin"),
    Case("unknown_flow_target", "flows/housekeeping_menu.yaml", "flow:housekeeping_request",
         "flow:laundry", "steps.main.options[0].next", "unknown flow 'laundry'", "laundry"),
    Case("unreachable", "flows/late_checkout.yaml", "    next: done", "    next: confirm",
         "steps.done", "unreachable", "  done:"),
    Case("no_way_out", "flows/late_checkout.yaml", "    save_as: checkout_time\n    next: confirm",
         "    save_as: checkout_time", "steps.checkout_time", "needs 'next'", "checkout_time:"),
    Case("disabled_end", "flows/late_checkout.yaml", "    request: late_checkout",
         "    request: late_checkout\n    enabled: false", "steps.done.enabled",
         "cannot be disabled", "enabled: false"),
    Case("condition_var_never_collected", "flows/feedback.yaml", "{var: rating,",
         "{var: stars,", "steps.rating.next[0].when", "'stars'", "var: stars"),
    Case("branch_without_default", "flows/feedback.yaml", "      - default: comment\n", "",
         "steps.rating.next", "default", "    next:"),
    Case("bad_op", "flows/feedback.yaml", "op: le", "op: lte", "steps.rating.next[0].when.op",
         "unknown op", "op: lte"),
    Case("title_too_long", "flows/feedback.yaml", 'title: "Something else"',
         'title: "Something else entirely, really"',
         "steps.what_went_wrong.options[4].title", "at most 24", "Something else entirely"),
    Case("button_title_over_20", "flows/room_service_order.yaml", 'title: "Cheesecake"',
         'title: "Cheesecake with berries"', "steps.desserts.options[0].title", "at most 20",
         "Cheesecake with"),
    Case("description_too_long", "flows/front_desk_menu.yaml", "Tell us about your stay",
         "Tell us about your stay " + "and more " * 8, "steps.main.options[3].description",
         "at most 72", "and more"),
    Case("duplicate_option_title", "flows/feedback.yaml", 'title: "Noise"',
         'title: "service"', "steps.what_went_wrong.options[3].title", "duplicate title",
         'title: "service"'),
    Case("duplicate_option_id", "flows/feedback.yaml", "{id: noise,", "{id: service,",
         "steps.what_went_wrong.options[3]", "duplicate id 'service'", 'title: "Noise"'),
    Case("bad_validator_kind", "flows/late_checkout.yaml", "{kind: time}", "{kind: clock}",
         "steps.checkout_time.validate.kind", "validator kind", "kind: clock"),
    Case("unknown_variable", "hotels/demo_hotel.yaml", 'restaurant_hours: "from 7am to 11pm"',
         'opening_hours: "from 7am to 11pm"',
         "overrides.room_service_menu.steps.main.text", "unknown variable {restaurant_hours}",
         "id: demo_hotel"),  # no overrides in the file: the line of the document
    Case("missing_translation", "hotels/seaside_inn.yaml",
         '        text: {pt: "Lamentamos. O que correu mal?"}\n', "",
         "overrides.feedback.steps.what_went_wrong.text", "missing translation for 'pt'",
         "      what_went_wrong:"),
    Case("missing_words_for_language", "hotels/demo_hotel.yaml", "languages: [en]",
         "languages: [en, it]", "strings.invalid_option", "missing translation for 'it'",
         "id: demo_hotel"),
    Case("bad_timezone", "hotels/demo_hotel.yaml", "Europe/London", "Europe/Londn",
         "timezone", "unknown time zone", "timezone:"),
    Case("bad_room_pattern", "hotels/demo_hotel.yaml", '"[0-9]{3}"', '"[0-9"', "room_pattern",
         "not a valid regular expression", "room_pattern:"),
    Case("bad_locale", "hotels/demo_hotel.yaml", "locale: en_GB", "locale: xx_QQ",
         "locale", "unknown locale 'xx_QQ'", "^locale:"),
    Case("bad_phone_region", "hotels/demo_hotel.yaml", "locale: en_GB",
         "locale: en_GB\nphone_region: QQ", "phone_region", "unknown phone region 'QQ'",
         "phone_region:"),
    Case("bad_reference_pattern", "hotels/demo_hotel.yaml", "locale: en_GB",
         "locale: en_GB\nreference_pattern: '[A-Z'", "reference_pattern",
         "not a valid regular expression", "reference_pattern:"),
    Case("name_validator_with_a_range", "flows/check_in.yaml", "{kind: name, max_length: 80}",
         "{kind: name, max: 80}", "steps.guest_name.validate.max",
         "unknown key 'max' for a name validator", "kind: name"),
    Case("opening_hours_bad_window", "hotels/demo_hotel.yaml",
         'room_service_order: "07:00-23:00"', 'room_service_order: "7am to 11pm"',
         "opening_hours.flows.room_service_order", "expected opening hours such as",
         "room_service_order: \"7am"),
    Case("opening_hours_empty_window", "hotels/demo_hotel.yaml",
         'breakfast: "07:00-10:30"', 'breakfast: ["07:00-07:00"]',
         "opening_hours.options.room_service_order.category.breakfast[0]",
         "not a window of the day", "breakfast: [\"07:00-07:00"),
    Case("opening_hours_unknown_option", "hotels/demo_hotel.yaml",
         'breakfast: "07:00-10:30"', 'brunch: "07:00-10:30"',
         "opening_hours.options.room_service_order.category.brunch",
         "unknown option 'brunch' of step 'category'", "brunch:"),
    Case("opening_hours_unknown_flow", "hotels/demo_hotel.yaml",
         'room_service_order: "07:00-23:00"', 'spa: "07:00-23:00"',
         "opening_hours.flows.spa", "unknown flow 'spa'", "spa:"),
    Case("orders_unknown_currency", "hotels/demo_hotel.yaml", "currency: GBP",
         "currency: QQQ", "orders.currency", "unknown currency 'QQQ'", "currency: QQQ"),
    Case("orders_price_with_three_decimals", "hotels/demo_hotel.yaml", "coffee: 3.50",
         "coffee: 3.505", "orders.prices.coffee", "at most 2 decimals", "coffee: 3.505"),
    Case("orders_price_not_a_number", "hotels/demo_hotel.yaml", "coffee: 3.50",
         "coffee: cheap", "orders.prices.coffee", "expected a price", "coffee: cheap"),
    Case("orders_item_without_a_price", "hotels/demo_hotel.yaml", "    coffee: 3.50\n", "",
         "orders.prices", "no price for item 'coffee'", "^  prices:"),
    Case("orders_price_for_no_item", "hotels/demo_hotel.yaml", "coffee: 3.50",
         "coffee: 3.50\n    caviar: 99", "orders.prices.caviar",
         "price for 'caviar', which no basket flow", "caviar:"),
    Case("basket_without_add", "flows/room_service_order.yaml", "    add: category\n", "",
         "steps.basket", "missing key 'add'", "  basket:"),
    Case("basket_add_to_unknown_step", "flows/room_service_order.yaml", "add: category",
         "add: catalog", "steps.basket.add", "unknown step 'catalog'", "add: catalog"),
    Case("time_past_unknown", "flows/housekeeping_request.yaml", "past: tomorrow",
         "past: someday", "steps.preferred_time.validate.past", "past is 'tomorrow'",
         "past: someday"),
    Case("time_window_beyond_the_day", "flows/housekeeping_request.yaml", "max: 20",
         "max: 26", "steps.preferred_time.validate.max", "hours of the day", "max: 26"),
    Case("plural_of_an_unknown_value", "strings.yaml",
         "in {minutes, plural, one {# minute}", "in {minuts, plural, one {# minute}",
         "strings.cooloff", "unknown variable {minuts}", "^  cooloff:"),
    Case("bad_phone_number_id", "hotels/demo_hotel.yaml", '"100000000000003"', '"+44 20"',
         "departments.housekeeping.phone_number_id", "digits only", "+44 20"),
    Case("duplicate_phone_number_id", "hotels/seaside_inn.yaml", '"200000000000002"',
         '"100000000000002"', "departments.room_service.phone_number_id",
         "already used by hotel 'demo_hotel'", '"100000000000002"'),
    Case("department_unknown_flow", "hotels/demo_hotel.yaml",
         "flows: [housekeeping_request, feedback, handoff]",
         "flows: [laundry, feedback, handoff]",
         "departments.housekeeping.flows", "unknown flow 'laundry'", "flows: [laundry"),
    Case("flow_not_offered_by_department", "hotels/demo_hotel.yaml",
         "flows: [room_service_order, feedback, handoff]",
         "flows: [room_service_order, handoff]",
         "departments.room_service.flows", "leads to flow 'feedback'",
         "flows: [room_service_order, handoff]"),
    Case("override_unknown_flow", "hotels/seaside_inn.yaml", "  late_checkout:\n    title:",
         "  late_checkin:\n    title:", "overrides.late_checkin", "unknown flow 'late_checkin'",
         "  late_checkin:"),
    Case("override_unknown_step", "hotels/seaside_inn.yaml", "      checkout_time:\n",
         "      checkout_tim:\n", "overrides.late_checkout.steps.checkout_tim",
         "unknown step 'checkout_tim'", "checkout_tim:"),
    Case("override_unknown_option", "hotels/seaside_inn.yaml", "remove: [check_in, extend_stay]",
         "remove: [check_in, extend]", "overrides.front_desk_menu.steps.main.options.remove[1]",
         "unknown option 'extend'", "remove: [check_in, extend]"),
    Case("override_added_option_too_long", "hotels/seaside_inn.yaml",
         "title: {pt: Sardinhas assadas,", "title: {pt: Sardinhas assadas na brasa com salada,",
         "overrides.room_service_order.steps.mains.options.add[0].title", "at most 24",
         "Sardinhas assadas na brasa"),
    Case("override_shrinks_menu_to_buttons", "hotels/seaside_inn.yaml",
         "            - {id: toast, title: {pt: Torradas, en: Toast}, next: quantity, "
         "set: {item: {pt: Torradas, en: Toast}}}\n", "",
         "overrides.room_service_order.steps.breakfast.options.edit.continental.title",
         "21 characters in 'en', WhatsApp allows at most 20", "continental: {title:"),
    Case("language_switch_to_disabled_language", "hotels/seaside_inn.yaml",
         "set: {language: en}", "set: {language: fr}",
         "overrides.front_desk_menu.steps.main.options.add[0].set", "'fr' is not one of",
         "set: {language: fr}"),
    Case("added_option_set_missing_translation", "hotels/seaside_inn.yaml",
         "set: {item: {pt: Torradas, en: Toast}}", "set: {item: {en: Toast}}",
         "overrides.room_service_order.steps.breakfast.options.add[1].set.item",
         "missing translation for 'pt'", "id: toast"),
    Case("edited_set_missing_translation", "hotels/seaside_inn.yaml",
         "{title: {pt: Café}, set: {item: {pt: Café}}}",
         "{title: {pt: Café}, set: {item: {en: Coffee, es: Café}}}",
         "overrides.room_service_order.steps.drinks.options.edit.coffee.set.item",
         "missing translation for 'pt'", "coffee: {title:"),
    Case("language_set_per_language", "hotels/seaside_inn.yaml",
         "set: {language: en}", "set: {language: {en: en, pt: en}}",
         "overrides.front_desk_menu.steps.main.options.add[0].set.language",
         "'language' takes one language code", "set: {language: {en:"),
    Case("edited_set_value_not_plain", "hotels/seaside_inn.yaml",
         "set: {item: {pt: Chá}}", "set: {item: {pt: Chá}, cups: {pt: dois}, item2: [1]}",
         "overrides.room_service_order.steps.drinks.options.edit.tea.set.item2",
         "expected a plain value", "cups: {pt: dois}"),
    Case("disabled_menu_step_in_override", "hotels/seaside_inn.yaml",
         '        text: {pt: "Os nossos pratos:"}',
         '        text: {pt: "Os nossos pratos:"}\n        enabled: false',
         "overrides.room_service_order.steps.mains.enabled", "cannot be disabled",
         "enabled: false"),
    Case("unknown_string_override", "hotels/seaside_inn.yaml", "strings:\n  welcome:",
         "strings:\n  welcom:", "strings.welcom", "unknown string 'welcom'", "welcom:"),
    Case("hotel_id_mismatch", "hotels/demo_hotel.yaml", "id: demo_hotel", "id: demo",
         "id", "must match the file name", "id: demo"),
    Case("missing_required_string", "strings.yaml", "  spam:\n", "  spam_notice:\n", "strings",
         "missing required string 'spam'", "^strings:"),
    Case("string_button_too_long", "strings.yaml", 'confirm: {en: "Confirm",',
         'confirm: {en: "Confirm this order now please",', "strings.confirm", "at most 20",
         "Confirm this order"),
    Case("navigation_footer_too_long", "strings.yaml", 'fr: "0 = menu · retour = étape précédente"',
         'fr: "0 = menu · retour = étape précédente · passer = ignorer la question"',
         "strings.nav_footer", "at most 60", "^  nav_footer:"),
    Case("cooloff_too_long", "hotels/seaside_inn.yaml", "  cooloff_minutes: 10\n",
         "  cooloff_minutes: 100000\n", "conversation.cooloff_minutes", "must be from 1 to 1440",
         "cooloff_minutes: 100000"),
    Case("max_errors_too_low", "hotels/seaside_inn.yaml", "  max_errors: 5\n",
         "  max_errors: 1\n", "conversation.max_errors", "must be from 2 to 20", "max_errors: 1"),
    Case("inbound_rate_not_a_number", "hotels/seaside_inn.yaml", "  inbound_per_second: 1\n",
         "  inbound_per_second: fast\n", "conversation.inbound_per_second", "expected a number",
         "inbound_per_second: fast"),
    Case("conversation_unknown_key", "hotels/seaside_inn.yaml", "  inbound_burst: 20\n",
         "  inbound_burst: 20\n  patience: 3\n", "conversation.patience",
         "unknown key 'patience'", "patience: 3"),
    Case("keywords_not_phrases", "flows/front_desk_menu.yaml",
         "keywords: [feedback, review, complaint, complain]", "keywords: 42",
         "steps.main.options[3].keywords", "expected a list of phrases", "keywords: 42"),
    Case("override_keywords_bad_language", "hotels/seaside_inn.yaml",
         "keywords: {pt: [opinião, reclamação, avaliação]}",
         "keywords: {portuguese: [opinião]}",
         "overrides.front_desk_menu.steps.main.options.edit.feedback.keywords.portuguese",
         "bad language code", "keywords: {portuguese"),
    Case("sending_rate_too_high", "hotels/demo_hotel.yaml", SENDING,
         "    sending: {messages_per_second: 5000}\n",
         "departments.front_desk.sending.messages_per_second", "at most 1000",
         "messages_per_second: 5000"),
    Case("sending_burst_too_high", "hotels/demo_hotel.yaml", SENDING,
         "    sending: {pair_burst: 100}\n",
         "departments.front_desk.sending.pair_burst", "at most 45", "pair_burst: 100"),
    Case("sending_unknown_key", "hotels/demo_hotel.yaml", SENDING,
         "    sending: {speed: 3}\n",
         "departments.front_desk.sending.speed", "unknown key 'speed'", "speed: 3"),
    Case("confirm_hides_a_value", "flows/check_in.yaml", '  arrival_time: "Arrival time"\n',
         "", "labels.arrival_time", "confirm step 'confirm' does not show 'arrival_time'",
         "^labels:"),
    Case("label_for_a_value_never_collected", "flows/check_in.yaml", "labels:\n",
         'labels:\n  arrival: "Arrival"\n', "labels.arrival",
         "label for 'arrival', a value this flow never collects", "arrival:"),
    Case("override_text_drops_a_value_without_a_translated_label", "hotels/seaside_inn.yaml",
         "Confirme o pedido para o quarto {room}:", "Confirme o pedido:",
         "overrides.room_service_order.labels.room", "missing translation for 'pt'",
         "^  room_service_order:"),
    Case("override_label_unknown_value", "hotels/seaside_inn.yaml",
         "  room_service_order:\n    title: {pt: Pedido de quarto}\n",
         "  room_service_order:\n    title: {pt: Pedido de quarto}\n    labels: {cups: Chávenas}\n",
         "overrides.room_service_order.labels.cups", "label for 'cups'", "labels: {cups"),
    Case("read_receipts_not_bool", "hotels/demo_hotel.yaml", "timezone: Europe/London",
         "timezone: Europe/London\nread_receipts: sometimes", "read_receipts",
         "expected true or false", "read_receipts: sometimes"),
]


def _broken_copy(tmp_path: Path, case: Case) -> tuple[Path, int]:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    target = config / case.file
    content = target.read_text(encoding="utf-8")
    assert case.old in content, f"{case.name}: the text to break is not in {case.file}"
    content = content.replace(case.old, case.new, 1)
    target.write_text(content, encoding="utf-8")
    lines = [i for i, line in enumerate(content.splitlines(), 1)
             if (line.startswith(case.line_of[1:]) if case.line_of.startswith("^")
                 else case.line_of in line)]
    assert lines, f"{case.name}: no line contains {case.line_of!r}"
    return config, lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_config_reports_file_path_line_and_reason(tmp_path: Path, case: Case) -> None:
    config, line = _broken_copy(tmp_path, case)
    problems = check_config(config)
    matching = [p for p in problems if p.file == case.file and p.path == case.path
                and case.reason in p.reason]
    assert matching, "\n".join(str(p) for p in problems) or "no problem reported"
    assert matching[0].line == line, str(matching[0])


def test_load_hotels_raises_with_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    flow = config / "flows" / "late_checkout.yaml"
    flow.write_text(flow.read_text().replace("next: done", "next: finish")
                    .replace("change: checkout_time", "change: nowhere"))
    hotel = config / "hotels" / "demo_hotel.yaml"
    hotel.write_text(hotel.read_text().replace("Europe/London", "Mars/Olympus"))
    with pytest.raises(FlowDefinitionError) as caught:
        load_hotels(config)
    reasons = [p.reason for p in caught.value.problems]
    assert any("unknown step 'finish'" in r for r in reasons)
    assert any("unknown step 'nowhere'" in r for r in reasons)
    assert any("unknown time zone" in r for r in reasons)
    assert all(isinstance(p, Problem) and p.line for p in caught.value.problems)


def test_template_fault_is_reported_once_not_per_hotel(tmp_path: Path) -> None:
    config, _ = _broken_copy(tmp_path, CASES[4])  # dangling_next in late_checkout
    problems = [p for p in check_config(config) if "unknown step 'finish'" in p.reason]
    assert [p.file for p in problems] == ["flows/late_checkout.yaml"]


def test_missing_folders_and_empty_dir_are_problems(tmp_path: Path) -> None:
    problems = check_config(tmp_path)
    assert any(p.file == "strings.yaml" and "cannot read file" in p.reason for p in problems)
    assert any("missing folder flows/" in p.reason for p in problems)
    assert any("missing folder hotels/" in p.reason for p in problems)


def test_problem_str_is_file_line_path_reason() -> None:
    problem = Problem("hotels/x.yaml", "departments.a.name", "text is empty", 7)
    assert str(problem) == "hotels/x.yaml:7: departments.a.name: text is empty"


def _edit(config: Path, rel: str, old: str, new: str) -> list[str]:
    """Replace `old` (must occur) in one file of a copied config; returns the new lines."""
    target = config / rel
    content = target.read_text(encoding="utf-8")
    assert old in content, f"{old!r} not in {rel}"
    content = content.replace(old, new, 1)
    target.write_text(content, encoding="utf-8")
    return content.splitlines()


def _line_of(lines: list[str], fragment: str) -> int:
    return next(i for i, line in enumerate(lines, 1) if fragment in line)


def test_template_set_missing_a_hotel_language_is_reported_in_the_hotel(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    _edit(config, "flows/room_service_order.yaml", 'set: {item: "Coffee"}',
          "set: {item: {en: Coffee}}")
    lines = _edit(config, "hotels/seaside_inn.yaml", "coffee: {title: {pt: Café}, set: {item: "
                  "{pt: Café}}}", "coffee: {title: {pt: Café}}")
    problems = check_config(config)
    assert [(p.file, p.path, p.reason, p.line) for p in problems] == [(
        "hotels/seaside_inn.yaml",
        "overrides.room_service_order.steps.drinks.options.edit.coffee.set.item",
        "missing translation for 'pt'", _line_of(lines, "coffee: {title:"))]


def test_per_language_edit_of_a_non_text_set_value_is_a_problem(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    _edit(config, "flows/room_service_order.yaml", 'set: {item: "Tea"}',
          'set: {item: "Tea", cups: 1}')
    _edit(config, "flows/room_service_order.yaml", "labels:\n",
          "labels:\n  cups: {en: Cups, pt: Chávenas}\n")
    lines = _edit(config, "hotels/seaside_inn.yaml", "set: {item: {pt: Chá}}",
                  "set: {item: {pt: Chá}, cups: {pt: uma}}")
    problems = check_config(config)
    assert [(p.file, p.path, p.line) for p in problems] == [(
        "hotels/seaside_inn.yaml",
        "overrides.room_service_order.steps.drinks.options.edit.tea.set.cups",
        _line_of(lines, "cups: {pt: uma}"))]
    assert "'cups' is int in the template" in problems[0].reason


def test_sending_limits_and_read_receipts_are_read_with_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "demo_hotel.yaml"
    hotel.write_text(hotel.read_text()
                     .replace("timezone: Europe/London", "timezone: Europe/London\n"
                              "read_receipts: false")
                     .replace(SENDING, "    sending: {messages_per_second: 1000, pair_burst: 3}\n",
                              1)
                     .replace(SENDING, ""))  # the other departments: WhatsApp's defaults
    hotels = load_hotels(config)
    demo = hotels.hotels[HotelId("demo_hotel")]
    front, rooms = demo.departments[Dept("front_desk")], demo.departments[Dept("room_service")]
    assert not demo.read_receipts and hotels.hotels[HotelId("seaside_inn")].read_receipts
    assert (front.sending.messages_per_second, front.sending.pair_burst,
            front.sending.pair_interval_seconds) == (1000, 3, 6.0)
    assert rooms.sending == Sending()


def test_conversation_settings_are_read_with_defaults() -> None:
    hotels = load_hotels(CONFIG)
    seaside, demo = hotels.hotels["seaside_inn"], hotels.hotels["demo_hotel"]
    assert demo.policy == Policy()
    assert seaside.policy == Policy(max_errors=5, cooloff_minutes=10, timeout_minutes=60,
                                    spam_burst=20, spam_per_second=1.0)
