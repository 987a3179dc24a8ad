"""Navigation: where a conversation stands and where a move lands. Pure.

Owns: resolving step references ("<flow>.<step>") against what the department still offers,
choosing among Next branches, the browser-like navigation stack (and what a guest's answers
become when they go back: `rewind`), and walking through disabled steps to the step a move
really arrives at (rule 10 of hotelbot.flows.engine).
Must never: decide wording or produce effects (the engine does), raise for a dangling
reference (a reload may remove anything: the answer is None), do I/O, read the clock or log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

from hotelbot.flows.conditions import holds
from hotelbot.flows.context import Context, ContextChanges
from hotelbot.flows.model import FLOW_PREFIX, Department, Flow, Hotel, Next, Step, StepKind
from hotelbot.typedefs import Dept, FlowId, JSONScalar, StepId

__all__ = [
    "MARK_PREFIX", "Landing", "Navigator", "Position", "answers", "choose", "collected", "idle",
    "stack_to",
]

_MAX_STACK = 50


@dataclass(frozen=True, slots=True)
class Position:
    """A step of a flow the guest is (or may be) at."""

    flow: Flow
    step: Step

    @property
    def ref(self) -> str:
        """The StepRef "<flow>.<step>" that the navigation stack and reply ids use."""
        return f"{self.flow.id}.{self.step.id}"


@dataclass(frozen=True, slots=True)
class Landing:
    """Where a move arrived: the context (current step set) and the step, None if nowhere."""

    context: Context
    at: Position | None


MARK_PREFIX = "_"  # guest-level bookkeeping (e.g. when a remembered value was confirmed)


def collected(ctx: Context) -> dict[str, JSONScalar]:
    """Everything known about the guest: accumulated data overlaid by this flow's answers
    (bookkeeping keys, MARK_PREFIX, left out: they are never a request's data)."""
    return {k: v for k, v in {**ctx.accumulated_data, **ctx.step_data}.items()
            if not k.startswith(MARK_PREFIX)}


def answers(step: Step) -> tuple[str, ...]:
    """The step_data keys an answer to `step` writes, each once, in order: an input's save_as
    (else its id), a menu's option `set` keys (but `language`: the context's, not data)."""
    if step.kind is StepKind.INPUT:
        return (step.save_as or step.id,)
    if step.kind is StepKind.MENU:
        keys = (key for option in step.options for key in option.set if key != "language")
        return tuple(dict.fromkeys(keys))
    return ()


def choose(next_: Next | None, ctx: Context) -> str | None:
    """The target of the first branch whose condition holds, else the default."""
    if next_ is None:
        return None
    data = collected(ctx)
    return next(
        (branch.to for branch in next_.branches if holds(branch.when, data)), next_.default
    )


def idle(ctx: Context, **also: Unpack[ContextChanges]) -> Context:
    """The context with no current flow: step data, stack, error count and any check of a
    remembered value cleared; then `also` (where it starts again), in the same copy."""
    cleared: ContextChanges = {"current_flow": None, "current_step": None, "step_data": {},
                               "navigation_stack": (), "error_count": 0, "checking": ()}
    return ctx.evolve(**(cleared | also))


def stack_to(stack: tuple[str, ...], here: Position, ref: str) -> tuple[str, ...]:
    """Browser-like: going to a step already on the stack pops back to it."""
    if ref == here.ref:
        return stack
    if ref in stack:
        return stack[: stack.index(ref)]
    return (*stack, here.ref)[-_MAX_STACK:]


class Navigator:
    """Lookups of steps and departments in one hotel's configuration."""

    __slots__ = ("hotel",)

    def __init__(self, hotel: Hotel) -> None:
        self.hotel = hotel

    def department(self, ctx: Context) -> Department | None:
        """The guest's department, if the hotel still has it."""
        return self.hotel.departments.get(Dept(ctx.department))

    def offered(self, ctx: Context, flow_id: str) -> bool:
        """Whether the flow exists and the guest's department offers it."""
        dept = self.department(ctx)
        return (
            dept is not None
            and FlowId(flow_id) in self.hotel.flows
            and (flow_id in dept.flows or flow_id == dept.main_flow)
        )

    def lookup(self, ctx: Context, ref: str) -> Position | None:
        """The enabled, non-end step a StepRef names, if the department still offers it."""
        flow_id, _, step_id = ref.partition(".")
        if not self.offered(ctx, flow_id):
            return None
        flow = self.hotel.flows[FlowId(flow_id)]
        found = flow.steps.get(StepId(step_id))
        if found is None or not found.enabled or found.kind is StepKind.END:
            return None
        return Position(flow, found)

    def position(self, ctx: Context) -> Position | None:
        """The step the context is at, if it is still a valid place to be."""
        if ctx.current_flow is None or ctx.current_step is None:
            return None
        return self.lookup(ctx, f"{ctx.current_flow}.{ctx.current_step}")

    def main_start(self, ctx: Context) -> Position | None:
        """The first step of the department's main menu flow."""
        dept = self.department(ctx)
        if dept is None or dept.main_flow not in self.hotel.flows:
            return None
        return self.lookup(ctx, f"{dept.main_flow}.{self.hotel.flows[dept.main_flow].start}")

    def rewind(self, ctx: Context, ref: str, *, left: Position | None = None) -> Context:
        """Back at `ref`, a step on the stack: the stack popped to it, and every answer given
        since forgotten (issue "conversation a guest expects": back, then another branch,
        must not carry the branch left behind into the request).

        Forgotten: the answer of `ref` itself (it is asked again), of every step above it on
        the stack and of `left` (the step the guest is leaving, if it counts as abandoned).
        When any of those belongs to another flow than `ref`'s, all the step data was
        collected after `ref` (a flow starts with no step data): it is all forgotten.
        Guest-level data (accumulated_data, `remember`) is kept: the guest told us.
        """
        stack = ctx.navigation_stack
        index = stack.index(ref)
        dropped = [*stack[index:], *((left.ref,) if left is not None else ())]
        flow_id = ref.partition(".")[0]
        flow = self.hotel.flows.get(FlowId(flow_id))
        if flow is None or any(r.partition(".")[0] != flow_id for r in dropped):
            return ctx.evolve(navigation_stack=stack[:index], step_data={})
        keys: set[str] = set()
        for dropped_ref in dropped:
            found = flow.steps.get(StepId(dropped_ref.partition(".")[2]))
            keys.update(answers(found) if found is not None else ())
        data = {key: value for key, value in ctx.step_data.items() if key not in keys}
        return ctx.evolve(navigation_stack=stack[:index], step_data=data)

    def land(self, ctx: Context, flow_id: str, step_id: str,
             also: ContextChanges | None = None) -> Landing:
        """Arrive at a step (the stack already updated), passing through disabled steps.

        Args:
            also: changes the move makes to the context first (the stack, the step data),
                applied in the same copy as the arrival's when it lands at once.

        Returns:
            The enabled step arrived at (possibly an end step) with the context's current
            flow and step set; `at` is None for a missing step, an unoffered flow or a loop
            of disabled steps.
        """
        seen: set[tuple[str, str]] = set()
        while True:
            flow = self.hotel.flows.get(FlowId(flow_id))
            target = flow.steps.get(StepId(step_id)) if flow is not None else None
            if also and (target is None or not target.enabled):  # not landing at once
                ctx, also = ctx.evolve(**also), None
            if flow is None or target is None or (flow_id, step_id) in seen:
                return Landing(context=ctx, at=None)
            seen.add((flow_id, step_id))
            if target.enabled:
                if also or ctx.current_flow != flow_id or ctx.current_step != step_id:
                    arrival: ContextChanges = {"current_flow": flow_id, "current_step": step_id}
                    ctx = ctx.evolve(**(also | arrival if also else arrival))
                return Landing(context=ctx, at=Position(flow, target))
            following = choose(target.next, ctx)
            if following is None:
                return Landing(context=ctx, at=None)
            if following.startswith(FLOW_PREFIX):
                flow_id = following.removeprefix(FLOW_PREFIX)
                if not self.offered(ctx, flow_id):
                    return Landing(context=ctx, at=None)
                step_id = self.hotel.flows[FlowId(flow_id)].start
                ctx = ctx.evolve(step_data={})
            else:
                step_id = following
