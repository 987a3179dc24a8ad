"""Configuration checks: what a flow, a hotel and the shared strings must satisfy. Pure.

Owns: the rules of one flow, checked the same way for a template and for a hotel's overridden
copy (dangling step and flow targets, steps with no way out, disabled steps that cannot be
skipped or skip to each other in a loop, unreachable steps (templates only), conditions over
data the flow never collects, WhatsApp size limits of every text, missing translations of
texts and of per-language option `set` values, unknown `{variables}` (hotels only), duplicate
options and over-long reply ids); the rules of one hotel beyond its flows (department links,
language switches, strings, variables, words); and the limits of the shared strings. Returns
issues as (logical key, reason); hotelbot/config/loader.py maps each key to its file, YAML path
and line. Must never raise for a broken configuration, do I/O, import asyncio, read the clock
or log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from hotelbot.config.hotels import HotelDoc, normalized_words
from hotelbot.flows import (
    FLOW_PREFIX,
    REQUESTS_TARGET,
    Condition,
    Flow,
    Next,
    Step,
    StepKind,
    Text,
    answers,
    basket_step,
    item_options,
    normalize,
    summary_names,
)
from hotelbot.typedefs import FlowId, StepId
from hotelbot.whatsapp import limits

__all__ = [
    "BUILTIN_VARIABLES", "GUEST_KEYS", "REPLY_ID_MAX", "SHORT_STRINGS", "TEXT_MAX", "Issue",
    "Scope", "check_flow", "check_hotel", "check_strings", "string_limit", "text_faults",
]

# {minutes}: the cooloff's; {min}, {max}: the bound a refused answer missed (engine rule 11);
# {example}: a valid answer shown to a guest who is stuck (rule 12); {label}, {value}: a
# remembered value being confirmed (rule 13b); {id}: a guest's request number (rule 5b);
# {reason}: why staff cancelled a request (flows/notices.py); {item}: the item a basket asks
# the quantity of (strings["basket_quantity"]); {what}, {start}, {end}, {when}, {time}: what is
# closed, its window, when it opens (strings["closed"]).
BUILTIN_VARIABLES = frozenset({"hotel_name", "guest_name", "room", "department", "minutes",
                               "min", "max", "example", "label", "value", "id", "reason",
                               "item", "what", "start", "end", "when", "time"})
# What the texts of a flow with a basket step may name (hotelbot.flows.basket.variables).
BASKET_VARIABLES = frozenset({"order_lines", "order_total", "order_payment", "order_count"})
GUEST_KEYS = frozenset({"guest_name", "room", "language"})
# WhatsApp's limits come from the one table, hotelbot/whatsapp/limits.py.
# Any text (a step's, an error, a notice, a variable's value) may end up in an interactive
# body, the smallest body there is.
TEXT_MAX = limits.INTERACTIVE_BODY_MAX
# A reply id ("flow.step:option", flows/render.py) is sent as a reply button id when its step
# offers 1-3 entries and as a list row id for 4-10, and a hotel's overrides can move a step
# from one shape to the other: it must fit the smaller of the two.
REPLY_ID_MAX = min(limits.BUTTON_ID_MAX, limits.ROW_ID_MAX)
SHORT_STRINGS = frozenset({"confirm", "change", "menu_button", "basket_add", "basket_add_first",
                           "basket_review", "basket_change", "basket_done"})  # button titles
FOOTER_STRINGS = frozenset({"nav_footer"})  # shown as an interactive message's footer
_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLURAL_OF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*),\s*plural,")  # an ICU plural's number

Issue = tuple[str, str]  # (logical key, reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What a flow may refer to: known flows and, for a hotel, its languages and variables."""

    flows: frozenset[str]  # every flow template id in the configuration
    remembered: frozenset[str]  # guest-level keys any flow of the scope remembers
    languages: tuple[str, ...] = ()  # empty: checking a template on its own
    variables: frozenset[str] = frozenset()


def check_flow(flow: Flow, declared: frozenset[str], scope: Scope) -> list[Issue]:
    """Targets, exits, disabled steps, conditions, texts and options of one flow."""
    issues: list[Issue] = []
    if flow.start not in declared:
        issues.append((f"{flow.id}.start", f"unknown step '{flow.start}'"))
    known = _collected(flow) | scope.remembered | GUEST_KEYS
    if basket_step(flow) is not None:
        known |= BASKET_VARIABLES
    variables = scope.variables | known if scope.languages else None
    issues += [(f"{flow.id}.title", r)
               for r in text_faults(flow.title, limits.HEADER_TEXT_MAX, scope.languages,
                                    variables)]
    reachable = _reachable(flow)
    for step in flow.steps.values():
        if scope.languages and step.id not in reachable:
            continue  # a hotel's overrides cut this step off: it is never shown
        key = f"{flow.id}.steps.{step.id}"
        issues += _check_exits(step, key)
        for where, goal in _step_targets(step, key):
            issues += _check_target(where, goal, flow.id, declared, scope)
        for where, cond in _step_conditions(step, key):
            issues += [(where, f"condition over '{var}', which this flow never collects "
                        "(save_as, remember or an option's set)")
                       for var in _condition_vars(cond) if var not in known]
        for where, body, limit in _step_texts(step, key):
            issues += [(where, r) for r in text_faults(body, limit, scope.languages, variables)]
        issues += _check_options(flow.id, step, key)
        issues += _set_faults(step, key, scope.languages)
    issues += _label_faults(flow, reachable, scope)
    # A step a hotel's overrides cut off (a removed category) is intended: only templates
    # must have every step reachable.
    return issues + _disabled_loops(flow) + ([] if scope.languages else
                                             _unreachable(flow, reachable))


def _label_faults(flow: Flow, reachable: frozenset[str] | set[str], scope: Scope) -> list[Issue]:
    """A confirmation shows everything the request carries (render.summary): each value a
    confirm step lists under its text needs a label, in every language; a label names a
    value the flow collects. Steps a hotel's overrides cut off collect nothing."""
    issues = [(f"{flow.id}.labels.{name}", f"label for '{name}', a value this flow never "
               "collects (save_as or an option's set)")
              for name in flow.labels if name not in _collected(flow)]
    asked = {name for step in flow.steps.values()
             if step.enabled and (step.id in reachable or not scope.languages)
             for name in answers(step)}
    needed: dict[str, str] = {}
    for step in flow.steps.values():
        if step.kind is not StepKind.CONFIRM or (scope.languages and step.id not in reachable):
            continue
        for code in scope.languages or tuple(step.text.by_lang):
            needed.update({name: step.id for name in summary_names(flow, step, code, code)
                           if name in asked})
    for name, step_id in needed.items():
        label = flow.labels.get(name)
        if label is None:
            issues.append((f"{flow.id}.labels.{name}", f"confirm step '{step_id}' does not show "
                           f"'{name}': name it in its text or give it a label"))
        else:
            issues += [(f"{flow.id}.labels.{name}", r)
                       for r in text_faults(label, TEXT_MAX, scope.languages, frozenset())]
    return issues


def _collected(flow: Flow) -> frozenset[str]:
    names: set[str] = set()
    for step in flow.steps.values():
        names.update(n for n in (step.save_as, step.remember) if n)
        for option in step.options:
            names.update(option.set)
    return frozenset(names)


def _check_exits(step: Step, key: str) -> list[Issue]:
    issues: list[Issue] = []
    if step.kind in (StepKind.INPUT, StepKind.CONFIRM, StepKind.BASKET) and step.next is None:
        issues.append((key, f"a {step.kind} step needs 'next': the guest would be stuck here"))
    if step.kind is StepKind.MENU and not step.options:
        issues.append((f"{key}.options", "a menu needs at least one option"))
    if not step.enabled and step.kind in (StepKind.MENU, StepKind.END, StepKind.BASKET):
        issues.append((f"{key}.enabled", f"a {step.kind} step cannot be disabled: it has no "
                       "next to skip to"))
    return issues


def _next_targets(nxt: Next | None, key: str) -> list[tuple[str, str]]:
    if nxt is None:
        return []
    if not nxt.branches:
        return [(key, nxt.default)] if nxt.default else []
    found = [(f"{key}[{i}].to", b.to) for i, b in enumerate(nxt.branches)]
    if nxt.default:
        found.append((f"{key}[{len(nxt.branches)}].default", nxt.default))
    return found


def _step_targets(step: Step, key: str) -> list[tuple[str, str]]:
    found = _next_targets(step.next, f"{key}.next")
    for option in step.options:
        found += _next_targets(option.next, f"{key}.options.edit.{option.id}.next")
    if step.change:
        found.append((f"{key}.change", step.change))
    if step.add:
        found.append((f"{key}.add", step.add))
    return found


def _check_target(
    where: str, goal: str, flow_id: str, declared: frozenset[str], scope: Scope
) -> list[Issue]:
    if goal == REQUESTS_TARGET:
        return [(where, "change must name a step of this flow")] if where.endswith(
            ".change") else []
    if goal.startswith(FLOW_PREFIX):
        if where.endswith((".change", ".add")):
            return [(where, f"{where.rpartition('.')[2]} must name a step of this flow")]
        if goal[len(FLOW_PREFIX):] not in scope.flows:
            return [(where, f"unknown flow '{goal[len(FLOW_PREFIX):]}'")]
        return []
    if goal not in declared:
        return [(where, f"unknown step '{goal}' in flow '{flow_id}'")]
    return []


def _step_conditions(step: Step, key: str) -> Iterator[tuple[str, Condition]]:
    nexts = [(f"{key}.next", step.next)] + [
        (f"{key}.options.edit.{o.id}.next", o.next) for o in step.options]
    for where, nxt in nexts:
        for i, branch in enumerate(nxt.branches if nxt else ()):
            yield f"{where}[{i}].when", branch.when


def _condition_vars(cond: Condition) -> Iterator[str]:
    if cond.var:
        yield cond.var
    for part in (*cond.all, *cond.any):
        yield from _condition_vars(part)


def _step_texts(step: Step, key: str) -> Iterator[tuple[str, Text, int]]:
    yield f"{key}.text", step.text, TEXT_MAX
    for name, limit in (("header", limits.HEADER_TEXT_MAX), ("footer", limits.FOOTER_TEXT_MAX),
                        ("button", limits.LIST_BUTTON_MAX)):
        body = getattr(step, name)
        if body is not None:
            yield f"{key}.{name}", body, limit
    validator = step.validator
    if validator is not None and validator.error is not None:
        yield f"{key}.validate.error", validator.error, TEXT_MAX
    title_max = _title_limit(len(step.options))
    for option in step.options:
        okey = f"{key}.options.edit.{option.id}"
        yield f"{okey}.title", option.title, title_max
        if option.description is not None:
            yield f"{okey}.description", option.description, limits.ROW_DESCRIPTION_MAX
    choices = validator.choices if validator is not None else ()
    choice_max = _title_limit(len(choices))
    for choice in choices:
        yield f"{key}.validate.choices.{choice.id}.title", choice.title, choice_max


def _title_limit(entries: int) -> int:
    """Titles of 1-3 entries are button titles; of more, list row titles (render.py)."""
    return limits.BUTTON_TITLE_MAX if entries <= limits.BUTTONS_MAX else limits.ROW_TITLE_MAX


def _set_faults(step: Step, key: str, languages: tuple[str, ...]) -> list[Issue]:
    """Per-language `set` values: too long, or missing an enabled language. Their {braces}
    are saved as written (values are substituted in one pass), so they name no variable."""
    return [(f"{key}.options.edit.{option.id}.set.{name}", reason)
            for option in step.options for name, value in option.set.items()
            if isinstance(value, Text)
            for reason in text_faults(value, TEXT_MAX, languages, None)]


def text_faults(
    body: Text, limit: int, languages: tuple[str, ...], variables: frozenset[str] | None
) -> list[str]:
    """Too long in a language, missing an enabled language, or an unknown {variable}."""
    faults = [f"{len(s)} characters in '{code}', WhatsApp allows at most {limit}"
              for code, s in body.by_lang.items() if len(s) > limit]
    faults += [f"missing translation for '{code}'" for code in languages
               if code not in body.by_lang]
    if variables is not None:
        names = {m for s in body.by_lang.values()
                 for m in (*_VARIABLE.findall(s), *_PLURAL_OF.findall(s))}
        faults += [f"unknown variable {{{name}}} (not a hotel variable, a builtin or a value "
                   "this flow collects)" for name in sorted(names - variables)]
    return faults


def _check_options(flow_id: str, step: Step, key: str) -> list[Issue]:
    """Duplicate ids or titles (per language) and reply ids too long for WhatsApp."""
    entries: list[tuple[str, Text]] = [(o.id, o.title) for o in step.options]
    okey = f"{key}.options.edit"
    if step.validator is not None and step.validator.choices:
        entries = [(c.id, c.title) for c in step.validator.choices]
        okey = f"{key}.validate.choices"
    issues: list[Issue] = []
    seen_ids: set[str] = set()
    seen_titles: set[tuple[str, str]] = set()
    for entry_id, title in entries:
        if entry_id in seen_ids:
            issues.append((f"{okey}.{entry_id}", f"duplicate id '{entry_id}' in this step"))
        seen_ids.add(entry_id)
        for code, body in title.by_lang.items():
            if (code, normalize(body)) in seen_titles:
                issues.append((f"{okey}.{entry_id}.title", f"duplicate title {body!r} in "
                               f"'{code}' in this step"))
            seen_titles.add((code, normalize(body)))
        if len(f"{flow_id}.{step.id}:{entry_id}") > REPLY_ID_MAX:
            issues.append((f"{okey}.{entry_id}", f"reply id longer than {REPLY_ID_MAX} chars "
                           "(it is sent as a list row id, which WhatsApp limits to "
                           f"{limits.ROW_ID_MAX}, or as a button id, limited to "
                           f"{limits.BUTTON_ID_MAX}: it must fit both)"))
    return issues


def _reachable(flow: Flow) -> set[str]:
    """Step ids reachable from the start through every option, next, branch and change."""
    seen: set[str] = set()
    todo = [str(flow.start)]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in flow.steps:
            continue
        seen.add(step_id)
        todo += [g for _, g in _step_targets(flow.steps[StepId(step_id)], "") if g not in seen]
    return seen


def _unreachable(flow: Flow, reachable: set[str]) -> list[Issue]:
    return [(f"{flow.id}.steps.{sid}", "unreachable: no option, next or change leads here "
             "from the start step") for sid in flow.steps if sid not in reachable]


def _disabled_loops(flow: Flow) -> list[Issue]:
    """Disabled steps whose skips lead back to themselves (the guest would never land)."""
    disabled = {sid for sid, s in flow.steps.items() if not s.enabled}
    issues: list[Issue] = []
    for start in sorted(disabled):
        todo = [g for _, g in _next_targets(flow.steps[start].next, "") if g in disabled]
        seen: set[str] = set()
        while todo:
            sid = todo.pop()
            if sid == start:
                issues.append((f"{flow.id}.steps.{start}.enabled", "disabled steps skip to "
                               "each other in a loop"))
                break
            if sid not in seen:
                seen.add(sid)
                following = _next_targets(flow.steps[StepId(sid)].next, "")
                todo += [g for _, g in following if g in disabled]
    return issues


# --- one hotel, beyond its flows -----------------------------------------------------------


def check_hotel(doc: HotelDoc, flows: Mapping[FlowId, Flow], scope: Scope) -> list[Issue]:
    """Department links, language switches, strings, variables and words of one doc.

    Issue keys start with `$` for what the hotel file itself defines (`$hotel.`, `$strings.`,
    `$words.`), else they name a part of one of its flows.
    """
    issues: list[Issue] = []
    for dept in doc.departments.values():
        offered = set(dept.flows)
        for fid in dept.flows:
            for key, goal in _flow_links(flows.get(fid)):
                if goal not in offered:
                    issues.append((f"$hotel.departments.{dept.id}.flows",
                                   f"flow '{fid}' leads to flow '{goal}' ({key}), which "
                                   f"department '{dept.id}' does not offer: add it to flows"))
        issues += [(f"$hotel.departments.{dept.id}.name", r)
                   for r in text_faults(dept.name, TEXT_MAX, scope.languages, frozenset())]
    for flow in flows.values():
        for step in flow.steps.values():
            for option in step.options:
                code = option.set.get("language")
                if "language" in option.set and code not in doc.languages:
                    issues.append((f"{flow.id}.steps.{step.id}.options.edit.{option.id}.set",
                                   f"language {code!r} is not one of this hotel's languages "
                                   f"{list(doc.languages)}"))
    for key, body in doc.strings.items():
        issues += [(f"$strings.{key}", r)
                   for r in text_faults(body, string_limit(key), scope.languages,
                                         scope.variables)]
    for name, body in doc.variables.items():
        issues += [(f"$hotel.variables.{name}", r)
                   for r in text_faults(body, TEXT_MAX, scope.languages, frozenset())]
        if name in BUILTIN_VARIABLES:
            issues.append((f"$hotel.variables.{name}", f"'{name}' is a builtin variable"))
    issues += _price_faults(doc, flows)
    for kind, per_lang in normalized_words(doc.words, doc.languages).items():
        for code in doc.languages:
            if not per_lang.get(code):
                issues.append((f"$words.{kind}.{code}", f"no '{kind}' words for language "
                               f"'{code}'"))
    return issues


def _price_faults(doc: HotelDoc, flows: Mapping[FlowId, Flow]) -> list[Issue]:
    """Every item a basket flow of the hotel offers has a price; every price names one."""
    issues: list[Issue] = []
    offered: set[str] = set()
    for flow in flows.values():
        if basket_step(flow) is None:
            continue
        reachable = _reachable(flow)
        asked = {o.id for sid in reachable for o in flow.steps[StepId(sid)].options}
        for item in item_options(flow):
            if item not in asked:
                continue  # its menu was cut off by the hotel's overrides
            offered.add(item)
            if item not in doc.orders.prices:
                issues.append(("$hotel.orders.prices", f"no price for item '{item}' (an option "
                               f"of flow '{flow.id}' that sets 'item'): a basket needs one"))
    issues += [(f"$hotel.orders.prices.{item}", f"price for '{item}', which no basket flow "
                "of this hotel offers") for item in doc.orders.prices if item not in offered]
    return issues


def _flow_links(flow: Flow | None) -> Iterator[tuple[str, str]]:
    """(where, flow id) of every `flow:` target of a flow."""
    if flow is None:
        return
    for step in flow.steps.values():
        nexts = [(f"steps.{step.id}", step.next)] + [
            (f"steps.{step.id}.options.{o.id}", o.next) for o in step.options]
        for where, nxt in nexts:
            for goal in nxt.targets() if nxt else ():
                if goal.startswith(FLOW_PREFIX):
                    yield where, goal[len(FLOW_PREFIX):]


def string_limit(key: str) -> int:
    """The longest a system string may be: the ones shown as button titles or as a footer
    are short (WhatsApp's limits)."""
    if key in FOOTER_STRINGS:
        return limits.FOOTER_TEXT_MAX
    return limits.BUTTON_TITLE_MAX if key in SHORT_STRINGS else TEXT_MAX


def check_strings(strings: Mapping[str, Text]) -> list[Issue]:
    """The system strings of strings.yaml on their own: lengths and variables (builtins only)."""
    return [(f"strings.{key}", reason) for key, body in strings.items()
            for reason in text_faults(body, string_limit(key), (), BUILTIN_VARIABLES)]
