"""Hotel overrides: a hotel's own copy of the flow templates it uses, its overrides applied.

Owns: applying the `overrides` section of a parsed hotel file (hotelbot/config/hotels.py) to the
flow templates: texts (and the flow's value labels) merged per language, steps
enabled/disabled, validator settings, choice titles, options removed/added/edited/reordered
(an edit's `set` value with per-language values merges per language), with the origin of
every overridden part.
Every fault is recorded on the hotel file's Source with its YAML path. Must never do I/O,
import asyncio, read the clock or log. The result is checked afterwards (reachability, limits,
translations) by hotelbot/config/checks.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hotelbot.config.hotels import HotelDoc, Origins, merge_text
from hotelbot.config.source import (
    Source,
    boolean,
    integer,
    items,
    join,
    kind_of,
    mapping,
    number,
    text,
)
from hotelbot.config.templates import (
    TEMPLATE_LANG,
    FlowDoc,
    parse_keywords,
    parse_labels,
    parse_option,
    parse_set,
)
from hotelbot.flows import Choice, Flow, Option, Step, StepKind, Text
from hotelbot.typedefs import FlowId, StepId

__all__ = ["apply_overrides"]

_STEP_OVERRIDE_KEYS = frozenset({"text", "header", "footer", "button", "enabled", "optional",
                                 "validate", "options"})


def apply_overrides(
    src: Source, hotel: HotelDoc, templates: Mapping[str, FlowDoc], used: tuple[FlowId, ...]
) -> tuple[dict[FlowId, Flow], Origins]:
    """The hotel's flows (those its departments use) with its overrides applied."""
    flows = {fid: templates[fid].flow for fid in used if fid in templates}
    origins: Origins = dict(hotel.origins)
    for fid in flows:
        doc = templates[fid]
        origins.update({key: (doc.file, path) for key, path in doc.origins.items()})
    for name, raw in hotel.overrides.items():
        path = join("overrides", name)
        if name not in templates:
            src.fault(path, f"unknown flow '{name}' (no config/flows/{name}.yaml)")
        elif name not in flows:
            src.fault(path, f"flow '{name}' is not offered by any department of this hotel")
        else:
            flows[FlowId(name)] = _override_flow(src, flows[FlowId(name)], raw, path,
                                                 hotel.languages[0], origins)
    return flows, origins


def _override_flow(
    src: Source, flow: Flow, value: object, path: str, dlang: str, origins: Origins
) -> Flow:
    raw = mapping(src, value, path, allowed={"title", "steps", "labels"},
                  what="a flow override")
    if raw is None:
        return flow
    title = flow.title
    if "title" in raw:
        extra = text(src, raw["title"], join(path, "title"), dlang)
        if extra is not None:
            title = merge_text(title, extra)
            origins[f"{flow.id}.title"] = (src.file, join(path, "title"))
    labels = dict(flow.labels)
    lpath = join(path, "labels")
    for name, extra in parse_labels(src, raw.get("labels", {}), lpath, dlang).items():
        labels[name] = merge_text(labels.get(name), extra)
        origins[f"{flow.id}.labels.{name}"] = (src.file, join(lpath, name))
    steps = dict(flow.steps)
    raw_steps = raw.get("steps", {})
    if not isinstance(raw_steps, dict):
        src.fault(join(path, "steps"), "expected a mapping of step id -> step overrides")
        raw_steps = {}
    for step_id, raw_step in raw_steps.items():
        spath = join(join(path, "steps"), step_id)
        if step_id not in steps:
            src.fault(spath, f"unknown step '{step_id}' in flow '{flow.id}'")
            continue
        key = f"{flow.id}.steps.{step_id}"
        steps[StepId(step_id)] = _override_step(src, steps[StepId(step_id)], raw_step, spath,
                                                dlang, origins, key)
    return replace(flow, title=title, steps=steps, labels=labels)


def _override_step(
    src: Source, step: Step, value: object, path: str, dlang: str, origins: Origins, key: str
) -> Step:
    raw = mapping(src, value, path, allowed=_STEP_OVERRIDE_KEYS, what="a step override")
    if raw is None:
        return step
    changes: dict[str, object] = {}
    for name in ("text", "header", "footer", "button"):
        if name in raw:
            extra = text(src, raw[name], join(path, name), dlang)
            if extra is not None:
                changes[name] = merge_text(getattr(step, name), extra)
                origins[f"{key}.{name}"] = (src.file, join(path, name))
    for name in ("enabled", "optional"):
        if name in raw and boolean(src, raw[name], join(path, name)) is not None:
            changes[name] = raw[name]
            origins[f"{key}.{name}"] = (src.file, join(path, name))
    if "validate" in raw:
        changes.update(_override_validator(src, step, raw["validate"], join(path, "validate"),
                                           dlang, origins, key))
    if "options" in raw:
        if step.kind is not StepKind.MENU:
            src.fault(join(path, "options"), f"step '{step.id}' is a {step.kind} step, not a menu")
        else:
            changes["options"] = _override_options(src, step, raw["options"],
                                                   join(path, "options"), dlang, origins, key)
    return replace(step, **changes)  # type: ignore[arg-type]


def _override_validator(
    src: Source, step: Step, value: object, path: str, dlang: str, origins: Origins, key: str
) -> dict[str, object]:
    if step.validator is None:
        src.fault(path, f"step '{step.id}' is a {step.kind} step: only input steps validate")
        return {}
    raw = mapping(src, value, path, allowed={"error", "min", "max", "min_length", "max_length",
                                              "choices"}, what="a validator override")
    if raw is None:
        return {}
    validator = step.validator
    changes: dict[str, object] = {}
    for name in ("min", "max"):
        if name in raw and (found := number(src, raw[name], join(path, name))) is not None:
            changes[name] = found
    for name in ("min_length", "max_length"):
        if name in raw and (size := integer(src, raw[name], join(path, name), low=0)) is not None:
            changes[name] = size
    if "error" in raw and (error := text(src, raw["error"], join(path, "error"), dlang)):
        changes["error"] = merge_text(validator.error, error)
        origins[f"{key}.validate.error"] = (src.file, join(path, "error"))
    if "choices" in raw:
        changes["choices"] = _override_choices(src, validator.choices, raw["choices"],
                                               join(path, "choices"), dlang, origins, key)
    return {"validator": replace(validator, **changes)}  # type: ignore[arg-type]


def _override_choices(
    src: Source, choices: tuple[Choice, ...], value: object, path: str, dlang: str,
    origins: Origins, key: str,
) -> tuple[Choice, ...]:
    """`choices: {choice_id: title}` merges titles per language."""
    if not isinstance(value, dict):
        src.fault(path, "expected a mapping of choice id -> title")
        return choices
    by_id = {c.id: c for c in choices}
    for choice_id, raw in value.items():
        cpath = join(path, choice_id)
        if choice_id not in by_id:
            src.fault(cpath, f"unknown choice '{choice_id}'")
        elif (title := text(src, raw, cpath, dlang)) is not None:
            by_id[choice_id] = replace(by_id[choice_id], title=merge_text(by_id[choice_id].title,
                                                                          title))
            origins[f"{key}.validate.choices.{choice_id}.title"] = (src.file, cpath)
    return tuple(by_id.values())


def _override_options(
    src: Source, step: Step, value: object, path: str, dlang: str, origins: Origins, key: str
) -> tuple[Option, ...]:
    """`options: {remove: [ids], add: [options], edit: {id: {...}}, order: [ids]}`."""
    raw = mapping(src, value, path, allowed={"remove", "add", "edit", "order"},
                  what="options overrides")
    if raw is None:
        return step.options
    by_id = {o.id: o for o in step.options}
    okey = f"{key}.options.edit"
    for i, option_id in enumerate(items(src, raw.get("remove", []), join(path, "remove")) or []):
        if not isinstance(option_id, str) or by_id.pop(option_id, None) is None:
            src.fault(join(join(path, "remove"), i), f"unknown option {option_id!r}")
    for i, item in enumerate(items(src, raw.get("add", []), join(path, "add")) or []):
        apath = join(join(path, "add"), i)
        option = parse_option(src, item, apath, dlang)
        if option is not None and option.id in by_id:
            src.fault(join(apath, "id"), f"option '{option.id}' already exists (use edit)")
        elif option is not None:
            by_id[option.id] = option
            origins[f"{okey}.{option.id}"] = (src.file, apath)
    _edit_options(src, by_id, raw.get("edit", {}), join(path, "edit"), dlang, origins, okey)
    return _ordered(src, by_id, raw.get("order", []), join(path, "order"))


def _edit_options(
    src: Source, by_id: dict[str, Option], value: object, path: str, dlang: str,
    origins: Origins, okey: str,
) -> None:
    if not isinstance(value, dict):
        src.fault(path, "expected a mapping of option id -> {title, description, set, "
                        "keywords}")
        return
    for option_id, raw_edit in value.items():
        epath = join(path, option_id)
        edit = mapping(src, raw_edit, epath,
                       allowed={"title", "description", "set", "keywords"},
                       what="an option edit")
        if option_id not in by_id:
            src.fault(epath, f"unknown option '{option_id}'")
            continue
        for name in ("title", "description"):
            if edit and name in edit and (extra := text(src, edit[name], join(epath, name),
                                                        dlang)):
                by_id[option_id] = _edited(by_id[option_id], name, extra)
                origins[f"{okey}.{option_id}.{name}"] = (src.file, join(epath, name))
        if edit and "keywords" in edit:  # a language given replaces the template's phrases
            found = parse_keywords(src, edit["keywords"], join(epath, "keywords"), dlang)
            merged = {**by_id[option_id].keywords, **found}
            by_id[option_id] = replace(by_id[option_id], keywords=merged)
        if edit and "set" in edit:
            spath = join(epath, "set")
            by_id[option_id] = _edited_set(src, by_id[option_id], edit["set"], spath)
            origins.update({f"{okey}.{option_id}.set.{name}": (src.file, join(spath, name))
                            for name in (edit["set"] if isinstance(edit["set"], dict) else ())})


def _edited(option: Option, name: str, extra: Text) -> Option:
    """The option with its title or description merged per language with `extra`."""
    if name == "title":
        return replace(option, title=merge_text(option.title, extra))
    return replace(option, description=merge_text(option.description, extra))


def _edited_set(src: Source, option: Option, value: object, path: str) -> Option:
    """The option with `set` edited: a per-language value merges per language with the
    template's (a plain template string counts as English text); a plain value replaces."""
    data = dict(option.set)
    for name, found in parse_set(src, value, path).items():
        old = data.get(name)
        if not isinstance(found, Text):
            data[name] = found
        elif old is None or isinstance(old, Text):
            data[name] = merge_text(old, found)
        elif isinstance(old, str):
            data[name] = merge_text(Text.of(old, TEMPLATE_LANG), found)
        else:
            src.fault(join(path, name), f"'{name}' is {kind_of(old)} in the template: only "
                      "a text can have per-language values")
    return replace(option, set=data)


def _ordered(
    src: Source, by_id: dict[str, Option], value: object, path: str
) -> tuple[Option, ...]:
    """Options named in `order` first, in that order; the others after, as they were."""
    order = items(src, value, path) or []
    first: list[Option] = []
    for i, option_id in enumerate(order):
        if not isinstance(option_id, str) or option_id not in by_id:
            src.fault(join(path, i), f"unknown option {option_id!r}")
        elif by_id[option_id] in first:
            src.fault(join(path, i), f"option '{option_id}' listed twice")
        else:
            first.append(by_id[option_id])
    return tuple(first) + tuple(o for o in by_id.values() if o not in first)
