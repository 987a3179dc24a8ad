"""Load and check the whole configuration: strings, flow templates and hotel files -> Hotels.

Owns: `load_hotels` and `check_config`, the only code that reads configuration files (every
file is read first, then compiled without I/O); the rules that need more than one file:
duplicate hotels and numbers, flows a department names but no template defines; and mapping
every issue to its file, YAML path and line. The rules of one flow and of one hotel are
hotelbot/config/checks.py's. Every problem is collected (never only the first). Must never
write files, import asyncio, read the clock or log.

Where a problem is reported: a fault in a template is reported once, in the template. A fault
that only a hotel's configuration causes (a missing Portuguese text, an option its overrides
added) is reported in the hotel's file, at the override path where the fix belongs, e.g.
`overrides.feedback.steps.rating.text` for a missing translation of a template text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotelbot.config.checks import (
    BUILTIN_VARIABLES,
    Issue,
    Scope,
    check_flow,
    check_hotel,
    check_strings,
)
from hotelbot.config.hotels import (
    HotelDoc,
    Origins,
    StringsDoc,
    normalized_words,
    parse_hotel,
    parse_strings,
)
from hotelbot.config.overrides import apply_overrides
from hotelbot.config.scheduled import parse_scheduler_part
from hotelbot.config.source import ID_PATTERN, Source, parent_path, parse_source
from hotelbot.config.templates import FlowDoc, parse_flow
from hotelbot.errors import FlowDefinitionError, Problem
from hotelbot.flows import Flow, Hotel, Hotels
from hotelbot.typedefs import Dept, FlowId, HotelId, Lang, NumberId, StepId

__all__ = ["check_config", "load_hotels"]


def load_hotels(config_dir: Path) -> Hotels:
    """Load every hotel of `config_dir` with its flows, overrides applied, all validated.

    Args:
        config_dir: holds strings.yaml, flows/<flow_id>.yaml and hotels/<hotel_id>.yaml.
    Returns:
        Hotels: each hotel's resolved configuration and the department of every
        phone_number_id.
    Raises:
        FlowDefinitionError: listing every problem found, with file, YAML path and line.
    """
    hotels, problems = _compile(_read(Path(config_dir)))
    if problems:
        raise FlowDefinitionError(problems)
    return hotels


def check_config(config_dir: Path) -> list[Problem]:
    """Every problem of the configuration in `config_dir` (empty when it is valid)."""
    return _compile(_read(Path(config_dir)))[1]


# --- reading: the only I/O ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Files:
    """Every configuration file, parsed as YAML; None for a missing folder."""

    strings: Source
    flows: tuple[tuple[str, Source], ...] | None  # (file stem, source)
    hotels: tuple[tuple[str, Source], ...] | None


# The one-file build (scripts/build) ships config/strings.yaml and config/flows/ here, inside
# the package: a configuration directory that lacks them (an operator's, holding only hotels/)
# uses the shipped ones. A source checkout has no such folder; nothing changes there.
SHIPPED = Path(__file__).with_name("shipped")


def _read(config_dir: Path) -> _Files:
    def base(rel: str) -> Path:
        own = (config_dir / rel).exists() or not (SHIPPED / rel).exists()
        return config_dir if own else SHIPPED

    return _Files(strings=_read_file(base("strings.yaml"), "strings.yaml"),
                  flows=_read_folder(base("flows"), "flows"),
                  hotels=_read_folder(config_dir, "hotels"))


def _read_folder(config_dir: Path, folder: str) -> tuple[tuple[str, Source], ...] | None:
    if not (config_dir / folder).is_dir():
        return None
    paths = sorted(p for p in (config_dir / folder).iterdir() if p.suffix in (".yaml", ".yml"))
    return tuple((p.stem, _read_file(config_dir, f"{folder}/{p.name}")) for p in paths)


def _read_file(config_dir: Path, rel: str) -> Source:
    """Read and compose one YAML file; an unreadable file is a fault, not an exception."""
    try:
        content = (config_dir / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        src = Source(file=rel)
        src.fault("", f"cannot read file: {exc.__class__.__name__}")
        return src
    return parse_source(rel, content)


# --- compiling: no I/O from here on ---------------------------------------------------------


def _compile(read: _Files) -> tuple[Hotels, list[Problem]]:
    shared_src = read.strings
    shared = parse_strings(shared_src)
    files: dict[str, Source] = {shared_src.file: shared_src}
    templates = _parse_templates(_present(read.flows, "flows", shared_src), files)
    standalone = _check_alone(templates, shared, files)
    hotels: dict[HotelId, Hotel] = {}
    numbers: dict[NumberId, tuple[HotelId, Dept]] = {}
    for stem, src in _present(read.hotels, "hotels", shared_src):
        files[src.file] = src
        doc = parse_hotel(src, stem, shared) if src.data is not None else None
        if doc is not None:
            hotel = _resolve_hotel(src, doc, templates, standalone, files)
            _register(src, doc, hotel, hotels, numbers)
    problems = [p for src in files.values() for p in src.problems]
    if not hotels and not problems:
        problems.append(Problem("hotels", "", "no hotel files found"))
    return Hotels(hotels=hotels, numbers=numbers), list(dict.fromkeys(problems))


def _present(
    found: tuple[tuple[str, Source], ...] | None, folder: str, report: Source
) -> tuple[tuple[str, Source], ...]:
    if found is None:
        report.fault("", f"missing folder {folder}/ next to strings.yaml")
        return ()
    return found


def _parse_templates(
    found: tuple[tuple[str, Source], ...], files: dict[str, Source]
) -> dict[str, FlowDoc]:
    templates: dict[str, FlowDoc] = {}
    for stem, src in found:
        files[src.file] = src
        if not ID_PATTERN.match(stem):
            src.fault("", f"file name '{stem}' is not a valid flow id")
        elif src.data is not None or not src.problems:
            doc = parse_flow(src, stem)
            if doc is not None:
                templates[stem] = doc
    return templates


def _check_alone(
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
    for key, reason in check_strings(shared.strings):
        files["strings.yaml"].fault(key, reason)
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
    src: Source, doc: HotelDoc, templates: Mapping[str, FlowDoc],
    standalone: set[tuple[str, str, str]], files: Mapping[str, Source],
) -> Hotel:
    """Apply the hotel file's overrides, check the result, and build its Hotel."""
    try:
        ZoneInfo(doc.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        src.fault("timezone", f"unknown time zone {doc.timezone!r} (use an IANA name such as "
                  "Europe/Lisbon)")
    used = _used_flows(src, doc, templates)
    flows, origins = apply_overrides(src, doc, templates, used)
    flows = _with_hours(src, doc, flows)
    scope = Scope(
        flows=frozenset(templates), languages=doc.languages,
        remembered=frozenset(s.remember for f in flows.values() for s in f.steps.values()
                             if s.remember),
        variables=frozenset(doc.variables) | BUILTIN_VARIABLES,
    )
    issues: list[Issue] = []
    for flow in flows.values():
        issues += check_flow(flow, templates[flow.id].declared, scope)
    issues += check_hotel(doc, flows, scope)
    proactive = parse_scheduler_part(
        src, languages=doc.languages, departments=doc.departments, flows=flows,
        templates=doc.message_templates, variables=frozenset(doc.variables))
    for key, reason in issues:
        file, path = _origin(key, origins) or ("", "")
        if (file, path, reason) in standalone:
            continue  # a fault of the template itself, already reported there
        if file != src.file:  # the fix belongs in this hotel's file
            path = key[1:] if key.startswith("$") else f"overrides.{key}"
        src.fault(path, reason)
    return Hotel(
        hotel_id=HotelId(doc.id), name=doc.name, timezone=doc.timezone,
        languages=tuple(Lang(code) for code in doc.languages), variables=doc.variables,
        flows=flows, departments=doc.departments, strings=doc.strings,
        words=normalized_words(doc.words, doc.languages), room_pattern=doc.room_pattern,
        read_receipts=doc.read_receipts, message_templates=doc.message_templates,
        retention=doc.retention,
        policy=doc.policy,
        locale=doc.locale, phone_region=doc.phone_region, date_order=doc.date_order,
        reference_pattern=doc.reference_pattern, orders=doc.orders,
        scheduled=proactive.scheduled, quiet_hours=proactive.quiet_hours,
        pms_token_env=proactive.pms_token_env,
    )


def _with_hours(src: Source, doc: HotelDoc, flows: dict[FlowId, Flow]) -> dict[FlowId, Flow]:
    """The hotel's opening_hours set on its flows and options; unknown ones are faults."""
    found = dict(flows)
    for flow_id, hours in doc.flow_hours.items():
        flow = found.get(FlowId(flow_id))
        if flow is None:
            src.fault(f"opening_hours.flows.{flow_id}", f"unknown flow '{flow_id}' (not one "
                      "this hotel's departments offer)")
        else:
            found[flow.id] = replace(flow, hours=hours)
    for (flow_id, step_id, option_id), hours in doc.option_hours.items():
        path = f"opening_hours.options.{flow_id}.{step_id}.{option_id}"
        flow = found.get(FlowId(flow_id))
        step = flow.steps.get(StepId(step_id)) if flow is not None else None
        ids = [o.id for o in step.options] if step is not None else []
        if flow is None or step is None or option_id not in ids:
            src.fault(path, f"unknown option '{option_id}' of step '{step_id}' of flow "
                      f"'{flow_id}' (after this hotel's overrides)")
            continue
        options = tuple(replace(o, hours=hours) if o.id == option_id else o
                        for o in step.options)
        steps = {**flow.steps, step.id: replace(step, options=options)}
        found[flow.id] = replace(flow, steps=steps)
    return found


def _used_flows(src: Source, doc: HotelDoc, templates: Mapping[str, FlowDoc]) -> tuple[FlowId,
                                                                                   ...]:
    used: dict[FlowId, None] = {}
    for dept in doc.departments.values():
        path = f"departments.{dept.id}"
        for fid in dept.flows:
            if fid in templates:
                used[fid] = None
            else:
                where = "main_flow" if fid == dept.main_flow else "flows"
                src.fault(f"{path}.{where}", f"unknown flow '{fid}' (no flows/{fid}.yaml)")
    return tuple(used)


def _register(
    src: Source, doc: HotelDoc, hotel: Hotel, hotels: dict[HotelId, Hotel],
    numbers: dict[NumberId, tuple[HotelId, Dept]],
) -> None:
    """Add the hotel to `hotels`; duplicate hotel ids and numbers are problems."""
    if hotel.hotel_id in hotels:
        src.fault("id", f"duplicate hotel id '{doc.id}'")
        return
    hotels[hotel.hotel_id] = hotel
    for dept in doc.departments.values():
        if dept.phone_number_id in numbers:
            other_hotel, other_dept = numbers[dept.phone_number_id]
            src.fault(f"departments.{dept.id}.phone_number_id",
                      f"phone_number_id {dept.phone_number_id} is already used by hotel "
                      f"'{other_hotel}' department '{other_dept}'")
        else:
            numbers[dept.phone_number_id] = (hotel.hotel_id, dept.id)
