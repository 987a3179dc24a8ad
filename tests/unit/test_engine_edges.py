"""Engine edges: config reloads, disabled steps, branching targets, end-step effects, time."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from hotelbot.flows import (
    Context,
    CreateRequest,
    Hotel,
    Option,
    OptionChosen,
    ScheduleMessage,
    SendMessage,
    Step,
    StepKind,
    TextReceived,
)
from hotelbot.flows.context import ContextChanges
from hotelbot.typedefs import FlowId, StepId
from tests.unit.fixtures import DEPT, NOW, at, build_hotel, go, run, t, text_of, where


def with_steps(hotel: Hotel, flow_id: str, *steps: Step) -> Hotel:
    flow = hotel.flows[FlowId(flow_id)]
    flows = {**hotel.flows, flow.id: replace(flow, steps={**flow.steps,
                                                             **{s.id: s for s in steps}})}
    return replace(hotel, flows=flows)


@pytest.mark.parametrize(("ref", "lands", "stack"), [
    ("order.gone", "order.category", ("main.start",)),  # a step gone: its flow's start
    ("order.done", "order.category", ("main.start",)),  # an end step: never sent unconfirmed
    ("gone.start", "main.start", ()),  # a flow gone: the main menu
    ("main.", "main.start", ()),
])
def test_context_at_a_step_that_no_longer_exists_continues_at_a_valid_one(
    ref: str, lands: str, stack: tuple[str, ...]
) -> None:
    out = run(at(ref, stack=("order.gone",), data={"x": 1}, errors=2), TextReceived(text="1"))
    assert where(out.context) == lands and out.context.step_data == {}
    assert out.context.navigation_stack == stack and out.context.error_count == 0
    assert "We have just updated this service." in text_of(out)
    assert "Something went wrong" not in text_of(out)
    assert not any(isinstance(e, CreateRequest) for e in out.effects)


def test_a_disabled_step_continues_at_its_successor_with_the_answers_kept() -> None:
    quantity = replace(build_hotel().flows[FlowId("order")].steps[StepId("quantity")],
                       enabled=False)
    hotel = with_steps(build_hotel(), "order", quantity)
    before = at("order.quantity", stack=("main.start", "order.category"),
                data={"category": "food", "item": "Tea"}, errors=1)
    out = run(before, TextReceived(text="2"), hotel)
    assert where(out.context) == "order.note" and out.context.error_count == 0
    assert out.context.step_data == {"category": "food", "item": "Tea"}  # "2" not applied
    assert text_of(out).startswith("We have just updated this service.")


def test_current_flow_without_step_is_repaired() -> None:
    ctx = at(None).evolve(current_flow="order")
    out = run(ctx, TextReceived(text="hi"))
    assert where(out.context) == "order.category"  # the flow again, from its start


def test_unknown_department_answers_an_error_and_stays_idle() -> None:
    ctx = at("order.category").evolve(department="spa")
    out = run(ctx, TextReceived(text="1"))
    assert where(out.context) == "idle"
    assert "Something went wrong" in text_of(out) and len(out.effects) == 1


def test_stale_refs_on_the_stack_are_skipped_by_back() -> None:
    out = run(at("order.quantity", stack=("main.start", "order.gone", "nope.x")),
              TextReceived(text="back"))
    assert where(out.context) == "main.start" and out.context.navigation_stack == ()


def test_disabled_steps_that_loop_do_not_hang() -> None:
    a = Step(id=StepId("a"), kind=StepKind.INPUT, text=t("A"), enabled=False, next=go("b"))
    b = Step(id=StepId("b"), kind=StepKind.INPUT, text=t("B"), enabled=False, next=go("a"))
    quantity = replace(build_hotel().flows[FlowId("order")].steps[StepId("quantity")],
                       next=go("a"))
    hotel = with_steps(build_hotel(), "order", a, b, quantity)
    out = run(at("order.quantity"), TextReceived(text="2"), hotel)
    assert where(out.context) == "main.start" and "Something went wrong" in text_of(out)


def test_disabled_step_can_lead_to_another_flow() -> None:
    quantity = replace(build_hotel().flows[FlowId("order")].steps[StepId("quantity")],
                       next=go("hop"))
    hop = Step(id=StepId("hop"), kind=StepKind.INPUT, text=t("Hop"), enabled=False,
               next=go("flow:late"))
    hotel = with_steps(build_hotel(), "order", quantity, hop)
    out = run(at("order.quantity", data={"item": "Tea"}), TextReceived(text="2"), hotel)
    assert where(out.context) == "late.time" and out.context.step_data == {}


def test_flow_target_not_offered_by_the_department_goes_to_main_menu() -> None:
    category = build_hotel().flows[FlowId("order")].steps[StepId("category")]
    broken = replace(category, options=(Option(id="x", title=t("X"), next=go("flow:spa")),
                                        *category.options))
    out = run(at("order.category"), TextReceived(text="1"),
              with_steps(build_hotel(), "order", broken))
    assert where(out.context) == "main.start" and "Something went wrong" in text_of(out)


def test_option_straight_to_an_end_step_finishes_the_flow() -> None:
    category = build_hotel().flows[FlowId("order")].steps[StepId("category")]
    direct = replace(category, options=(Option(id="now", title=t("Usual"), next=go("done"),
                                               set={"item": "usual"}),))
    out = run(at("order.category"), TextReceived(text="usual"),
              with_steps(build_hotel(), "order", direct))
    assert where(out.context) == "idle"
    kinds = [type(e) for e in out.effects]
    assert kinds == [SendMessage, CreateRequest, ScheduleMessage]
    schedule = out.effects[2]
    assert isinstance(schedule, ScheduleMessage) and schedule.after_minutes == 120
    assert schedule.data["flow_id"] == "order" and schedule.data["item"] == "usual"


def test_end_step_request_carries_step_and_guest_data_then_context_is_idle() -> None:
    before = at("order.confirm", stack=("main.start",), data={"item": "Tea", "quantity": 2},
                errors=3).evolve(accumulated_data={"room": "412", "item": "shadowed"})
    out = run(before, OptionChosen(reply_id="order.confirm:confirm"))
    request = out.effects[1]
    assert isinstance(request, CreateRequest)
    assert (request.kind, request.flow_id, request.department) == ("order", "order", DEPT)
    assert request.data == {"room": "412", "item": "Tea", "quantity": 2}
    ctx = out.context
    assert (ctx.current_flow, ctx.step_data, ctx.navigation_stack, ctx.error_count) == (
        None, {}, (), 0)
    assert ctx.accumulated_data == {"room": "412", "item": "shadowed"}


def test_language_option_with_an_unknown_language_is_ignored() -> None:
    main = build_hotel().flows[FlowId("main")].steps[StepId("start")]
    odd = replace(main, options=(Option(id="xx", title=t("Klingon"), next=go("start"),
                                        set={"language": "tlh"}),))
    out = run(at("main.start"), TextReceived(text="1"), with_steps(build_hotel(), "main", odd))
    assert out.context.language == "en" and where(out.context) == "main.start"
    assert out.context.navigation_stack == ()


def test_branches_are_taken_in_order_with_default() -> None:
    low = run(at("feedback.rating"), TextReceived(text="2"))
    high = run(at("feedback.rating"), TextReceived(text="3"))
    assert (where(low.context), where(high.context)) == ("feedback.what", "feedback.comment")


def test_menu_loop_back_to_an_earlier_step_pops_instead_of_growing_the_stack() -> None:
    item = build_hotel().flows[FlowId("order")].steps[StepId("item_food")]
    again = replace(item, options=(Option(id="more", title=t("Other category"),
                                          next=go("category")),))
    hotel = with_steps(build_hotel(), "order", again)
    ctx = at("order.item_food", stack=("main.start", "order.category"))
    out = run(ctx, TextReceived(text="1"), hotel)
    assert where(out.context) == "order.category"
    assert out.context.navigation_stack == ("main.start",)


def test_naive_now_is_read_as_utc() -> None:
    out = run(at("order.category"), TextReceived(text="food"),
              now=NOW.replace(tzinfo=None) + timedelta(minutes=1))
    assert out.context.last_activity == NOW + timedelta(minutes=1)


def test_snapshot_round_trip_keeps_the_conversation_going() -> None:
    first = run(at("order.quantity", stack=("main.start",), data={"item": "Tea"}),
                TextReceived(text="3"))
    restored = Context.from_dict(first.context.to_dict())
    out = run(restored, TextReceived(text="skip"), now=NOW + timedelta(minutes=1))
    assert where(out.context) == "order.confirm" and "3 x Tea" in text_of(out)


def test_evolve_accepts_every_field_and_only_those() -> None:
    assert set(ContextChanges.__annotations__) == {f.name for f in fields(Context)}


@pytest.mark.parametrize(("key", "value"), [
    ("hotel_id", 7), ("error_count", "2"), ("error_count", True), ("navigation_stack", "a.b"),
    ("step_data", {"item": ["a", "list"]}), ("last_activity", 1700000000),
])
def test_a_snapshot_with_a_wrong_type_is_refused(key: str, value: object) -> None:
    snapshot = at("order.quantity").to_dict() | {key: value}
    with pytest.raises(TypeError):
        Context.from_dict(snapshot)


def test_dates_resolve_in_the_hotel_timezone() -> None:
    late_evening_utc = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    tokyo = build_hotel(timezone="Asia/Tokyo")
    ctx = at("late.day").evolve(last_activity=late_evening_utc)
    out = run(ctx, TextReceived(text="today"), tokyo, now=late_evening_utc)
    assert out.context.step_data["day"] == "2027-01-01"


def test_a_language_the_hotel_no_longer_enables_falls_back_to_the_default() -> None:
    out = run(at("order.category", language="fr"), TextReceived(text="food"))
    assert out.context.language == "en" and "Which dish?" in text_of(out)
