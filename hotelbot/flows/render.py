"""Rendering: a step (or a notice) in the guest's language -> one Graph API message body.

Owns: variable substitution, the numbered entries a step offers (menu options, choices,
ratings, confirm/change) and the exact WhatsApp JSON for them (docs/whatsapp-cloud-api.md 4.2-4.4).
Must never produce a payload beyond WhatsApp's limits (hotelbot/whatsapp/limits.py, the one
table; every text is clipped, never split), show a technical id to a guest, do I/O or log.

Choosing the shape (docs/design.md "Conversation rules"):
  no entries     {"type": "text"}; body <= 4096 (+ skip hint on optional inputs)
  1-3 entries    interactive "button"; titles <= 20 and unique, ids = reply ids (<= 256)
  4-10 entries   interactive "list"; one section, rows id <= 200, title <= 24, description
                 <= 72, action.button <= 20
  more than 10   a numbered text menu ("1. Title") + strings["numbered_hint"]
Every shape with entries ends with how to navigate, strings["nav_footer"] ("0 = menu · back =
previous step", at most 60 characters): the interactive footer, or a numbered menu's last
line. A step's own footer then closes the body (a confirm's "Is everything correct?").
An interactive shape that cannot be built validly (titles colliding once clipped, an id too
long) falls back to the next shape down. Entries keep their order in every shape, so the
number a guest types always names the entry shown in that position.

Substitution is ONE pass (re.sub) over the template: inserted values are never scanned again,
so a guest's own text is shown literally. Unknown variables stay as written. Before it, a
step's own text picks its plural forms (hotelbot.flows.i18n.expand_plurals: config text only,
never a guest's). Collected dates and times read in the guest's language (Babel), never as
ISO text (`shown_value`); a basket flow's texts may name {order_lines}, {order_total},
{order_payment} and {order_count} (hotelbot.flows.basket.variables).

A confirmation shows everything the request will carry: under a confirm step's text comes its
summary, one "Label: value" a line (the flow's `labels`, in the guest's language), for every
value the flow collects that the step's texts do not name, in the order the flow asks them;
a value not given (a skipped optional step) is left out, a choice reads as its title.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from babel import Locale as BabelLocale

from hotelbot.flows import basket
from hotelbot.flows.context import Context
from hotelbot.flows.effects import SendMessage
from hotelbot.flows.i18n import display_locale, expand_plurals, readable_moment
from hotelbot.flows.memo import remember
from hotelbot.flows.model import Flow, Hotel, Step, StepKind, Text, ValidatorKind
from hotelbot.flows.navigation import MARK_PREFIX, answers
from hotelbot.flows.validators import Accepted, Locale, parse_answer, rating_range, title_index
from hotelbot.typedefs import Dept, JSONScalar, Lang
from hotelbot.whatsapp import limits

ELLIPSIS = "…"

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BUILTINS = ("hotel_name", "guest_name", "room", "department")


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One numbered thing a guest can pick at a step; `key` ends its reply id."""

    key: str
    title: Text
    description: Text | None = None


def reply_id(flow_id: str, step_id: str, key: str) -> str:
    """The id a button/row carries: f"{flow}.{step}:{key}" (never shown to guests)."""
    return f"{flow_id}.{step_id}:{key}"


# Memo of step_entries, keyed by the hotel's and the step's ids and holding both, so an id is
# never reused while cached: a step's entries are read to render it, to match an answer and
# to pick one, several times a turn (issue 13). Entries are immutable. Pure: no I/O.
_ENTRIES: dict[tuple[int, int], tuple[Hotel, Step, tuple[Entry, ...]]] = {}
_ENTRIES_MAX = 4096


def step_entries(hotel: Hotel, step: Step) -> tuple[Entry, ...]:
    """What the step offers, in the order shown (option 1 first); () for free-text input."""
    key = (id(hotel), id(step))
    hit = _ENTRIES.get(key)
    if hit is not None and hit[0] is hotel and hit[1] is step:
        return hit[2]
    entries = _step_entries(hotel, step)
    remember(_ENTRIES, key, (hotel, step, entries), _ENTRIES_MAX)
    return entries


def _step_entries(hotel: Hotel, step: Step) -> tuple[Entry, ...]:
    if step.kind is StepKind.MENU:
        return tuple(Entry(key=o.id, title=o.title, description=o.description)
                     for o in step.options)
    if step.kind is StepKind.CONFIRM:
        return (
            Entry(key="confirm", title=_string_text(hotel, "confirm")),
            Entry(key="change", title=_string_text(hotel, "change")),
        )
    validator = step.validator
    if step.kind is not StepKind.INPUT or validator is None:
        return ()
    if validator.kind is ValidatorKind.CHOICE:
        return tuple(Entry(key=c.id, title=c.title) for c in validator.choices)
    if validator.kind is ValidatorKind.RATING:
        ratings = rating_range(validator)
        stars = ratings.stop - 1 <= 5
        return tuple(
            Entry(key=str(n), title=Text.of(f"{n} {'⭐' * n}" if stars and n > 0 else str(n)))
            for n in ratings
        )
    return ()


def entry_titles(entry: Entry, values: Mapping[str, str]) -> list[str]:
    """The entry's title in every language, {variables} filled (what a guest may type)."""
    return [substitute(title, values) for title in entry.title.by_lang.values()]


def entry_index(hotel: Hotel, context: Context, flow: Flow, step: Step) -> Mapping[str, int]:
    """The step's entries' titles in every language ({variables} filled), normalized -> the
    index of the first entry so titled (validators.title_index): what a typed title is
    looked up in. Memoized when no title names a {variable} (see _INDEXES)."""
    key = (id(hotel), id(step))
    hit = _INDEXES.get(key)
    known = hit is not None and hit[0] is hotel and hit[1] is step
    if hit is not None and known and hit[2] is not None:
        return hit[2]
    entries = step_entries(hotel, step)
    if known or any("{" in title for e in entries for title in e.title.by_lang.values()):
        values = variables(hotel, context, flow)  # read per guest
        index = title_index([entry_titles(e, values) for e in entries])
        static = False
    else:
        index = title_index([list(e.title.by_lang.values()) for e in entries])
        static = True
    if not known:
        remember(_INDEXES, key, (hotel, step, index if static else None), _INDEXES_MAX)
    return index


# Memo of entry_index, keyed by the hotel's and the step's ids and holding both, so an id is
# never reused while cached (a reload brings new ones); None for a step whose titles name a
# {variable} (indexed per guest). Each typed answer normalized every title of its menu in
# every language again (issue 13). Pure: no I/O.
_INDEXES: dict[tuple[int, int], tuple[Hotel, Step, Mapping[str, int] | None]] = {}
_INDEXES_MAX = 4096


def _string_text(hotel: Hotel, key: str) -> Text:
    return hotel.strings.get(key) or Text.of(key)


def string(hotel: Hotel, key: str, lang: str) -> str:
    """A system string in `lang` (hotel default, then any language); "" if missing."""
    text = hotel.strings.get(key)
    return text.get(lang, hotel.default_language) if text is not None else ""


def said(hotel: Hotel, key: str, context: Context) -> str:
    """A system string in the guest's language with its {variables} filled (no flow's).

    Memoized when it names no value the guest gave (see _SAID): most system strings name
    none, or only the hotel's ("Welcome to {hotel_name}!").
    """
    lang = context.language
    memo = (id(hotel), key, lang, context.department)
    hit = _SAID.get(memo)
    if hit is not None and hit[0] is hotel and _guest_free(hit[1], context):
        return hit[2]
    template = string(hotel, key, lang)
    values = variables(hotel, context, None)
    text = substitute(expand_plurals(template, values, lang), values)
    names = _names_of([template]) if hit is None or hit[0] is not hotel else hit[1]
    if _guest_free(names, context):
        remember(_SAID, memo, (hotel, names, text), _SAID_MAX)
    return text


# Memo of `said`, keyed by the hotel's id (each entry holding the hotel, so an id is never
# reused while cached: a reload brings new strings), the string's key, the language and the
# department (a string may name it); each with the names its template reads, as a guest
# whose data holds one of them reads it otherwise. A "welcome" or "invalid_option" notice was
# substituted anew for every message (issue 13). Pure: no I/O.
_SAID: dict[tuple[int, str, str, str], tuple[Hotel, tuple[str, ...] | None, str]] = {}
_SAID_MAX = 1024


def format_value(value: JSONScalar) -> str:
    """How a collected value reads inside a text."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def variables(hotel: Hotel, context: Context, flow: Flow | None,
              extra: Mapping[str, str] | None = None) -> Values:
    """Values for {variables}: hotel variables, builtins, accumulated data, step data.

    Later sources win (`extra` last). Names a flow collects (save_as, remember, option `set`
    keys) but that have no value yet (a skipped optional step) read as "".
    """
    return Values(hotel, context, flow, extra or {})


class Values(Mapping[str, str]):
    """The values `variables` gives, each worked out when a text names it: most texts name
    none, and building every value for every text was a fifth of a step (issue 13)."""

    __slots__ = ("_context", "_extra", "_flow", "_hotel")

    def __init__(self, hotel: Hotel, context: Context, flow: Flow | None,
                 extra: Mapping[str, str]) -> None:
        self._hotel, self._context, self._flow, self._extra = hotel, context, flow, extra

    def __getitem__(self, name: str) -> str:
        if name in self._extra:
            return self._extra[name]
        if name in basket.VARIABLES:
            found = basket.variable(self._hotel, self._flow, self._context, name)
            if found is not None:
                return found
        if not name.startswith(MARK_PREFIX):
            hotel, context = self._hotel, self._context
            for source in (context.step_data, context.accumulated_data):
                if name in source:
                    return shown_value(source[name], display_locale(context.language,
                                                                    hotel.locale))
        return self._fixed()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def _fixed(self) -> Mapping[str, str]:
        return _fixed(self._hotel, self._flow, self._context.language, self._context.department)

    def _all(self) -> dict[str, str]:
        context = self._context
        return {**self._fixed(), **{name: self[name] for source in (context.accumulated_data,
                                                                     context.step_data)
                                    for name in source if not name.startswith(MARK_PREFIX)},
                **basket.variables(self._hotel, self._flow, context), **self._extra}


def shown_value(value: JSONScalar, where: BabelLocale) -> str:
    """How a collected value reads to the guest: a date, time or local date-time in their
    language by Babel ("Friday, 25 December 2026", never "2026-12-25"), else format_value."""
    if isinstance(value, str):
        return _shown_text(value, where)
    return format_value(value)


@lru_cache(maxsize=1024)  # the same answers are shown on every message of a flow (issue 13)
def _shown_text(value: str, where: BabelLocale) -> str:
    moment = readable_moment(value, where)
    return moment if moment is not None else value


# Memo of _fixed, keyed by the hotel's and the flow's ids and holding both, so an id can never
# be reused while cached (hotels and flows are immutable; a reload brings new ones). Pure.
_FIXED: dict[tuple[int, int, str, str], tuple[Hotel, Flow | None, Mapping[str, str]]] = {}
_FIXED_MAX = 1024


def _fixed(hotel: Hotel, flow: Flow | None, lang: str, dept: str) -> Mapping[str, str]:
    """The values no guest changes: hotel variables, the names `flow` collects (save_as,
    remember, option `set` keys) as "", the builtins; memoized: every rendered message built
    them, ~15 % of a step's CPU."""
    key = (id(hotel), id(flow), lang, dept)
    hit = _FIXED.get(key)
    if hit is not None and hit[0] is hotel and hit[1] is flow:
        return hit[2]
    default = hotel.default_language
    values = {name: text.get(lang, default) for name, text in hotel.variables.items()}
    if flow is not None:
        for step in flow.steps.values():
            values.update(dict.fromkeys((n for n in (step.save_as, step.remember) if n), ""))
            for option in step.options:
                values.update(dict.fromkeys(option.set, ""))
    department = hotel.departments.get(Dept(dept))
    values.update(dict.fromkeys(_BUILTINS, ""))
    values["hotel_name"] = hotel.name
    values["department"] = department.name.get(lang, default) if department else ""
    remember(_FIXED, key, (hotel, flow, values), _FIXED_MAX)
    return values


def substitute(template: str, values: Mapping[str, str]) -> str:
    """Replace {name} with values[name] in ONE pass; unknown names stay as written."""
    if "{" not in template:  # most titles and texts name no variable: no regex pass
        return template
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def text_message(body: str) -> SendMessage:
    """A plain text message (notices, closing texts); clipped to 4096 characters."""
    return SendMessage(
        body={"type": "text", "text": {"body": clip(body, limits.TEXT_BODY_MAX) or ELLIPSIS,
                                       "preview_url": False}}
    )


def join(*parts: str) -> str:
    """Paragraphs joined by a blank line, empty ones left out."""
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def render_step(
    hotel: Hotel, context: Context, flow: Flow, step: Step, notice: str = ""
) -> SendMessage:
    """The message that asks `step`, with `notice` (an error, a welcome) on top of the body.

    A step's message that names only values no guest has given (hotel variables, a builtin
    the guest has no value for) and is no confirm step (its summary lists the guest's
    answers) reads the same for every guest: it is memoized, and they all get the same
    SendMessage (see _MESSAGES).

    Args:
        hotel: the hotel's configuration (strings, variables, languages).
        context: the guest's context (language, collected data) after the step was entered.
        flow: the flow the step belongs to.
        step: the step to ask (menu, input or confirm).
        notice: already-substituted text to show above the step's own text.
    """
    lang = context.language
    if not _guest_free(_named(hotel, step, lang), context):
        return _render_step(hotel, context, flow, step, notice)
    key = (id(hotel), id(flow), id(step), lang, context.department, notice)
    hit = _MESSAGES.get(key)
    if hit is not None and hit[0] is hotel and hit[1] is flow and hit[2] is step:
        return hit[3]
    message = _render_step(hotel, context, flow, step, notice)
    if len(_MESSAGES) >= _MESSAGES_MAX:
        _MESSAGES.clear()
        _SHARED.clear()
    _MESSAGES[key] = (hotel, flow, step, message)
    _SHARED[id(message.body)] = message.body
    return message


def shared(body: Mapping[str, object]) -> bool:
    """Whether `body` is a memoized message's, handed to every guest who reaches its step (the
    loop guard memoizes its fingerprint: hotelbot.flows.guards)."""
    return _SHARED.get(id(body)) is body


# Memo of render_step for the messages that read the same for every guest (_named), keyed by
# the ids of the hotel, the flow and the step (the step as viewed: availability.menu_view
# and basket.view memoize theirs) and holding all three, so an id is never reused while
# cached (a reload brings new ones), plus the language, the department (a text may name it)
# and the notice. A menu was rendered anew for every guest's message: a third of a step
# (issue 13). The message is shared by every guest who gets it: SendMessage.body is a
# read-only Mapping, which no reader may change (the sender copies it into its envelope).
# `_SHARED` holds the bodies handed out (by id, the body itself: never a reused id), cleared
# with the memo. Pure: no I/O.
_MESSAGES: dict[tuple[int, int, int, str, str, str],
                tuple[Hotel, Flow, Step, SendMessage]] = {}
_SHARED: dict[int, Mapping[str, object]] = {}
_MESSAGES_MAX = 1024

# Memo of _named (per hotel, step and language; holding the hotel and the step). Pure.
_NAMED: dict[tuple[int, int, str], tuple[Hotel, Step, tuple[str, ...] | None]] = {}
_NAMED_MAX = 4096


def _named(hotel: Hotel, step: Step, lang: str) -> tuple[str, ...] | None:
    """The {variables} `step`'s message names in `lang` (its own text, header, footer, its
    entries' titles and descriptions): its message reads the same for every guest whose data
    holds none of them. None: it never does (a confirm step's summary, a plural, a basket's
    variable: each reads the guest's answers)."""
    key = (id(hotel), id(step), lang)
    hit = _NAMED.get(key)
    if hit is not None and hit[0] is hotel and hit[1] is step:
        return hit[2]
    default = hotel.default_language
    texts = [step.text, step.header, step.footer]
    for entry in step_entries(hotel, step):
        texts += (entry.title, entry.description)
    names = _names_of([text.get(lang, default) for text in texts if text is not None])
    if step.kind is StepKind.CONFIRM:
        names = None
    remember(_NAMED, key, (hotel, step, names), _NAMED_MAX)
    return names


def _names_of(texts: list[str]) -> tuple[str, ...] | None:
    """The {variables} `texts` name, each once; None when one of them reads the guest's
    answers however their data looks (a plural block, a basket's variable)."""
    names = tuple(dict.fromkeys(name for text in texts for name in _VARIABLE.findall(text)))
    if any("plural," in text for text in texts) or basket.VARIABLES.intersection(names):
        return None
    return names


def _guest_free(names: tuple[str, ...] | None, context: Context) -> bool:
    """Whether texts naming `names` read the same for `context` as for any guest who gave
    none of them (each then is a hotel variable, a builtin's "" or stays as written)."""
    if names is None:
        return False
    data, known = context.step_data, context.accumulated_data
    for name in names:  # noqa: SIM110 - a loop, not all(...): no generator a message
        if name in data or name in known:
            return False
    return True


def _render_step(hotel: Hotel, context: Context, flow: Flow, step: Step, notice: str
                 ) -> SendMessage:
    lang, default = context.language, hotel.default_language
    values = variables(hotel, context, flow)
    own = expand_plurals(step.text.get(lang, default), values, lang)
    body = join(notice, substitute(own, values))
    if step.kind is StepKind.CONFIRM:
        body = join(body, summary(hotel, context, flow, step))
    if step.optional:
        body = join(body, string(hotel, "skip_hint", lang))
    header = _optional_text(step.header, lang, default, values)
    footer = _optional_text(step.footer, lang, default, values)
    entries = step_entries(hotel, step)
    if not entries:
        return text_message(join(header, body, footer))
    navigation = string(hotel, "nav_footer", lang)
    shape = _Shape(flow_id=flow.id, step_id=step.id, lang=lang, default=default,
                   body=join(body, footer), header=header, footer=navigation, values=values)
    if len(entries) <= limits.BUTTONS_MAX and (message := shape.buttons(entries)) is not None:
        return message
    if len(entries) <= limits.ROWS_MAX:
        label = step.button.get(lang, default) if step.button else ""
        button = clip(label or string(hotel, "menu_button", lang), limits.LIST_BUTTON_MAX)
        if (message := shape.list(entries, button)) is not None:
            return message
    lines = "\n".join(
        f"{i}. {substitute(e.title.get(lang, default), values)}" for i, e in enumerate(entries, 1)
    )
    hint = string(hotel, "numbered_hint", lang)
    return text_message(join(header, body, lines, hint, footer, navigation))


# Candidate examples of a valid answer, per kind, tried in order (the first the step's own
# validator accepts is shown): see `example`. A localized strings["example_<kind>"] comes first.
_EXAMPLES: Mapping[ValidatorKind, tuple[str, ...]] = {
    ValidatorKind.TIME: ("19:30", "12:00", "10:00", "14:00", "09:00", "16:00", "21:00"),
    ValidatorKind.DATE: ("tomorrow", "today"),
    ValidatorKind.ROOM: ("205", "101", "12", "1204", "A12", "12A"),
    ValidatorKind.PHONE: ("+44 20 7946 0958",),
    ValidatorKind.EMAIL: ("name@example.com",),
}


def example(hotel: Hotel, context: Context, flow: Flow, step: Step, locale: Locale) -> str:
    """A valid answer to `step`, to show a guest who keeps missing it; "" when there is none
    worth showing (free text: the refusal already names the bound it missed).

    Menus, choices and confirmations: the first entry's title (a rating: its highest value);
    numbers: the lowest allowed; other kinds: the first candidate (strings["example_<kind>"]
    in the guest's language, then _EXAMPLES) that the step's own validator accepts now.
    """
    lang, default = context.language, hotel.default_language
    validator = step.validator
    entries = step_entries(hotel, step)
    if validator is not None and validator.kind is ValidatorKind.RATING:
        return str(rating_range(validator).stop - 1)
    if entries:
        return substitute(entries[0].title.get(lang, default), variables(hotel, context, flow))
    if validator is None or validator.kind is ValidatorKind.TEXT:
        return ""
    if validator.kind in (ValidatorKind.INTEGER, ValidatorKind.NUMBER):
        numbers: tuple[float, ...] = tuple(
            n for n in (validator.min, 1.0, validator.max) if n is not None)
        candidates = tuple(format_value(n) for n in numbers)
    else:
        own = string(hotel, f"example_{validator.kind.value}", lang)
        candidates = ((own,) if own else ()) + _EXAMPLES.get(validator.kind, ())
    return next((c for c in candidates
                 if isinstance(parse_answer(validator, c, locale), Accepted)), "")


def summary_names(flow: Flow, step: Step, lang: str, default: str) -> tuple[str, ...]:
    """The values a confirm step lists under its text: those its enabled steps collect (an
    input's save_as, a menu's `set` keys) that the step's text, header and footer in `lang`
    do not name, in the order of the flow's steps."""
    key = (id(flow), id(step), lang, default)
    hit = _SUMMARIES.get(key)
    if hit is not None and hit[0] is flow and hit[1] is step:
        return hit[2]
    names = _summary_names(flow, step, lang, default)
    remember(_SUMMARIES, key, (flow, step, names), _SUMMARIES_MAX)
    return names


# Memo of summary_names, keyed by the flow's and the step's ids and holding both, so an id is
# never reused while cached (a reload brings new ones): every confirmation shown worked its
# list out again from the whole flow (issue 13). Pure: no I/O.
_SUMMARIES: dict[tuple[int, int, str, str], tuple[Flow, Step, tuple[str, ...]]] = {}
_SUMMARIES_MAX = 1024


def _summary_names(flow: Flow, step: Step, lang: str, default: str) -> tuple[str, ...]:
    texts = (step.text, step.header, step.footer)
    named = {name for body in texts if body is not None
             for name in _VARIABLE.findall(body.get(lang, default))}
    named |= basket.hidden(flow)  # a basket's lines are listed by {order_lines}
    found: dict[str, None] = {}
    for asked in flow.steps.values():
        if asked.enabled:
            found.update(dict.fromkeys(name for name in answers(asked) if name not in named))
    return tuple(found)


def summary(hotel: Hotel, context: Context, flow: Flow, step: Step) -> str:
    """A confirm step's summary: "Label: value" a line (see the module's docstring)."""
    lang, default = context.language, hotel.default_language
    data = {**context.accumulated_data, **context.step_data}
    lines = []
    where = display_locale(lang, hotel.locale)
    for name in summary_names(flow, step, lang, default):
        label, value = flow.labels.get(name), data.get(name)
        if label is not None and value is not None and value != "":
            shown = _readable(flow, name, value, lang, default, where)
            lines.append(f"{label.get(lang, default)}: {shown}")
    return "\n".join(lines)


def _readable(flow: Flow, name: str, value: JSONScalar, lang: str, default: str,
              where: BabelLocale) -> str:
    """A collected value as the guest reads it: a choice's title rather than its id."""
    for asked in flow.steps.values():
        validator = asked.validator
        if (asked.save_as or asked.id) == name and validator is not None:
            for choice in validator.choices:
                if choice.id == value:
                    return choice.title.get(lang, default)
    return shown_value(value, where)


def _optional_text(text: Text | None, lang: str, default: str, values: Mapping[str, str]) -> str:
    return substitute(text.get(lang, default), values) if text is not None else ""


class _Shape(NamedTuple):
    """What every interactive shape of one message shares (a NamedTuple: built for every
    message, at half a frozen dataclass's cost; issue 13)."""

    flow_id: str
    step_id: str
    lang: str
    default: str
    body: str
    header: str
    footer: str
    values: Mapping[str, str]

    def _interactive(self, kind: str, action: Mapping[str, object]) -> SendMessage:
        interactive: dict[str, object] = {"type": kind}
        if header := clip(self.header, limits.HEADER_TEXT_MAX):
            interactive["header"] = {"type": "text", "text": header}
        interactive["body"] = {"text": clip(self.body, limits.INTERACTIVE_BODY_MAX) or ELLIPSIS}
        if footer := clip(self.footer, limits.FOOTER_TEXT_MAX):
            interactive["footer"] = {"text": footer}
        interactive["action"] = action
        return SendMessage(body={"type": "interactive", "interactive": interactive})

    def _labels(self, entries: tuple[Entry, ...], limit: int) -> tuple[tuple[str, str, str], ...]:
        """Each entry's reply id, title (clipped to `limit`; its number if empty) and row
        description ("" for none), {variables} filled; memoized when no entry names one."""
        key = (id(entries), self.flow_id, self.step_id, self.lang, self.default, limit)
        hit = _LABELS.get(key)
        if hit is not None and hit[0] is entries:
            return hit[1]
        texts = [(e.title.get(self.lang, self.default),
                  e.description.get(self.lang, self.default) if e.description is not None else "")
                 for e in entries]
        labels = tuple(
            (reply_id(self.flow_id, self.step_id, entry.key),
             clip(substitute(title, self.values), limit) or str(index),
             clip(substitute(description, self.values), limits.ROW_DESCRIPTION_MAX))
            for index, (entry, (title, description)) in enumerate(zip(entries, texts,
                                                                       strict=True), 1))
        if not any("{" in title or "{" in description for title, description in texts):
            remember(_LABELS, key, (entries, labels), _LABELS_MAX)  # the same for every guest
        return labels

    def buttons(self, entries: tuple[Entry, ...]) -> SendMessage | None:
        labels = self._labels(entries, limits.BUTTON_TITLE_MAX)
        titles = [title for _, title, _ in labels]
        if len(set(titles)) != len(titles) or any(len(i) > limits.BUTTON_ID_MAX
                                                  for i, _, _ in labels):
            return None
        buttons = [{"type": "reply", "reply": {"id": i, "title": t}} for i, t, _ in labels]
        return self._interactive("button", {"buttons": buttons})

    def list(self, entries: tuple[Entry, ...], button: str) -> SendMessage | None:
        rows: list[dict[str, str]] = []
        for row_id, title, description in self._labels(entries, limits.ROW_TITLE_MAX):
            if len(row_id) > limits.ROW_ID_MAX:
                return None
            row = {"id": row_id, "title": title}
            if description:
                row["description"] = description
            rows.append(row)
        action = {"button": button or ELLIPSIS, "sections": [{"rows": rows}]}
        return self._interactive("list", action)


# Memo of _Shape._labels, keyed by the entries' id (and what else names them) and holding the
# entries, so an id is never reused while cached: a menu's titles were substituted and clipped
# anew on every message (issue 13). Only entries that name no {variable} are kept. Pure.
_LABELS: dict[tuple[int, str, str, str, str, int],
              tuple[tuple[Entry, ...], tuple[tuple[str, str, str], ...]]] = {}
_LABELS_MAX = 4096


# --- message templates (Cloud API fact sheet 4.5: outside the 24-hour window) ---------------

# Meta refuses a text parameter with a newline, a tab or more than 4 consecutive spaces.
_PARAM_SPACES = re.compile(r" {5,}")


def template_object(
    hotel: Hotel, template_id: str, values: Mapping[str, JSONScalar], language: str
) -> dict[str, object]:
    """The `template` object of a Graph API template message, ready for an outbox row.

    Args:
        values: the guest's data and anything the producer adds (e.g. checkout_time); a
            hotel variable fills a name the values lack.
        language: the guest's language; the hotel's default when the template has no
            approved translation for it.
    Raises:
        KeyError: the hotel has no such template.
        ValueError: a body parameter has no value (Meta refuses an empty parameter).
    """
    spec = hotel.message_templates[template_id]
    code = spec.languages.get(Lang(language)) or spec.languages[hotel.default_language]
    where = display_locale(language, hotel.locale)
    params = []
    for name in spec.body:
        raw = values.get(name)
        if raw is None and name in hotel.variables:
            raw = hotel.variables[name].get(language, hotel.default_language)
        text = "" if raw is None else shown_value(raw, where)  # a date reads as words
        text = _PARAM_SPACES.sub("    ", " ".join(text.split("\n")).replace("\t", " ")).strip()
        if not text:
            raise ValueError(f"message template {template_id!r}: no value for {name!r}")
        params.append({"type": "text", "text": text})
    components: list[dict[str, object]] = []
    if params:
        components.append({"type": "body", "parameters": params})
    for index, payload in enumerate(spec.buttons):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
    return {"name": spec.name, "language": {"code": code, "policy": "deterministic"},
            "components": components}
