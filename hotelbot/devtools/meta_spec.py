"""Meta's OpenAPI description of the Cloud API (vendored in meta/), as a send validator.

Owns: loading `meta/business-messaging-api_v23.0.yaml.gz` once (lazily, cached), preparing the
schemas a send body is checked against, checking one body (`check_send`), and handing out
the spec's own webhook examples (`webhook_examples`) for tests.

The spec cannot be used literally (meta/README.md lists its defects), so the send schemas
are prepared once, the same way every time:
  1. Only the schemas reachable from `Message` and `MarkMessageRequestPayload` are taken,
     copied (the loaded document is never changed).
  2. 3.0-style `nullable: true` becomes a JSON Schema `null` type (the header says 3.1), and
     the template button `index` pattern `^[2-6, 11-14]$` (a character class that refuses
     "0", the first button, though its own description says 0-9 and Meta's own examples use
     "0") is read as its description says: `^[0-9]$`.
  3. `BaseMessageProperties` gains the two envelope fields the Cloud API documents and
     hotelbot sends, but v23.0 lacks: `biz_opaque_callback_data` (a string of at most 512
     characters, echoed in status webhooks) and `recipient` (a business-scoped user id, sent
     instead of `to`); so one of `to` or `recipient` is required.
  4. Every `allOf: [BaseMessageProperties, {..., additionalProperties: false}]` is merged into
     one object over the union of properties: read literally, each part refuses the other's
     properties and no real body passes.
  5. `Message` is a `oneOf` with a discriminator; the branch is picked by the body's `type`
     (its mapping), one compiled validator per type. A body without `type` that has `status`
     is a read receipt: `MarkMessageRequestPayload`.
Checking is memoized: hotelbot sends the same menu to many guests, and a body differs from
the last one checked mostly in `to`, `recipient` and `biz_opaque_callback_data`, which the
schema constrains only by type and length. Those are replaced by a stand-in of the same
kind (a short string) to form the memo key, so a menu's check costs one dict lookup.
Must never: change the vendored file, fetch anything, or load the spec at import time.
"""

from __future__ import annotations

import copy
import functools
import gzip
from collections import OrderedDict
from collections.abc import Mapping
from importlib import resources
from typing import Any

import orjson
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

__all__ = ["SPEC_FILE", "SendSchema", "check_send", "load_spec", "send_schema",
           "webhook_examples"]

SPEC_FILE = "business-messaging-api_v23.0.yaml.gz"  # Meta's file, unchanged, gzip-compressed
SCHEMAS = "#/components/schemas/"
BASE = "BaseMessageProperties"
READ_RECEIPT = "MarkMessageRequestPayload"
MAX_REASON = 240  # characters of one reason: a refused value can be a whole message
# Fields the Cloud API documents for every send that v23.0's BaseMessageProperties lacks.
ENVELOPE_EXTENSIONS: Mapping[str, Any] = {
    "biz_opaque_callback_data": {"type": "string", "maxLength": 512},
    "recipient": {"type": "string", "minLength": 1},
}
# Envelope fields whose value the memo key ignores: a non-empty string up to this length.
_STAND_INS: Mapping[str, int] = {"to": 64, "recipient": 64, "biz_opaque_callback_data": 512}
MEMO_SIZE = 4096
# Patterns that contradict their own description and Meta's own examples.
PATTERN_FIXES: Mapping[str, str] = {"^[2-6, 11-14]$": "^[0-9]$"}
_MERGEABLE = frozenset({"type", "properties", "required", "additionalProperties"})
_NOTES = frozenset({"description", "title", "example"})

Schema = dict[str, Any]


@functools.cache
def load_spec() -> Mapping[str, Any]:
    """The vendored OpenAPI document, parsed once per process (about a megabyte of YAML)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    packed = resources.files("hotelbot.devtools").joinpath("meta", SPEC_FILE).read_bytes()
    text = gzip.decompress(packed).decode("utf-8")
    document = yaml.load(text, Loader=loader)
    if not isinstance(document, dict):
        raise ValueError(f"{SPEC_FILE}: not an OpenAPI document")
    return document


def webhook_examples() -> dict[str, dict[str, Any]]:
    """name -> body of each example of `paths./whatsapp/webhooks.post` (fresh copies)."""
    post = load_spec()["paths"]["/whatsapp/webhooks"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    return {name: copy.deepcopy(example["value"]) for name, example in examples.items()}


class SendSchema:
    """The prepared send schemas: `check(body)` lists what Meta's schema refuses in a body."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        schemas: Mapping[str, Any] = spec["components"]["schemas"]
        prepared = {name: _as_json_schema(schemas[name])
                    for name in _reachable(schemas, ("Message", READ_RECEIPT))}
        _extend_envelope(prepared[BASE])
        for name in list(prepared):
            prepared[name] = _merged(prepared[name], prepared)
        root = {"components": {"schemas": prepared}}
        mapping: Mapping[str, str] = prepared["Message"]["discriminator"]["mapping"]
        self.types = tuple(sorted(mapping))
        self._by_type = {kind: _compile(ref, root) for kind, ref in mapping.items()}
        self._read = _compile(SCHEMAS + READ_RECEIPT, root)
        self._memo: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()

    def check(self, body: Mapping[str, object]) -> list[str]:
        """Every reason the schema refuses `body`, as `$.path: reason`; [] when it passes."""
        stand_in = {
            key: "x" if key in _STAND_INS and isinstance(value, str)
            and 0 < len(value) <= _STAND_INS[key] else value
            for key, value in body.items()
        }
        try:
            key = orjson.dumps(stand_in, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # not JSON data: no memo
            return self._check(body)
        found = self._memo.get(key)
        if found is None:
            found = tuple(self._check(stand_in))
            self._memo[key] = found
            if len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return list(found)

    def _check(self, body: Mapping[str, object]) -> list[str]:
        kind = body.get("type")
        if kind is None and "status" in body:
            validator = self._read
        elif isinstance(kind, str) and kind in self._by_type:
            validator = self._by_type[kind]
        else:
            return [f"$.type: {kind!r} is not a message type of the schema "
                    f"(one of {', '.join(self.types)})"]
        errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.path)))
        return [_reason(error) for error in errors]


@functools.cache
def send_schema() -> SendSchema:
    """The prepared send schemas, built once per process on first use."""
    return SendSchema(load_spec())


def check_send(body: Mapping[str, object]) -> list[str]:
    """What Meta's `Message` schema refuses in one send body; [] when it passes."""
    return send_schema().check(body)


# --- preparing -------------------------------------------------------------------------------


def _reachable(schemas: Mapping[str, Any], roots: tuple[str, ...]) -> list[str]:
    seen: list[str] = []
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.append(name)
            todo += _refs(schemas[name])
    return seen


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        named = isinstance(ref, str) and ref.startswith(SCHEMAS)
        own = [str(ref).removeprefix(SCHEMAS)] if named else []
        return own + [name for value in node.values() for name in _refs(value)]
    if isinstance(node, list):
        return [name for value in node for name in _refs(value)]
    return []


def _as_json_schema(node: Any) -> Any:
    """A copy of an OpenAPI 3.0-style schema as JSON Schema 2020-12.

    `nullable: true` lets null in (type and enum); PATTERN_FIXES replace broken patterns.
    """
    if isinstance(node, list):
        return [_as_json_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    out = {key: _as_json_schema(value) for key, value in node.items() if key != "nullable"}
    pattern = out.get("pattern")
    if isinstance(pattern, str) and pattern in PATTERN_FIXES:
        out["pattern"] = PATTERN_FIXES[pattern]
    if node.get("nullable") is True:
        if "type" not in out:
            return {"anyOf": [out, {"type": "null"}]}
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
    return out


def _extend_envelope(base: Schema) -> None:
    base["properties"].update(copy.deepcopy(dict(ENVELOPE_EXTENSIONS)))
    base["required"] = [key for key in base["required"] if key != "to"]
    base["anyOf"] = [{"required": ["to"]}, {"required": ["recipient"]}]


def _merged(node: Any, schemas: Mapping[str, Schema]) -> Any:
    """`node` with each `allOf` of plain object schemas merged into one object schema."""
    if isinstance(node, list):
        return [_merged(value, schemas) for value in node]
    if not isinstance(node, dict):
        return node
    out = {key: _merged(value, schemas) for key, value in node.items()}
    parts = out.get("allOf")
    if not isinstance(parts, list):
        return out
    resolved = [_resolve(part, schemas) for part in parts]
    merged = _merge_objects(resolved)
    if merged is None:
        return out
    rest = {key: value for key, value in out.items() if key != "allOf"}
    return {**merged, **rest}


def _resolve(part: Any, schemas: Mapping[str, Schema]) -> Any:
    ref = part.get("$ref") if isinstance(part, dict) else None
    if isinstance(ref, str) and ref.startswith(SCHEMAS) and len(part) == 1:
        return _merged(schemas[ref.removeprefix(SCHEMAS)], schemas)
    return part


def _merge_objects(parts: list[Any]) -> Schema | None:
    """One object schema over the union of `parts`' properties; None when they do not fit."""
    merged: Schema = {"type": "object", "properties": {}, "required": []}
    for part in parts:
        if not isinstance(part, dict) or part.get("type", "object") != "object":
            return None
        for key, value in part.items():
            if key == "properties":
                merged["properties"].update(value)  # a later part narrows (e.g. `type`'s enum)
            elif key == "required":
                merged["required"] += [name for name in value if name not in merged["required"]]
            elif key == "additionalProperties":
                if merged.get("additionalProperties", True) is not False:
                    merged["additionalProperties"] = value
            elif key in _MERGEABLE or key in _NOTES:
                merged.setdefault(key, value)
            elif key in merged:
                return None  # two parts with the same assertion: left as allOf
            else:
                merged[key] = value
    return merged


def _compile(ref: str, root: Schema) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref, **root})


# --- reporting -------------------------------------------------------------------------------


def _reason(error: ValidationError) -> str:
    """`$.path: reason`, with the closest branch when a oneOf/anyOf matched none.

    The closest is the deepest error of any branch: the branch that matched the most.
    """
    closest = max(error.context, key=_depth) if error.context else None
    if closest is None:
        return f"{error.json_path}: {_short(error.message)}"
    return (f"{error.json_path}: matches no {error.validator} branch (closest: "
            f"{closest.json_path}: {_short(closest.message)})")


def _depth(error: ValidationError) -> tuple[int, bool]:
    """Deeper wins; at one depth, a refused value over a missing key."""
    return len(error.absolute_path), error.validator != "required"


def _short(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
