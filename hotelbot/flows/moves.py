"""Moves: where a turn of the engine lands a guest, and the wording it lands with. Pure.

Owns: `Outcome` (what one event did), the turn's base (`Moves`: the hotel and `now` every rule
needs), system strings in the guest's language (`say`), and every arrival: the main menu, a
step shown, a Next target followed (rule 13 of hotelbot.flows.engine), a requested flow
started (rule 5), an end step finished (its text, CreateRequest and ScheduleMessage effects),
and the recovery of a context whose step a reload disabled or removed (rule 7b).
Must never decide whether an answer is valid (hotelbot.flows.answers), what a global word
means (hotelbot.flows.words) or when a guest is held back (hotelbot.flows.guards); never do
I/O, read the clock or log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hotelbot.flows import availability, basket
from hotelbot.flows.context import Context, ContextChanges
from hotelbot.flows.effects import CreateRequest, Effect, ListRequests, ScheduleMessage
from hotelbot.flows.i18n import expand_plurals
from hotelbot.flows.model import (
    FLOW_PREFIX,
    REQUESTS_TARGET,
    Flow,
    Hotel,
    Hours,
    Step,
    StepKind,
    Text,
)
from hotelbot.flows.navigation import Navigator, Position, collected, idle, stack_to
from hotelbot.flows.remembered import ASK, check_position, due
from hotelbot.flows.render import (
    join,
    render_step,
    said,
    string,
    substitute,
    text_message,
    variables,
)
from hotelbot.flows.validators import Locale
from hotelbot.typedefs import FlowId, JSONScalar, StepId

__all__ = ["Moves", "Outcome", "aware"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one event did: the context to keep and the effects to carry out, in order."""

    context: Context
    effects: tuple[Effect, ...]


def aware(moment: datetime) -> datetime:
    """`moment` with a time zone (a naive value is read as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Moves:
    """One event's worth of rule application: holds what every rule needs.

    The rules are split by concern along a single line of inheritance: Moves (arrivals) <-
    Guards (holding a guest back) <- Answers (input answers, refusals) <- Words (global words,
    taps, going back) <- the engine's turn (dispatch).
    """

    __slots__ = ("_heard", "_local", "hotel", "nav", "now")

    def __init__(self, hotel: Hotel, now: datetime) -> None:
        self.hotel = hotel
        self.nav = Navigator(hotel)
        self.now = now
        self._local: datetime | None = None
        # The guest's text and the kinds of the hotel's words it is (Words.heard: several
        # rules ask of one text per turn).
        self._heard: tuple[str, frozenset[str]] | None = None

    def local_now(self) -> datetime:
        """`now` on the hotel's clock (worked out once a turn: menus and dates read it)."""
        if self._local is None:
            self._local = availability.local(self.hotel, self.now)
        return self._local

    def locale(self, language: str | None = None) -> Locale:
        """How answers are read for a guest writing in `language` (the hotel's default)."""
        return Locale.of(self.hotel, self.now, language or self.hotel.default_language)

    def today(self) -> str:
        """The hotel's local date, ISO (what a remembered value's confirmation is dated)."""
        return self.local_now().date().isoformat()

    # -- wording ------------------------------------------------------------------------------

    def say(self, key: str, ctx: Context, **extra: str) -> str:
        """A system string in the guest's language, its {variables} filled."""
        if not extra:
            return said(self.hotel, key, ctx)
        values = variables(self.hotel, ctx, None, extra)
        text = expand_plurals(string(self.hotel, key, ctx.language), values, ctx.language)
        return substitute(text, values)

    # -- moving -------------------------------------------------------------------------------

    def main_menu(self, ctx: Context, notice: str = "") -> Outcome:
        """The department's main menu: step data, stack and error count cleared."""
        dept = self.nav.department(ctx)
        if dept is None or dept.main_flow not in self.hotel.flows:
            return self.halt(ctx, notice)
        start = self.hotel.flows[dept.main_flow].start
        if not (ctx.current_flow == dept.main_flow and ctx.current_step == start
                and not ctx.step_data and not ctx.navigation_stack and not ctx.error_count
                and not ctx.checking):  # "menu" at the main menu: nothing to clear, no copy
            ctx = idle(ctx, current_flow=dept.main_flow, current_step=start)  # one copy
        return self.enter(ctx, dept.main_flow, start, notice, fallback=False)

    def halt(self, ctx: Context, notice: str) -> Outcome:
        """Nothing valid to show (a broken configuration): say so and go idle."""
        body = join(notice, self.say("error", ctx)) or notice
        return Outcome(context=idle(ctx), effects=(text_message(body),))

    def enter(
        self, ctx: Context, flow_id: str, step_id: str, notice: str = "", *, fallback: bool = True,
        also: ContextChanges | None = None,
    ) -> Outcome:
        """Arrive at a step (the stack already updated, or updated by `also`), passing through
        disabled steps."""
        landing = self.nav.land(ctx, flow_id, step_id, also)
        ctx, at = landing.context, landing.at
        if at is None:
            if fallback:
                return self.main_menu(ctx, self.say("error", ctx))
            return self.halt(ctx, notice)
        if at.step.kind is StepKind.END:
            return self.finish(ctx, at.flow, at.step, notice)
        key = due(self.hotel, ctx, at.flow, self.today())
        if key is not None:  # rule 13b: a remembered value is confirmed before it is used
            return self.show_check(ctx.evolve(checking=(key, ASK)), notice)
        if at.step.kind is StepKind.BASKET:  # arriving adds the item just chosen
            ctx, full = basket.absorb(at.flow, at.step, ctx)
            notice = join(notice, self.say(full, ctx)) if full else notice
        return self.show(ctx, at, notice)

    def show_check(self, ctx: Context, notice: str = "") -> Outcome:
        """Ask Context.checking (a remembered value: is it right? or its new value)."""
        found = check_position(self.hotel, ctx)
        if found is None:  # no step remembers it any more (a reload): nothing to check
            here = self.nav.position(ctx)
            ctx = ctx.evolve(checking=())
            return self.show(ctx, here, notice) if here is not None else self.main_menu(ctx)
        flow, step = found
        return Outcome(context=ctx, effects=(render_step(self.hotel, ctx, flow, step, notice),))

    def view(self, ctx: Context, here: Position) -> Position:
        """The step as the guest sees it now: a menu's closed options say when they open, a
        basket step is a menu or input built from the context (hotelbot.flows.basket); every
        other step as configured."""
        if here.step.kind is StepKind.MENU:
            shown = availability.menu_view(self.hotel, here.step, self.local_now(), ctx.language)
            return here if shown is here.step else Position(here.flow, shown)
        if here.step.kind is not StepKind.BASKET:
            return here
        return Position(here.flow, basket.view(self.hotel, here.flow, here.step, ctx))

    def show(self, ctx: Context, here: Position, notice: str = "") -> Outcome:
        here = self.view(ctx, here)
        message = render_step(self.hotel, ctx, here.flow, here.step, notice)
        return Outcome(context=ctx, effects=(message,))

    def finish(self, ctx: Context, flow: Flow, end: Step, notice: str) -> Outcome:
        """An end step: closing text, the request, the scheduled messages; then idle."""
        refused = self.unservable(ctx, flow)
        if refused is not None:
            return refused
        text = end.text.get(ctx.language, self.hotel.default_language)
        values = variables(self.hotel, ctx, flow)
        closing = substitute(expand_plurals(text, values, ctx.language), values)
        effects: list[Effect] = [text_message(join(notice, closing))]
        data = basket.request_data(self.hotel, flow, collected(ctx), ctx.language)
        if end.request:
            effects.append(
                CreateRequest(kind=end.request, flow_id=flow.id, department=ctx.department,
                              data=data)
            )
        effects.extend(
            ScheduleMessage(message_type=spec.message_type, after_minutes=spec.after_minutes,
                            data={**data, "flow_id": flow.id})
            for spec in end.schedule
        )
        return Outcome(context=idle(ctx), effects=tuple(effects))

    def unservable(self, ctx: Context, flow: Flow) -> Outcome | None:
        """No request that cannot be served: a flow closed since it started goes to the main
        menu, a basket holding an item not served now goes back to the basket; each says why
        and when it opens. None: it can be served."""
        local = self.local_now()
        lang = ctx.language
        if flow.hours is not None and not availability.is_open(flow.hours, local):
            what = flow.title.get(lang, self.hotel.default_language)
            return self.main_menu(ctx, availability.closed_notice(self.hotel, what, flow.hours,
                                                                  local, lang))
        step_of_basket = basket.basket_step(flow)
        closed = availability.closed_items(self.hotel, flow, ctx, local)
        if step_of_basket is None or not closed:
            return None
        ref = f"{flow.id}.{step_of_basket.id}"
        if ref in ctx.navigation_stack:
            ctx = self.nav.rewind(ctx, ref)
        return self.enter(ctx, flow.id, step_of_basket.id, closed)

    def closed(self, ctx: Context, hours: Hours | None, what: str) -> str:
        """The notice for a choice that is closed now; "" when it is open."""
        local = self.local_now()
        if hours is None or availability.is_open(hours, local):
            return ""
        return availability.closed_notice(self.hotel, what, hours, local, ctx.language)

    def goto(self, ctx: Context, here: Position, target: str | None,
             notice: str = "") -> Outcome:
        """Leave `here` for a Next target: a step of the same flow or "flow:<id>"; `notice`
        goes on top of what the guest reads there."""
        if target is None:
            return self.main_menu(ctx, self.say("error", ctx))
        if target == REQUESTS_TARGET:  # rule 5b: the actor shows them; the guest is idle
            return Outcome(context=idle(ctx), effects=(ListRequests(),))
        stack = ctx.navigation_stack
        if target.startswith(FLOW_PREFIX):
            flow_id = target.removeprefix(FLOW_PREFIX)
            if not self.nav.offered(ctx, flow_id):
                return self.main_menu(ctx, self.say("error", ctx))
            start = self.hotel.flows[FlowId(flow_id)].start
            return self.enter(ctx, flow_id, start, notice, also={
                "navigation_stack": stack_to(stack, here, f"{flow_id}.{start}"), "step_data": {}})
        ref = f"{here.flow.id}.{target}"
        if ref != here.ref and ref in stack:  # passed already (a confirm's "change"): rule 10
            return self.enter(self.nav.rewind(ctx, ref), here.flow.id, target, notice)
        also: ContextChanges = {"navigation_stack": stack_to(stack, here, ref)}
        return self.enter(ctx, here.flow.id, target, notice, also=also)

    def recover(self, ctx: Context) -> Outcome:
        """The context's step is disabled or gone (a reload changed the flow): continue at the
        nearest valid step under strings["flow_changed"], never an error. A disabled step: its
        successor (through disabled steps, as a move would land; not an end step: a request
        is never sent unconfirmed); a step gone: the flow again from its start (its answers
        dropped); a flow gone or no longer offered: the main menu. The guest's message was
        meant for the old step and is not applied."""
        notice = self.say("flow_changed", ctx)
        flow_id, step_id = ctx.current_flow, ctx.current_step
        if flow_id is None or not self.nav.offered(ctx, flow_id):
            return self.main_menu(ctx, notice)
        flow = self.hotel.flows[FlowId(flow_id)]
        if step_id is not None and StepId(step_id) in flow.steps:
            landing = self.nav.land(ctx, flow_id, step_id)
            if landing.at is not None and landing.at.step.kind is not StepKind.END:
                return self.show(landing.context.evolve(error_count=0), landing.at, notice)
        main = self.nav.main_start(ctx)
        stack = (main.ref,) if main is not None and main.flow.id != flow_id else ()
        restarted = idle(ctx, navigation_stack=stack)
        return self.enter(restarted, flow_id, flow.start, notice)

    def start_requested(self, ctx: Context, flow_id: str) -> Outcome:
        flow = self.hotel.flows[FlowId(flow_id)]
        closed = self.closed(ctx, flow.hours, flow.title.get(ctx.language,
                                                             self.hotel.default_language))
        if closed:
            return self.main_menu(ctx, closed)
        main = self.nav.main_start(ctx)
        stack = (main.ref,) if main is not None and main.flow.id != flow_id else ()
        ctx = idle(ctx, navigation_stack=stack)
        return self.enter(ctx, flow_id, self.hotel.flows[FlowId(flow_id)].start)

    def apply_set(self, ctx: Context, values: Mapping[str, JSONScalar | Text]) -> Context:
        """Save an option's data; a Text in the guest's language (set by `language` first)."""
        if not values:  # nothing to save: the context as it is (one copy less)
            return ctx
        code = values.get("language")
        language = code if isinstance(code, str) and code in self.hotel.languages else None
        lang = language or ctx.language
        data = {**ctx.step_data, **{
            key: value.get(lang, self.hotel.default_language) if isinstance(value, Text)
            else value for key, value in values.items() if key != "language"}}
        if language is None:
            return ctx.evolve(step_data=data)
        return ctx.evolve(language=language, step_data=data)
