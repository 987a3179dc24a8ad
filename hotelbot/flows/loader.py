"""Load and check the whole configuration: strings, flow templates and hotel files -> Catalog.

Owns: `load_catalog` and `check_config`, and the rules that need more than one file: flow
links a department does not offer, language switches, hotel strings, variables and words,
duplicate hotels and numbers; and mapping every issue to its file, YAML path and line. The
rules of one flow are hotelbot/flows/rules.py's. Every problem is collected (never only the
first). Must never write files, import asyncio, read the clock or log; it only reads the
directory.

Where a problem is reported: a fault in a template is reported once, in the template. A fault
that only a hotel's configuration causes (a missing Portuguese text, an option its overrides
added) is reported in the hotel's file, at the override path where the fix belongs, e.g.
`overrides.feedback.steps.rating.text` for a missing translation of a template text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    Flow,
    FlowSet,
)
from hotelbot.flows.overrides import apply_overrides
from hotelbot.flows.rules import (
    BODY_MAX,
    BUILTIN_VARIABLES,
    BUTTON_TITLE_MAX,
    Issue,
    Scope,
    check_flow,
    text_faults,
)
from hotelbot.flows.source import ID_PATTERN, Source, parent_path, read_source
from hotelbot.flows.validate import FlowDoc, parse_flow
from hotelbot.typedefs import Dept, FlowId, HotelId, Lang, WaNumberId

SHORT_STRINGS = frozenset({"confirm", "change", "menu_button"})  # button titles: <= 20


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
    scope = Scope(flows=frozenset(templates), remembered=remembered)
    for doc in templates.values():
        origins = {k: (doc.file, p) for k, p in doc.origins.items()}
        for issue in check_flow(doc.flow, doc.declared, scope):
            file, path = _origin(issue[0], origins) or (doc.file, "")
            files[file].fault(path, issue[1])
    shared_src = files["strings.yaml"]
    for key, body in shared.strings.items():
        for reason in text_faults(body, _string_limit(key), (), BUILTIN_VARIABLES):
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
    scope = Scope(
        flows=frozenset(templates), languages=hotel.languages,
        remembered=frozenset(s.remember for f in flows.values() for s in f.steps.values()
                             if s.remember),
        variables=frozenset(hotel.variables) | BUILTIN_VARIABLES,
    )
    issues: list[Issue] = []
    for flow in flows.values():
        issues += check_flow(flow, templates[flow.id].declared, scope)
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


def _check_hotel(hotel: HotelDoc, flows: Mapping[FlowId, Flow], scope: Scope) -> list[Issue]:
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
                   for r in text_faults(dept.name, BODY_MAX, scope.languages, frozenset())]
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
                   for r in text_faults(body, _string_limit(key), scope.languages,
                                         scope.variables)]
    for name, body in hotel.variables.items():
        issues += [(f"$hotel.variables.{name}", r)
                   for r in text_faults(body, BODY_MAX, scope.languages, frozenset())]
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
