"""Words and taps: the global words (menu, back, skip) and taps on buttons or list rows. Pure.

Owns rules 9 (taps: a reply id of the current step, of a step still on the navigation
stack, or of a flow's start step on an earlier message; anything else is a stale tap, told
and never counted) and 10 (global words in any enabled language; a numeral is an answer
where the step reads a number; going back forgets the answers given since) of
hotelbot.flows.engine. The stack's arithmetic (`rewind`) is hotelbot.flows.navigation's.
Must never do I/O, read the clock or log.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hotelbot.flows.answers import Answers
from hotelbot.flows.context import Context
from hotelbot.flows.events import Event, TextReceived
from hotelbot.flows.memo import remember
from hotelbot.flows.model import (
    HANDOFF_FLOW,
    Department,
    Flow,
    Hotel,
    Option,
    Step,
    StepKind,
    WordKind,
)
from hotelbot.flows.moves import Outcome
from hotelbot.flows.navigation import Position, choose, idle
from hotelbot.flows.text import kinds_of, normalize
from hotelbot.flows.validators import numeric_answer

__all__ = ["Words"]

_WORD_ORDER: tuple[WordKind, ...] = ("menu", "back", "skip")
_TOKEN = re.compile(r"\w+")


@lru_cache(maxsize=4096)  # keyword phrases are config text, tokenized for every scan (issue 13)
def _tokens(text: str) -> str:
    """Normalized words joined by single spaces, padded: " can i extend my stay "."""
    return f" {' '.join(_TOKEN.findall(normalize(text)))} "


def _names(option: Option, said: str) -> bool:
    """Whether the padded tokens `said` contain one of the option's keyword phrases (any
    language) as whole words."""
    for phrase in _phrases(option):  # noqa: SIM110 - no generator a message (issue 13)
        if phrase in said:
            return True
    return False


# Memo of _phrases, keyed by the option's id and holding it, so an id is never reused while
# cached (options are immutable; a reload brings new ones): free text is scanned for every
# option's keywords of every menu of the department, each phrase looked up again (issue 13).
_PHRASES: dict[int, tuple[Option, tuple[str, ...]]] = {}
_PHRASES_MAX = 4096


def _phrases(option: Option) -> tuple[str, ...]:
    """The option's keyword phrases in every language, tokenized and padded (_tokens)."""
    hit = _PHRASES.get(id(option))
    if hit is not None and hit[0] is option:
        return hit[1]
    phrases = tuple(_tokens(phrase) for per_language in option.keywords.values()
                    for phrase in per_language)
    remember(_PHRASES, id(option), (option, phrases), _PHRASES_MAX)
    return phrases


# Memo of _first_menus, keyed by the hotel's and the department's ids and holding both, so an
# id is never reused while cached (a reload brings new ones). Pure: no I/O.
_MENUS: dict[tuple[int, int], tuple[Hotel, Department, tuple[tuple[Flow, Step], ...]]] = {}
_MENUS_MAX = 1024


def _first_menus(hotel: Hotel, dept: Department) -> tuple[tuple[Flow, Step], ...]:
    """The flows the department offers (its main menu first) that start at a menu, each with
    that menu: where free text's keywords are looked for (rule 6b)."""
    key = (id(hotel), id(dept))
    hit = _MENUS.get(key)
    if hit is not None and hit[0] is hotel and hit[1] is dept:
        return hit[2]
    menus = []
    for flow_id in dict.fromkeys((dept.main_flow, *dept.flows)):
        flow = hotel.flows.get(flow_id)
        start = flow.steps.get(flow.start) if flow is not None else None
        if flow is not None and start is not None and start.kind is StepKind.MENU:
            menus.append((flow, start))
    return remember(_MENUS, key, (hotel, dept, tuple(menus)), _MENUS_MAX)[2]


class Words(Answers):
    """Typed text (a global word, else an answer), taps, back and skip."""

    __slots__ = ()

    def word(self, text: str, asking: Step) -> WordKind | None:
        """The global word `text` is, if any; a numeral is none where `asking` reads numbers."""
        if numeric_answer(asking.validator, text):
            return None
        kinds = self.heard(text)
        for kind in _WORD_ORDER:
            if kind in kinds:
                return kind
        return None

    def heard(self, text: str) -> frozenset[str]:
        """The kinds of the hotel's words `text` is (menu, back, thanks...), any language."""
        heard = self._heard
        if heard is not None and heard[0] is text:  # the turn's text, asked again
            return heard[1]
        kinds = kinds_of(self.hotel.words, normalize(text))
        self._heard = (text, kinds)
        return kinds

    def asks_requests(self, text: str) -> bool:
        """Whether `text` asks for the guest's own requests ("my orders") in any language."""
        return "requests" in self.heard(text)

    def asks_for_person(self, ctx: Context, event: Event) -> str | None:
        """The handoff flow, when the guest's text is a "person" word and it is offered."""
        if (isinstance(event, TextReceived) and "person" in self.heard(event.text)
                and self.nav.offered(ctx, HANDOFF_FLOW)):
            return HANDOFF_FLOW
        return None

    def small_talk(self, text: str) -> bool:
        """Whether `text` is small talk ("thanks", "ok", 👍) in any enabled language."""
        return "thanks" in self.heard(text)

    def text(self, ctx: Context, here: Position, text: str) -> Outcome:
        kind = self.word(text, here.step)
        if kind == "menu":
            return self.main_menu(ctx)
        if kind == "back":
            return self.back(ctx, here)
        if kind == "skip":
            return self.skip(ctx, here)
        if here.step.kind is StepKind.MENU:  # matched once: an option, else its keywords
            index = self.match_entry(ctx, here, text)
            if index is None:
                routed = self.by_keyword(ctx, text, here)
                if routed is not None:
                    return routed
            return self.answer_entry(ctx, here, index)
        return self.answer(ctx, here, text)

    def by_keyword(self, ctx: Context, text: str, here: Position | None = None
                   ) -> Outcome | None:
        """Free text that names an option by one of its keywords (rule 6b): an option of the
        menu `here` is picked; else an option of the first menu of any flow the department
        offers (its main menu first) opens that flow there and is applied. None: no keyword
        in the text."""
        said = _tokens(text)
        if here is not None:
            for option in here.step.options:
                if _names(option, said):
                    return self.pick_key(ctx, here, option.id)
        dept = self.nav.department(ctx)
        if dept is None:
            return None
        for flow, start in _first_menus(self.hotel, dept):
            for option in start.options:
                if _names(option, said):
                    return self.reopen(ctx, f"{flow.id}.{start.id}", option.id)
        return None

    def from_idle(self, ctx: Context, text: str) -> Outcome | None:
        """Typed text with no flow open (rule 6b): the main menu's options by number or title,
        else any option's keywords (by_keyword); None when it names none (or is a global
        word: the welcome menu answers it)."""
        main = self.nav.main_start(ctx)
        if main is None or self.word(text, main.step) is not None:
            return None
        # The main menu opened reads the titles with no step data: an idle context has none
        # (idle() cleared it), so it is opened (copied) only when the text names an option.
        index = self.match_entry(idle(ctx) if ctx.step_data else ctx, main, text)
        if index is not None:
            opened = idle(ctx, current_flow=main.flow.id, current_step=main.step.id)
            return self.pick(opened, main, index)
        return self.by_keyword(ctx, text)

    def tap(self, ctx: Context, here: Position, reply_id: str) -> Outcome:
        """A tap on a button or list row (rule 9): of the current step, of a step still on the
        stack (back there, then applied), or of an earlier message whose step is the start of
        a flow the department offers (that flow restarted there, then applied). Anything else
        (a step passed or abandoned, an option a reload removed, a forged id) is a stale tap:
        strings["stale_tap"] and the current step again, never counted as an error."""
        ref, sep, key = reply_id.rpartition(":")
        picked: Outcome | None = None
        if sep and ref == here.ref:
            picked = self.pick_key(ctx, here, key)
        elif sep and ref in ctx.navigation_stack:
            earlier = self.nav.lookup(ctx, ref)
            if earlier is not None:
                moved = self.nav.rewind(ctx, ref, left=here).evolve(
                    current_flow=earlier.flow.id, current_step=earlier.step.id)
                picked = self.pick_key(moved, self.view(moved, earlier), key)
        elif sep:
            picked = self.reopen(ctx, ref, key)
        if picked is not None:
            return picked
        return self.show(ctx, here, self.say("stale_tap", ctx))

    def reopen(self, ctx: Context, ref: str, key: str) -> Outcome | None:
        """A tap on an earlier message at the start step of a flow the department still
        offers (its main menu included): that flow opened afresh at its start, the tap
        applied there. None when `ref` is no such step or `key` is not one of its entries:
        a later step's tap is never applied out of its flow (its earlier answers are gone)."""
        target = self.nav.lookup(ctx, ref)
        if target is None or target.step.id != target.flow.start:
            return None
        main = self.nav.main_start(ctx)
        stack = (main.ref,) if main is not None and main.flow.id != target.flow.id else ()
        opened = idle(ctx, navigation_stack=stack, current_flow=target.flow.id,
                      current_step=target.step.id)
        return self.pick_key(opened, target, key)

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
