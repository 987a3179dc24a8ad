"""A confirmation shows everything the request will carry (issue "conversation a guest expects").

For every shipped flow with a confirm step, in every hotel of the tests' configuration (whose
flow templates are the shipped ones) and every language it enables, every path through the
flow is played to its end: each menu option and choice, each optional step answered and
skipped. At the confirmation, every value the request then stores must be in the text, and a
value the text does not name must read "Label: value" (in the guest's language); a skipped
optional answer must not be listed at all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotelbot.config import load_hotels
from hotelbot.flows import (
    Context,
    CreateRequest,
    Event,
    FlowRequested,
    Hotel,
    Hotels,
    OptionChosen,
    SendMessage,
    Step,
    StepKind,
    TextReceived,
    new_context,
    step,
    summary_names,
)
from hotelbot.flows.basket import RESTATED, basket_step
from hotelbot.flows.i18n import display_locale
from hotelbot.flows.model import Flow, ValidatorKind
from hotelbot.flows.render import format_value, reply_id, shown_value, step_entries
from hotelbot.flows.validators import Accepted, Locale, parse_answer
from tests.messages import message_text
from tests.paths import CONFIG

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_MAX_TURNS = 30


@dataclass(frozen=True, slots=True)
class Ending:
    """One path played to the end: what the confirmation said, what the request stored."""

    path: tuple[str, ...]
    confirm: Step
    text: str
    data: dict[str, object]


@functools.cache
def _hotels() -> Hotels:
    return load_hotels(CONFIG)


def _cases() -> list[Any]:
    cases: list[Any] = []
    for hotel in _hotels().hotels.values():
        offered = {fid: dept for dept in hotel.departments.values() for fid in dept.flows}
        for flow_id, dept in sorted(offered.items()):
            flow = hotel.flows[flow_id]
            if any(s.kind is StepKind.CONFIRM for s in flow.steps.values()):
                cases += [pytest.param(hotel.hotel_id, dept.id, flow_id, lang,
                                       id=f"{hotel.hotel_id}:{flow_id}:{lang}")
                          for lang in hotel.languages]
    return cases


def _typed(hotel: Hotel, here: Step, now: datetime) -> str:
    """A valid answer to an input step, distinct per step so each value can be found."""
    validator = here.validator
    assert validator is not None
    if validator.kind is ValidatorKind.TEXT:
        high = validator.max_length or 1000
        answer = f"{here.id} answer"[:high]
        return answer.ljust(validator.min_length or 1, "x")
    if validator.kind in (ValidatorKind.INTEGER, ValidatorKind.NUMBER, ValidatorKind.RATING):
        return format_value(validator.max if validator.max is not None else 5)
    candidates = {ValidatorKind.TIME: ["3pm"], ValidatorKind.DATE: ["25/12"],
                  ValidatorKind.ROOM: ["412", "204", "101", "12"],
                  ValidatorKind.PHONE: ["+351912345678"], ValidatorKind.EMAIL: ["ana@b.com"],
                  ValidatorKind.NAME: ["Ana Lopez"], ValidatorKind.REFERENCE: ["AB1234"]}
    locale = Locale(now=now, timezone=hotel.timezone, room_pattern=hotel.room_pattern)
    for candidate in candidates[validator.kind]:
        if isinstance(parse_answer(validator, candidate, locale), Accepted):
            return candidate
    raise AssertionError(f"no valid sample answer for {here.id}")


def _moves(hotel: Hotel, flow: Flow, here: Step, now: datetime,
           ctx: Context) -> list[tuple[str, Event]]:
    """Every way on from `here` worth exploring: each entry, an answer, a skip; at a basket,
    only "Review order" (adding another item explores nothing new)."""
    if here.kind is StepKind.BASKET:
        return [("review", OptionChosen(reply_id=reply_id(flow.id, here.id, "review")))]
    entries = step_entries(hotel, here)
    if here.kind is StepKind.CONFIRM:
        return [("confirm", OptionChosen(reply_id=reply_id(flow.id, here.id, "confirm")))]
    if entries:
        return [(e.key, OptionChosen(reply_id=reply_id(flow.id, here.id, e.key)))
                for e in entries]
    typed = _typed(hotel, here, now)
    moves: list[tuple[str, Event]] = [(typed, TextReceived(text=typed))]
    if here.optional:
        moves.append(("skip", TextReceived(text="skip")))
    return moves


def _play(hotel: Hotel, ctx: Context, now: datetime, path: tuple[str, ...],
          said: str) -> list[Ending]:
    """Depth first through every move from where `ctx` stands."""
    assert len(path) < _MAX_TURNS, path
    flow = hotel.flows[ctx.current_flow]  # type: ignore[index]
    here = flow.steps[ctx.current_step]  # type: ignore[index]
    endings: list[Ending] = []
    for label, event in _moves(hotel, flow, here, now, ctx):
        out = step(hotel, ctx, event, now + timedelta(seconds=5))
        sent = "\n".join(message_text(e.body) for e in out.effects if isinstance(e, SendMessage))
        requests = [e for e in out.effects if isinstance(e, CreateRequest)]
        if here.kind is StepKind.CONFIRM:
            assert requests, (path, sent)
            endings.append(Ending(path=path, confirm=here, text=said, data=dict(requests[0].data)))
            continue
        assert out.context.error_count == 0, (path, label, sent)
        if out.context.current_flow is None:
            continue  # ended without a confirmation (not this test's business)
        endings += _play(hotel, out.context, now + timedelta(seconds=5), (*path, label), sent)
    return endings


@pytest.mark.parametrize(("hotel_id", "department", "flow_id", "lang"), _cases())
def test_a_confirmation_shows_every_value_the_request_stores(
    hotel_id: str, department: str, flow_id: str, lang: str
) -> None:
    hotel = _hotels().hotels[hotel_id]  # type: ignore[index]
    flow = hotel.flows[flow_id]  # type: ignore[index]
    number = hotel.departments[department].phone_number_id  # type: ignore[index]
    ctx = new_context(hotel, guest_id="351910000000", phone_number_id=number,
                      department=department, language=lang)
    started = step(hotel, ctx, FlowRequested(flow_id=flow_id), START)
    first = "\n".join(message_text(e.body) for e in started.effects
                      if isinstance(e, SendMessage))
    endings = _play(hotel, started.context, START, (), first)
    assert endings, "no path reached the confirmation"
    for ending in endings:
        listed = summary_names(flow, ending.confirm, lang, hotel.default_language)
        for key, value in ending.data.items():
            if basket_step(flow) is not None and key in RESTATED:
                continue  # the lines, total and payment text say it (flows.basket)
            shown = shown_value(value, display_locale(lang, hotel.locale))  # type: ignore[arg-type]
            assert shown in ending.text, (ending.path, key, shown, ending.text)
            if key in listed:
                label = flow.labels[key].get(lang, hotel.default_language)
                assert f"{label}: {shown}" in ending.text, (ending.path, key, ending.text)
        for key in set(listed) - set(ending.data):  # not given: left out
            label = flow.labels[key].get(lang, hotel.default_language)
            assert f"{label}:" not in ending.text, (ending.path, key, ending.text)


def test_every_shipped_flow_with_a_confirmation_is_covered() -> None:
    covered = {case.values[2] for case in _cases()}
    assert covered == {"check_in", "housekeeping_request", "late_checkout",
                       "room_service_order", "stay_extension"}
