"""The engine's shortcuts for speed (issue 13) read exactly like the plain computations."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hotelbot.flows import Context
from hotelbot.flows.context import Echo
from hotelbot.flows.ratelimit import Bucket
from tests.unit.fixtures import NOW, at


@pytest.mark.parametrize("changes", [
    {},
    {"error_count": 3},
    {"current_flow": None, "current_step": None, "step_data": {}, "navigation_stack": ()},
    {"rate": Bucket(tokens=2.0, counted_at=NOW), "cooloff_until": NOW + timedelta(minutes=5)},
    {"echo": Echo(fingerprint="f", since=NOW, count=2), "last_activity": NOW},
])
def test_evolve_is_dataclasses_replace(changes: dict[str, object]) -> None:
    before = at("order.quantity", stack=("main.start",), data={"item": "Tea"})
    snapshot = before.to_dict()
    after = before.evolve(**changes)  # type: ignore[arg-type]
    assert after == replace(before, **changes)  # type: ignore[arg-type]
    assert after.to_dict() == replace(before, **changes).to_dict()  # echo too (not compared)
    assert before.to_dict() == snapshot  # the original is untouched
    assert after is not before and type(after) is Context


def test_an_evolved_context_stays_frozen() -> None:
    with pytest.raises(AttributeError):
        at("order.quantity").evolve(error_count=1).error_count = 2  # type: ignore[misc]
