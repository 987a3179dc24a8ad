"""Words and taps: the global words (menu, back, skip) and taps on buttons or list rows. Pure.

Owns rules 9 (taps: a reply id of the current step, or of a step still on the navigation
stack) and 10 (global words in any enabled language; a numeral is an answer where the step
reads a number; going back forgets the answers given since) of hotelbot.flows.engine. The
stack's arithmetic (`rewind`) is hotelbot.flows.navigation's. Must never do I/O, read the
clock or log.
"""

from __future__ import annotations

from hotelbot.flows.answers import Answers
from hotelbot.flows.context import Context
from hotelbot.flows.model import Step, WordKind
from hotelbot.flows.moves import Outcome
from hotelbot.flows.navigation import Position, choose
from hotelbot.flows.text import normalize
from hotelbot.flows.validators import numeric_answer

__all__ = ["Words"]

_WORD_ORDER: tuple[WordKind, ...] = ("menu", "back", "skip")


class Words(Answers):
    """Typed text (a global word, else an answer), taps, back and skip."""

    __slots__ = ()

    def word(self, text: str, asking: Step) -> WordKind | None:
        """The global word `text` is, if any; a numeral is none where `asking` reads numbers."""
        if numeric_answer(asking.validator, text):
            return None
        norm = normalize(text)
        for kind in _WORD_ORDER:
            if any(norm in words for words in self.hotel.words.get(kind, {}).values()):
                return kind
        return None

    def small_talk(self, text: str) -> bool:
        """Whether `text` is small talk ("thanks", "ok", 👍) in any enabled language."""
        norm = normalize(text)
        return any(norm in words for words in self.hotel.words.get("thanks", {}).values())

    def text(self, ctx: Context, here: Position, text: str) -> Outcome:
        kind = self.word(text, here.step)
        if kind == "menu":
            return self.main_menu(ctx)
        if kind == "back":
            return self.back(ctx, here)
        if kind == "skip":
            return self.skip(ctx, here)
        return self.answer(ctx, here, text)

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
