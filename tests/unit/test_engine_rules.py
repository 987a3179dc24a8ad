"""Table tests of the conversation rules: (context, event) -> (context, effects)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hotelbot.flows import (
    CancelRequest,
    ChatOpened,
    Context,
    CooloffLifted,
    CreateRequest,
    Event,
    FlowRequested,
    Guest,
    GuestChanged,
    GuestRequest,
    Limits,
    ListRequests,
    NoticeReceived,
    OptionChosen,
    Policy,
    SendMessage,
    Silence,
    SilenceReason,
    StepFailed,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
    cancel_message,
    new_context,
    requests_message,
    step,
)
from hotelbot.flows.model import Hotel, Text, Validator, ValidatorKind
from hotelbot.flows.ratelimit import Bucket
from hotelbot.flows.remembered import mark
from hotelbot.typedefs import FlowId, StepId
from hotelbot.whatsapp.limits import check_message
from hotelbot.whatsapp.payloads import envelope
from tests.messages import message_kind, message_text
from tests.unit.fixtures import (
    DEPT,
    GUEST,
    HOTEL,
    NOW,
    NUMBER,
    ONE_TAKEN,
    at,
    build_hotel,
    run,
    t,
    text_of,
    where,
)

TODAY_MARK = mark("room")  # when the room was last confirmed (NOW's date)


def test_new_context_uses_an_enabled_guest_language_else_the_default() -> None:
    pt = new_context(HOTEL, guest_id="g", phone_number_id=NUMBER, department=DEPT, language="pt",
                     accumulated_data={"room": "412"})
    de = new_context(HOTEL, guest_id="g", phone_number_id=NUMBER, department=DEPT, language="de")
    assert (pt.language, de.language, pt.hotel_id) == ("pt", "en", "test_hotel")
    assert pt.accumulated_data == {"room": "412"} and pt.current_flow is None


@pytest.mark.parametrize("event", [
    TextReceived(text="hello"), TextReceived(text="back"), TextReceived(text="what's up"),
    TextReceived(text="9"), UnsupportedReceived(kind="image"),
    TemplateButtonPressed(payload="promo:spa", text="Tell me more"),
    FlowRequested(flow_id="not_offered"),
])
def test_idle_context_gets_welcome_and_main_menu(event: Event) -> None:
    out = run(at(None), event)
    assert where(out.context) == "main.start"
    assert "Welcome to Hotel Test!" in text_of(out)
    assert message_kind(out.effects[0].body) == "list"  # type: ignore[union-attr]
    assert out.context.last_activity == NOW


INVALID = [
    ("order.category", TextReceived(text="pizza"), "Please pick one of the options."),
    ("order.category", TextReceived(text="3"), "Please pick one of the options."),
    ("order.quantity", TextReceived(text="21"), "Please send a number from 1 to 20."),
    ("order.quantity", TextReceived(text="two and a half"), "Please send a whole number."),
    ("order.quantity", TextReceived(text="skip"), "This question cannot be skipped."),
    ("order.confirm", TextReceived(text="maybe"), "Please pick one of the options."),
    ("feedback.rating", TextReceived(text="6"), "Please rate from 1 to 5."),
    ("feedback.what", TextReceived(text="4"), "Please pick one of the choices."),
    ("late.time", TextReceived(text="7"), "like 7pm or 19:30"),
    ("late.day", TextReceived(text="31/02"), "A future date please"),
    ("late.room", TextReceived(text="the blue one"), "Please send your room number."),
    ("late.name", TextReceived(text="   "), "Please write a short text."),
    ("late.name", TextReceived(text="x" * 61), "Please write at most 60 characters."),
]


@pytest.mark.parametrize(("ref", "event", "wording"), INVALID)
def test_invalid_answer_changes_only_error_count_and_last_activity(
    ref: str, event: Event, wording: str
) -> None:
    before = at(ref, stack=("main.start",), data={"item": "Club sandwich"}, errors=1)
    out = run(before, event)
    assert out.context == before.evolve(error_count=2, last_activity=NOW, rate=ONE_TAKEN)
    assert len(out.effects) == 1, "error and re-ask go out as ONE message"
    body = text_of(out)
    assert wording in body
    assert body.index(wording) < len(body) - len(wording), "the step is asked again below"


@pytest.mark.parametrize(("ref", "event", "wording"), INVALID[:5])
def test_fifth_invalid_answer_starts_cooloff_with_one_notice(
    ref: str, event: Event, wording: str
) -> None:
    out = run(at(ref, errors=4), event)
    assert out.context.cooloff_until == NOW + timedelta(minutes=15)
    assert out.context.error_count == 5 and where(out.context) == ref
    assert len(out.effects) == 1 and "try again in 15 minutes" in text_of(out)
    assert wording not in text_of(out)


@pytest.mark.parametrize("event", [
    TextReceived(text="menu"), TextReceived(text="2"), OptionChosen(reply_id="main.start:order"),
    UnsupportedReceived(kind="sticker"), FlowRequested(flow_id="feedback"),
    TemplateButtonPressed(payload="flow:feedback"),
])
def test_every_message_within_cooloff_gets_silence(event: Event) -> None:
    before = at("order.quantity", errors=5, cooloff_until=NOW + timedelta(minutes=1))
    out = run(before, event)
    assert out.effects == (Silence(reason=SilenceReason.COOLOFF),)
    assert out.context == before.evolve(last_activity=NOW, rate=ONE_TAKEN)


def test_first_message_after_cooloff_is_processed_at_the_same_step() -> None:
    before = at("order.quantity", errors=5, cooloff_until=NOW - timedelta(seconds=1))
    out = run(before, TextReceived(text="2"))
    assert where(out.context) == "order.note"
    assert out.context.cooloff_until is None and out.context.error_count == 0


def test_an_invalid_answer_after_cooloff_counts_from_one_again() -> None:
    before = at("order.quantity", errors=5, cooloff_until=NOW)
    out = run(before, TextReceived(text="lots"))
    assert out.context.error_count == 1 and out.context.cooloff_until is None


def test_a_valid_answer_resets_the_error_count() -> None:
    out = run(at("order.category", errors=4), TextReceived(text="Food"))
    assert out.context.error_count == 0 and where(out.context) == "order.item_food"


def test_custom_policy_is_used() -> None:
    hotel = build_hotel(policy=Policy(max_errors=2, cooloff_minutes=3, timeout_minutes=5))
    out = run(at("order.quantity", errors=1), TextReceived(text="x"), hotel)
    assert out.context.cooloff_until == NOW + timedelta(minutes=3)
    assert "3 minutes" in text_of(out)
    expired = run(at("order.category", idle_for=timedelta(minutes=6)), TextReceived(text="1"),
                  hotel)
    assert where(expired.context) == "main.start"


@pytest.mark.parametrize(("idle_for", "expired"), [
    (timedelta(minutes=60), False), (timedelta(minutes=60, seconds=1), True),
    (timedelta(days=3), True),
])
def test_expiry_after_the_timeout(idle_for: timedelta, expired: bool) -> None:
    before = at("order.category", stack=("main.start",), data={"x": 1}, idle_for=idle_for)
    out = run(before, TextReceived(text="food"))
    if expired:
        assert where(out.context) == "main.start" and out.context.step_data == {}
        assert "Your session expired" in text_of(out) and len(out.effects) == 1
    else:
        assert where(out.context) == "order.item_food"


@pytest.mark.parametrize("words", ["menu", "HOME", "Main menu!", "início"])
def test_menu_words_go_to_main_menu_and_reset(words: str) -> None:
    before = at("order.quantity", stack=("main.start", "order.category"), data={"a": 1},
                errors=3)
    out = run(before, TextReceived(text=words))
    ctx = out.context
    assert (where(ctx), ctx.navigation_stack, ctx.error_count, ctx.step_data) == (
        "main.start", (), 0, {})


@pytest.mark.parametrize(("ref", "typed"), [
    ("order.category", "0"), ("order.item_drinks", "0"), ("order.confirm", "0"),
    ("feedback.what", "0"), ("order.note", "0"), ("late.time", "0"), ("late.room", "0"),
])
def test_zero_is_the_menu_shortcut_where_no_number_is_read(ref: str, typed: str) -> None:
    out = run(at(ref, stack=("main.start",), errors=2), TextReceived(text=typed))
    assert (where(out.context), out.context.error_count) == ("main.start", 0)


@pytest.mark.parametrize(("ref", "typed"), [
    ("order.quantity", "0"), ("order.quantity", " 0 "), ("order.quantity", "-0"),
    ("order.quantity", "0.0"), ("feedback.rating", "0"),
])
def test_a_numeral_where_a_number_is_read_is_an_answer_not_a_word(ref: str, typed: str) -> None:
    before = at(ref, stack=("main.start",), data={"item": "Club sandwich"}, errors=1)
    out = run(before, TextReceived(text=typed))
    assert out.context == before.evolve(error_count=2, last_activity=NOW, rate=ONE_TAKEN)


def test_back_pops_one_step_and_shows_it() -> None:
    before = at("order.quantity", stack=("main.start", "order.category", "order.item_food"),
                errors=2)
    out = run(before, TextReceived(text="Back"))
    assert where(out.context) == "order.item_food"
    assert out.context.navigation_stack == ("main.start", "order.category")
    assert out.context.error_count == 0 and "Which dish?" in text_of(out)


def test_back_at_the_main_menu_start_says_so() -> None:
    out = run(at("main.start"), TextReceived(text="voltar"))
    assert where(out.context) == "main.start" and "at the start already" in text_of(out)


def test_back_with_an_empty_stack_elsewhere_goes_to_the_main_menu() -> None:
    out = run(at("feedback.rating"), TextReceived(text="back"))
    assert where(out.context) == "main.start"
    assert "at the start already" not in text_of(out)


def test_skip_on_an_optional_step_removes_the_answer_and_moves_on() -> None:
    before = at("order.note", data={"note": "old", "quantity": 2, "item": "Tea"})
    out = run(before, TextReceived(text="prefer not to answer"))
    assert where(out.context) == "order.confirm"
    assert "note" not in out.context.step_data
    assert "2 x Tea. Note: ." in text_of(out)


def test_unsupported_re_asks_without_counting() -> None:
    before = at("late.room", errors=2)
    out = run(before, UnsupportedReceived(kind="audio"))
    assert out.context == before.evolve(last_activity=NOW, rate=ONE_TAKEN)
    assert "only read text" in text_of(out) and "Your room number?" in text_of(out)


@pytest.mark.parametrize("answer", ["2", "2.", " 2 ", "drinks", "DRINKS", "2. Drinks", "bebidas"])
def test_menu_answers_by_number_title_or_numbered_title(answer: str) -> None:
    out = run(at("order.category"), TextReceived(text=answer))
    assert out.context.step_data == {"category": "drinks"}


@pytest.mark.parametrize(("answer", "ref"), [
    ("yes", "order.done"), ("1", "order.done"), ("Confirm", "order.done"),
    ("confirmar", "order.done"), ("no", "order.quantity"), ("2", "order.quantity"),
    ("change", "order.quantity"), ("alterar", "order.quantity"),
])
def test_confirm_answers(answer: str, ref: str) -> None:
    before = at("order.confirm", stack=("main.start", "order.category", "order.item_food",
                                        "order.quantity", "order.note"),
                data={"item": "Tea", "quantity": 1})
    out = run(before, TextReceived(text=answer))
    if ref == "order.done":
        assert where(out.context) == "idle" and out.effects[1].kind == "order"  # type: ignore[union-attr]
    else:
        assert where(out.context) == ref
        assert out.context.navigation_stack == ("main.start", "order.category",
                                                "order.item_food")


def test_flow_requested_mid_flow_starts_it_over_the_main_menu() -> None:
    out = run(at("order.quantity", data={"item": "Tea"}, errors=2),
              FlowRequested(flow_id="feedback"))
    ctx = out.context
    assert (where(ctx), ctx.navigation_stack, ctx.step_data, ctx.error_count) == (
        "feedback.rating", ("main.start",), {}, 0)


def test_flow_requested_on_an_expired_context_still_starts_it() -> None:
    out = run(at("order.quantity", idle_for=timedelta(days=2)), FlowRequested(flow_id="late"))
    assert where(out.context) == "late.time"


def test_flow_not_offered_mid_flow_re_asks_without_counting() -> None:
    out = run(at("order.quantity", errors=1), FlowRequested(flow_id="main_but_not"))
    assert where(out.context) == "order.quantity" and out.context.error_count == 1


# --- a step failure: the apology ----------------------------------------------------------------

FLOODED = Bucket(tokens=0.0, counted_at=NOW, noticed=True)


@pytest.mark.parametrize(("before", "guest", "apology"), [
    (at(None), None, "Something went wrong, please try again."),
    (at("order.quantity", errors=3, language="pt"), None,
     "[pt] Something went wrong, please try again."),
    (at("order.quantity", language="en"), Guest(data={}, language="pt"),
     "[pt] Something went wrong, please try again."),
    (at("order.quantity", language="pt"), Guest(data={"room": "412"}, language=None),
     "[pt] Something went wrong, please try again."),
    (at("late.room", language="en"), Guest(data={}, language="de"),  # not enabled: the default
     "Something went wrong, please try again."),
    (at("order.quantity", errors=5, cooloff_until=NOW + timedelta(minutes=3)), None,
     "Something went wrong, please try again."),
    (at("order.quantity").evolve(rate=FLOODED), None, "Something went wrong, please try again."),
])
def test_a_failed_step_gets_the_apology_in_the_guests_language_and_changes_nothing(
    before: Context, guest: Guest | None, apology: str
) -> None:
    out = step(HOTEL, before, StepFailed(), NOW, guest=guest)
    assert text_of(out) == apology and len(out.effects) == 1
    assert out.context == before  # not even last_activity: the actor restarts from its snapshot


# --- the guest's shared data and language ------------------------------------------------------

ANA = {"guest_name": "Ana"}


@pytest.mark.parametrize(("before", "guest", "event", "data", "language", "changed"), [
    # another department's data and language are merged in; the step itself changed nothing
    (at(None), Guest(data=ANA, language="pt"), TextReceived(text="hi"), ANA, "pt", False),
    (at(None).evolve(accumulated_data={"room": "101"}), Guest(data={"room": "204"}, language="en"),
     TextReceived(text="hi"), {"room": "204"}, "en", False),
    # the step remembers something new, or the same thing again
    # (a value typed is confirmed for today: rule 13b's mark)
    (at("late.room"), Guest(data=ANA, language="en"), TextReceived(text="412"),
     {**ANA, "room": "412", TODAY_MARK: "2026-11-25"}, "en", True),
    (at("late.room"), Guest(data={"room": "412", TODAY_MARK: "2026-11-25"}, language="en"),
     TextReceived(text="412"), {"room": "412", TODAY_MARK: "2026-11-25"}, "en", False),
    # the guest picks a language
    (at("main.start"), Guest(data=ANA, language="en"), OptionChosen(reply_id="main.start:lang_pt"),
     ANA, "pt", True),
    # no language in the guest's record yet: the conversation's (or the hotel's default) is
    # stored; a language the hotel no longer enables: its default is
    (at("late.room", language="pt"), Guest(data=ANA, language=None), TextReceived(text="x"),
     ANA, "pt", True),
    (at(None), Guest(data={}, language=None), TextReceived(text="hi"), {}, "en", True),
    (at(None), Guest(data={}, language="de"), TextReceived(text="hi"), {}, "en", True),
    # without the guest's record, the context's own data is the guest's
    (at("late.room"), None, TextReceived(text="412"),
     {"room": "412", TODAY_MARK: "2026-11-25"}, "en", True),
    (at("late.room"), None, TextReceived(text="nope"), {}, "en", False),
])
def test_the_guest_data_effect_is_there_only_when_the_step_changed_it(
    before: Context, guest: Guest | None, event: Event, data: dict[str, object], language: str,
    changed: bool,
) -> None:
    out = step(HOTEL, before, event, NOW, guest=guest)
    assert (dict(out.context.accumulated_data), out.context.language) == (data, language)
    effect = GuestChanged(data=data, language=language)  # type: ignore[arg-type]
    assert [e for e in out.effects if isinstance(e, GuestChanged)] == ([effect] if changed else [])
    if changed:
        assert out.effects[-1] == effect  # after everything the guest reads


def test_the_merged_data_is_what_the_guest_reads() -> None:
    out = step(HOTEL, at(None), TextReceived(text="hi"), NOW, guest=Guest(data=ANA, language="en"))
    assert "How can we help, Ana?" in text_of(out)


@pytest.mark.parametrize("noticed", [False, True])
def test_a_message_past_the_rate_limit_changes_no_guest_data(noticed: bool) -> None:
    before = at("late.room").evolve(rate=Bucket(tokens=0.0, counted_at=NOW, noticed=noticed))
    out = step(HOTEL, before, TextReceived(text="412"), NOW, guest=Guest(data={}, language=None))
    assert not any(isinstance(e, GuestChanged) for e in out.effects)
    assert out.context.accumulated_data == {} and out.context.language == "en"


def _asking(validator: Validator) -> Hotel:
    """The fixture hotel with order.quantity reading `validator`."""
    hotel = build_hotel()
    order = hotel.flows[FlowId("order")]
    quantity = replace(order.steps[StepId("quantity")], validator=validator)
    flows = {**hotel.flows, order.id: replace(order, steps={**order.steps,
                                                             quantity.id: quantity})}
    return replace(hotel, flows=flows)


K = ValidatorKind
REFUSALS = [
    (Validator(kind=K.TEXT, min_length=3, max_length=10), "tv",
     "Please write at least 3 characters."),
    (Validator(kind=K.TEXT, min_length=3, max_length=10), "a television set",
     "Please write at most 10 characters."),
    (Validator(kind=K.TEXT), "x" * 1001, "Please write at most 1000 characters."),
    (Validator(kind=K.TEXT, min_length=3), "  ", "Please write a short text."),
    (Validator(kind=K.INTEGER, min=1, max=20), "0", "Please send a number from 1 to 20."),
    (Validator(kind=K.INTEGER, min=2), "1", "Please send 2 or more."),
    (Validator(kind=K.INTEGER, max=8), "9", "Please send 8 or less."),
    (Validator(kind=K.INTEGER, min=1, max=20), "lots", "Please send a whole number."),
    (Validator(kind=K.NUMBER, min=0.5, max=2.5), "3", "Please send a number from 0.5 to 2.5."),
    (Validator(kind=K.RATING, min=0, max=10), "11", "Please rate from 0 to 10."),
    (Validator(kind=K.RATING, min=0, max=10), "great", "Please rate from 0 to 10."),
    (Validator(kind=K.RATING), "0", "Please rate from 1 to 5."),
    (Validator(kind=K.INTEGER, min=1, max=20, error=t("Between 1 and 20, please.")), "0",
     "Between 1 and 20, please."),
    (Validator(kind=K.TEXT, min_length=3, error=t("Tell us more.")), "tv", "Tell us more."),
]


@pytest.mark.parametrize(("validator", "typed", "wording"), REFUSALS)
def test_a_refused_answer_is_told_the_bound_it_missed(validator: Validator, typed: str,
                                                      wording: str) -> None:
    before = at("order.quantity", stack=("main.start",), data={"item": "Tea"})
    out = run(before, TextReceived(text=typed), _asking(validator))
    assert out.context == before.evolve(error_count=1, last_activity=NOW, rate=ONE_TAKEN)
    assert text_of(out).startswith(wording), text_of(out)


def test_a_refusal_is_in_the_guests_language() -> None:
    strings = {**HOTEL.strings, "invalid_range": Text({"en": "From {min} to {max}.",
                                                       "pt": "De {min} a {max}."})}
    hotel = replace(_asking(Validator(kind=K.INTEGER, min=1, max=20)), strings=strings)
    out = run(at("order.quantity", language="pt"), TextReceived(text="0"), hotel)
    assert text_of(out).startswith("De 1 a 20.")


@pytest.mark.parametrize("kind", ["reaction", "system", "revoke", "edit"])
def test_notices_get_silence_and_change_nothing(kind: str) -> None:
    before = at("late.room", errors=2)
    out = run(before, NoticeReceived(kind=kind))
    assert out.effects == (Silence(reason=SilenceReason.NOTICE),)
    assert out.context == before.evolve(last_activity=NOW, rate=ONE_TAKEN)


def test_chat_opened_greets_an_idle_guest_with_the_menu() -> None:
    out = run(at(None), ChatOpened())
    assert where(out.context) == "main.start"
    assert "Welcome to Hotel Test!" in text_of(out) and "only read text" not in text_of(out)


def test_chat_opened_in_a_flow_asks_the_step_again_without_counting() -> None:
    before = at("late.room", errors=2)
    out = run(before, ChatOpened())
    assert where(out.context) == "late.room" and out.context.error_count == 2
    assert "Your room number?" in text_of(out) and "only read text" not in text_of(out)


@pytest.mark.parametrize("said", ["thanks", "Thanks!", "ok", "👍", "👍🏽", "obrigado"])
def test_small_talk_after_a_finished_flow_is_acknowledged_not_the_menu(said: str) -> None:
    out = run(at(None), TextReceived(text=said))
    assert where(out.context) == "idle"
    assert text_of(out) == "You're welcome!"


def test_small_talk_from_a_new_guest_gets_the_menu() -> None:
    out = run(at(None).evolve(last_activity=None), TextReceived(text="thanks"))
    assert where(out.context) == "main.start" and "Welcome to Hotel Test!" in text_of(out)


def test_small_talk_in_a_flow_is_an_answer_not_an_acknowledgement() -> None:
    before = at("order.confirm", stack=("main.start", "order.category"),
                data={"item": "Tea", "quantity": 1})
    out = run(before, TextReceived(text="ok"))
    assert where(out.context) == "idle" and "You're welcome!" not in text_of(out)


@pytest.mark.parametrize(("ref", "data", "wrong", "shown"), [
    ("order.quantity", {"item": "Tea"}, "lots", "For example: 1"),
    ("feedback.rating", {}, "meh", "For example: 5"),
    ("order.category", {}, "pizza", "For example: Food"),
    ("late.room", {}, "my room", "For example: 205"),
])
def test_the_third_wrong_answer_shows_an_example_and_the_way_out(
    ref: str, data: dict[str, object], wrong: str, shown: str
) -> None:
    second = run(at(ref, data=data, errors=1), TextReceived(text=wrong))
    assert "For example" not in text_of(second) and "start again" not in text_of(second)
    third = run(at(ref, data=data, errors=2), TextReceived(text=wrong))
    assert third.context.error_count == 3
    assert shown in text_of(third) and "Or type menu to start again." in text_of(third)


def test_a_free_text_step_shows_only_the_way_out() -> None:
    out = run(at("order.note", data={"item": "Tea", "quantity": 1}, errors=2),
              TextReceived(text="skip please" * 200))
    assert "For example" not in text_of(out) and "Or type menu" in text_of(out)


def test_staff_lifting_the_cooloff_clears_it_and_the_errors_and_sends_nothing() -> None:
    before = at("late.room", errors=5).evolve(cooloff_until=NOW + timedelta(minutes=10))
    out = step(HOTEL, before, CooloffLifted(), NOW)
    assert out.effects == ()
    assert out.context == before.evolve(cooloff_until=None, error_count=0)
    answered = run(out.context, TextReceived(text="menu"))
    assert where(answered.context) == "main.start"


@pytest.mark.parametrize("reply_id", [
    "order.category:nope",  # an option a reload removed
    "late.confirm:confirm",  # a later step of another flow (an old confirmation)
    "order.quantity:3",  # a step not on the stack
    "no separator",
    "nope.start:x",
])
def test_a_stale_tap_is_told_and_never_counted(reply_id: str) -> None:
    before = at("order.category", stack=("main.start",), errors=1)
    out = run(before, OptionChosen(reply_id=reply_id))
    assert out.context == before.evolve(last_activity=NOW, rate=ONE_TAKEN)
    assert text_of(out).startswith("That menu is no longer active.")
    assert "Food or drinks?" in text_of(out)


def test_a_tap_on_an_old_flow_start_reopens_that_flow_and_applies_it() -> None:
    before = at("late.room", stack=("main.start", "late.time"), errors=2)
    out = run(before, OptionChosen(reply_id="order.category:drinks"))
    assert where(out.context) == "order.item_drinks"
    assert out.context.step_data == {"category": "drinks"} and out.context.error_count == 0
    assert out.context.navigation_stack == ("main.start", "order.category")


def test_a_stale_tap_when_idle_shows_the_menu_under_the_notice() -> None:
    out = run(at(None), OptionChosen(reply_id="order.confirm:confirm"))
    assert where(out.context) == "main.start"
    assert "That menu is no longer active." in text_of(out)
    assert not any(isinstance(e, CreateRequest) for e in out.effects)


def test_the_guests_hotel_wide_cooloff_holds_at_a_number_without_one() -> None:
    limits = Limits(cooloff_until=NOW + timedelta(minutes=5))
    out = step(HOTEL, at("order.category"), TextReceived(text="menu"), NOW,
               guest=Guest(language="en", limits=limits))
    assert out.effects == (Silence(reason=SilenceReason.COOLOFF),)
    assert out.context.cooloff_until == limits.cooloff_until


def test_the_guests_hotel_wide_bucket_is_the_one_taken_from() -> None:
    empty = Bucket(tokens=0.0, counted_at=NOW)
    out = step(HOTEL, at("order.category"), TextReceived(text="menu"), NOW,
               guest=Guest(limits=Limits(rate=empty)))
    assert Silence(reason=SilenceReason.SPAM) in out.effects


def test_a_cooloff_lifted_elsewhere_clears_this_conversations_errors() -> None:
    before = at("order.category", errors=5).evolve(cooloff_until=NOW + timedelta(minutes=5))
    out = step(HOTEL, before, TextReceived(text="food"), NOW, guest=Guest(limits=Limits()))
    assert where(out.context) == "order.item_food" and out.context.error_count == 0


def test_the_same_reply_over_and_over_is_a_loop_one_notice_an_incident_then_silence() -> None:
    hotel = replace(HOTEL, policy=Policy(loop_replies=3, loop_minutes=10, spam_burst=100))
    ctx, now = at("order.category"), NOW
    kinds = []
    for _ in range(6):
        now += timedelta(seconds=30)
        out = step(hotel, ctx, TextReceived(text="0"), now)  # the main menu, each time
        ctx = out.context
        kinds.append(tuple(type(e).__name__ for e in out.effects))
    assert kinds[:3] == [("SendMessage",)] * 3
    assert kinds[3] == ("SendMessage", "CreateRequest", "Silence")
    assert kinds[4:] == [("Silence",)] * 2
    out = step(hotel, ctx, TextReceived(text="food"), now + timedelta(seconds=30))
    assert any(isinstance(e, SendMessage) for e in out.effects)  # a different reply: over


def test_the_loop_incident_tells_staff_what_repeated() -> None:
    hotel = replace(HOTEL, policy=Policy(loop_replies=2, spam_burst=100))
    ctx, now = at("order.category"), NOW
    for _ in range(3):
        now += timedelta(seconds=5)
        out = step(hotel, ctx, TextReceived(text="menu"), now)
        ctx = out.context
    [incident] = [e for e in out.effects if isinstance(e, CreateRequest)]
    assert incident.kind == "incident" and incident.data["reason"] == "loop"
    assert incident.data["repeated"] == 3 and "How can we help" in str(incident.data["reply"])
    assert "repeating ourselves" in text_of(out)


def test_the_same_reply_spread_over_more_than_the_window_is_no_loop() -> None:
    hotel = replace(HOTEL, policy=Policy(loop_replies=2, loop_minutes=10))
    ctx, now = at(None), NOW
    for _ in range(5):
        now += timedelta(minutes=6)
        out = step(hotel, ctx, TextReceived(text="hello"), now)
        ctx = out.context
        assert not any(isinstance(e, CreateRequest) for e in out.effects)


@pytest.mark.parametrize("said", ["my orders", "My requests!", "meus pedidos"])
def test_my_requests_asks_the_actor_to_list_them_wherever_the_guest_is(said: str) -> None:
    before = at("order.quantity", data={"item": "Tea"})
    out = run(before, TextReceived(text=said))
    assert out.effects == (ListRequests(),)
    assert out.context == before.evolve(last_activity=NOW, rate=ONE_TAKEN)


def test_a_cancel_row_asks_the_actor_to_cancel_that_request() -> None:
    out = run(at(None), OptionChosen(reply_id="~requests:cancel:12"))
    assert out.effects == (CancelRequest(request_id=12),)


def test_the_requests_list_offers_cancel_only_for_new_ones_within_whatsapps_limits() -> None:
    shown = [GuestRequest(id=12, flow_id="order", kind="order", status="new"),
             GuestRequest(id=9, flow_id="late", kind="late_checkout", status="acknowledged")]
    body = requests_message(HOTEL, "en", shown).body
    assert check_message(envelope(GUEST, body)) == []
    text = message_text(body)
    assert "#12 Order — waiting for our staff" in text
    assert "#9 Late checkout — being handled" in text
    rows = body["interactive"]["action"]["sections"][0]["rows"]  # type: ignore[index]
    assert [r["id"] for r in rows] == ["~requests:cancel:12"]
    assert message_text(requests_message(HOTEL, "en", []).body) == "You have no open requests."
    assert message_text(cancel_message(HOTEL, "en", 12, True).body) == "Request #12 is cancelled."
