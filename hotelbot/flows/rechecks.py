"""Answers to a remembered value's check (engine rule 13b): "Room 205 — is that right?". Pure.

Owns: what the guest's message does while Context.checking is set: Confirm (or yes, 1) marks
the value confirmed today and the flow goes on at the step it was entering; Change (or no,
2) asks the value again with the remembering step's own question and validator; the new
value replaces the remembered one (guest-level: every department sees it) and is marked
confirmed. menu and back work as anywhere; a wrong answer counts like any other. Which
values are checked, and when, is hotelbot.flows.remembered's. Must never do I/O, read the
clock or log.
"""

from __future__ import annotations

from hotelbot.flows.context import Context
from hotelbot.flows.events import Event, OptionChosen, TextReceived, UnsupportedReceived
from hotelbot.flows.moves import Outcome
from hotelbot.flows.navigation import Position
from hotelbot.flows.remembered import ASK, INPUT, check_position, mark
from hotelbot.flows.render import Entry, step_entries
from hotelbot.flows.validators import Accepted, parse_answer
from hotelbot.flows.words import Words
from hotelbot.typedefs import JSONScalar

__all__ = ["Rechecks"]


class Rechecks(Words):
    """The guest's answer while a remembered value is being confirmed."""

    __slots__ = ()

    def checked(self, ctx: Context, here: Position, event: Event) -> Outcome:
        """`here` is the step the flow was entering when the check began."""
        found = check_position(self.hotel, ctx)
        if found is None:
            return self.show(ctx.evolve(checking=()), here)
        asking = Position(*found)
        phase = ctx.checking[1]
        if isinstance(event, UnsupportedReceived):
            return self.show_check(ctx, self.say("unsupported", ctx))
        if isinstance(event, OptionChosen):
            ref, _, choice = event.reply_id.rpartition(":")
            if ref != asking.ref:  # an earlier message: handled as if no check were open
                return self.tap(ctx.evolve(checking=()), here, event.reply_id)
            keys = [e.key for e in self.entries(asking)]
            if choice not in keys:
                return self.show_check(ctx, self.say("stale_tap", ctx))
            return self.decide(ctx, here, asking, keys.index(choice))
        if not isinstance(event, TextReceived):
            return self.show_check(ctx)
        word = self.word(event.text, asking.step)
        if word == "menu":
            return self.main_menu(ctx)
        if word == "back":
            return self.back(ctx.evolve(checking=()), here)
        if phase == ASK or asking.step.validator is None or self.entries(asking):
            index = self.match_entry(ctx, asking, event.text)
            if index is not None:
                return self.decide(ctx, here, asking, index)
            if phase == ASK or asking.step.validator is None:
                return self.invalid(ctx, asking, self.say("invalid_option", ctx))
        validator = asking.step.validator
        answer = parse_answer(validator, event.text, self.locale(ctx.language))
        if isinstance(answer, Accepted):
            return self.replace_value(ctx, here, answer.value)
        return self.invalid(ctx, asking, self.refusal(ctx, asking, validator, answer))

    def entries(self, asking: Position) -> tuple[Entry, ...]:
        return step_entries(self.hotel, asking.step)

    def decide(self, ctx: Context, here: Position, asking: Position, index: int) -> Outcome:
        """The index-th entry of the check: at "is it right?", Confirm or Change; at the
        question (a choice), the value chosen."""
        if ctx.checking[1] == INPUT:
            key = step_entries(self.hotel, asking.step)[index].key
            value: JSONScalar = int(key) if key.lstrip("-").isdigit() else key
            return self.replace_value(ctx, here, value)
        if index == 0:
            return self.confirm_value(ctx, here)
        return self.show_check(ctx.evolve(checking=(ctx.checking[0], INPUT), error_count=0))

    def confirm_value(self, ctx: Context, here: Position) -> Outcome:
        key = ctx.checking[0]
        data = {**ctx.accumulated_data, mark(key): self.today()}
        ctx = ctx.evolve(checking=(), accumulated_data=data, error_count=0)
        return self.enter(ctx, here.flow.id, here.step.id)  # another value may be due

    def replace_value(self, ctx: Context, here: Position, value: JSONScalar) -> Outcome:
        key = ctx.checking[0]
        data = {**ctx.accumulated_data, key: value, mark(key): self.today()}
        step_data = {**ctx.step_data, key: value} if key in ctx.step_data else ctx.step_data
        ctx = ctx.evolve(checking=(), accumulated_data=data, step_data=step_data,
                         error_count=0)
        return self.enter(ctx, here.flow.id, here.step.id)
