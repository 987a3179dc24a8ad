"""Meta's OpenAPI schema as the fake Graph API applies it (hotelbot/devtools/meta_spec.py).

Every body hotelbot renders for the shipped configuration passes it; bodies Meta refuses are
refused with the field named. The schema is loaded once for the session (about 0.5 s).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from hotelbot.config import load_hotels
from hotelbot.devtools.meta_spec import check_send, load_spec, send_schema, webhook_examples
from hotelbot.flows.render import render_step, text_message
from hotelbot.whatsapp.payloads import envelope, mark_read_body
from tests.paths import CONFIG
from tests.unit.fixtures import at

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GUEST = "34600000001"
TEXT: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                        "to": "+" + GUEST, "type": "text", "text": {"body": "Hello"}}


def _rendered() -> list[Any]:
    """Every step of every flow of every hotel (the shipped templates), in each language."""
    cases = []
    hotels = load_hotels(CONFIG)
    for hotel_id, hotel in sorted(hotels.hotels.items()):
        for flow_id, flow in sorted(hotel.flows.items()):
            for step_id, step in sorted(flow.steps.items()):
                for lang in hotel.languages:
                    ctx = at(f"{flow_id}.{step_id}", language=lang)
                    body = render_step(hotel, ctx, flow, step, notice="Sorry, try again.").body
                    cases.append(pytest.param(body, id=f"{hotel_id}.{flow_id}.{step_id}.{lang}"))
    return cases


@pytest.mark.parametrize("body", _rendered())
def test_every_rendered_step_of_the_shipped_flows_passes_metas_schema(
    body: dict[str, object]
) -> None:
    assert check_send(envelope(GUEST, body)) == []


@pytest.mark.parametrize("body", [
    text_message("x" * 5000).body,
    text_message("Olá, já reservámos o seu quarto 🛎️").body,
])
def test_text_messages_pass(body: dict[str, object]) -> None:
    assert check_send(envelope(GUEST, body)) == []


def test_envelope_extensions_and_read_receipts_pass() -> None:
    assert check_send({**TEXT, "biz_opaque_callback_data": "outbox=42"}) == []
    assert check_send(envelope("US.13491208655302741918", {"type": "text",
                                                          "text": {"body": "hi"}})) == []
    assert check_send(mark_read_body("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB")) == []


@pytest.mark.parametrize("name", ["text", "buttons", "list", "template"])
def test_the_documented_send_samples_pass(name: str) -> None:
    assert check_send(orjson.loads((DATA / "sends" / f"{name}.json").read_bytes())) == []


@pytest.mark.parametrize(("change", "named"), [
    ({"colour": "blue"}, "'colour' was unexpected"),
    ({"text": {"body": 42}}, "$.text.body: 42 is not of type 'string'"),
    ({"text": {"body": "hi", "preview": True}}, "$.text: Additional properties"),
    ({"recipient_type": "everyone"}, "$.recipient_type: 'everyone' is not one of"),
    ({"type": "carousel"}, "$.type: 'carousel' is not a message type"),
    ({"biz_opaque_callback_data": "x" * 513}, "$.biz_opaque_callback_data: "),
    ({"to": None}, "$.to: None is not of type 'string'"),
])
def test_a_body_the_schema_refuses_is_named_by_path_and_reason(
    change: dict[str, object], named: str
) -> None:
    reasons = check_send({**TEXT, **change})
    assert reasons and any(named in reason for reason in reasons), reasons


def test_a_missing_recipient_is_refused() -> None:
    body = {k: v for k, v in TEXT.items() if k != "to"}
    assert any("'to' is a required property" in reason for reason in check_send(body))


def test_a_too_long_button_title_is_named_through_the_oneof() -> None:
    buttons = orjson.loads((DATA / "sends" / "buttons.json").read_bytes())
    buttons["interactive"]["action"]["buttons"][0]["reply"]["title"] = "A title far, far too long"
    [reason] = check_send(buttons)
    assert reason.startswith("$.interactive.action: matches no oneOf branch")
    assert "$.interactive.action.buttons[0].reply.title" in reason and "too long" in reason


def test_the_memo_gives_each_body_its_own_answer() -> None:
    good, bad = dict(TEXT), {**TEXT, "text": {"body": 42}}
    for to in ("+34600000001", "+34600000002", "+34600000001"):
        assert check_send({**good, "to": to}) == []
        assert check_send({**bad, "to": to}) != []
    assert check_send({**good, "to": 34600000001}) != []  # a number is no stand-in


def test_preparing_leaves_the_loaded_spec_as_it_was() -> None:
    before = copy.deepcopy(load_spec()["components"]["schemas"]["TextMessage"])
    send_schema()
    assert load_spec()["components"]["schemas"]["TextMessage"] == before
    assert "allOf" in before  # what the file says; the merge happens on a copy


def test_the_spec_lists_its_webhook_examples() -> None:
    examples = webhook_examples()
    assert len(examples) >= 16
    assert all(e["object"] == "whatsapp_business_account" for e in examples.values())
    first = next(iter(examples))
    examples[first]["object"] = "changed"
    assert webhook_examples()[first]["object"] == "whatsapp_business_account"
