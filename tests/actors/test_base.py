"""The actor contract: order, concurrency, ask/tell failures, bounded mailbox, stop, statistics."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from hotelbot.actors import Actor, ActorRef, Mailbox, live_actors
from hotelbot.actors.messages import Tell
from hotelbot.errors import ActorDeadError, MailboxFull
from tests.fakes.clock import FakeClock


class Boom(Exception):
    pass


class RecorderActor(Actor):
    """Records what it receives; yields inside receive so that interleaving would show."""

    __slots__ = ("active", "events", "gate", "max_active")

    def __init__(self, *, mailbox_size: int = 1_000, gate: asyncio.Event | None = None) -> None:
        super().__init__(mailbox_size=mailbox_size)
        self.events: list[object] = []
        self.gate = gate
        self.active = 0
        self.max_active = 0

    async def on_start(self) -> None:
        self.events.append("started")

    async def on_stop(self) -> None:
        self.events.append("stopped")

    async def receive(self, message: object) -> object:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            if message == "boom":
                raise Boom("boom")
            if message == "cancel":
                raise asyncio.CancelledError
            if message == "stop-self":
                await self.actor_ref.stop()
            self.events.append(message)
            return ("echo", message)
        finally:
            self.active -= 1


class FailingStartActor(Actor):
    __slots__ = ()

    async def on_start(self) -> None:
        raise Boom("cannot start")

    async def receive(self, message: object) -> object:
        return message


def recorder(ref: ActorRef) -> RecorderActor:
    actor = ref._actor
    assert isinstance(actor, RecorderActor)
    return actor


async def test_messages_from_concurrent_tellers_are_handled_one_at_a_time_in_arrival_order():
    actor = RecorderActor(mailbox_size=3)
    ref = actor.start(name="order")
    arrivals: list[tuple[int, int]] = []

    async def sender(who: int) -> None:
        for n in range(20):
            await ref.tell((who, n))  # the small mailbox makes senders wait for room
            arrivals.append((who, n))

    await asyncio.gather(*(sender(who) for who in range(5)))
    await ref.ask("sync")
    handled = [e for e in actor.events if isinstance(e, tuple)]
    assert sorted(handled) == sorted(arrivals)
    for who in range(5):
        assert [n for w, n in handled if w == who] == list(range(20))
    assert actor.max_active == 1


async def test_tell_nowait_order_is_preserved():
    actor = RecorderActor()
    ref = actor.start()
    for n in range(100):
        ref.tell_nowait(n)
    await ref.ask("sync")
    assert actor.events == ["started", *range(100), "sync"]


async def test_many_actors_handle_messages_concurrently():
    gate = asyncio.Event()
    actors = [RecorderActor(gate=gate) for _ in range(200)]
    refs = [actor.start() for actor in actors]
    for ref in refs:
        ref.tell_nowait("hello")
    for _ in range(5):
        await asyncio.sleep(0)
    assert sum(actor.active for actor in actors) == 200  # all inside receive at once
    gate.set()
    await asyncio.gather(*(ref.ask("sync") for ref in refs))
    assert all(actor.events == ["started", "hello", "sync"] for actor in actors)


async def test_ask_returns_the_value_of_receive():
    ref = RecorderActor().start()
    assert await ref.ask(42) == ("echo", 42)


async def test_ask_reraises_the_exception_and_the_actor_keeps_running():
    ref = RecorderActor().start()
    with pytest.raises(Boom):
        await ref.ask("boom")
    assert ref.is_alive
    assert await ref.ask("after") == ("echo", "after")
    stats = ref.statistics()
    assert (stats.handled, stats.failed) == (1, 1)


async def test_failed_ask_does_not_call_the_failure_hook():
    ref = RecorderActor().start()
    calls: list[object] = []
    ref.failure_hook = lambda exc, message: calls.append(message)
    with pytest.raises(Boom):
        await ref.ask("boom")
    assert calls == []


async def test_failed_tell_is_logged_with_traceback_and_calls_the_failure_hook():
    actor = RecorderActor()
    ref = actor.start(name="failing")
    calls: list[tuple[Exception, object]] = []
    ref.failure_hook = lambda exc, message: calls.append((exc, message))
    with capture_logs() as logs:
        ref.tell_nowait("boom")
        assert await ref.ask("after") == ("echo", "after")
    assert len(calls) == 1
    assert isinstance(calls[0][0], Boom)
    assert calls[0][1] == "boom"
    failed = [e for e in logs if e["event"] == "actor_message_failed"]
    assert len(failed) == 1
    assert failed[0]["log_level"] == "error"
    assert failed[0]["exc_info"] is True
    assert failed[0]["actor"] == "failing"
    assert failed[0]["message_type"] == "str"
    assert "boom" not in failed[0].values()  # the message itself is never logged


async def test_a_failing_failure_hook_is_logged_and_the_actor_survives():
    ref = RecorderActor().start()

    def bad_hook(exc: Exception, message: object) -> None:
        raise RuntimeError("hook bug")

    ref.failure_hook = bad_hook
    with capture_logs() as logs:
        ref.tell_nowait("boom")
        assert await ref.ask("after") == ("echo", "after")
    assert any(e["event"] == "actor_failure_hook_failed" for e in logs)


async def test_tell_nowait_raises_mailbox_full_when_the_bounded_mailbox_is_full():
    gate = asyncio.Event()
    actor = RecorderActor(mailbox_size=2, gate=gate)
    ref = actor.start()
    ref.tell_nowait(1)
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # 1 is now inside receive, waiting on the gate
    ref.tell_nowait(2)
    ref.tell_nowait(3)
    assert ref.statistics().queued == 2
    with pytest.raises(MailboxFull):
        ref.tell_nowait(4)
    gate.set()
    await ref.ask("sync")
    assert actor.events == ["started", 1, 2, 3, "sync"]


async def test_tell_waits_for_room_instead_of_failing():
    gate = asyncio.Event()
    actor = RecorderActor(mailbox_size=1, gate=gate)
    ref = actor.start()
    ref.tell_nowait(1)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    ref.tell_nowait(2)
    waiting = asyncio.create_task(ref.tell(3))
    await asyncio.sleep(0)
    assert not waiting.done()
    gate.set()
    await waiting
    await ref.ask("sync")
    assert actor.events == ["started", 1, 2, 3, "sync"]


async def test_stop_drains_the_mailbox_then_runs_on_stop():
    actor = RecorderActor()
    ref = actor.start()
    for n in range(5):
        ref.tell_nowait(n)
    pending_ask = asyncio.create_task(ref.ask("queued-ask"))
    await asyncio.sleep(0)
    await ref.stop()
    assert actor.events == ["started", 0, 1, 2, 3, 4, "queued-ask", "stopped"]
    assert await pending_ask == ("echo", "queued-ask")
    assert not ref.is_alive
    assert ref not in live_actors()


async def test_after_stop_tells_and_asks_fail_with_actor_dead_error():
    ref = RecorderActor().start()
    stopping = asyncio.create_task(ref.stop())
    await asyncio.sleep(0)
    assert not ref.is_alive
    with pytest.raises(ActorDeadError):
        ref.tell_nowait("late")
    with pytest.raises(ActorDeadError):
        await ref.tell("late")
    with pytest.raises(ActorDeadError):
        await ref.ask("late")
    await stopping
    with pytest.raises(ActorDeadError):
        await ref.ask("later")
    await ref.stop()  # idempotent


async def test_an_actor_can_stop_itself_from_receive():
    actor = RecorderActor()
    ref = actor.start()
    ref.tell_nowait("stop-self")
    ref.tell_nowait("queued-before-stop")
    await ref.wait_stopped()
    assert actor.events == ["started", "stop-self", "queued-before-stop", "stopped"]


async def test_stopping_one_actor_does_not_affect_the_others():
    refs = [RecorderActor().start() for _ in range(3)]
    await refs[1].stop()
    assert [ref.is_alive for ref in refs] == [True, False, True]
    assert await refs[0].ask("x") == ("echo", "x")
    assert await refs[2].ask("y") == ("echo", "y")


async def test_cancelled_error_in_receive_is_not_swallowed():
    actor = RecorderActor()
    ref = actor.start()
    calls: list[object] = []
    ref.failure_hook = lambda exc, message: calls.append(message)
    pending = asyncio.create_task(ref.ask("never"))
    ref.tell_nowait("cancel")
    await ref.wait_stopped()
    assert ref._task.cancelled()
    assert calls == []
    with pytest.raises(ActorDeadError):
        await pending
    assert "stopped" not in actor.events  # no graceful on_stop after a cancellation


async def test_cancelling_the_actor_fails_the_ask_in_flight_and_waiting_tellers():
    gate = asyncio.Event()
    ref = RecorderActor(mailbox_size=1, gate=gate).start()
    in_flight = asyncio.create_task(ref.ask("in-flight"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    ref.tell_nowait("queued")
    waiting = asyncio.create_task(ref.tell("waits-for-room"))
    await asyncio.sleep(0)
    ref._task.cancel()
    await ref.wait_stopped()
    with pytest.raises(ActorDeadError):
        await in_flight
    with pytest.raises(ActorDeadError):
        await waiting


async def test_ask_timeout_raises_timeout_error_and_the_actor_carries_on():
    gate = asyncio.Event()
    actor = RecorderActor(gate=gate)
    ref = actor.start()
    with pytest.raises(TimeoutError):
        await ref.ask("slow", timeout=0.01)
    gate.set()
    assert await ref.ask("next") == ("echo", "next")
    assert actor.events == ["started", "slow", "next"]


async def test_on_start_failure_without_a_hook_kills_the_actor():
    ref = FailingStartActor().start()
    with capture_logs() as logs:
        await ref.wait_stopped()
    assert not ref.is_alive
    assert any(e["event"] == "actor_start_failed" for e in logs)
    with pytest.raises(ActorDeadError):
        await ref.ask("x")


async def test_statistics_count_handled_failed_and_queued():
    clock = FakeClock()
    gate = asyncio.Event()
    started = clock.now()
    ref = RecorderActor(gate=gate).start(clock=clock)
    clock.jump(30)
    ref.tell_nowait("a")
    ref.tell_nowait("boom")
    ref.tell_nowait("b")
    stats = ref.statistics()
    assert (stats.handled, stats.failed, stats.queued) == (0, 0, 3)
    assert stats.started_at == started
    gate.set()
    await ref.ask("sync")
    stats = ref.statistics()
    assert (stats.handled, stats.failed, stats.queued) == (3, 1, 0)


async def test_the_task_carries_the_actor_name():
    ref = RecorderActor().start(name="front-desk-7")
    assert ref.name == "front-desk-7"
    assert ref._task.get_name() == "actor:front-desk-7"
    assert ref in live_actors()


async def test_an_actor_instance_starts_only_once():
    actor = RecorderActor()
    actor.start()
    with pytest.raises(RuntimeError):
        actor.start()


async def test_a_successor_starts_only_after_its_predecessor_stopped():
    first = RecorderActor()
    first_ref = first.start()
    first_ref.tell_nowait("old")
    stopping = asyncio.create_task(first_ref.stop())
    second = RecorderActor()
    order: list[str] = []
    second_ref = second.start(after=first_ref)
    first_ref._add_done_callback(lambda _task: order.append("first-done"))
    await second_ref.ask("new")
    order.append("second-answered")
    await stopping
    assert order == ["first-done", "second-answered"]
    assert first.events == ["started", "old", "stopped"]


# -- the mailbox --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=5), st.lists(st.booleans(), max_size=60))
def test_mailbox_behaves_like_a_bounded_fifo(maxsize: int, ops: list[bool]):
    mailbox = Mailbox(maxsize)
    model: deque[Tell] = deque()
    for n, is_put in enumerate(ops):
        if is_put:
            item = Tell(message=n)
            if len(model) >= maxsize:
                with pytest.raises(MailboxFull):
                    mailbox.put_nowait(item)
            else:
                mailbox.put_nowait(item)
                model.append(item)
        elif model:
            assert mailbox.get_nowait() is model.popleft()
        else:
            with pytest.raises(IndexError):
                mailbox.get_nowait()
        assert len(mailbox) == len(model)
        assert mailbox.full() == (len(model) >= maxsize)


async def test_mailbox_putters_wait_in_fifo_order_and_a_cancelled_one_passes_its_turn():
    mailbox = Mailbox(1)
    mailbox.put_nowait(Tell(message="first"))
    a = asyncio.create_task(mailbox.put(Tell(message="a")))
    b = asyncio.create_task(mailbox.put(Tell(message="b")))
    c = asyncio.create_task(mailbox.put(Tell(message="c")))
    await asyncio.sleep(0)
    b.cancel()
    taken = []
    for _ in range(3):
        letter = await mailbox.get()
        assert isinstance(letter, Tell)
        taken.append(letter.message)
        await asyncio.sleep(0)
    assert taken == ["first", "a", "c"]
    assert a.done() and b.cancelled() and c.done()
    assert len(mailbox) == 0


async def test_mailbox_woken_putter_cancelled_before_it_runs_wakes_the_next():
    mailbox = Mailbox(1)
    mailbox.put_nowait(Tell(message="first"))
    a = asyncio.create_task(mailbox.put(Tell(message="a")))
    b = asyncio.create_task(mailbox.put(Tell(message="b")))
    await asyncio.sleep(0)
    mailbox.get_nowait()  # wakes a ...
    a.cancel()  # ... which is cancelled before it could put
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert a.cancelled()
    assert b.done()
    letter = mailbox.get_nowait()
    assert isinstance(letter, Tell) and letter.message == "b"


async def test_mailbox_last_putter_cancelled_after_being_woken_leaves_the_mailbox_usable():
    mailbox = Mailbox(1)
    mailbox.put_nowait(Tell(message="first"))
    only = asyncio.create_task(mailbox.put(Tell(message="only")))
    await asyncio.sleep(0)
    mailbox.get_nowait()
    only.cancel()
    await asyncio.sleep(0)
    assert only.cancelled()  # CancelledError, not an error from the putter bookkeeping
    mailbox.put_nowait(Tell(message="next"))
    assert len(mailbox) == 1
