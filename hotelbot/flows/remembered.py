"""Remembered data, confirmed before use: "Room 205 — is that right?" once a day or stay. Pure.

Owns: which remembered values (a step's `remember`: room, guest_name, ...) a flow uses, when
one is due for confirmation, the guest-level mark that records the confirmation (the hotel's
date, under MARK_PREFIX, never part of a request's data) and the synthetic steps that ask
(CHECK_FLOW: a confirm step "is it right?", then, on "Change", the remembering step's own
question and validator). The engine's rule 13b (hotelbot.flows.rechecks) answers them.
Must never do I/O, read the clock (the date arrives as `today`) or log.

A flow uses a remembered value when a step's text, header or footer names it ({room}), a
branch tests it, or a step remembers it. The department's main menu never asks: it only
routes (its branches look at the value, the flow it leads to confirms it).
"""

from __future__ import annotations

from hotelbot.flows.context import Context
from hotelbot.flows.memo import remember
from hotelbot.flows.model import Flow, Hotel, Next, Step, StepKind, Text
from hotelbot.flows.navigation import MARK_PREFIX
from hotelbot.flows.render import format_value, string, substitute
from hotelbot.typedefs import Dept, FlowId, StepId

__all__ = ["ASK", "CHECK_FLOW", "INPUT", "check_position", "due", "mark", "remembering", "uses"]

CHECK_FLOW = "~check"  # reply ids "~check.<key>:confirm|change" (no configured flow has "~")
ASK, INPUT = "ask", "input"  # the phases of Context.checking

_USES: dict[int, tuple[Flow, frozenset[str]]] = {}
_USES_MAX = 1024


def mark(key: str) -> str:
    """The accumulated_data key holding the date `key` was last confirmed."""
    return f"{MARK_PREFIX}confirmed_{key}"


def remembering(hotel: Hotel, key: str, prefer: str | None = None
                ) -> tuple[Flow, Step] | None:
    """The first enabled step that remembers `key` (asks for it): of the flow `prefer` if it
    has one, else of any of the hotel's flows."""
    first = hotel.flows.get(FlowId(prefer)) if prefer is not None else None
    for flow in ([first] if first is not None else []) + list(hotel.flows.values()):
        for step in flow.steps.values():
            if step.remember == key and step.enabled and step.kind is StepKind.INPUT:
                return flow, step
    return None


def uses(hotel: Hotel, flow: Flow) -> frozenset[str]:
    """The remembered values `flow` uses (see the module's docstring); memoized per flow."""
    hit = _USES.get(id(flow))
    if hit is not None and hit[0] is flow:
        return hit[1]
    remembered = {s.remember for f in hotel.flows.values() for s in f.steps.values()
                  if s.remember}
    named: set[str] = set()
    for step in flow.steps.values():
        if step.remember:
            named.add(step.remember)
        for body in (step.text, step.header, step.footer):
            if body is not None:
                named.update(word for text in body.by_lang.values()
                             for word in remembered if "{" + word + "}" in text)
        nexts = [step.next, *(option.next for option in step.options)]
        named.update(branch.when.var for nxt in nexts if nxt is not None
                     for branch in nxt.branches)
    found = frozenset(named & remembered)
    remember(_USES, id(flow), (flow, found), _USES_MAX)
    return found


def due(hotel: Hotel, ctx: Context, flow: Flow, today: str) -> str | None:
    """The first remembered value `flow` uses that the guest has and has not confirmed
    today; None when there is none (or `flow` is the department's main menu). A mark holds
    the last date the value is confirmed through: the day the guest gave or confirmed it, or
    the last day of the stay when the hotel's PMS gave it (the room of a stay)."""
    dept = hotel.departments.get(Dept(ctx.department))
    if dept is not None and dept.main_flow == flow.id:
        return None
    for key in sorted(uses(hotel, flow)):
        value = ctx.accumulated_data.get(key)
        through = ctx.accumulated_data.get(mark(key))
        if value not in (None, "") and not (isinstance(through, str) and through >= today):
            return key
    return None


def check_position(hotel: Hotel, ctx: Context) -> tuple[Flow, Step] | None:
    """The synthetic step that asks Context.checking: "<Label>: <value> — is that right?"
    (confirm/change), or the remembering step's question (input). None if it cannot be
    asked (the key is no longer remembered by any step: a reload)."""
    key, phase = ctx.checking[0], ctx.checking[1]
    source = remembering(hotel, key, ctx.current_flow)
    if source is None:
        return None
    lang, default = ctx.language, hotel.default_language
    if phase == INPUT:
        asked = source[1]
        step = Step(id=StepId(key), kind=StepKind.INPUT, text=asked.text,
                    validator=asked.validator, next=Next())
    else:
        label = next((f.labels[key].get(lang, default) for f in hotel.flows.values()
                      if key in f.labels), key.replace("_", " ").capitalize())
        value = format_value(ctx.accumulated_data.get(key))
        body = substitute(string(hotel, "remembered_check", lang),
                          {"label": label, "value": value})
        step = Step(id=StepId(key), kind=StepKind.CONFIRM, text=Text({lang: body}),
                    next=Next())
    flow = Flow(id=FlowId(CHECK_FLOW), title=Text({lang: ""}), start=step.id,
                steps={step.id: step})
    return flow, step
