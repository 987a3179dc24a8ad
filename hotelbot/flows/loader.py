"""Load and check the whole configuration: strings, flow templates and hotel files -> Catalog.

Owns: `load_catalog` and `check_config`, and the rules that need more than one file (or a
whole flow): dangling step and flow targets, unreachable steps, steps with no way out,
disabled steps that cannot be skipped, conditions over data never collected, WhatsApp size
limits, duplicate options, missing translations, unknown `{variables}`, duplicate hotels and
numbers. Every problem is collected (never only the first) with its file, YAML path and line.
Must never write files, import asyncio, read the clock or log; it only reads the directory.

Where a problem is reported: a fault in a template is reported once, in the template. A fault
that only a hotel's configuration causes (a missing Portuguese text, an option its overrides
added) is reported in the hotel's file, at the override path where the fix belongs, e.g.
`overrides.feedback.steps.rating.text` for a missing translation of a template text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotelbot.errors import FlowDefinitionError, Problem
from hotelbot.flows.hotel import (
    HotelDoc,
    Origins,
    StringsDoc,
    normalized_words,
    parse_hotel,
    parse_strings,
)
from hotelbot.flows.model import (
    FLOW_PREFIX,
    Catalog,
    Condition,
    Flow,
    FlowSet,
    Next,
    Step,
    StepKind,
    Text,
)
from hotelbot.flows.overrides import apply_overrides
from hotelbot.flows.source import ID_PATTERN, Source, parent_path, read_source
from hotelbot.flows.text import normalize
from hotelbot.flows.validate import FlowDoc, parse_flow
from hotelbot.typedefs import Dept, FlowId, HotelId, Lang, WaNumberId

BUILTIN_VARIABLES = frozenset({"hotel_name", "guest_name", "room", "department", "minutes"})
GUEST_KEYS = frozenset({"guest_name", "room", "language"})
BODY_MAX, HEADER_MAX, DESCRIPTION_MAX, ROW_TITLE_MAX, BUTTON_TITLE_MAX = 1024, 60, 72, 24, 20
REPLY_ID_MAX = 200
SHORT_STRINGS = frozenset({"confirm", "change", "menu_button"})  # button titles: <= 20
_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Issue = tuple[str, str]  # (logical key, reason)


def load_catalog(config_dir: Path) -> Catalog:
    """Load every hotel of `config_dir` with its flows, overrides applied, all validated.

    Args:
        config_dir: holds strings.yaml, flows/<flow_id>.yaml and hotels/<hotel_id>.yaml.
    Returns:
        The Catalog: each hotel's FlowSet and the department of every phone_number_id.
    Raises:
        FlowDefinitionError: listing every problem found, with file, YAML path and line.
    """
    catalog, problems = _load(Path(config_dir))
    if problems:
        raise FlowDefinitionError(problems)
    return catalog


def check_config(config_dir: Path) -> list[Problem]:
    """Every problem of the configuration in `config_dir` (empty when it is valid)."""
    return _load(Path(config_dir))[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Scope:
    """What a flow may refer to: known flows and, for a hotel, its languages and variables."""

    flows: frozenset[str]  # every flow template id in the configuration
    remembered: frozenset[str]  # guest-level keys any flow of the scope remembers
    languages: tuple[str, ...] = ()  # empty: checking a template on its own
    variables: frozenset[str] = frozenset()


def _load(config_dir: Path) -> tuple[Catalog, list[Problem]]:
    shared_src = read_source(config_dir, "strings.yaml")
    shared = parse_strings(shared_src)
    files: dict[str, Source] = {shared_src.file: shared_src}
    templates = _read_templates(config_dir, files)
    standalone = _check_templates(templates, shared, files)
    hotels: dict[HotelId, FlowSet] = {}
    numbers: dict[WaNumberId, tuple[HotelId, Dept]] = {}
    for path in _yaml_files(config_dir / "hotels", shared_src):
        src = read_source(config_dir, f"hotels/{path.name}")
        files[src.file] = src
        hotel = parse_hotel(src, path.stem, shared) if src.data is not None else None
        if hotel is not None:
            flow_set = _resolve_hotel(src, hotel, templates, standalone, files)
            _register(src, hotel, flow_set, hotels, numbers)
    problems = [p for src in files.values() for p in src.problems]
    if not hotels and not problems:
        problems.append(Problem("hotels", "", "no hotel files found"))
    return Catalog(hotels=hotels, numbers=numbers), list(dict.fromkeys(problems))


def _yaml_files(folder: Path, report: Source) -> list[Path]:
    if not folder.is_dir():
        report.fault("", f"missing folder {folder.name}/ next to strings.yaml")
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


def _read_templates(config_dir: Path, files: dict[str, Source]) -> dict[str, FlowDoc]:
    templates: dict[str, FlowDoc] = {}
    for path in _yaml_files(config_dir / "flows", files["strings.yaml"]):
        src = read_source(config_dir, f"flows/{path.name}")
        files[src.file] = src
        if not ID_PATTERN.match(path.stem):
            src.fault("", f"file name '{path.stem}' is not a valid flow id")
        elif src.data is not None or not src.problems:
            doc = parse_flow(src, path.stem)
            if doc is not None:
                templates[path.stem] = doc
    return templates


def _check_templates(
    templates: Mapping[str, FlowDoc], shared: StringsDoc, files: dict[str, Source]
) -> set[tuple[str, str, str]]:
    """Check each template and strings.yaml on their own; returns (file, path, reason) found."""
    remembered = frozenset(s.remember for d in templates.values()
                           for s in d.flow.steps.values() if s.remember)
    scope = _Scope(flows=frozenset(templates), remembered=remembered)
    for doc in templates.values():
        origins = {k: (doc.file, p) for k, p in doc.origins.items()}
        for issue in _check_flow(doc.flow, doc.declared, scope):
            file, path = _origin(issue[0], origins) or (doc.file, "")
            files[file].fault(path, issue[1])
    shared_src = files["strings.yaml"]
    for key, body in shared.strings.items():
        for reason in _text_faults(body, _string_limit(key), (), BUILTIN_VARIABLES):
            shared_src.fault(f"strings.{key}", reason)
    return {(p.file, p.path, p.reason) for src in files.values() for p in src.problems}


def _origin(key: str, origins: Origins) -> tuple[str, str] | None:
    """(file, YAML path) of a logical key, from its longest prefix that has an origin."""
    probe = key
    while probe not in origins:
        if not probe:
            return None
        probe = parent_path(probe)
    file, base = origins[probe]
    rest = key[len(probe):].lstrip(".")
    if not rest:
        return file, base
    return file, (base + rest if rest.startswith("[") else f"{base}.{rest}" if base else rest)


# --- one hotel ------------------------------------------------------------------------------


def _resolve_hotel(
    src: Source, hotel: HotelDoc, templates: Mapping[str, FlowDoc],
    standalone: set[tuple[str, str, str]], files: Mapping[str, Source],
) -> FlowSet:
    """Apply the hotel's overrides, check the result, and build its FlowSet."""
    try:
        ZoneInfo(hotel.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        src.fault("timezone", f"unknown time zone {hotel.timezone!r} (use an IANA name such as "
                  "Europe/Lisbon)")
    used = _used_flows(src, hotel, templates)
    flows, origins = apply_overrides(src, hotel, templates, used)
    scope = _Scope(
        flows=frozenset(templates), languages=hotel.languages,
        remembered=frozenset(s.remember for f in flows.values() for s in f.steps.values()
                             if s.remember),
        variables=frozenset(hotel.variables) | BUILTIN_VARIABLES,
    )
    issues: list[Issue] = []
    for flow in flows.values():
        issues += _check_flow(flow, templates[flow.id].declared, scope)
    issues += _check_hotel(hotel, flows, scope)
    for key, reason in issues:
        file, path = _origin(key, origins) or ("", "")
        if (file, path, reason) in standalone:
            continue  # a fault of the template itself, already reported there
        if file != src.file:  # the fix belongs in this hotel's file
            path = key[1:] if key.startswith("$") else f"overrides.{key}"
        src.fault(path, reason)
    return FlowSet(
        hotel_id=HotelId(hotel.id), name=hotel.name, timezone=hotel.timezone,
        languages=tuple(Lang(code) for code in hotel.languages), variables=hotel.variables,
        flows=flows, departments=hotel.departments, strings=hotel.strings,
        words=normalized_words(hotel.words, hotel.languages), room_pattern=hotel.room_pattern,
    )


def _used_flows(src: Source, hotel: HotelDoc, templates: Mapping[str, FlowDoc]) -> tuple[FlowId,
                                                                                     ...]:
    used: dict[FlowId, None] = {}
    for dept in hotel.departments.values():
        path = f"departments.{dept.id}"
        for fid in dept.flows:
            if fid in templates:
                used[fid] = None
            else:
                where = "main_flow" if fid == dept.main_flow else "flows"
                src.fault(f"{path}.{where}", f"unknown flow '{fid}' (no flows/{fid}.yaml)")
    return tuple(used)


def _register(
    src: Source, hotel: HotelDoc, flow_set: FlowSet, hotels: dict[HotelId, FlowSet],
    numbers: dict[WaNumberId, tuple[HotelId, Dept]],
) -> None:
    """Add the hotel to the catalog; duplicate hotel ids and numbers are problems."""
    if flow_set.hotel_id in hotels:
        src.fault("id", f"duplicate hotel id '{hotel.id}'")
        return
    hotels[flow_set.hotel_id] = flow_set
    for dept in hotel.departments.values():
        if dept.phone_number_id in numbers:
            other_hotel, other_dept = numbers[dept.phone_number_id]
            src.fault(f"departments.{dept.id}.phone_number_id",
                      f"phone_number_id {dept.phone_number_id} is already used by hotel "
                      f"'{other_hotel}' department '{other_dept}'")
        else:
            numbers[dept.phone_number_id] = (flow_set.hotel_id, dept.id)


def _check_hotel(hotel: HotelDoc, flows: Mapping[FlowId, Flow], scope: _Scope) -> list[Issue]:
    """Department links, language switches, strings and variables of one hotel."""
    issues: list[Issue] = []
    for dept in hotel.departments.values():
        offered = set(dept.flows)
        for fid in dept.flows:
            for key, goal in _flow_links(flows.get(fid)):
                if goal not in offered:
                    issues.append((f"$hotel.departments.{dept.id}.flows",
                                   f"flow '{fid}' leads to flow '{goal}' ({key}), which "
                                   f"department '{dept.id}' does not offer: add it to flows"))
        issues += [(f"$hotel.departments.{dept.id}.name", r)
                   for r in _text_faults(dept.name, BODY_MAX, scope.languages, frozenset())]
    for flow in flows.values():
        for step in flow.steps.values():
            for option in step.options:
                code = option.set.get("language")
                if "language" in option.set and code not in hotel.languages:
                    issues.append((f"{flow.id}.steps.{step.id}.options.edit.{option.id}.set",
                                   f"language {code!r} is not one of this hotel's languages "
                                   f"{list(hotel.languages)}"))
    for key, body in hotel.strings.items():
        issues += [(f"$strings.{key}", r)
                   for r in _text_faults(body, _string_limit(key), scope.languages,
                                         scope.variables)]
    for name, body in hotel.variables.items():
        issues += [(f"$hotel.variables.{name}", r)
                   for r in _text_faults(body, BODY_MAX, scope.languages, frozenset())]
        if name in BUILTIN_VARIABLES:
            issues.append((f"$hotel.variables.{name}", f"'{name}' is a builtin variable"))
    for kind, per_lang in normalized_words(hotel.words, hotel.languages).items():
        for code in hotel.languages:
            if not per_lang.get(code):
                issues.append((f"$words.{kind}.{code}", f"no '{kind}' words for language "
                               f"'{code}'"))
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


def _string_limit(key: str) -> int:
    return BUTTON_TITLE_MAX if key in SHORT_STRINGS else BODY_MAX


# --- one flow -------------------------------------------------------------------------------


def _check_flow(flow: Flow, declared: frozenset[str], scope: _Scope) -> list[Issue]:
    """Targets, exits, disabled steps, conditions, texts and options of one flow."""
    issues: list[Issue] = []
    if flow.start not in declared:
        issues.append((f"{flow.id}.start", f"unknown step '{flow.start}'"))
    known = _collected(flow) | scope.remembered | GUEST_KEYS
    variables = scope.variables | known if scope.languages else None
    issues += [(f"{flow.id}.title", r)
               for r in _text_faults(flow.title, HEADER_MAX, scope.languages, variables)]
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
            issues += [(where, r) for r in _text_faults(body, limit, scope.languages, variables)]
        issues += _check_options(flow.id, step, key)
    # A step a hotel's overrides cut off (a removed category) is intended: only templates
    # must have every step reachable.
    return issues + _disabled_loops(flow) + ([] if scope.languages else
                                             _unreachable(flow, reachable))


def _collected(flow: Flow) -> frozenset[str]:
    names: set[str] = set()
    for step in flow.steps.values():
        names.update(n for n in (step.save_as, step.remember) if n)
        for option in step.options:
            names.update(option.set)
    return frozenset(names)


def _check_exits(step: Step, key: str) -> list[Issue]:
    issues: list[Issue] = []
    if step.kind in (StepKind.INPUT, StepKind.CONFIRM) and step.next is None:
        issues.append((key, f"a {step.kind} step needs 'next': the guest would be stuck here"))
    if step.kind is StepKind.MENU and not step.options:
        issues.append((f"{key}.options", "a menu needs at least one option"))
    if not step.enabled and step.kind in (StepKind.MENU, StepKind.END):
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
    return found


def _check_target(
    where: str, goal: str, flow_id: str, declared: frozenset[str], scope: _Scope
) -> list[Issue]:
    if goal.startswith(FLOW_PREFIX):
        if where.endswith(".change"):
            return [(where, "change must name a step of this flow")]
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
    yield f"{key}.text", step.text, BODY_MAX
    for name, limit in (("header", HEADER_MAX), ("footer", HEADER_MAX),
                        ("button", BUTTON_TITLE_MAX)):
        body = getattr(step, name)
        if body is not None:
            yield f"{key}.{name}", body, limit
    validator = step.validator
    if validator is not None and validator.error is not None:
        yield f"{key}.validate.error", validator.error, BODY_MAX
    title_max = BUTTON_TITLE_MAX if len(step.options) <= 3 else ROW_TITLE_MAX
    for option in step.options:
        okey = f"{key}.options.edit.{option.id}"
        yield f"{okey}.title", option.title, title_max
        if option.description is not None:
            yield f"{okey}.description", option.description, DESCRIPTION_MAX
    choices = validator.choices if validator is not None else ()
    choice_max = BUTTON_TITLE_MAX if len(choices) <= 3 else ROW_TITLE_MAX
    for choice in choices:
        yield f"{key}.validate.choices.{choice.id}.title", choice.title, choice_max


def _text_faults(
    body: Text, limit: int, languages: tuple[str, ...], variables: frozenset[str] | None
) -> list[str]:
    """Too long in a language, missing an enabled language, or an unknown {variable}."""
    faults = [f"{len(s)} characters in '{code}', WhatsApp allows at most {limit}"
              for code, s in body.by_lang.items() if len(s) > limit]
    faults += [f"missing translation for '{code}'" for code in languages
               if code not in body.by_lang]
    if variables is not None:
        names = {m for s in body.by_lang.values() for m in _VARIABLE.findall(s)}
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
            issues.append((f"{okey}.{entry_id}", f"reply id longer than {REPLY_ID_MAX} chars"))
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
        todo += [g for _, g in _step_targets(flow.steps[step_id], "") if g not in seen]
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
                todo += [g for _, g in _next_targets(flow.steps[sid].next, "") if g in disabled]
    return issues
