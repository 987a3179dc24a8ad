"""Rendering: exact Graph API bodies, limits, fallbacks and one-pass substitution."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hotelbot.flows.effects import SendMessage
from hotelbot.flows.model import (
    Choice,
    Flow,
    Hotel,
    Next,
    Option,
    Step,
    StepKind,
    Validator,
    ValidatorKind,
)
from hotelbot.flows.render import (
    ELLIPSIS,
    clip,
    render_step,
    step_entries,
    substitute,
    text_message,
    variables,
)
from hotelbot.typedefs import FlowId, StepId
from hotelbot.whatsapp.limits import check_message
from hotelbot.whatsapp.payloads import envelope
from tests.messages import message_text
from tests.unit.fixtures import GUEST, at, build_hotel, t

HOTEL = build_hotel()


def render(ref: str, notice: str = "", language: str = "en", **data: object) -> SendMessage:
    flow_id, step_id = ref.split(".")
    flow = HOTEL.flows[FlowId(flow_id)]
    ctx = at(ref, data=data, language=language)
    return render_step(HOTEL, ctx, flow, flow.steps[StepId(step_id)], notice)


def menu(count: int, title_len: int = 8) -> Step:
    options = tuple(Option(id=f"o{i}", title=t(f"{i:0{title_len}d}"), next=None)  # type: ignore[arg-type]
                    for i in range(1, count + 1))
    return Step(id=StepId("s"), kind=StepKind.MENU, text=t("Pick"), options=options)


def render_menu(step: Step, notice: str = "") -> SendMessage:
    flow = replace(HOTEL.flows[FlowId("order")], steps={step.id: step})
    return render_step(HOTEL, at("order.s"), flow, step, notice)


def test_two_options_render_exact_reply_buttons() -> None:
    assert render("order.category").body == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Food or drinks?"},
            "footer": {"text": "0 = menu · back = previous step"},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": "order.category:food", "title": "Food"}},
                {"type": "reply", "reply": {"id": "order.category:drinks", "title": "Drinks"}},
            ]},
        },
    }


def test_four_options_render_an_exact_list_with_header_footer_and_descriptions() -> None:
    """The step's own footer closes the body; the footer says how to navigate."""
    body = render("main.start", notice="Welcome!").body
    assert body == {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Hotel Test"},
            "body": {"text": "Welcome!\n\nHow can we help, ?\n\nReception is open 24h"},
            "footer": {"text": "0 = menu · back = previous step"},
            "action": {"button": "Options", "sections": [{"rows": [
                {"id": "main.start:order", "title": "Room service",
                 "description": "Food and drinks, 07:00-23:00"},
                {"id": "main.start:feedback", "title": "Feedback"},
                {"id": "main.start:late", "title": "Late checkout"},
                {"id": "main.start:lang_pt", "title": "Português"},
            ]}]},
        },
    }


def test_more_than_ten_options_render_a_numbered_text_menu() -> None:
    body = render("order.item_drinks").body
    text = body["text"]["body"]  # type: ignore[index]
    assert body["type"] == "text" and body["text"]["preview_url"] is False  # type: ignore[index]
    assert text.startswith("Which drink?\n\n1. Drink 1\n2. Drink 2\n")
    assert text.endswith("12. Drink 12\n\nReply with a number.\n\n0 = menu · back = previous step")
    assert "order.item_drinks" not in text


@pytest.mark.parametrize(("count", "kind"), [(1, "button"), (3, "button"), (4, "list"),
                                              (10, "list"), (11, "text"), (30, "text")])
def test_shape_follows_the_option_count(count: int, kind: str) -> None:
    body = render_menu(menu(count)).body
    found = body["type"] if body["type"] == "text" else body["interactive"]["type"]  # type: ignore[index]
    assert found == kind and check_message(envelope(GUEST, body)) == []


def test_input_step_is_plain_text_with_skip_hint_when_optional() -> None:
    assert render("order.note").body == {"type": "text", "text": {
        "body": "Any special request?\n\nSend 'skip' to leave this out.", "preview_url": False}}
    assert render("order.quantity", item="Tea").body["text"]["body"] == "How many Tea?"  # type: ignore[index]


def test_rating_renders_numbered_star_rows_in_order() -> None:
    rows = render("feedback.rating").body["interactive"]["action"]["sections"][0]["rows"]  # type: ignore[index]
    assert [r["id"] for r in rows] == [f"feedback.rating:{n}" for n in range(1, 6)]
    assert rows[0]["title"] == "1 ⭐" and rows[4]["title"] == "5 ⭐⭐⭐⭐⭐"


def test_choice_input_renders_like_a_menu_in_the_guest_language() -> None:
    buttons = render("feedback.what", language="pt").body["interactive"]["action"]["buttons"]  # type: ignore[index]
    assert [b["reply"]["title"] for b in buttons] == ["Serviço lento", "Comida fria",
                                                       "Equipe rude"]
    assert buttons[0]["reply"]["id"] == "feedback.what:slow"


def test_confirm_renders_collected_data_and_confirm_change_buttons() -> None:
    body = render("order.confirm", quantity=2, item="Tea", note="no sugar").body
    assert body["interactive"]["body"]["text"] == "2 x Tea. Note: no sugar. Confirm?"  # type: ignore[index]
    titles = [b["reply"]["title"] for b in body["interactive"]["action"]["buttons"]]  # type: ignore[index]
    assert titles == ["Confirm", "Change"]


def test_long_texts_are_clipped_to_the_limits() -> None:
    long_step = replace(menu(2, title_len=30), text=t("x" * 5000),
                        header=t("h" * 100), footer=t("f" * 100))
    body = render_menu(long_step).body
    # 30-character titles collide once clipped to 20: rendered as a list instead
    assert check_message(envelope(GUEST, body)) == []
    inter = body["interactive"]  # type: ignore[index]
    assert len(inter["body"]["text"]) == 1024 and inter["body"]["text"].endswith(ELLIPSIS)
    assert len(inter["header"]["text"]) == 60
    assert inter["footer"]["text"] == "0 = menu · back = previous step"


def test_the_navigation_footer_is_in_the_guest_language() -> None:
    body = render("feedback.what", language="pt").body
    assert body["interactive"]["footer"]["text"] == "0 = menu · voltar = passo anterior"  # type: ignore[index]


def test_button_titles_that_collide_once_clipped_fall_back_to_a_list() -> None:
    options = tuple(Option(id=f"o{i}", title=t("Very long identical prefix " + str(i)),
                           next=None) for i in range(2))  # type: ignore[arg-type]
    step = Step(id=StepId("s"), kind=StepKind.MENU, text=t("Pick"), options=options)
    body = render_menu(step).body
    assert body["interactive"]["type"] == "list" and check_message(envelope(GUEST, body)) == []  # type: ignore[index]


def test_huge_text_message_is_clipped_to_4096() -> None:
    body = text_message("y" * 10_000).body
    assert len(body["text"]["body"]) == 4096 and check_message(envelope(GUEST, body)) == []  # type: ignore[index]


def test_substitution_is_one_pass_and_leaves_unknown_names() -> None:
    values = {"name": "{room}", "room": "412"}
    assert substitute("Hi {name} in {room}, {unknown} {{x}}", values) == (
        "Hi {room} in 412, {unknown} {{x}}")


def test_variables_precedence_and_builtins() -> None:
    ctx = at("order.confirm", data={"item": "Tea", "guest_name": "Step"}).evolve(
        accumulated_data={"guest_name": "Ana", "room": "412", "quantity": 2.0})
    values = variables(HOTEL, ctx, HOTEL.flows[FlowId("order")])
    assert values["hotel_name"] == "Hotel Test" and values["department"] == "Front desk"
    assert values["guest_name"] == "Step" and values["room"] == "412"
    assert values["quantity"] == "2" and values["note"] == ""
    assert values["restaurant_hours"] == "07:00-23:00"


def test_entries_are_numbered_in_display_order() -> None:
    rating = Step(id=StepId("r"), kind=StepKind.INPUT, text=t("Rate"),
                  validator=Validator(kind=ValidatorKind.RATING, min=0, max=10))
    assert [e.key for e in step_entries(HOTEL, rating)] == [str(n) for n in range(11)]
    choice = Step(id=StepId("c"), kind=StepKind.INPUT, text=t("C"),
                  validator=Validator(kind=ValidatorKind.CHOICE,
                                      choices=(Choice(id="b", title=t("B")),
                                               Choice(id="a", title=t("A")))))
    assert [e.key for e in step_entries(HOTEL, choice)] == ["b", "a"]


def test_clip() -> None:
    assert clip("  abc  ", 3) == "abc" and clip("abcdef", 4) == "abc" + ELLIPSIS


def _feedback_with_confirmation() -> tuple[Hotel, Flow]:
    """The fixture's feedback flow with a confirm step before its end, and labels."""
    hotel = build_hotel()
    feedback = hotel.flows[FlowId("feedback")]
    comment = replace(feedback.steps[StepId("comment")], next=Next(default="confirm"))
    confirm = Step(id=StepId("confirm"), kind=StepKind.CONFIRM, text=t("Send this?"),
                   footer=t("Rated {rating}."), next=Next(default="thanks"), change="rating")
    labels = {"rating": t("Rating", "Nota"), "what": t("Problem", "Problema"),
              "comment": t("Comment", "Comentário")}
    flow = replace(feedback, steps={**feedback.steps, comment.id: comment, confirm.id: confirm},
                   labels=labels)
    return replace(hotel, flows={**hotel.flows, flow.id: flow}), flow


@pytest.mark.parametrize(("language", "data", "shown", "hidden"), [
    ("en", {"rating": 1, "what": "slow", "comment": "Cold soup"},
     ["Send this?\n\nProblem: Slow service\nComment: Cold soup", "Rated 1."], ["Rating:"]),
    ("pt", {"rating": 2, "what": "cold"}, ["Problema: Comida fria"], ["Comentário", "Nota:"]),
    ("en", {"rating": 5, "comment": ""}, ["Send this?"], ["Problem:", "Comment:"]),
])
def test_a_confirmation_lists_what_its_text_does_not_name(
    language: str, data: dict[str, object], shown: list[str], hidden: list[str]
) -> None:
    hotel, flow = _feedback_with_confirmation()
    ctx = at("feedback.confirm", data=data, language=language)
    message = render_step(hotel, ctx, flow, flow.steps[StepId("confirm")])
    text = message_text(message.body)
    for fragment in shown:
        assert fragment in text, text
    for fragment in hidden:
        assert fragment not in text, text
