"""Answers: what the guest's answer to the current step is, and the re-ask when it is refused.

Owns rule 11 of hotelbot.flows.engine (menus and choice/rating inputs by number or title,
other inputs by their validator, confirm steps by number, title, yes or no; the refusal's
wording by the bound missed) and saving an accepted answer (`remember` included) before
moving on. Parsing a value is hotelbot.flows.validators'; counting a refusal is
hotelbot.flows.guards'. Must never do I/O, read the clock or log.
"""

from __future__ import annotations

from hotelbot.flows import availability, basket
from hotelbot.flows.context import Context
from hotelbot.flows.guards import Guards
from hotelbot.flows.model import StepKind, Validator, ValidatorKind
from hotelbot.flows.moves import Outcome
from hotelbot.flows.navigation import Position, choose
from hotelbot.flows.remembered import mark, uses
from hotelbot.flows.render import entry_index, format_value, step_entries, substitute, variables
from hotelbot.flows.text import normalize
from hotelbot.flows.validators import (
    DEFAULT_MAX_TEXT,
    Accepted,
    Bound,
    Rejected,
    match_indexed,
    parse_answer,
    rating_range,
)
from hotelbot.typedefs import JSONScalar

__all__ = ["Answers"]

_YES = frozenset(("yes", "y", "ok", "okay", "si", "sim", "oui", "ja", "confirm"))
_NO = frozenset(("no", "n", "nao", "non", "nein"))


class Answers(Guards):
    """Picking an entry, accepting an input, refusing with the right words."""

    __slots__ = ()

    def pick_key(self, ctx: Context, here: Position, key: str) -> Outcome | None:
        keys = [entry.key for entry in step_entries(self.hotel, here.step)]
        return self.pick(ctx, here, keys.index(key)) if key in keys else None

    def pick(self, ctx: Context, here: Position, index: int) -> Outcome:
        """Apply the index-th entry of a menu, confirm or choice/rating step."""
        if ctx.error_count:
            ctx = ctx.evolve(error_count=0)
        current = here.step
        if current.kind is StepKind.MENU:
            option = current.options[index]
            closed = self.closed(ctx, availability.option_hours(self.hotel, option),
                                 option.title.get(ctx.language, self.hotel.default_language))
            if closed:  # not an error: the menu again, with what it offers now
                return self.show(ctx, here, closed)
            ctx = basket.chosen(here.flow, option, self.apply_set(ctx, option.set))
            return self.goto(ctx, here, choose(option.next, ctx))
        if current.kind is StepKind.CONFIRM:
            if index == 0:
                return self.goto(ctx, here, choose(current.next, ctx))
            # Change: the remembered values the flow uses but did not ask itself this time
            # (remembered, or asked by another flow) are confirmed again (rule 13b) on the
            # way back, so a wrong room can be changed too, not only this flow's answers.
            marks = {mark(key) for key in uses(self.hotel, here.flow)
                     if key not in ctx.step_data}
            data = {k: v for k, v in ctx.accumulated_data.items() if k not in marks}
            ctx = ctx.evolve(accumulated_data=data)
            return self.goto(ctx, here, current.change or here.flow.start)
        entry = step_entries(self.hotel, current)[index]
        value: JSONScalar = int(entry.key) if entry.key.lstrip("-").isdigit() else entry.key
        return self.accept(ctx, here, value)

    def accept(self, ctx: Context, here: Position, value: JSONScalar,
               notice: str = "") -> Outcome:
        """A valid input answer: save it (and remember it), then move on."""
        current = here.step
        data = {**ctx.step_data, current.save_as or current.id: value}
        if current.remember:  # told just now: confirmed for today (rule 13b); one copy
            ctx = ctx.evolve(step_data=data, error_count=0, accumulated_data={
                **ctx.accumulated_data, current.remember: value,
                mark(current.remember): self.today()})
        else:
            ctx = ctx.evolve(step_data=data, error_count=0)
        return self.goto(ctx, here, choose(current.next, ctx), notice)

    def answer(self, ctx: Context, here: Position, text: str) -> Outcome:
        """Typed text that is no global word: an answer to the current step, or a refusal."""
        current = here.step
        if current.kind in (StepKind.MENU, StepKind.CONFIRM):
            return self.answer_entry(ctx, here, self.match_entry(ctx, here, text))
        validator = current.validator
        if validator is None:
            return self.accept(ctx, here, text.strip())
        answer = parse_answer(validator, text, self.locale(ctx.language))
        if isinstance(answer, Accepted):  # a time past today, taken for tomorrow, says so
            tomorrow = availability.rolled_over(self.hotel, validator, answer.value, self.now,
                                                ctx.language)
            notice = self.say("time_tomorrow", ctx, time=tomorrow) if tomorrow else ""
            return self.accept(ctx, here, answer.value, notice)
        return self.invalid(ctx, here, self.refusal(ctx, here, validator, answer))

    def answer_entry(self, ctx: Context, here: Position, index: int | None) -> Outcome:
        """Typed text at a menu or confirm step that named its `index`-th entry (match_entry);
        None: it named none, refused."""
        if index is None:
            return self.invalid(ctx, here, self.say("invalid_option", ctx))
        return self.pick(ctx, here, index)

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
        if answer.bound is Bound.PAST:
            return self.say("invalid_time_past", ctx)
        if answer.kind is ValidatorKind.TIME and answer.bound is Bound.RANGE:
            start, end = availability.window_label(self.hotel, low or 0, 24 if high is None
                                                   else high, ctx.language)
            return self.say("invalid_time_window", ctx, min=start, max=end)
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
        count = len(step_entries(self.hotel, here.step))
        index = match_indexed(entry_index(self.hotel, ctx, here.flow, here.step), count, text)
        if index is None and here.step.kind is StepKind.CONFIRM:
            norm = normalize(text)
            index = 0 if norm in _YES else 1 if norm in _NO else None
        return index
