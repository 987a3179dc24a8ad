"""The configuration loads, and the Hotels carry every hotel's overrides (tests/data/config)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotelbot.config import check_config, load_hotels
from hotelbot.config.source import Source
from hotelbot.config.templates import parse_option
from hotelbot.flows import Hotels, StepKind, Text, ValidatorKind
from tests.numbers import ROOM_SERVICE, SEASIDE_FRONT_DESK
from tests.paths import CONFIG


@pytest.fixture(scope="module")
def hotels() -> Hotels:
    return load_hotels(CONFIG)


def test_the_tests_configuration_has_no_problem() -> None:
    assert check_config(CONFIG) == []


def test_numbers_map_to_hotel_and_department(hotels: Hotels) -> None:
    assert hotels.numbers[ROOM_SERVICE] == ("demo_hotel", "room_service")
    assert hotels.numbers[SEASIDE_FRONT_DESK] == ("seaside_inn", "front_desk")
    assert len(hotels.numbers) == 5


def test_demo_hotel_runs_every_shipped_flow_as_written(hotels: Hotels) -> None:
    demo = hotels.hotels["demo_hotel"]
    assert demo.languages == ("en",) and demo.timezone == "Europe/London"
    assert set(demo.flows) == {p.stem for p in (CONFIG / "flows").glob("*.yaml")}
    order = demo.flows["room_service_order"]
    assert order.start == "category"
    assert [o.id for o in order.steps["category"].options] == [
        "breakfast", "mains", "desserts", "drinks"]
    quantity = order.steps["quantity"]
    assert quantity.validator is not None and quantity.validator.kind is ValidatorKind.INTEGER
    assert (quantity.validator.min, quantity.validator.max) == (1.0, 20.0)
    done = order.steps["done"]
    assert done.kind is StepKind.END and done.request == "order"
    assert [(s.message_type, s.after_minutes) for s in done.schedule] == [
        ("feedback_request", 120)]


def test_feedback_branches_on_low_rating(hotels: Hotels) -> None:
    rating = hotels.hotels["demo_hotel"].flows["feedback"].steps["rating"]
    assert rating.next is not None and rating.next.default == "comment"
    branch = rating.next.branches[0]
    assert (branch.when.var, branch.when.op, branch.when.value, branch.to) == (
        "rating", "le", 2, "what_went_wrong")


def test_seaside_overrides_remove_add_and_reorder_options(hotels: Hotels) -> None:
    order = hotels.hotels["seaside_inn"].flows["room_service_order"]
    assert [o.id for o in order.steps["category"].options] == ["mains", "breakfast", "drinks"]
    assert [o.id for o in order.steps["mains"].options] == [
        "sardines", "cataplana", "club_sandwich", "caesar_salad", "pasta"]
    sardines = order.steps["mains"].options[0]
    assert sardines.title.by_lang == {"pt": "Sardinhas assadas", "en": "Grilled sardines"}
    assert sardines.set == {"item": Text({"pt": "Sardinhas assadas", "en": "Grilled sardines"})}


def test_seaside_edit_merges_portuguese_item_names_with_the_template_english(
    hotels: Hotels,
) -> None:
    drinks = hotels.hotels["seaside_inn"].flows["room_service_order"].steps["drinks"]
    coffee = drinks.options[0]
    assert coffee.id == "coffee" and coffee.set == {"item": Text({"en": "Coffee", "pt": "Café"})}
    assert coffee.title.by_lang == {"en": "Coffee", "pt": "Café"}
    demo = hotels.hotels["demo_hotel"].flows["room_service_order"].steps["drinks"]
    assert demo.options[0].set == {"item": "Coffee"}  # a template's plain string stays plain


def test_every_item_seaside_serves_has_its_portuguese_name(hotels: Hotels) -> None:
    order = hotels.hotels["seaside_inn"].flows["room_service_order"]
    items = [o.set["item"] for s in ("breakfast", "mains", "drinks")
             for o in order.steps[s].options]
    assert len(items) == 13  # 4 breakfasts, 5 mains, 4 drinks
    assert all(isinstance(i, Text) and set(i.by_lang) == {"pt", "en"} for i in items), items


def test_per_language_set_values_parse_and_plain_ones_stay_plain() -> None:
    src = Source(file="flows/x.yaml")
    option = parse_option(src, {"id": "tea", "title": "Tea", "next": "quantity", "set": {
        "item": {"en": "Tea", "pt": "Chá"}, "size": "large", "cups": 2, "language": "pt"}},
        "steps.drinks.options[0]", "en")
    assert src.problems == []
    assert option is not None and option.set == {
        "item": Text({"en": "Tea", "pt": "Chá"}), "size": "large", "cups": 2, "language": "pt"}


@pytest.mark.parametrize(("value", "path", "reason"), [
    ({"language": {"en": "en"}}, "o.set.language", "'language' takes one language code"),
    ({"item": {"english": "Tea"}}, "o.set.item.english", "bad language code"),
    ({"item": {"en": ""}}, "o.set.item.en", "expected a non-empty string"),
    ({"item": {}}, "o.set.item", "expected a text"),
    ({"item": ["Tea"]}, "o.set.item", "expected a plain value"),
])
def test_bad_set_values_are_problems_at_their_path(
    value: dict[str, object], path: str, reason: str
) -> None:
    src = Source(file="flows/x.yaml")
    parse_option(src, {"id": "tea", "title": "Tea", "next": "q", "set": value}, "o", "en")
    assert [(p.path, reason in p.reason) for p in src.problems] == [(path, True)], src.problems


def test_seaside_disables_special_request_and_tightens_quantity(hotels: Hotels) -> None:
    order = hotels.hotels["seaside_inn"].flows["room_service_order"]
    assert order.steps["special_request"].enabled is False
    validator = order.steps["quantity"].validator
    assert validator is not None and validator.max == 10 and validator.min == 1
    assert validator.error is not None and "1 a 10" in validator.error.by_lang["pt"]


def test_seaside_texts_merge_portuguese_with_template_english(hotels: Hotels) -> None:
    seaside = hotels.hotels["seaside_inn"]
    assert seaside.default_language == "pt"
    text = seaside.flows["feedback"].steps["rating"].text.by_lang
    assert text["en"].startswith("How would you rate") and text["pt"].startswith("Como avalia")
    assert seaside.strings["welcome"].by_lang["pt"].startswith("Olá!")
    assert seaside.strings["cooloff"].by_lang["pt"].endswith("other {# minutos}}.")
    assert seaside.variables["restaurant_hours"].by_lang["pt"] == "das 8h às 22h"


def test_seaside_main_menu_switches_language(hotels: Hotels) -> None:
    main = hotels.hotels["seaside_inn"].flows["front_desk_menu"].steps["main"]
    assert [o.id for o in main.options] == ["late_checkout", "feedback", "my_requests",
                                            "person", "english", "portugues"]
    assert main.options[4].set == {"language": "en"}


def test_words_are_normalized_merged_and_limited_to_enabled_languages(hotels: Hotels) -> None:
    seaside = hotels.hotels["seaside_inn"]
    assert set(seaside.words["back"]) == {"pt", "en"}
    assert "inicio" in seaside.words["menu"]["pt"]  # "início" normalized
    assert "main" in seaside.words["menu"]["en"]  # the hotel's extra word
    assert "prefiro nao responder" in seaside.words["skip"]["pt"]
    assert set(hotels.hotels["demo_hotel"].words["skip"]) == {"en"}


def test_departments_list_their_main_flow_first(hotels: Hotels) -> None:
    dept = hotels.hotels["demo_hotel"].departments["front_desk"]
    assert dept.main_flow == "front_desk_menu"
    assert dept.flows[0] == "front_desk_menu" and "check_in" in dept.flows


def test_edit_merges_per_language_set_values_and_plain_values_replace(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    flow = config / "flows" / "room_service_order.yaml"
    flow.write_text(flow.read_text(encoding="utf-8").replace(
        'set: {item: "Coffee"}', "set: {item: {en: Coffee, pt: Cafezinho}, size: cup}").replace(
        "labels:\n", "labels:\n  size: {en: Size, pt: Tamanho}\n"), encoding="utf-8")
    hotel = config / "hotels" / "seaside_inn.yaml"
    hotel.write_text(hotel.read_text(encoding="utf-8").replace(
        "set: {item: {pt: Café}}", "set: {item: {pt: Café}, size: chávena}"), encoding="utf-8")
    seaside = load_hotels(config).hotels["seaside_inn"]
    coffee = seaside.flows["room_service_order"].steps["drinks"].options[0]
    assert coffee.set == {"item": Text({"en": "Coffee", "pt": "Café"}), "size": "chávena"}


def test_a_hotel_translates_the_labels_its_confirmations_need(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    hotel = config / "hotels" / "seaside_inn.yaml"
    hotel.write_text(hotel.read_text(encoding="utf-8").replace(
        "{quantity} x {item}, para o quarto {room}.", "{quantity} x {item}.").replace(
        "  room_service_order:\n    title: {pt: Pedido de quarto}\n",
        "  room_service_order:\n    title: {pt: Pedido de quarto}\n"
        "    labels: {room: {pt: Quarto}}\n"), encoding="utf-8")
    assert check_config(config) == []
    flow = load_hotels(config).hotels["seaside_inn"].flows["room_service_order"]
    assert flow.labels["room"] == Text({"en": "Room", "pt": "Quarto"})
    assert flow.labels["item"] == Text({"en": "Item"})
