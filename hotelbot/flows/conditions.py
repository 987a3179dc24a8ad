"""Structured conditions over the collected data: `{var, op, value}`, `all`, `any`. No eval.

Owns: deciding whether a `Condition` holds for a mapping of collected values (step data over
accumulated guest data). Must never evaluate expression strings, raise on odd data, or do I/O.

Semantics:
  - A missing variable, None or "" is "absent"; every comparison with an absent value is
    False except `ne`/`not_in`/`absent`, which hold.
  - Numbers compare as numbers; a string that reads as a number ("3", "2.5") compares as
    that number against a numeric value (validators save numbers, menus may `set` strings).
  - Booleans equal only booleans. Strings compare by `normalize` for eq/ne/in/not_in and
    lexically for lt/le/gt/ge (ISO dates "2026-12-25" and times "19:30" order correctly).
  - Incomparable pairs (a word against a number under lt) are simply False.
  - `all` and `any` combine with the own `var` test (all of them must hold); an empty
    condition holds.
"""

from __future__ import annotations

from collections.abc import Mapping

from hotelbot.flows.model import Condition, Op
from hotelbot.flows.text import normalize
from hotelbot.typedefs import JSONScalar

_ORDER_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})


def holds(condition: Condition, data: Mapping[str, JSONScalar]) -> bool:
    """Whether `condition` holds for `data`.

    Args:
        condition: the condition (validated by hotelbot.config).
        data: collected values, e.g. step data merged over accumulated guest data.

    Returns:
        True when the condition holds. Never raises.
    """
    if not all(holds(c, data) for c in condition.all):
        return False
    if condition.any and not any(holds(c, data) for c in condition.any):
        return False
    if not condition.var:
        return True
    return _test(condition.op, data.get(condition.var), condition.value)


def _present(value: JSONScalar) -> bool:
    return value is not None and value != ""


def _test(op: Op, actual: JSONScalar, expected: JSONScalar | tuple[JSONScalar, ...]) -> bool:
    if op is Op.PRESENT:
        return _present(actual)
    if op is Op.ABSENT:
        return not _present(actual)
    if op in (Op.IN, Op.NOT_IN):
        pool = expected if isinstance(expected, tuple) else (expected,)
        found = _present(actual) and any(_equal(actual, item) for item in pool)
        return found if op is Op.IN else not found
    if isinstance(expected, tuple):
        return op is Op.NE
    if op is Op.EQ:
        return _present(actual) and _equal(actual, expected)
    if op is Op.NE:
        return not (_present(actual) and _equal(actual, expected))
    if op in _ORDER_OPS and _present(actual):
        return _order(op, actual, expected)
    return False


def _number(value: JSONScalar) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value.strip().replace(",", "."))
    except ValueError:
        return None


def _equal(a: JSONScalar, b: JSONScalar) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    if a is None or b is None:
        return a is b
    return normalize(str(a)) == normalize(str(b))


def _order(op: Op, a: JSONScalar, b: JSONScalar) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        sign = (na > nb) - (na < nb)
    elif isinstance(a, str) and isinstance(b, str):
        sign = (a > b) - (a < b)
    else:
        return False
    if op is Op.LT:
        return sign < 0
    if op is Op.LE:
        return sign <= 0
    if op is Op.GT:
        return sign > 0
    return sign >= 0
