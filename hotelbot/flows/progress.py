"""Where one step moved a guest, for the funnel and the metrics: pure.

Owns: `progress(hotel, before, outcome, now)`, which reads the context before a step and the
engine's outcome and says what the step did to the guest's way through a flow. Must never
decide anything the guest reads (that is the engine's) and never do I/O.

Marks (each a (flow, step) pair; step is "" for a whole-flow mark):
    reached    the guest landed on a step they were not on (a new position)
    completed  the flow ended at an end step (the context went idle from inside it)
    abandoned  the guest left a flow for the department's main menu ("menu", "back" out
               of it) before its end; the main menu itself is never abandoned
    expired    the guest's next message found the conversation idle past the timeout
               (the engine answered with the main menu and strings["expired"])
    cooloff    this step started a cooloff (too many invalid answers in a row)
A silenced message (cooloff, spam) marks nothing: the guest did not move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from hotelbot.flows.context import Context
from hotelbot.flows.effects import Silence
from hotelbot.flows.engine import Outcome
from hotelbot.flows.model import Hotel
from hotelbot.typedefs import Dept

__all__ = ["Mark", "Progress", "progress"]


class Mark(StrEnum):
    REACHED = "reached"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    EXPIRED = "expired"
    COOLOFF = "cooloff"


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """What one step did: `marks` are (mark, flow, step) triples, in the order they happened."""

    flow: str  # the flow the step ran in ("" when idle before and after)
    marks: tuple[tuple[Mark, str, str], ...]

    def has(self, mark: Mark) -> bool:
        for found, _flow, _step in self.marks:  # noqa: SIM110 - no generator a step (issue 13)
            if found is mark:
                return True
        return False


def progress(hotel: Hotel, before: Context, outcome: Outcome, now: datetime) -> Progress:
    """Classify one step (see the module docstring)."""
    after = outcome.context
    flow = after.current_flow or before.current_flow or ""
    for effect in outcome.effects:  # a loop, not any(...): no generator a step (issue 13)
        if isinstance(effect, Silence):
            return Progress(flow=flow, marks=())
    marks: list[tuple[Mark, str, str]] = []
    old = before.current_flow
    expired = old is not None and _expired(hotel, before, now)
    if expired and old is not None:
        marks.append((Mark.EXPIRED, old, before.current_step or ""))
    elif old is not None and after.current_flow is None:
        marks.append((Mark.COMPLETED, old, ""))
    elif old is not None and after.current_flow != old and after.current_flow == _main(
            hotel, before) and old != _main(hotel, before):
        marks.append((Mark.ABANDONED, old, before.current_step or ""))
    position = (after.current_flow, after.current_step)
    if after.current_flow is not None and (expired or position != (old, before.current_step)):
        marks.append((Mark.REACHED, after.current_flow, after.current_step or ""))
    if after.cooloff_until is not None and after.cooloff_until != before.cooloff_until:
        marks.append((Mark.COOLOFF, flow, after.current_step or ""))
    return Progress(flow=flow, marks=tuple(marks))


def _main(hotel: Hotel, context: Context) -> str | None:
    department = hotel.departments.get(Dept(context.department))
    return None if department is None else department.main_flow


def _expired(hotel: Hotel, context: Context, now: datetime) -> bool:
    """The engine's own expiry test (rule 7), on the context before the step."""
    if context.last_activity is None:
        return False
    last = context.last_activity
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return now - last > timedelta(minutes=hotel.policy.timeout_minutes)
