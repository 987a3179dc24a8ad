"""One-for-one supervision with a restart budget; a failing child never touches its siblings.

Owns: the children by key (any hashable), their factories, the restart history per key and
the decision taken for every failed message. Must never: cancel or restart a sibling of a
failing child (the opposite of asyncio.TaskGroup), retry the failed message itself (the owner
decides what happens to it), or put a key in a task name or a log line (keys hold phone
numbers; the owner passes a name if it wants one).

Decision table, applied when a child's told message (or its on_start) raises:

    restarts of this key in the last         factory()        decision   the child
    window_seconds (clock.monotonic)
    --------------------------------------   --------------   --------   --------------------------
    < max_restarts                           returns actor    RESTART    same ref, fresh instance
                                                                         from the factory; its
                                                                         on_start runs, then the
                                                                         rest of the mailbox
    < max_restarts                           raises           ABORT      aborted (as below)
    >= max_restarts                          not called       ABORT      aborted: no drain, no
                                                                         on_stop; queued asks fail
                                                                         with ActorDeadError;
                                                                         queued tells are reported
                                                                         ABORT too (ActorDeadError)

Every decision is returned by `on_failure` and reported to `on_decision(key, decision, exc,
message)` so the owner can park the message (message is None when on_start failed). A failed
ask is not a failure here: the exception goes back to the caller and the child keeps running.

The history of a key outlives its child while restarts are inside the window, so a key that
used up its budget and is spawned again is aborted at its next failure (a circuit breaker for a
poisoned conversation) until the window has passed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import structlog

from hotelbot.actors.base import Actor, ActorRef
from hotelbot.clock import Clock
from hotelbot.errors import ActorDeadError

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)


class SupervisorDecision(StrEnum):
    RESTART = "restart"
    ABORT = "abort"


DecisionHook = Callable[[K, SupervisorDecision, Exception, object], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorStatistics:
    children: int
    failures: int
    restarts: int
    aborted: int  # children aborted, plus the queued tells dropped with them


class _Child(Generic[K]):
    """One supervised key. It is itself the ref's failure hook (called with (exc, message));
    the ref's end callback is the supervisor's one `_ended`, which finds the child as that
    hook: no closure or bound method kept per child."""

    __slots__ = ("factory", "key", "ref", "supervisor")

    def __init__(
        self, supervisor: Supervisor[K], key: K, factory: Callable[[], Actor] | None,
        ref: ActorRef,
    ) -> None:
        self.supervisor = supervisor
        self.key = key
        self.factory = factory
        self.ref = ref

    def __call__(self, exc: Exception, message: object) -> None:
        """The actor failed on `message` (a FailureHook)."""
        self.supervisor._child_failed(self, exc, message)


class _History:
    __slots__ = ("recent", "total")

    def __init__(self) -> None:
        self.recent: deque[float] = deque()
        self.total = 0


class Supervisor(Generic[K]):
    """Children by key; restart from the factory within a budget, otherwise abort."""

    def __init__(
        self, *, clock: Clock, max_restarts: int = 3, window_seconds: float = 60.0,
        on_decision: DecisionHook[K] | None = None, name: str = "supervisor",
        factory: Callable[[K], Actor] | None = None,
    ) -> None:
        if max_restarts < 0:
            raise ValueError("max_restarts must be >= 0")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be > 0")
        self._clock = clock
        self._max_restarts = max_restarts
        self._window = window_seconds
        self._on_decision = on_decision
        self._name = name
        # Makes a key's actor when spawn() is given no factory of its own (one object for all
        # children instead of one per child: memory, and objects the collector walks).
        self._factory = factory
        self._children: dict[K, _Child[K]] = {}
        self._history: dict[K, _History] = {}
        self._closed = False
        self._failures = 0
        self._restarts = 0
        self._aborted = 0
        # Bound once: every child's ref shares it (a bound method per child is an object each).
        self._end_callback: Callable[[ActorRef], object] = self._ended

    def __len__(self) -> int:
        return len(self._children)

    def keys(self) -> Iterator[K]:
        """Keys that have a child (running or still stopping)."""
        return iter(tuple(self._children))

    def spawn(self, key: K, factory: Callable[[], Actor] | None = None, *,
              name: str | None = None) -> ActorRef:
        """Start a child for `key` from `factory` (also used for every restart); without one,
        from the supervisor's own factory, called with `key` each time.

        If the key's previous child is still stopping, the new one starts after it ended.

        Raises:
            ValueError: `key` already has a running child, or no factory was given to the
                supervisor or to this call.
            ActorDeadError: stop_all() has begun.
        """
        if self._closed:
            raise ActorDeadError(f"{self._name} is stopping")
        previous = self._children.get(key)
        if previous is not None and previous.ref.is_alive:
            raise ValueError("key already has a running child")
        actor = self._make(key, factory)
        after = previous.ref if previous is not None else None
        ref = actor.start(name=name, clock=self._clock, after=after)
        child = _Child(self, key, factory, ref)
        ref.failure_hook = child
        ref._add_done_callback(self._end_callback)
        self._children[key] = child
        return ref

    def get(self, key: K) -> ActorRef | None:
        """The running child of `key`, or None (also while it is stopping)."""
        child = self._children.get(key)
        if child is None or not child.ref.is_alive:
            return None
        return child.ref

    async def stop(self, key: K) -> None:
        """Stop `key`'s child gracefully (drain, on_stop). No-op for an unknown key."""
        child = self._children.get(key)
        if child is not None:
            await child.ref.stop()

    async def stop_all(self) -> None:
        """Refuse new children, then stop every child gracefully and concurrently."""
        self._closed = True
        refs = [child.ref for child in self._children.values()]
        await asyncio.gather(*(ref.stop() for ref in refs))

    def restarts(self, key: K) -> int:
        """Restarts of `key`'s children while the key is remembered (has a child or recent
        restarts)."""
        history = self._history.get(key)
        return history.total if history is not None else 0

    def statistics(self) -> SupervisorStatistics:
        return SupervisorStatistics(
            children=len(self._children), failures=self._failures,
            restarts=self._restarts, aborted=self._aborted,
        )

    def on_failure(self, key: K, exc: Exception, message: object) -> SupervisorDecision:
        """Apply the decision table to `key`'s child (the child's failure hook calls this).

        Raises:
            KeyError: `key` has no child.
        """
        return self._child_failed(self._children[key], exc, message)

    def _child_failed(
        self, child: _Child[K], exc: Exception, message: object
    ) -> SupervisorDecision:
        self._failures += 1
        history = self._history.setdefault(child.key, _History())
        now = self._clock.monotonic()
        self._forget_before(history, now - self._window)
        dropped: list[object] = []
        decision = SupervisorDecision.ABORT
        if len(history.recent) < self._max_restarts and self._restart(child):
            history.recent.append(now)
            history.total += 1
            self._restarts += 1
            decision = SupervisorDecision.RESTART
        else:
            dropped = self._abort(child)
        log.warning(
            "child_failed", supervisor=self._name, actor=child.ref.name,
            decision=decision.value, restarts=history.total, error=type(exc).__name__,
        )
        self._report(child.key, decision, exc, message)
        for queued in dropped:
            self._report(child.key, SupervisorDecision.ABORT, ActorDeadError("aborted"), queued)
        return decision

    def _restart(self, child: _Child[K]) -> bool:
        try:
            child.ref._replace(self._make(child.key, child.factory))
        except Exception:
            log.exception("child_factory_failed", supervisor=self._name, actor=child.ref.name)
            return False
        return True

    def _make(self, key: K, factory: Callable[[], Actor] | None) -> Actor:
        if factory is not None:
            return factory()
        if self._factory is None:
            raise ValueError(f"{self._name}: no factory for {key!r}")
        return self._factory(key)

    def _abort(self, child: _Child[K]) -> list[object]:
        dropped = child.ref._abort()
        self._aborted += 1 + len(dropped)
        return dropped

    def _report(
        self, key: K, decision: SupervisorDecision, exc: Exception, message: object
    ) -> None:
        if self._on_decision is None:
            return
        try:
            self._on_decision(key, decision, exc, message)
        except Exception:
            log.exception("supervisor_decision_hook_failed", supervisor=self._name)

    def _ended(self, ref: ActorRef) -> None:
        """A child's ref ended (its end callback): the child is its failure hook."""
        child = ref.failure_hook
        if isinstance(child, _Child) and child.supervisor is self:
            self._child_done(child)

    def _child_done(self, child: _Child[K]) -> None:
        if self._children.get(child.key) is child:
            del self._children[child.key]
        history = self._history.get(child.key)
        if history is not None and child.key not in self._children:
            self._forget_before(history, self._clock.monotonic() - self._window)
            if not history.recent:
                del self._history[child.key]

    @staticmethod
    def _forget_before(history: _History, horizon: float) -> None:
        recent = history.recent
        while recent and recent[0] <= horizon:
            recent.popleft()
