"""The actor base: Actor (behaviour), ActorRef (mailbox + task), a bounded Mailbox.

Owns: running one actor's messages one at a time in arrival order, the tell/ask/stop contract
and per-actor statistics. Must never: swallow CancelledError, run two messages of one actor at
once, let a failing actor affect another one, or log a message's content (only its type).

The contract (after Pykka's, with a supervisor hook instead of "a failed tell stops the actor"):

    message kind   receive returns      receive raises Exception
    ------------   ------------------   ---------------------------------------------------
    tell           counted as handled   logged with traceback; ref.failure_hook(exc, message)
                                        is called (a Supervisor restarts the actor there);
                                        with no hook the same instance keeps going
    ask            reply = the value    reply = the exception (the caller of ask re-raises
                                        it); the actor keeps running; no hook
    on_start       -                    logged; failure_hook(exc, None); the actor dies unless
                                        the hook replaced it with a fresh instance

Lifecycle of a ref:

    RUNNING --stop()--> STOPPING: new tell/ask raise ActorDeadError; what is already queued is
                        handled (drain), then on_stop() runs --> DEAD
    RUNNING/STOPPING --abort (supervisor gave up)--> DEAD at once: no drain, no on_stop
    any --task cancelled--> DEAD (CancelledError propagates)
    DEAD: every ask still queued fails with ActorDeadError; tells still queued are dropped.

An ActorRef stays the same across restarts: the supervisor swaps the Actor instance behind it
(Akka's model), so the mailbox, its order and the callers' refs survive a restart.

Tasks: an actor has a task only while it has work. The task starts with the actor (on_start,
after its predecessor ended) and with the first letter to an idle actor (or a stop or an
abort), handles the mailbox in order, and returns as soon as it is empty; nothing else
changes in the contract above (one letter at a time, in arrival order; a restart's on_start
before the next letter; the task's cancellation ends the actor).

Memory: an idle actor is one Mailbox (whose deques exist only while they hold something) and
two slotted objects, no task, coroutine or future: a few hundred bytes, against ~4.5 KB for
a task waiting on an asyncio.Queue. Every object an idle actor keeps is one more for the
garbage collector to walk (BENCHMARKS.md "Memory": a whole idle conversation is 10 tracked
objects, ~2.5 KiB).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol, runtime_checkable

import structlog

from hotelbot.actors.mailbox import Mailbox
from hotelbot.actors.messages import Ask, Letter, Tell
from hotelbot.clock import Clock, SystemClock
from hotelbot.errors import ActorDeadError

log = structlog.get_logger(__name__)

ACTOR_TASK_PREFIX = "actor:"
DEFAULT_MAILBOX_SIZE = 1_000

FailureHook = Callable[[Exception, object], None]
"""Called as hook(exc, message) in the actor's task; message is None when on_start failed."""

_names = itertools.count(1)
# asyncio keeps only weak references to tasks: a started actor nobody refers to must not be
# collected mid-flight. This set holds each live ref until its task ends.
_live: set[ActorRef] = set()
# The context end callbacks run in: one shared, empty one instead of a copy of the spawning
# task's context kept per actor (they read no context variables).
_CALLBACK_CONTEXT = contextvars.Context()


class _State(Enum):
    RUNNING = "running"
    STOPPING = "stopping"
    DEAD = "dead"


@runtime_checkable
class Failable(Protocol):
    """A told message someone waits on: told when the actor drops it unhandled."""

    def fail(self, error: BaseException) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorStatistics:
    """handled: receive returned; failed: receive raised; queued: in the mailbox now."""

    handled: int
    failed: int
    queued: int
    started_at: datetime


class Actor:
    """Subclass and implement `receive`; optionally `on_start` and `on_stop`.

    Subclasses declare `__slots__` for their own state (keep actors small) and call
    `super().__init__(mailbox_size=...)`.
    """

    __slots__ = ("_ref", "mailbox_size")

    def __init__(self, *, mailbox_size: int = DEFAULT_MAILBOX_SIZE) -> None:
        if mailbox_size < 1:
            raise ValueError("mailbox_size must be at least 1")
        self.mailbox_size = mailbox_size
        self._ref: ActorRef | None = None

    async def receive(self, message: object) -> object:
        """Handle one message; the return value answers an ask."""
        raise NotImplementedError

    async def on_start(self) -> None:
        """Runs in the actor's task before its first message (and after each restart)."""

    async def on_stop(self) -> None:
        """Runs in the actor's task after a graceful stop has drained the mailbox."""

    @property
    def actor_ref(self) -> ActorRef:
        """The ref this actor runs behind. Raises RuntimeError before start()."""
        if self._ref is None:
            raise RuntimeError("actor not started")
        return self._ref

    def start(
        self, *, name: str | None = None, clock: Clock | None = None,
        after: ActorRef | None = None,
    ) -> ActorRef:
        """Start this actor in its own task (needs a running loop).

        Args:
            name: task name suffix (`actor:<name>`); never put a phone number in it.
            clock: where started_at comes from (SystemClock by default).
            after: an actor that must have finished before this one starts (a successor
                of the same conversation never overlaps its stopping predecessor).

        Returns:
            The ActorRef to send messages to.
        """
        return ActorRef(self, name=name, clock=clock or SystemClock(), after=after)


class ActorRef:
    """The handle to a running actor: its mailbox, its task, its statistics."""

    __slots__ = (
        "_actor", "_after", "_ended", "_failed", "_handled", "_label", "_loop", "_mailbox",
        "_on_end", "_over", "_started", "_started_at", "_state", "_task", "failure_hook",
    )

    def __init__(
        self, actor: Actor, *, name: str | None, clock: Clock, after: ActorRef | None
    ) -> None:
        if actor._ref is not None:
            raise RuntimeError("actor already started")
        actor._ref = self
        self._actor = actor
        self._mailbox = Mailbox(actor.mailbox_size)
        self._state = _State.RUNNING
        self._handled = 0
        self._failed = 0
        self._started_at = clock.now()
        self.failure_hook: FailureHook | None = None
        self._label = ACTOR_TASK_PREFIX + (name or f"{type(actor).__name__}-{next(_names)}")
        self._loop = asyncio.get_running_loop()
        self._after = after
        self._started: Actor | None = None
        self._ended: asyncio.Future[None] | None = None  # made when someone waits for the end
        # End callbacks: one kept as itself (a list only for a second one: memory per actor).
        self._on_end: Callable[[ActorRef], object] | list[Callable[[ActorRef], object]] | None = (
            None)
        self._over = False  # _end has run
        # The task that handles the mailbox: there while there is work (the start, letters,
        # the stop), None while the actor is idle; kept once the actor ended.
        self._task: asyncio.Task[None] | None = None
        self._run_soon()
        _live.add(self)

    def __repr__(self) -> str:
        return f"<ActorRef {self.name} {self._state.value}>"

    @property
    def name(self) -> str:
        return self._label.removeprefix(ACTOR_TASK_PREFIX)

    @property
    def is_alive(self) -> bool:
        """True while the actor accepts messages (not stopping, not dead)."""
        return self._state is _State.RUNNING

    def statistics(self) -> ActorStatistics:
        return ActorStatistics(
            handled=self._handled, failed=self._failed, queued=len(self._mailbox),
            started_at=self._started_at,
        )

    def tell_nowait(self, message: object) -> None:
        """Queue `message` for the actor.

        Raises:
            ActorDeadError: the actor is stopping or stopped.
            MailboxFull: the bounded mailbox is full.
        """
        self._check_alive()
        self._mailbox.put_nowait(Tell(message=message))
        if self._task is None:
            self._run_soon()

    async def tell(self, message: object) -> None:
        """Queue `message`, waiting for room. Raises ActorDeadError if the actor is gone."""
        self._check_alive()
        await self._mailbox.put(Tell(message=message))
        self._check_landed()
        if self._task is None:
            self._run_soon()

    # The contract (brief E, Pykka's ask) takes a timeout; it is applied with asyncio.timeout.
    async def ask(self, message: object, timeout: float | None = None) -> object:  # noqa: ASYNC109
        """Send `message` and wait for receive's result (waiting for room first).

        Raises:
            ActorDeadError: the actor is stopping or stopped, or stopped before answering.
            TimeoutError: no answer within `timeout` seconds (the message may still run).
            Exception: whatever receive raised for this message.
        """
        self._check_alive()
        reply: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout):
            await self._mailbox.put(Ask(message=message, reply=reply))
            if self._state is _State.DEAD:  # died while we waited for room
                self._reject_queued()  # fails our reply too
            elif self._task is None:
                self._run_soon()
            return await reply

    async def stop(self) -> None:
        """Stop gracefully: handle what is queued, run on_stop, then return.

        New tells and asks fail with ActorDeadError at once. Idempotent. Called from inside
        the actor's own receive, it returns immediately and the actor stops after the
        current message and the rest of its mailbox.
        """
        if self._state is _State.RUNNING:
            self._state = _State.STOPPING
            if self._task is None:
                self._run_soon()  # idle: a task to run on_stop
        if self._task is None or asyncio.current_task() is not self._task:
            await self.wait_stopped()

    async def wait_stopped(self) -> None:
        """Wait until the actor has ended and its last task is over (never raises its error)."""
        if not self._over:
            if self._ended is None:
                self._ended = self._loop.create_future()
            await asyncio.shield(self._ended)
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait([task])

    # -- for the supervisor (same package) -------------------------------------------------

    def _replace(self, actor: Actor) -> None:
        """Put a fresh instance behind this ref; its on_start runs before the next message."""
        if actor._ref is not None:
            raise RuntimeError("actor already started")
        if self._state is _State.DEAD:
            raise ActorDeadError("cannot restart a dead actor")
        actor._ref = self
        self._actor = actor

    def _abort(self) -> list[object]:
        """Die now without draining or on_stop. Returns the told messages that were queued."""
        if self._state is _State.DEAD:
            return []
        self._state = _State.DEAD
        dropped = self._reject_queued()
        if self._task is None:
            self._run_soon()  # idle: a task to end it (the end's callbacks run as usual)
        return dropped

    def _add_done_callback(self, callback: Callable[[ActorRef], object]) -> None:
        """Call `callback(ref)` once the actor has ended, however it ended."""
        on_end = self._on_end
        if on_end is None:
            self._on_end = callback
        elif isinstance(on_end, list):
            on_end.append(callback)
        else:
            self._on_end = [on_end, callback]

    # -- internals -------------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._state is not _State.RUNNING:
            raise ActorDeadError(f"actor {self.name} is {self._state.value}")

    def _check_landed(self) -> None:
        """After waiting for room: if the actor died meanwhile, nothing will read the mailbox."""
        if self._state is _State.DEAD:
            self._reject_queued()
            raise ActorDeadError(f"actor {self.name} is dead")

    def _reject_queued(self) -> list[object]:
        dropped: list[object] = []
        while self._mailbox:
            letter = self._mailbox.get_nowait()
            if isinstance(letter, Ask):
                if not letter.reply.done():
                    letter.reply.set_exception(ActorDeadError(f"actor {self.name} is dead"))
            elif isinstance(letter, Tell):
                dropped.append(letter.message)
        return dropped

    def _run_soon(self) -> None:
        """Start the task that handles the mailbox (none runs: the actor was idle)."""
        self._task = self._loop.create_task(self._run(), name=self._label)
        self._task.add_done_callback(self._task_over, context=_CALLBACK_CONTEXT)

    def _task_over(self, task: asyncio.Task[None]) -> None:
        """A task cancelled before it ran never reached _run's finally: end the actor here."""
        if not self._over and task is self._task and task.cancelled():
            self._end()

    async def _run(self) -> None:
        """The actor's task while it has work: the start (after a predecessor ended), each
        letter in order, the stop. It returns when the mailbox is empty, and the next letter
        starts another: an idle actor keeps no task, coroutine or future (memory, and objects
        the garbage collector walks: BENCHMARKS.md "Memory")."""
        ended = True
        try:
            if self._after is not None:
                after, self._after = self._after, None
                await after.wait_stopped()
            while self._state is not _State.DEAD:
                if self._actor is not self._started:  # first start, or restarted
                    self._started = self._actor
                    await self._start_instance(self._started)
                elif self._mailbox:
                    await self._handle(self._mailbox.get_nowait())
                elif self._state is _State.STOPPING:
                    await self._call_on_stop()  # drained: a graceful stop
                    break
                else:
                    ended = False  # idle: the next letter starts a task again
                    return
        finally:
            if ended:
                self._end()
            else:
                self._task = None

    def _end(self) -> None:
        """The actor ended (stopped, aborted, its task cancelled or failed): fail or drop
        what is queued, then tell who waits (end callbacks first, then wait_stopped)."""
        self._state = _State.DEAD
        self._over = True
        dropped = self._reject_queued()
        if dropped:
            log.warning("actor_messages_dropped", actor=self.name, count=len(dropped))
            error = ActorDeadError(f"actor {self.name} ended before handling it")
            for message in dropped:
                if isinstance(message, Failable):
                    message.fail(error)  # e.g. a webhook waiting for the message's record
        _live.discard(self)
        on_end, self._on_end = self._on_end, None
        for callback in (on_end if isinstance(on_end, list) else (on_end,) if on_end else ()):
            self._loop.call_soon(callback, self, context=_CALLBACK_CONTEXT)
        if self._ended is not None and not self._ended.done():
            self._loop.call_soon(_resolve, self._ended, context=_CALLBACK_CONTEXT)

    async def _handle(self, letter: Letter) -> None:
        if isinstance(letter, Ask):
            await self._handle_ask(letter)
        elif isinstance(letter, Tell):
            await self._handle_tell(letter)

    async def _start_instance(self, actor: Actor) -> None:
        """Run on_start; when it fails and nobody puts a fresh instance in, abort."""
        try:
            await actor.on_start()
        except Exception as exc:
            log.exception("actor_start_failed", actor=self.name)
            self._report_failure(exc, None)
            if self._actor is actor and self._state is not _State.DEAD:
                self._abort()

    async def _handle_ask(self, letter: Ask) -> None:
        reply = letter.reply
        try:
            result = await self._actor.receive(letter.message)
        except Exception as exc:
            self._failed += 1
            if not reply.done():
                reply.set_exception(exc)
            return
        except BaseException:  # CancelledError and friends: answer, then propagate
            if not reply.done():
                reply.set_exception(ActorDeadError(f"actor {self.name} was cancelled"))
            raise
        self._handled += 1
        if not reply.done():  # the caller may have timed out or been cancelled
            reply.set_result(result)

    async def _handle_tell(self, letter: Tell) -> None:
        try:
            await self._actor.receive(letter.message)
        except Exception as exc:
            self._failed += 1
            log.exception(
                "actor_message_failed", actor=self.name,
                message_type=type(letter.message).__name__,
            )
            self._report_failure(exc, letter.message)
            return
        self._handled += 1

    def _report_failure(self, exc: Exception, message: object) -> None:
        hook = self.failure_hook
        if hook is None:
            return
        try:
            hook(exc, message)
        except Exception:
            log.exception("actor_failure_hook_failed", actor=self.name)

    async def _call_on_stop(self) -> None:
        try:
            await self._actor.on_stop()
        except Exception:
            log.exception("actor_stop_failed", actor=self.name)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def live_actors() -> tuple[ActorRef, ...]:
    """The refs of the current event loop that have not ended (tests, admin)."""
    loop = asyncio.get_running_loop()
    return tuple(ref for ref in _live if ref._loop is loop)
