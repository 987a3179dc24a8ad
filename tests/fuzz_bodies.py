"""Hostile webhook bodies: valid webhook POSTs with random structural mutations (issue 14).

`hostile_body(rng)` starts from what Meta sends (messages and statuses of a department
number) and applies a few mutations: wrong types, missing and duplicated fields, nesting
hundreds of levels deep, huge strings, odd unicode, a thousand messages in one POST. The
test suite draws a modest number of them through hypothesis; `scripts/bench fuzz` sends tens
of thousands. Deterministic for a given `random.Random`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import orjson

DEEP = "__deep__"
WRONG_VALUES: tuple[object, ...] = (None, 0, -1, 2**63 - 1, 1.5, True, "", " ", "null", [], {},
                                    [1, "a"], {"x": {}})
ODD_TEXT = ("919800000001 ", " 919800000001", "a" * 300, "US.", "wamid.\u0000", "😀" * 50,
            "\u202egnp.exe", "Ω≈ç√∫", "１２３", "\\u0000", "<script>", "../../etc/passwd")
Mutation = Callable[[random.Random, dict[str, object]], None]


def guest_number(rng: random.Random) -> str:
    return f"3460{rng.randrange(10**7):07d}"


def base_document(rng: random.Random, number: str) -> dict[str, object]:
    """A valid webhook body: 1-3 text messages and maybe a status, to `number`."""
    messages = []
    for _ in range(rng.randint(1, 3)):
        guest = guest_number(rng)
        messages.append({"from": guest, "id": f"wamid.FZ{rng.getrandbits(64):016x}",
                         "timestamp": "1760000000", "type": "text",
                         "text": {"body": rng.choice(["hi", "menu", "1", "back", "room 205"])}})
    value: dict[str, object] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": number},
        "contacts": [{"profile": {"name": "Fuzz"}, "wa_id": m["from"]} for m in messages],
        "messages": messages,
    }
    if rng.random() < 0.3:
        value["statuses"] = [{"id": f"wamid.ST{rng.getrandbits(32):08x}", "status": "delivered",
                              "timestamp": "1760000000", "recipient_id": guest_number(rng)}]
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}


def _containers(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Paths of every dict and list in the document (the places a mutation can land)."""
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            if isinstance(child, dict | list):
                found += _containers(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            if isinstance(child, dict | list):
                found += _containers(child, (*path, index))
    return found


def _at(doc: object, path: tuple[object, ...]) -> object:
    for step in path:
        doc = doc[step]  # type: ignore[index]
    return doc


def _pick(rng: random.Random, doc: dict[str, object]) -> object:
    return _at(doc, rng.choice(_containers(doc)))


def _set_random(rng: random.Random, doc: dict[str, object], make: Callable[[], object]) -> None:
    node = _pick(rng, doc)
    if isinstance(node, dict) and node:
        node[rng.choice(list(node))] = make()
    elif isinstance(node, dict):
        node["k"] = make()
    elif isinstance(node, list) and node:
        node[rng.randrange(len(node))] = make()
    elif isinstance(node, list):
        node.append(make())


def wrong_type(rng: random.Random, doc: dict[str, object]) -> None:
    _set_random(rng, doc, lambda: copy.deepcopy(rng.choice(WRONG_VALUES)))  # never shared


def missing_field(rng: random.Random, doc: dict[str, object]) -> None:
    node = _pick(rng, doc)
    if isinstance(node, dict) and node:
        del node[rng.choice(list(node))]
    elif isinstance(node, list) and node:
        node.pop(rng.randrange(len(node)))


def duplicated_item(rng: random.Random, doc: dict[str, object]) -> None:
    node = _pick(rng, doc)
    if isinstance(node, list) and node:
        node.append(copy.deepcopy(rng.choice(node)))
    elif isinstance(node, dict) and node:
        key = rng.choice(list(node))
        node[f"{key}_copy"] = copy.deepcopy(node[key])


def deep_nesting(rng: random.Random, doc: dict[str, object]) -> None:
    _set_random(rng, doc, lambda: DEEP)


def huge_string(rng: random.Random, doc: dict[str, object]) -> None:
    size = rng.choice([5_000, 70_000, 300_000, 1_500_000])
    _set_random(rng, doc, lambda: "x" * size)


def odd_unicode(rng: random.Random, doc: dict[str, object]) -> None:
    _set_random(rng, doc, lambda: rng.choice(ODD_TEXT))


def many_messages(rng: random.Random, doc: dict[str, object]) -> None:
    try:
        value = _at(doc, ("entry", 0, "changes", 0, "value"))
    except (KeyError, IndexError, TypeError):  # an earlier mutation moved it
        return
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        return
    messages = value["messages"]
    if not messages or not isinstance(messages[0], dict):
        return
    first = messages[0]
    value["messages"] = [{**first, "id": f"wamid.MANY{n:06d}{rng.getrandbits(32):08x}"}
                         for n in range(1000)]


MUTATIONS: tuple[Mutation, ...] = (wrong_type, wrong_type, missing_field, duplicated_item,
                                   deep_nesting, huge_string, odd_unicode, many_messages)


def hostile_body(rng: random.Random, number: str) -> bytes:
    """A webhook body for `number` with 1-4 random mutations; deep markers spliced in raw."""
    doc = base_document(rng, number)
    for _ in range(rng.randint(1, 4)):
        rng.choice(MUTATIONS)(rng, doc)
    raw = orjson.dumps(doc)
    depth = rng.choice([40, 300, 1000])
    deep = b'{"k":' * depth + b"1" + b"}" * depth
    return raw.replace(f'"{DEEP}"'.encode(), deep)
