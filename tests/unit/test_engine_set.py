"""Option `set` values: a per-language value is saved as the string in the guest's language."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hotelbot.flows import Hotel, Text, TextReceived
from hotelbot.typedefs import FlowId, JSONScalar, Lang, StepId
from tests.unit.fixtures import at, build_hotel, run, t, text_of, where

SANDWICH = t("Club sandwich", "Tosta mista")
ENGLISH_ONLY = Text({"en": "Caesar salad"})


def with_food_sets(*sets: dict[str, JSONScalar | Text]) -> Hotel:
    """The test hotel (en default, pt) with item_food's options saving `sets`, in order."""
    hotel = build_hotel()
    order = hotel.flows[FlowId("order")]
    food = order.steps[StepId("item_food")]
    options = tuple(replace(o, set=s) for o, s in zip(food.options, sets, strict=True))
    steps = {**order.steps, food.id: replace(food, options=options)}
    return replace(hotel, flows={**hotel.flows, order.id: replace(order, steps=steps)})


FOOD = with_food_sets({"item": SANDWICH, "size": "large", "cups": 2},
                      {"item": ENGLISH_ONLY})


@pytest.mark.parametrize(("language", "answer", "saved"), [
    ("en", "1", {"item": "Club sandwich", "size": "large", "cups": 2}),
    ("pt", "1", {"item": "Tosta mista", "size": "large", "cups": 2}),
    ("en", "2", {"item": "Caesar salad"}),
    ("pt", "2", {"item": "Caesar salad"}),  # no Portuguese: the hotel's default language
])
def test_a_per_language_value_is_saved_in_the_guest_language(
    language: str, answer: str, saved: dict[str, object]
) -> None:
    out = run(at("order.item_food", language=language), TextReceived(text=answer), FOOD)
    assert where(out.context) == "order.quantity"
    assert dict(out.context.step_data) == saved


def test_without_the_guest_language_the_hotel_default_language_is_saved() -> None:
    hotel = with_food_sets({"item": Text({"es": "Sándwich", "pt": "Tosta mista"})},
                              {"item": ENGLISH_ONLY})
    hotel = replace(hotel, languages=(Lang("pt"), Lang("en")))
    out = run(at("order.item_food", language="en"), TextReceived(text="1"), hotel)
    assert out.context.step_data["item"] == "Tosta mista"


def test_a_language_switch_applies_before_the_other_values() -> None:
    hotel = with_food_sets({"item": SANDWICH, "language": "pt"}, {"item": ENGLISH_ONLY})
    out = run(at("order.item_food", language="en"), TextReceived(text="1"), hotel)
    assert out.context.language == "pt"
    assert dict(out.context.step_data) == {"item": "Tosta mista"}


def test_the_confirmation_shows_the_saved_name() -> None:
    texts = {}
    for language in ("en", "pt"):
        ctx = at("order.item_food", language=language)
        for answer in ("1", "2", "skip"):
            out = run(ctx, TextReceived(text=answer), FOOD)
            ctx = out.context
        assert where(ctx) == "order.confirm"
        texts[language] = text_of(out)
    assert "2 x Club sandwich" in texts["en"] and "Tosta mista" not in texts["en"]
    assert "2 x Tosta mista" in texts["pt"]


def test_plain_option_values_are_saved_as_written() -> None:
    out = run(at("order.category", language="pt"), TextReceived(text="1"))
    assert out.context.step_data == {"category": "food"}
