"""Configuration source: one YAML document with the line of every value, and the typed readers.

Owns: parsing a configuration file's text safely (`yaml.compose` with the safe loader, so every
value has a line), the `Source` that records each fault with its file, YAML path and line, YAML
path arithmetic, and the typed readers that report a wrong type, an unknown key or a bad id at
its path. Every fault is recorded on the Source, never raised, so one run reports them all.
Must never know what a flow or a hotel is (hotelbot/config/templates.py, hotels.py and
loader.py do), read a file (hotelbot/config/loader.py does), import asyncio, read the clock or
log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from hotelbot.errors import Problem
from hotelbot.flows import FLOW_PREFIX, REQUESTS_TARGET, Text
from hotelbot.typedefs import JSONScalar

__all__ = [
    "ID_PATTERN", "LANG_PATTERN", "Source", "boolean", "ident", "integer", "items", "join",
    "kind_of", "lang", "mapping", "number", "parent_path", "parse_source", "scalar",
    "scalar_or_text", "string", "target", "text",
]

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
LANG_PATTERN = re.compile(r"^[a-z]{2,3}$")
_MAX_DEPTH = 40


@dataclass(slots=True)
class Source:
    """One configuration file: its data, the 1-based line of every YAML path, its faults."""

    file: str  # relative to the configuration directory, e.g. "flows/feedback.yaml"
    data: object = None
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: str) -> int | None:
        """The line of `path`, else of its nearest ancestor found in the file."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = parent_path(path)

    def fault(self, path: str, reason: str) -> None:
        self.problems.append(Problem(self.file, path, reason, self.line(path)))


def parent_path(path: str) -> str:
    """`a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> ``."""
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def join(path: str, key: str | int) -> str:
    """`a` + `b` -> `a.b`, `a` + 2 -> `a[2]`, `` + `b` -> `b`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def parse_source(file: str, content: str) -> Source:
    """Compose one YAML document; syntax errors become faults with their line.

    Args:
        file: the name problems are reported under, relative to the configuration
            directory (e.g. "flows/feedback.yaml").
        content: the file's text (hotelbot/config/loader.py reads it).
    Returns:
        The Source: its data (None when empty or unparseable), lines and faults.
    """
    src = Source(file=file)
    try:
        node = yaml.compose(content, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        src.problems.append(Problem(file, "", f"invalid YAML: {exc.problem}", line))
        return src
    except yaml.YAMLError as exc:
        src.fault("", f"invalid YAML: {exc}")
        return src
    if node is not None:
        src.data = _build(node, "", src, yaml.SafeLoader(""), 0)
    return src


def _build(node: yaml.Node, path: str, src: Source, ctor: yaml.SafeLoader, depth: int) -> object:
    src.lines.setdefault(path, node.start_mark.line + 1)
    if depth > _MAX_DEPTH:
        src.fault(path, "nested too deeply (recursive alias?)")
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                src.fault(path, "mapping keys must be plain words")
                continue
            key = str(key_node.value)
            key_path = join(path, key)
            if key in out:
                src.lines[key_path] = key_node.start_mark.line + 1
                src.fault(key_path, f"duplicate key '{key}'")
                continue
            src.lines[key_path] = key_node.start_mark.line + 1
            out[key] = _build(value_node, key_path, src, ctor, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, join(path, i), src, ctor, depth + 1) for i, v in enumerate(node.value)]
    try:
        return ctor.construct_object(node)
    except yaml.YAMLError as exc:
        src.fault(path, f"invalid value: {exc}")
        return None


# --- typed readers: each returns the value, or None after recording a fault -----------------


def mapping(
    src: Source,
    value: object,
    path: str,
    *,
    allowed: frozenset[str] | set[str],
    required: tuple[str, ...] = (),
    what: str = "",
) -> dict[str, object] | None:
    """A mapping with only `allowed` keys and every `required` one."""
    if not isinstance(value, dict):
        src.fault(path, f"expected a mapping{_for(what)}, got {kind_of(value)}")
        return None
    for key in value:
        if key not in allowed:
            src.fault(join(path, key), f"unknown key '{key}'{_for(what)} (allowed: "
                      f"{', '.join(sorted(allowed))})")
    for key in required:
        if key not in value:
            src.fault(path, f"missing key '{key}'{_for(what)}")
    return {k: v for k, v in value.items() if k in allowed}


def items(src: Source, value: object, path: str) -> list[object] | None:
    """A list."""
    if not isinstance(value, list):
        src.fault(path, f"expected a list, got {kind_of(value)}")
        return None
    return value


def string(src: Source, value: object, path: str) -> str | None:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        src.fault(path, f"expected a non-empty string, got {kind_of(value)}")
        return None
    return value


def ident(src: Source, value: object, path: str, what: str = "id") -> str | None:
    """An id such as a flow, step, option or variable name: ^[a-z][a-z0-9_]*$."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        src.fault(path, f"bad {what} {value!r}: use lowercase letters, digits and _ "
                  "(starting with a letter)")
        return None
    return value


def lang(src: Source, value: object, path: str) -> str | None:
    """A language code such as en, pt or es."""
    if not isinstance(value, str) or not LANG_PATTERN.match(value):
        src.fault(path, f"bad language code {value!r} (expected e.g. en, pt, es)")
        return None
    return value


def integer(src: Source, value: object, path: str, *, low: int | None = None) -> int | None:
    """An integer (not true/false), at least `low` when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        src.fault(path, f"expected an integer, got {kind_of(value)}")
        return None
    if low is not None and value < low:
        src.fault(path, f"must be at least {low}")
        return None
    return value


def number(src: Source, value: object, path: str) -> float | None:
    """An integer or decimal number (not true/false), as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        src.fault(path, f"expected a number, got {kind_of(value)}")
        return None
    return float(value)


def boolean(src: Source, value: object, path: str) -> bool | None:
    """true or false."""
    if not isinstance(value, bool):
        src.fault(path, f"expected true or false, got {kind_of(value)}")
        return None
    return value


def scalar(src: Source, value: object, path: str) -> JSONScalar | None:
    """A plain value: string, number, true/false or nothing."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    src.fault(path, f"expected a plain value (string, number, true/false), got {kind_of(value)}")
    return None


def scalar_or_text(src: Source, value: object, path: str) -> JSONScalar | Text:
    """A plain value as it is, or a mapping language -> string as a Text."""
    if isinstance(value, dict):
        return text(src, value, path, "")
    return scalar(src, value, path)


def text(src: Source, value: object, path: str, default_lang: str) -> Text | None:
    """A plain string (in `default_lang`) or a mapping language -> string."""
    if isinstance(value, str):
        if value.strip():
            return Text({default_lang: value})
        src.fault(path, "text is empty")
        return None
    if not isinstance(value, dict) or not value:
        src.fault(path, f"expected a text (a string, or language: string), got {kind_of(value)}")
        return None
    by_lang: dict[str, str] = {}
    for code, body in value.items():
        sub = join(path, code)
        if lang(src, code, sub) is not None and string(src, body, sub) is not None:
            by_lang[code] = str(body)
    return Text(by_lang) if by_lang else None


def target(src: Source, value: object, path: str) -> str | None:
    """A `next` target: a step id, flow:<flow_id>, or show:requests (the guest's requests)."""
    if value == REQUESTS_TARGET:
        return REQUESTS_TARGET
    if isinstance(value, str) and value.startswith(FLOW_PREFIX):
        flow_id = ident(src, value[len(FLOW_PREFIX):], path, "flow id")
        return value if flow_id is not None else None
    return ident(src, value, path, "step id")


def kind_of(value: object) -> str:
    """How a fault names what it found instead: "a mapping", "nothing", "int"..."""
    if value is None:
        return "nothing"
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false"}
    return names.get(type(value), type(value).__name__)


def _for(what: str) -> str:
    return f" for {what}" if what else ""
