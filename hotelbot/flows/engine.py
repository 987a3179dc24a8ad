"""The flow engine: one guest event + the context -> the new context + effects. Pure and total.

Owns: every conversation rule of DESIGN.md, in the order below: what a guest reads is decided
here and nowhere else (the actors carry effects out). Must never raise for any event on any
context (a context left dangling by a config reload lands at the main menu), do I/O, read the
clock (time arrives as `now`), use asyncio or log: the actor logs the effects.
Where a move lands (step lookups, the stack, disabled steps) is hotelbot.flows.navigation's.

Rules, in the order they are applied:
  1. Step failures. StepFailed (handling a guest message crashed): strings["error"] in the
     guest's language, and the context exactly as it was (the actor restarts from its
     snapshot). No other rule runs.
  2. Spam. Every guest message takes a token from the conversation's bucket (context.rate:
     policy.spam_burst at once, then policy.spam_per_second), unless it is a replay (`replayed`:
     handed over again after a restart or by an operator). Without a token, the message is
     recorded and not handled: the first one of a flood gets strings["spam"] in the guest's
     language and `Silence(SPAM)`, later ones only `Silence(SPAM)`; only context.rate changes
     and no other rule runs. A guest is noticed again only after they got a token back.
  2b. Opt-out. A text that is wholly one of the hotel's `stop` words (STOP, unsubscribe, per
     language) or `start` words: strings["opted_out"] / ["opted_in"] and OptOutChanged(True /
     False) for the actor to store (flows/optout.py); the context only gets last_activity.
  3. Guest data. The guest's data and language, shared by the hotel's departments (`guest`),
     replace the context's accumulated_data and language (a language only once chosen); a
     language the hotel no longer enables (reload) becomes its default.
  4. Cooloff. Before `cooloff_until`: no reply at all, `(Silence(COOLOFF),)`, only
     last_activity changes. After it: cooloff and error_count cleared, the event is handled.
  5. Flow requests. FlowRequested(id), or a template button whose payload is "flow:<id>",
     start that flow if the department offers it (also on an idle or expired context). The
     stack keeps the department's main menu, so "back" leads there.
  6. Idle (no current flow). Any other event shows the main menu with strings["welcome"];
     a tap on a button of the main menu's first step is applied as if the menu were open.
  7. Expiry. If idle longer than policy.timeout_minutes, the event is not applied: the main
     menu is shown with strings["expired"].
  8. Unsupported kinds (image, audio, ...): strings["unsupported"] + the step again, no error.
  9. Taps (OptionChosen): a reply id "<flow>.<step>:<key>" of the current step is applied; of
     a step still on the navigation stack, the guest goes back to it (rule 10) and it is
     applied there; anything else is an invalid answer.
 10. Global words (any enabled language): menu (main menu, stack and errors cleared), back
     (pop the stack; at the main menu's start: strings["back_at_start"]), skip (optional steps
     only, else strings["skip_not_allowed"] as an invalid answer). Going back to a step, by
     "back", a tap or a Next target already on the stack (a confirm's "change"), forgets the
     answers given since: that step's own and those of every step popped off the stack
     (navigation.Navigator.rewind); guest-level data stays. A numeral (the shipped "0" for
     menu) is a word only where the step does not read a number: at an integer, number or
     rating input it is an answer (validators.numeric_answer), checked like any other.
 11. Answers: menus and choice/rating inputs by number or title (validators.match_choice);
     other inputs by their validator; confirm steps by number, title, yes or no. A refused
     answer is re-asked under the step's own error text if it has one, else under what it
     missed: strings["invalid_too_short"] {min} / ["invalid_too_long"] {max} for a text's
     lengths, ["invalid_range"] {min} {max} (or ["invalid_too_low"] {min}, ["invalid_too_high"]
     {max} when one side is open) for a number, ["invalid_rating"] {min} {max} with the step's
     own range for any refused rating, else ["invalid_<kind>"] (not of the kind's form).
 12. Invalid answers count; the policy.max_errors-th consecutive one starts the cooloff with
     one strings["cooloff"] notice. Any valid move (answer, back, menu, skip) resets the count.
 13. Moving on: Next branches in order (first condition that holds), else the default; a step
     id of the same flow, or "flow:<id>" (new flow, step data cleared). Disabled steps are
     passed through by their own `next`. An end step sends its text, CreateRequest and
     ScheduleMessage effects and leaves the context idle.
 14. last_activity = now after every event handled by rules 3-13.
 15. GuestChanged(data, language) ends the effects when the context's accumulated_data or
     language differ from the guest's as given (without `guest`: from the context's before
     the step); the actor stores the guest's row only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hotelbot.flows.context import Context, Guest
from hotelbot.flows.effects import (
    CreateRequest,
    Effect,
    GuestChanged,
    ScheduleMessage,
    Silence,
    SilenceReason,
)
from hotelbot.flows.events import (
    Event,
    FlowRequested,
    OptionChosen,
    StepFailed,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
)
from hotelbot.flows.model import (
    FLOW_PREFIX,
    Flow,
    Hotel,
    Step,
    StepKind,
    Text,
    Validator,
    ValidatorKind,
    WordKind,
)
from hotelbot.flows.navigation import Navigator, Position, choose, collected, stack_to
from hotelbot.flows.navigation import idle as _idle
from hotelbot.flows.optout import opt_out_effects
from hotelbot.flows.ratelimit import take
from hotelbot.flows.render import (
    entry_titles,
    format_value,
    join,
    render_step,
    step_entries,
    string,
    substitute,
    text_message,
    variables,
)
from hotelbot.flows.text import normalize
from hotelbot.flows.validators import (
    DEFAULT_MAX_TEXT,
    Accepted,
    Bound,
    Locale,
    Rejected,
    match_choice,
    numeric_answer,
    parse_answer,
    rating_range,
)
from hotelbot.typedefs import FlowId, JSONScalar

__all__ = ["Outcome", "new_context", "step"]

_YES = frozenset(("yes", "y", "ok", "okay", "si", "sim", "oui", "ja", "confirm"))
_NO = frozenset(("no", "n", "nao", "non", "nein"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one event did: the context to keep and the effects to carry out, in order."""

    context: Context
    effects: tuple[Effect, ...]


_WORD_ORDER: tuple[WordKind, ...] = ("menu", "back", "skip")


def new_context(
    hotel: Hotel,
    *,
    guest_id: str,
    phone_number_id: str,
    department: str,
    language: str | None = None,
    accumulated_data: Mapping[str, JSONScalar] | None = None,
) -> Context:
    """A fresh, idle context: the guest's language if the hotel enables it, else its default."""
    return Context(
        hotel_id=hotel.hotel_id,
        guest_id=guest_id,
        phone_number_id=phone_number_id,
        department=department,
        language=language if language in hotel.languages else hotel.default_language,
        accumulated_data=dict(accumulated_data or {}),
    )


def step(
    hotel: Hotel,
    context: Context,
    event: Event,
    now: datetime,
    *,
    guest: Guest | None = None,
    replayed: bool = False,
) -> Outcome:
    """Apply one event to the context (see the rules in this module's docstring).

    Args:
        hotel: the hotel's validated configuration.
        context: the conversation's context (as restored, or from `new_context`).
        event: what the guest did (or StepFailed: what handling their message did).
        now: the current time (aware; naive values are read as UTC).
        guest: what the hotel's departments share about the guest, newest first; None: the
            context's own accumulated_data and language are the guest's.
        replayed: the message was handed over again (replay at start, an operator's
            replay): it does not count against the rate limit.

    Returns:
        The new context and the effects, in order. Never raises.
    """
    now = _aware(now)
    turn = _Turn(hotel, now)
    if isinstance(event, StepFailed):
        apology = turn.say("error", _merged(context, guest))
        return Outcome(context=context, effects=(text_message(apology),))
    if not replayed:
        policy = hotel.policy
        allowed, bucket = take(context.rate, burst=policy.spam_burst,
                               per_second=policy.spam_per_second, now=now)
        context = context.evolve(rate=bucket)
        if not allowed:
            return turn.limited(context, _merged(context, guest))
    before = guest or Guest(data=context.accumulated_data, language=context.language)
    opted = opt_out_effects(hotel, _merged(context, guest), event)  # rule 2b: STOP / START
    if opted is not None:
        return Outcome(context=context.evolve(last_activity=now), effects=opted)
    outcome = turn.handle(_merged(context, guest), event)
    after = outcome.context.evolve(last_activity=now)
    effects = outcome.effects
    if after.accumulated_data != before.data or after.language != before.language:
        effects += (GuestChanged(data=after.accumulated_data, language=after.language),)
    return Outcome(context=after, effects=effects)


def _merged(context: Context, guest: Guest | None) -> Context:
    """The context with the guest's shared data and language (a language only once chosen)."""
    if guest is None:
        return context
    return context.evolve(accumulated_data=guest.data, language=guest.language or context.language)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class _Turn:
    """One event's worth of rule application; holds what every rule needs."""

    __slots__ = ("hotel", "nav", "now")

    def __init__(self, hotel: Hotel, now: datetime) -> None:
        self.hotel = hotel
        self.nav = Navigator(hotel)
        self.now = now

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, ctx: Context, event: Event) -> Outcome:
        if ctx.language not in self.hotel.languages:  # the hotel dropped it since (reload)
            ctx = ctx.evolve(language=self.hotel.default_language)
        if ctx.cooloff_until is not None:
            if self.now < _aware(ctx.cooloff_until):
                return Outcome(context=ctx, effects=(Silence(reason=SilenceReason.COOLOFF),))
            ctx = ctx.evolve(cooloff_until=None, error_count=0)
        requested = _requested_flow(event)
        if requested is not None:
            if self.nav.offered(ctx, requested):
                return self.start_requested(ctx, requested)
            event = UnsupportedReceived(kind="flow")
        if isinstance(event, TemplateButtonPressed):
            event = TextReceived(text=event.text or event.payload)
        if ctx.current_flow is None:
            return self.idle(ctx, event)
        if self.expired(ctx):
            return self.main_menu(ctx, self.say("expired", ctx))
        here = self.nav.position(ctx)
        if here is None:
            return self.main_menu(ctx, self.say("error", ctx))
        if isinstance(event, UnsupportedReceived):
            return self.show(ctx, here, self.say("unsupported", ctx))
        if isinstance(event, OptionChosen):
            return self.tap(ctx, here, event.reply_id)
        if isinstance(event, TextReceived):
            return self.text(ctx, here, event.text)
        return self.show(ctx, here)

    def idle(self, ctx: Context, event: Event) -> Outcome:
        main = self.nav.main_start(ctx)
        if isinstance(event, OptionChosen) and main is not None:
            ref, _, key = event.reply_id.rpartition(":")
            if ref == main.ref:
                opened = _idle(ctx).evolve(current_flow=main.flow.id, current_step=main.step.id)
                picked = self.pick_key(opened, main, key)
                if picked is not None:
                    return picked
        return self.main_menu(ctx, self.say("welcome", ctx))

    def limited(self, ctx: Context, merged: Context) -> Outcome:
        """Past the rate limit: one notice per flood (in `merged`'s language), then silence."""
        silence = Silence(reason=SilenceReason.SPAM)
        if ctx.rate.noticed:
            return Outcome(context=ctx, effects=(silence,))
        ctx = ctx.evolve(rate=replace(ctx.rate, noticed=True))
        return Outcome(context=ctx, effects=(text_message(self.say("spam", merged)), silence))

    def expired(self, ctx: Context) -> bool:
        if ctx.last_activity is None:
            return False
        limit = timedelta(minutes=self.hotel.policy.timeout_minutes)
        return self.now - _aware(ctx.last_activity) > limit

    # -- wording ------------------------------------------------------------------------------

    def say(self, key: str, ctx: Context, **extra: str) -> str:
        """A system string in the guest's language, its {variables} filled."""
        values = variables(self.hotel, ctx, None) | extra
        return substitute(string(self.hotel, key, ctx.language), values)

    def word(self, text: str, asking: Step) -> WordKind | None:
        """The global word `text` is, if any; a numeral is none where `asking` reads numbers."""
        if numeric_answer(asking.validator, text):
            return None
        norm = normalize(text)
        for kind in _WORD_ORDER:
            if any(norm in words for words in self.hotel.words.get(kind, {}).values()):
                return kind
        return None

    # -- moving -------------------------------------------------------------------------------

    def main_menu(self, ctx: Context, notice: str = "") -> Outcome:
        """The department's main menu: step data, stack and error count cleared."""
        dept = self.nav.department(ctx)
        if dept is None or dept.main_flow not in self.hotel.flows:
            return self.halt(ctx, notice)
        start = self.hotel.flows[dept.main_flow].start
        return self.enter(_idle(ctx), dept.main_flow, start, notice, fallback=False)

    def halt(self, ctx: Context, notice: str) -> Outcome:
        """Nothing valid to show (a broken configuration): say so and go idle."""
        body = join(notice, self.say("error", ctx)) or notice
        return Outcome(context=_idle(ctx), effects=(text_message(body),))

    def enter(
        self, ctx: Context, flow_id: str, step_id: str, notice: str = "", *, fallback: bool = True
    ) -> Outcome:
        """Arrive at a step (the stack already updated), passing through disabled steps."""
        landing = self.nav.land(ctx, flow_id, step_id)
        ctx, at = landing.context, landing.at
        if at is None:
            if fallback:
                return self.main_menu(ctx, self.say("error", ctx))
            return self.halt(ctx, notice)
        if at.step.kind is StepKind.END:
            return self.finish(ctx, at.flow, at.step, notice)
        return self.show(ctx, at, notice)

    def show(self, ctx: Context, here: Position, notice: str = "") -> Outcome:
        message = render_step(self.hotel, ctx, here.flow, here.step, notice)
        return Outcome(context=ctx, effects=(message,))

    def finish(self, ctx: Context, flow: Flow, end: Step, notice: str) -> Outcome:
        """An end step: closing text, the request, the scheduled messages; then idle."""
        text = end.text.get(ctx.language, self.hotel.default_language)
        closing = substitute(text, variables(self.hotel, ctx, flow))
        effects: list[Effect] = [text_message(join(notice, closing))]
        data = collected(ctx)
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
        return Outcome(context=_idle(ctx), effects=tuple(effects))

    def goto(self, ctx: Context, here: Position, target: str | None) -> Outcome:
        """Leave `here` for a Next target: a step of the same flow or "flow:<id>"."""
        if target is None:
            return self.main_menu(ctx, self.say("error", ctx))
        stack = ctx.navigation_stack
        if target.startswith(FLOW_PREFIX):
            flow_id = target.removeprefix(FLOW_PREFIX)
            if not self.nav.offered(ctx, flow_id):
                return self.main_menu(ctx, self.say("error", ctx))
            start = self.hotel.flows[FlowId(flow_id)].start
            ctx = ctx.evolve(navigation_stack=stack_to(stack, here, f"{flow_id}.{start}"),
                             step_data={})
            return self.enter(ctx, flow_id, start)
        ref = f"{here.flow.id}.{target}"
        if ref != here.ref and ref in stack:  # passed already (a confirm's "change"): rule 10
            ctx = self.nav.rewind(ctx, ref)
        else:
            ctx = ctx.evolve(navigation_stack=stack_to(stack, here, ref))
        return self.enter(ctx, here.flow.id, target)

    def start_requested(self, ctx: Context, flow_id: str) -> Outcome:
        main = self.nav.main_start(ctx)
        stack = (main.ref,) if main is not None and main.flow.id != flow_id else ()
        ctx = _idle(ctx).evolve(navigation_stack=stack)
        return self.enter(ctx, flow_id, self.hotel.flows[FlowId(flow_id)].start)

    # -- answering ----------------------------------------------------------------------------

    def tap(self, ctx: Context, here: Position, reply_id: str) -> Outcome:
        ref, sep, key = reply_id.rpartition(":")
        picked: Outcome | None = None
        if sep and ref == here.ref:
            picked = self.pick_key(ctx, here, key)
        elif sep and ref in ctx.navigation_stack:
            earlier = self.nav.lookup(ctx, ref)
            if earlier is not None:
                moved = self.nav.rewind(ctx, ref, left=here).evolve(
                    current_flow=earlier.flow.id, current_step=earlier.step.id)
                picked = self.pick_key(moved, earlier, key)
        if picked is not None:
            return picked
        return self.invalid(ctx, here, self.say("invalid_option", ctx))

    def pick_key(self, ctx: Context, here: Position, key: str) -> Outcome | None:
        keys = [entry.key for entry in step_entries(self.hotel, here.step)]
        return self.pick(ctx, here, keys.index(key)) if key in keys else None

    def pick(self, ctx: Context, here: Position, index: int) -> Outcome:
        """Apply the index-th entry of a menu, confirm or choice/rating step."""
        ctx = ctx.evolve(error_count=0)
        current = here.step
        if current.kind is StepKind.MENU:
            option = current.options[index]
            ctx = self.apply_set(ctx, option.set)
            return self.goto(ctx, here, choose(option.next, ctx))
        if current.kind is StepKind.CONFIRM:
            if index == 0:
                return self.goto(ctx, here, choose(current.next, ctx))
            return self.goto(ctx, here, current.change or here.flow.start)
        entry = step_entries(self.hotel, current)[index]
        value: JSONScalar = int(entry.key) if entry.key.lstrip("-").isdigit() else entry.key
        return self.accept(ctx, here, value)

    def apply_set(self, ctx: Context, values: Mapping[str, JSONScalar | Text]) -> Context:
        """Save an option's data; a Text in the guest's language (set by `language` first)."""
        code = values.get("language")
        if isinstance(code, str) and code in self.hotel.languages:
            ctx = ctx.evolve(language=code)
        data = {**ctx.step_data, **{
            key: value.get(ctx.language, self.hotel.default_language) if isinstance(value, Text)
            else value for key, value in values.items() if key != "language"}}
        return ctx.evolve(step_data=data)

    def accept(self, ctx: Context, here: Position, value: JSONScalar) -> Outcome:
        """A valid input answer: save it (and remember it), then move on."""
        current = here.step
        data = {**ctx.step_data, current.save_as or current.id: value}
        ctx = ctx.evolve(step_data=data, error_count=0)
        if current.remember:
            ctx = ctx.evolve(accumulated_data={**ctx.accumulated_data, current.remember: value})
        return self.goto(ctx, here, choose(current.next, ctx))

    def text(self, ctx: Context, here: Position, text: str) -> Outcome:
        kind = self.word(text, here.step)
        if kind == "menu":
            return self.main_menu(ctx)
        if kind == "back":
            return self.back(ctx, here)
        if kind == "skip":
            return self.skip(ctx, here)
        current = here.step
        if current.kind in (StepKind.MENU, StepKind.CONFIRM):
            index = self.match_entry(ctx, here, text)
            if index is None:
                return self.invalid(ctx, here, self.say("invalid_option", ctx))
            return self.pick(ctx, here, index)
        validator = current.validator
        if validator is None:
            return self.accept(ctx, here, text.strip())
        locale = Locale(now=self.now, timezone=self.hotel.timezone,
                        room_pattern=self.hotel.room_pattern)
        answer = parse_answer(validator, text, locale)
        if isinstance(answer, Accepted):
            return self.accept(ctx, here, answer.value)
        return self.invalid(ctx, here, self.refusal(ctx, here, validator, answer))

    def refusal(self, ctx: Context, here: Position, validator: Validator,
                answer: Rejected) -> str:
        """Why an answer is refused: the step's own error text, else the bound it missed with
        that bound's numbers (a rating names the step's range), else the form it lacks."""
        if validator.error is not None:
            return substitute(validator.error.get(ctx.language, self.hotel.default_language),
                              variables(self.hotel, ctx, here.flow))
        if answer.kind is ValidatorKind.RATING:
            ratings = rating_range(validator)
            return self.say("invalid_rating", ctx, min=str(ratings.start),
                            max=str(ratings.stop - 1))
        low, high = validator.min, validator.max
        if answer.bound is Bound.TOO_SHORT:
            return self.say("invalid_too_short", ctx, min=format_value(validator.min_length))
        if answer.bound is Bound.TOO_LONG:
            longest = validator.max_length if validator.max_length is not None else DEFAULT_MAX_TEXT
            return self.say("invalid_too_long", ctx, max=format_value(longest))
        if answer.bound is Bound.RANGE and low is not None and high is not None:
            return self.say("invalid_range", ctx, min=format_value(low), max=format_value(high))
        if answer.bound is Bound.RANGE and low is not None:
            return self.say("invalid_too_low", ctx, min=format_value(low))
        if answer.bound is Bound.RANGE and high is not None:
            return self.say("invalid_too_high", ctx, max=format_value(high))
        return self.say(f"invalid_{answer.kind.value}", ctx)

    def match_entry(self, ctx: Context, here: Position, text: str) -> int | None:
        values = variables(self.hotel, ctx, here.flow)
        entries = step_entries(self.hotel, here.step)
        index = match_choice([entry_titles(e, values) for e in entries], text)
        if index is None and here.step.kind is StepKind.CONFIRM:
            norm = normalize(text)
            index = 0 if norm in _YES else 1 if norm in _NO else None
        return index

    def back(self, ctx: Context, here: Position) -> Outcome:
        for top in reversed(ctx.navigation_stack):
            earlier = self.nav.lookup(ctx, top)
            if earlier is not None:
                moved = self.nav.rewind(ctx, top, left=here).evolve(
                    current_flow=earlier.flow.id, current_step=earlier.step.id, error_count=0)
                return self.show(moved, earlier)
        main = self.nav.main_start(ctx)
        if main is not None and main.ref == here.ref:
            ctx = ctx.evolve(navigation_stack=(), error_count=0)
            return self.show(ctx, here, self.say("back_at_start", ctx))
        return self.main_menu(ctx)

    def skip(self, ctx: Context, here: Position) -> Outcome:
        current = here.step
        if not current.optional or current.next is None:
            return self.invalid(ctx, here, self.say("skip_not_allowed", ctx))
        data = {k: v for k, v in ctx.step_data.items() if k != (current.save_as or current.id)}
        ctx = ctx.evolve(step_data=data, error_count=0)
        return self.goto(ctx, here, choose(current.next, ctx))

    def invalid(self, ctx: Context, here: Position, wording: str) -> Outcome:
        """Count an invalid answer: re-ask with `wording` on top, or start the cooloff."""
        count = ctx.error_count + 1
        policy = self.hotel.policy
        if count < policy.max_errors:
            return self.show(ctx.evolve(error_count=count), here, wording)
        until = self.now + timedelta(minutes=policy.cooloff_minutes)
        notice = self.say("cooloff", ctx, minutes=str(policy.cooloff_minutes))
        ctx = ctx.evolve(error_count=count, cooloff_until=until)
        return Outcome(context=ctx, effects=(text_message(notice),))


def _requested_flow(event: Event) -> str | None:
    if isinstance(event, FlowRequested):
        return event.flow_id
    if isinstance(event, TemplateButtonPressed) and event.payload.startswith(FLOW_PREFIX):
        return event.payload.removeprefix(FLOW_PREFIX)
    return None
