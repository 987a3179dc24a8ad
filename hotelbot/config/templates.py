"""Flow templates: one flow file's YAML, already read, -> model objects. Shape rules only.

Owns: turning one flow template into model objects (Flow, Step, Option, Next, Condition,
Validator, ScheduleSpec), reporting a wrong type, an unknown key or a bad id at its YAML path;
also the option parser that hotel overrides reuse. Every fault is recorded on the file's
Source, never raised, so one run reports them all. Must never do I/O (the file is read by
hotelbot/config/loader.py), import asyncio, read the clock or log. The rules a whole flow
must satisfy (reachability, limits, translations) live in hotelbot/config/checks.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hotelbot.config.source import (
    Source,
    boolean,
    ident,
    integer,
    items,
    join,
    kind_of,
    lang,
    mapping,
    number,
    parent_path,
    scalar,
    scalar_or_text,
    target,
    text,
)
from hotelbot.flows import (
    Branch,
    Choice,
    Condition,
    Flow,
    Next,
    Op,
    Option,
    ScheduleSpec,
    Step,
    StepKind,
    Text,
    Validator,
    ValidatorKind,
    normalize,
)
from hotelbot.typedefs import FlowId, JSONScalar, StepId

__all__ = [
    "OPTION_KEYS", "STEP_KEYS", "TEMPLATE_LANG", "FlowDoc", "parse_condition", "parse_flow",
    "parse_keywords", "parse_labels", "parse_next", "parse_option", "parse_set", "parse_step",
    "parse_validator",
]

TEMPLATE_LANG = "en"  # a plain string in a flow template means English

# --- flow templates -------------------------------------------------------------------------

_COMMON = frozenset({"kind", "text", "header", "footer", "enabled"})
STEP_KEYS: Mapping[StepKind, frozenset[str]] = {
    StepKind.MENU: _COMMON | {"options", "button"},
    StepKind.INPUT: _COMMON | {"validate", "save_as", "remember", "next", "optional"},
    StepKind.CONFIRM: _COMMON | {"next", "change"},
    StepKind.END: _COMMON | {"request", "schedule"},
    StepKind.BASKET: _COMMON | {"next", "add", "button", "max_quantity"},
}
OPTION_KEYS = frozenset({"id", "title", "description", "next", "set", "keywords"})
_VALIDATOR_KEYS: Mapping[ValidatorKind, frozenset[str]] = {
    ValidatorKind.TEXT: frozenset({"min_length", "max_length"}),
    ValidatorKind.NAME: frozenset({"min_length", "max_length"}),
    ValidatorKind.INTEGER: frozenset({"min", "max"}),
    ValidatorKind.NUMBER: frozenset({"min", "max"}),
    ValidatorKind.CHOICE: frozenset({"choices"}),
    ValidatorKind.TIME: frozenset({"min", "max", "past"}),  # a window in hours of the day
    ValidatorKind.DATE: frozenset({"min", "max"}),  # days from today
}
_PAST = ("tomorrow", "refuse")


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowDoc:
    """A parsed flow template and where its parts are in its file."""

    flow: Flow
    file: str
    declared: frozenset[str]  # every step id in the file, even those that failed to parse
    origins: Mapping[str, str]  # logical key (e.g. "f.steps.s.options.edit.o") -> file path


def parse_flow(src: Source, flow_id: str) -> FlowDoc | None:
    """One flow template file -> FlowDoc (None when too broken to use)."""
    raw = mapping(src, src.data, "", allowed={"id", "title", "start", "steps", "labels"},
                  required=("id", "title", "start", "steps"), what="a flow")
    if raw is None:
        return None
    if "id" in raw and raw["id"] != flow_id:
        src.fault("id", f"flow id {raw['id']!r} must match the file name '{flow_id}'")
    title = text(src, raw.get("title"), "title", TEMPLATE_LANG) if "title" in raw else None
    start = ident(src, raw.get("start"), "start", "step id") if "start" in raw else None
    origins: dict[str, str] = {flow_id: ""}
    steps: dict[StepId, Step] = {}
    declared: set[str] = set()
    raw_steps = raw.get("steps")
    if isinstance(raw_steps, dict) and raw_steps:
        for step_id, raw_step in raw_steps.items():
            declared.add(step_id)
            step = parse_step(src, step_id, raw_step, f"steps.{step_id}", TEMPLATE_LANG,
                              origins, f"{flow_id}.steps.{step_id}")
            if step is not None:
                steps[StepId(step_id)] = step
    elif "steps" in raw:
        src.fault("steps", "expected a non-empty mapping of step id -> step")
    labels = parse_labels(src, raw.get("labels", {}), "labels", TEMPLATE_LANG)
    origins.update({f"{flow_id}.labels.{name}": f"labels.{name}" for name in labels})
    if title is None or start is None:
        return None
    flow = Flow(id=FlowId(flow_id), title=title, start=StepId(start), steps=steps,
                labels=labels)
    return FlowDoc(flow=flow, file=src.file, declared=frozenset(declared), origins=origins)


def parse_labels(src: Source, value: object, path: str, dlang: str) -> dict[str, Text]:
    """`labels: {name: text}`: the readable name of each value the flow collects."""
    if not isinstance(value, dict):
        src.fault(path, f"expected a mapping of value name -> label, got {kind_of(value)}")
        return {}
    found: dict[str, Text] = {}
    for name, raw in value.items():
        sub = join(path, name)
        if ident(src, name, sub, "value name") is not None:
            label = text(src, raw, sub, dlang)
            if label is not None:
                found[name] = label
    return found


def parse_step(
    src: Source, step_id: str, value: object, path: str, dlang: str,
    origins: dict[str, str], key: str,
) -> Step | None:
    """One step mapping -> Step; `key` is its logical key for option origins."""
    if ident(src, step_id, path, "step id") is None:
        return None
    kind_raw = value.get("kind") if isinstance(value, dict) else None
    if kind_raw not in set(StepKind):
        if isinstance(value, dict):
            src.fault(join(path, "kind"), f"step kind must be one of menu, input, confirm, end,"
                      f" basket; got {kind_raw!r}")
        else:
            src.fault(path, f"expected a mapping for a step, got {kind_of(value)}")
        return None
    kind = StepKind(str(kind_raw))
    raw = mapping(src, value, path, allowed=STEP_KEYS[kind], required=("text",),
                  what=f"a {kind} step")
    if raw is None or "text" not in raw:
        return None
    body = text(src, raw["text"], join(path, "text"), dlang)
    if body is None:
        return None
    extras = _optional_texts(src, raw, path, dlang)
    return Step(
        id=StepId(step_id), kind=kind, text=body, **extras,
        options=_options(src, raw.get("options"), join(path, "options"), dlang, origins,
                         f"{key}.options.edit") if kind is StepKind.MENU else (),
        validator=_validator_of(src, raw, path, dlang, origins, key, kind),
        save_as=_opt_ident(src, raw, "save_as", path, required=kind is StepKind.INPUT),
        remember=_opt_ident(src, raw, "remember", path),
        next=parse_next(src, raw["next"], join(path, "next")) if "next" in raw else None,
        change=_opt_ident(src, raw, "change", path),
        optional=_flag(src, raw, "optional", path, False),
        enabled=_flag(src, raw, "enabled", path, True),
        request=_opt_ident(src, raw, "request", path),
        schedule=_schedule(src, raw.get("schedule", []), join(path, "schedule")),
        add=_opt_ident(src, raw, "add", path, required=kind is StepKind.BASKET),
        max_quantity=_max_quantity(src, raw, path),
    )


def _max_quantity(src: Source, raw: dict[str, object], path: str) -> int:
    """A basket's `max_quantity`: the most of one item (default 20, at most 999)."""
    if "max_quantity" not in raw:
        return 20
    found = integer(src, raw["max_quantity"], join(path, "max_quantity"), low=1)
    if found is not None and found > 999:
        src.fault(join(path, "max_quantity"), "must be at most 999")
        return 20
    return found or 20


def _optional_texts(src: Source, raw: dict[str, object], path: str, dlang: str) -> dict[str, Text]:
    found: dict[str, Text] = {}
    for name in ("header", "footer", "button"):
        if name in raw:
            value = text(src, raw[name], join(path, name), dlang)
            if value is not None:
                found[name] = value
    return found


def _validator_of(
    src: Source, raw: dict[str, object], path: str, dlang: str,
    origins: dict[str, str], key: str, kind: StepKind,
) -> Validator | None:
    if kind is not StepKind.INPUT:
        return None
    if "validate" not in raw:
        return Validator(kind=ValidatorKind.TEXT)
    return parse_validator(src, raw["validate"], join(path, "validate"), dlang, origins,
                           f"{key}.validate.choices")


def _opt_ident(src: Source, raw: dict[str, object], name: str, path: str,
               required: bool = False) -> str | None:
    if name not in raw:
        if required:
            src.fault(path, f"missing key '{name}'")
        return None
    return ident(src, raw[name], join(path, name), name.replace("_", " "))


def _flag(src: Source, raw: dict[str, object], name: str, path: str, default: bool) -> bool:
    if name not in raw:
        return default
    value = boolean(src, raw[name], join(path, name))
    return default if value is None else value


def _schedule(src: Source, value: object, path: str) -> tuple[ScheduleSpec, ...]:
    found: list[ScheduleSpec] = []
    for i, item in enumerate(items(src, value, path) or []):
        sub = join(path, i)
        raw = mapping(src, item, sub, allowed={"message_type", "after_minutes"},
                      required=("message_type", "after_minutes"), what="a scheduled message")
        if raw is None or len(raw) < 2:
            continue
        message_type = ident(src, raw["message_type"], join(sub, "message_type"), "message type")
        after = integer(src, raw["after_minutes"], join(sub, "after_minutes"), low=0)
        if message_type is not None and after is not None:
            found.append(ScheduleSpec(message_type=message_type, after_minutes=after))
    return tuple(found)


def _options(
    src: Source, value: object, path: str, dlang: str, origins: dict[str, str], key: str
) -> tuple[Option, ...]:
    if value is None:
        src.fault(path, "a menu step needs options")
        return ()
    found: list[Option] = []
    for i, item in enumerate(items(src, value, path) or []):
        option = parse_option(src, item, join(path, i), dlang)
        if option is not None:
            origins[f"{key}.{option.id}"] = join(path, i)
            found.append(option)
    return tuple(found)


def parse_option(src: Source, value: object, path: str, dlang: str) -> Option | None:
    """One `{id, title, description?, next, set?, keywords?}` mapping -> Option."""
    raw = mapping(src, value, path, allowed=OPTION_KEYS, required=("id", "title", "next"),
                  what="an option")
    if raw is None or not {"id", "title"} <= raw.keys():
        return None
    option_id = ident(src, raw["id"], join(path, "id"), "option id")
    title = text(src, raw["title"], join(path, "title"), dlang)
    description = (text(src, raw["description"], join(path, "description"), dlang)
                   if "description" in raw else None)
    nxt = parse_next(src, raw["next"], join(path, "next")) if "next" in raw else Next()
    data = parse_set(src, raw.get("set", {}), join(path, "set"))
    keywords = parse_keywords(src, raw.get("keywords", {}), join(path, "keywords"), dlang)
    if option_id is None or title is None:
        return None
    return Option(id=option_id, title=title, description=description, next=nxt, set=data,
                  keywords=keywords)


def parse_keywords(src: Source, value: object, path: str, dlang: str
                   ) -> dict[str, tuple[str, ...]]:
    """An option's `keywords`: `{lang: [phrase, ...]}`, or a plain list (in `dlang`); each
    phrase normalized like guest text."""
    if isinstance(value, list):
        value = {dlang: value}
    if not isinstance(value, dict):
        src.fault(path, f"expected a list of phrases or a mapping of language -> list, got "
                        f"{kind_of(value)}")
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for code, listed in value.items():
        lpath = join(path, code)
        phrases = items(src, listed, lpath) if lang(src, code, lpath) else None
        if phrases is None:
            continue
        words = []
        for i, phrase in enumerate(phrases):
            norm = normalize(phrase) if isinstance(phrase, str) else ""
            if not norm:
                src.fault(join(lpath, i), "expected a non-empty phrase")
                continue
            words.append(norm)
        found[code] = tuple(words)
    return found


def parse_set(src: Source, value: object, path: str) -> dict[str, JSONScalar | Text]:
    """`{name: value}`: a plain value (kept as written), or `{language: string}` (a Text)."""
    if not isinstance(value, dict):
        src.fault(path, f"expected a mapping of name -> value, got {kind_of(value)}")
        return {}
    data: dict[str, JSONScalar | Text] = {}
    for name, raw in value.items():
        sub = join(path, name)
        if name == "language" and isinstance(raw, dict):
            src.fault(sub, "'language' takes one language code, not per-language values")
        elif ident(src, name, sub, "variable name") is not None:
            data[name] = scalar_or_text(src, raw, sub)
    return data


def parse_next(src: Source, value: object, path: str) -> Next:
    """A target, or a list of `{when, to}` items ending with one `{default: target}`."""
    if isinstance(value, str):
        found = target(src, value, path)
        return Next(default=found)
    raw_items = items(src, value, path)
    if raw_items is None:
        return Next()
    branches: list[Branch] = []
    default: str | None = None
    for i, item in enumerate(raw_items):
        sub = join(path, i)
        if isinstance(item, dict) and "default" in item:
            mapping(src, item, sub, allowed={"default"}, what="the default branch")
            if i != len(raw_items) - 1:
                src.fault(sub, "the {default: ...} item must come last")
            default = target(src, item["default"], join(sub, "default"))
            continue
        raw = mapping(src, item, sub, allowed={"when", "to"}, required=("when", "to"),
                      what="a branch")
        if raw is None or len(raw) < 2:
            continue
        when = parse_condition(src, raw["when"], join(sub, "when"))
        to = target(src, raw["to"], join(sub, "to"))
        if when is not None and to is not None:
            branches.append(Branch(when=when, to=to))
    if default is None:
        src.fault(path, "a branching next needs a last item {default: <target>}")
    return Next(branches=tuple(branches), default=default)


_NO_VALUE = {Op.PRESENT, Op.ABSENT}
_LIST_VALUE = {Op.IN, Op.NOT_IN}
_NUMBER_VALUE = {Op.LT, Op.LE, Op.GT, Op.GE}


def parse_condition(src: Source, value: object, path: str) -> Condition | None:
    """`{var, op, value}`, or `{all: [...]}` / `{any: [...]}`."""
    if isinstance(value, dict) and ("all" in value or "any" in value):
        name = "all" if "all" in value else "any"
        mapping(src, value, path, allowed={name}, what=f"an '{name}' condition")
        parts = items(src, value[name], join(path, name)) or []
        if not parts:
            src.fault(join(path, name), "needs at least one condition")
            return None
        found = [parse_condition(src, p, join(join(path, name), i)) for i, p in enumerate(parts)]
        if any(c is None for c in found):
            return None
        conds = tuple(c for c in found if c is not None)
        return Condition(all=conds) if name == "all" else Condition(any=conds)
    raw = mapping(src, value, path, allowed={"var", "op", "value"}, required=("var", "op"),
                  what="a condition")
    if raw is None or not {"var", "op"} <= raw.keys():
        return None
    var = ident(src, raw["var"], join(path, "var"), "variable name")
    if raw["op"] not in set(Op):
        src.fault(join(path, "op"), f"unknown op {raw['op']!r} (use one of "
                  f"{', '.join(o.value for o in Op)})")
        return None
    op = Op(str(raw["op"]))
    ok, operand = _operand(src, op, raw, join(path, "value"))
    if var is None or not ok:
        return None
    return Condition(var=var, op=op, value=operand)


def _operand(
    src: Source, op: Op, raw: dict[str, object], path: str
) -> tuple[bool, JSONScalar | tuple[JSONScalar, ...]]:
    """(True, value) when the value suits `op`, (False, None) after a fault."""
    if op in _NO_VALUE:
        if "value" in raw:
            src.fault(path, f"op '{op}' takes no value")
            return False, None
        return True, None
    if "value" not in raw:
        src.fault(parent_path(path), f"op '{op}' needs a value")
        return False, None
    value = raw["value"]
    if op in _LIST_VALUE:
        listed = items(src, value, path)
        if listed is None:
            return False, None
        return True, tuple(scalar(src, v, join(path, i)) for i, v in enumerate(listed))
    if op in _NUMBER_VALUE:
        if number(src, value, path) is None:
            return False, None
        return True, scalar(src, value, path)
    if isinstance(value, list | dict):
        src.fault(path, f"op '{op}' compares with a plain value")
        return False, None
    return True, scalar(src, value, path)


def parse_validator(
    src: Source, value: object, path: str, dlang: str, origins: dict[str, str], key: str
) -> Validator | None:
    """`{kind, min_length?, max_length?, min?, max?, choices?, error?}` -> Validator."""
    kind_raw = value.get("kind") if isinstance(value, dict) else None
    if kind_raw not in set(ValidatorKind):
        where = join(path, "kind") if isinstance(value, dict) else path
        src.fault(where, f"validator kind must be one of "
                  f"{', '.join(k.value for k in ValidatorKind)}; got {kind_raw!r}")
        return None
    kind = ValidatorKind(str(kind_raw))
    allowed = {"kind", "error"} | _VALIDATOR_KEYS.get(kind, frozenset())
    raw = mapping(src, value, path, allowed=allowed, what=f"a {kind} validator")
    if raw is None:
        return None
    nums: dict[str, float | None] = {
        n: number(src, raw[n], join(path, n)) for n in ("min", "max") if n in raw}
    lengths: dict[str, int | None] = {n: integer(src, raw[n], join(path, n), low=0)
                                      for n in ("min_length", "max_length") if n in raw}
    bounds: dict[str, float | int | None] = {**nums, **lengths}
    for low, high in (("min", "max"), ("min_length", "max_length")):
        lo, hi = bounds.get(low), bounds.get(high)
        if lo is not None and hi is not None and lo > hi:
            src.fault(join(path, low), f"{low} {lo:g} is greater than {high} {hi:g}")
    choices = _choices(src, raw, path, dlang, origins, key) if kind is ValidatorKind.CHOICE else ()
    error = text(src, raw["error"], join(path, "error"), dlang) if "error" in raw else None
    past = raw.get("past")
    if past is not None and past not in _PAST:
        src.fault(join(path, "past"), "past is 'tomorrow' (a time already past today is for "
                  f"tomorrow) or 'refuse'; got {past!r}")
        past = None
    if kind is ValidatorKind.TIME:
        for name in ("min", "max"):
            hour = nums.get(name)
            if hour is not None and not 0 <= hour <= 24:
                src.fault(join(path, name), f"a time window is in hours of the day (0 to 24), "
                          f"got {hour:g}")
    return Validator(
        kind=kind, min=nums.get("min"), max=nums.get("max"),
        min_length=lengths.get("min_length"), max_length=lengths.get("max_length"),
        choices=choices, error=error, past="tomorrow" if past == "tomorrow" else
        "refuse" if past == "refuse" else None,
    )


def _choices(
    src: Source, raw: dict[str, object], path: str, dlang: str, origins: dict[str, str], key: str
) -> tuple[Choice, ...]:
    sub = join(path, "choices")
    found: list[Choice] = []
    for i, item in enumerate(items(src, raw.get("choices"), sub) or []):
        ipath = join(sub, i)
        entry = mapping(src, item, ipath, allowed={"id", "title"}, required=("id", "title"),
                        what="a choice")
        if entry is None or len(entry) < 2:
            continue
        choice_id = ident(src, entry["id"], join(ipath, "id"), "choice id")
        title = text(src, entry["title"], join(ipath, "title"), dlang)
        if choice_id is not None and title is not None:
            origins[f"{key}.{choice_id}"] = ipath
            found.append(Choice(id=choice_id, title=title))
    if not found:
        src.fault(sub, "a choice validator needs a non-empty list of {id, title}")
    return tuple(found)
