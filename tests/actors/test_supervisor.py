"""The one-for-one supervisor: restarts from the factory, the budget window, aborting, siblings."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from hotelbot.actors import Actor, Supervisor, SupervisorDecision
from hotelbot.errors import ActorDeadError
from tests.fakes.clock import FakeClock


class Boom(Exception):
    pass


class CounterActor(Actor):
    """Counts in memory; 'boom' raises. `generation` tells restarted instances apart."""

    __slots__ = ("count", "generation", "log")

    def __init__(self, generation: int, log: list[tuple[int, object]]) -> None:
        super().__init__(mailbox_size=100)
        self.generation = generation
        self.count = 0
        self.log = log

    async def receive(self, message: object) -> object:
        await asyncio.sleep(0)
        if message == "boom":
            raise Boom("boom")
        self.count += 1
        self.log.append((self.generation, message))
        return (self.generation, self.count)


class Family:
    """A factory that numbers the instances it builds, and the decisions reported."""

    def __init__(self) -> None:
        self.built = 0
        self.log: list[tuple[int, object]] = []

    def __call__(self) -> CounterActor:
        self.built += 1
        return CounterActor(self.built, self.log)


Decision = tuple[object, SupervisorDecision, type[Exception], object]


def make_supervisor(
    clock: FakeClock, max_restarts: int = 2, window: float = 60.0
) -> tuple[Supervisor[str], list[Decision]]:
    decisions: list[Decision] = []

    def on_decision(key: str, decision: SupervisorDecision, exc: Exception, msg: object) -> None:
        decisions.append((key, decision, type(exc), msg))

    supervisor: Supervisor[str] = Supervisor(
        clock=clock, max_restarts=max_restarts, window_seconds=window, on_decision=on_decision
    )
    return supervisor, decisions


async def test_a_failed_tell_restarts_the_child_from_its_factory_behind_the_same_ref(clock):
    supervisor, decisions = make_supervisor(clock)
    family = Family()
    ref = supervisor.spawn("guest-1", family)
    assert await ref.ask("a") == (1, 1)
    ref.tell_nowait("boom")
    ref.tell_nowait("b")  # queued behind the failure: handled by the fresh instance
    assert await ref.ask("c") == (2, 2)
    assert family.built == 2
    assert family.log == [(1, "a"), (2, "b"), (2, "c")]
    assert decisions == [("guest-1", SupervisorDecision.RESTART, Boom, "boom")]
    assert supervisor.restarts("guest-1") == 1
    assert supervisor.get("guest-1") is ref


async def test_the_failed_message_is_not_retried_by_the_supervisor(clock):
    supervisor, _ = make_supervisor(clock)
    family = Family()
    ref = supervisor.spawn("k", family)
    ref.tell_nowait("boom")
    await ref.ask("sync")
    assert [m for _, m in family.log] == ["sync"]


async def test_a_failed_ask_goes_to_the_caller_and_is_not_a_supervisor_failure(clock):
    supervisor, decisions = make_supervisor(clock)
    ref = supervisor.spawn("k", Family())
    with pytest.raises(Boom):
        await ref.ask("boom")
    assert decisions == []
    assert supervisor.restarts("k") == 0
    assert supervisor.statistics().failures == 0


async def test_restarts_beyond_the_budget_abort_the_child(clock):
    supervisor, decisions = make_supervisor(clock, max_restarts=2)
    ref = supervisor.spawn("k", Family())
    with capture_logs() as logs:
        for _ in range(3):
            ref.tell_nowait("boom")
        ref.tell_nowait("after")
        await ref.wait_stopped()
    assert [d[1] for d in decisions] == [
        SupervisorDecision.RESTART,
        SupervisorDecision.RESTART,
        SupervisorDecision.ABORT,
        SupervisorDecision.ABORT,
    ]
    assert decisions[2] == ("k", SupervisorDecision.ABORT, Boom, "boom")
    assert decisions[3] == ("k", SupervisorDecision.ABORT, ActorDeadError, "after")
    assert not ref.is_alive
    assert supervisor.get("k") is None
    assert supervisor.restarts("k") == 2
    stats = supervisor.statistics()
    assert (stats.children, stats.failures, stats.restarts, stats.aborted) == (0, 3, 2, 2)
    assert [e["decision"] for e in logs if e["event"] == "child_failed"] == [
        "restart", "restart", "abort"
    ]


async def test_an_aborted_child_fails_its_queued_asks(clock):
    supervisor, _ = make_supervisor(clock, max_restarts=0)
    ref = supervisor.spawn("k", Family())
    ref.tell_nowait("boom")
    pending = asyncio.create_task(ref.ask("queued"))
    with pytest.raises(ActorDeadError):
        await pending


async def test_the_budget_window_forgets_old_restarts(clock):
    supervisor, decisions = make_supervisor(clock, max_restarts=2, window=60.0)
    ref = supervisor.spawn("k", Family())
    ref.tell_nowait("boom")
    ref.tell_nowait("boom")
    await ref.ask("sync")
    clock.jump(61)  # both restarts are now outside the window
    ref.tell_nowait("boom")
    ref.tell_nowait("boom")
    assert await ref.ask("still-alive") == (5, 1)
    assert [d[1] for d in decisions] == [SupervisorDecision.RESTART] * 4
    assert supervisor.restarts("k") == 4
    clock.jump(30)  # two restarts 30 s ago are still inside the window: budget used up
    ref.tell_nowait("boom")
    await ref.wait_stopped()
    assert decisions[-1][1] is SupervisorDecision.ABORT


async def test_siblings_keep_running_while_one_child_fails_repeatedly(clock):
    supervisor, decisions = make_supervisor(clock, max_restarts=3)
    families = {key: Family() for key in ("a", "b", "c")}
    refs = {key: supervisor.spawn(key, family) for key, family in families.items()}
    for n in range(10):
        refs["b"].tell_nowait("boom")
        refs["a"].tell_nowait(n)
        refs["c"].tell_nowait(n)
    await refs["b"].wait_stopped()
    assert await refs["a"].ask("end") == (1, 11)
    assert await refs["c"].ask("end") == (1, 11)
    assert families["a"].built == families["c"].built == 1
    assert {d[0] for d in decisions} == {"b"}
    assert supervisor.get("a") is refs["a"]
    assert supervisor.get("c") is refs["c"]
    assert supervisor.get("b") is None
    assert supervisor.restarts("b") == 3


async def test_an_aborted_key_spawned_again_is_aborted_at_its_next_failure_in_the_window(clock):
    supervisor, decisions = make_supervisor(clock, max_restarts=1)
    ref = supervisor.spawn("k", Family())
    ref.tell_nowait("boom")
    ref.tell_nowait("boom")
    await ref.wait_stopped()
    again = supervisor.spawn("k", Family())
    assert await again.ask("works") == (1, 1)
    again.tell_nowait("boom")
    await again.wait_stopped()
    assert [d[1] for d in decisions] == [
        SupervisorDecision.RESTART, SupervisorDecision.ABORT, SupervisorDecision.ABORT
    ]


async def test_a_factory_that_raises_on_restart_aborts_the_child(clock):
    supervisor, decisions = make_supervisor(clock)
    built = 0

    def factory() -> CounterActor:
        nonlocal built
        built += 1
        if built > 1:
            raise RuntimeError("snapshot unreadable")
        return CounterActor(built, [])

    ref = supervisor.spawn("k", factory)
    with capture_logs() as logs:
        ref.tell_nowait("boom")
        await ref.wait_stopped()
    assert decisions == [("k", SupervisorDecision.ABORT, Boom, "boom")]
    assert any(e["event"] == "child_factory_failed" for e in logs)


async def test_spawn_refuses_a_key_with_a_running_child(clock):
    supervisor, _ = make_supervisor(clock)
    supervisor.spawn("k", Family())
    with pytest.raises(ValueError):
        supervisor.spawn("k", Family())


async def test_stop_drains_the_child_and_forgets_it(clock):
    supervisor, _ = make_supervisor(clock)
    family = Family()
    ref = supervisor.spawn("k", family)
    for n in range(5):
        ref.tell_nowait(n)
    await supervisor.stop("k")
    assert [m for _, m in family.log] == [0, 1, 2, 3, 4]
    assert supervisor.get("k") is None
    assert len(supervisor) == 0
    await supervisor.stop("unknown")  # no-op


async def test_a_key_respawned_while_stopping_starts_after_its_predecessor(clock):
    supervisor, _ = make_supervisor(clock)
    old = Family()
    ref = supervisor.spawn("k", old)
    for n in range(5):
        ref.tell_nowait(n)
    stopping = asyncio.create_task(supervisor.stop("k"))
    await asyncio.sleep(0)
    assert supervisor.get("k") is None
    new = Family()
    successor = supervisor.spawn("k", new)
    assert await successor.ask("new") == (1, 1)
    assert ref._task.done()  # the old one had finished before the new one answered
    assert [m for _, m in old.log] == [0, 1, 2, 3, 4]
    await stopping
    assert supervisor.get("k") is successor


async def test_stop_all_drains_every_child_and_refuses_new_ones(clock):
    supervisor, _ = make_supervisor(clock)
    families = [Family() for _ in range(20)]
    refs = [supervisor.spawn(n, family) for n, family in enumerate(families)]
    for ref in refs:
        ref.tell_nowait("last")
    await supervisor.stop_all()
    assert all(family.log == [(1, "last")] for family in families)
    assert not any(ref.is_alive for ref in refs)
    assert supervisor.statistics().children == 0
    with pytest.raises(ActorDeadError):
        supervisor.spawn(99, Family())


async def test_on_failure_can_be_applied_by_key(clock):
    supervisor, decisions = make_supervisor(clock)
    family = Family()
    ref = supervisor.spawn("k", family)
    assert supervisor.on_failure("k", Boom("external"), "m") is SupervisorDecision.RESTART
    assert await ref.ask("x") == (2, 1)
    with pytest.raises(KeyError):
        supervisor.on_failure("missing", Boom("x"), "m")
    assert decisions == [("k", SupervisorDecision.RESTART, Boom, "m")]


async def test_the_supervisor_rejects_a_bad_budget(clock):
    with pytest.raises(ValueError):
        Supervisor(clock=clock, max_restarts=-1)
    with pytest.raises(ValueError):
        Supervisor(clock=clock, window_seconds=0)


# -- the fake clock the budget window (and other actor tests) rely on ------------------------


async def test_fake_clock_sleepers_wake_only_when_time_is_jumped_past_their_deadline():
    clock = FakeClock()
    start_wall, start_mono = clock.now(), clock.monotonic()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("late", 10)), asyncio.create_task(sleeper("early", 5))]
    await clock.wait_sleeping(2)
    assert clock.next_deadline() == start_mono + 5
    clock.jump(4.9)
    await asyncio.sleep(0)
    assert woke == []
    clock.jump(0.1)
    await asyncio.sleep(0)
    assert woke == ["early"]
    clock.jump(60)
    await asyncio.gather(*tasks)
    assert woke == ["early", "late"]
    assert clock.monotonic() == start_mono + 65
    assert (clock.now() - start_wall).total_seconds() == 65
    assert clock.sleeping == 0
    with pytest.raises(ValueError):
        clock.jump(-1)


async def test_the_supervisors_own_factory_makes_each_child_from_its_key(clock):
    """spawn() without a factory: the supervisor's, called with the key at the start and at
    every restart (one factory for all children, none kept per child)."""
    made: list[str] = []
    log: list[tuple[int, object]] = []

    def factory(key: str) -> CounterActor:
        made.append(key)
        return CounterActor(len(made), log)

    supervisor: Supervisor[str] = Supervisor(clock=clock, factory=factory)
    a, b = supervisor.spawn("a"), supervisor.spawn("b")
    assert await a.ask("x") == (1, 1) and await b.ask("y") == (2, 1)
    a.tell_nowait("boom")
    assert await a.ask("z") == (3, 1)  # restarted from the factory, with its key
    assert made == ["a", "b", "a"]
    await supervisor.stop_all()


async def test_a_restart_whose_factory_fails_aborts_the_child(clock):
    """The supervisor's factory refusing a key at a restart (e.g. its number was removed by a
    reload) aborts that child: the failed message and the queued ones are reported."""
    refuse: set[str] = set()
    log: list[tuple[int, object]] = []
    decisions: list[Decision] = []

    def factory(key: str) -> CounterActor:
        if key in refuse:
            raise LookupError(key)
        return CounterActor(1, log)

    def on_decision(key: str, decision: SupervisorDecision, exc: Exception, msg: object) -> None:
        decisions.append((key, decision, type(exc), msg))

    supervisor: Supervisor[str] = Supervisor(clock=clock, factory=factory, on_decision=on_decision)
    ref = supervisor.spawn("k")
    assert await ref.ask("x") == (1, 1)
    refuse.add("k")
    with capture_logs() as logs:
        ref.tell_nowait("boom")
        ref.tell_nowait("queued")
        await ref.wait_stopped()
    assert decisions == [("k", SupervisorDecision.ABORT, Boom, "boom"),
                         ("k", SupervisorDecision.ABORT, ActorDeadError, "queued")]
    assert any(e["event"] == "child_factory_failed" for e in logs)
    assert supervisor.get("k") is None


async def test_spawn_without_any_factory_is_refused(clock):
    supervisor: Supervisor[str] = Supervisor(clock=clock)
    with pytest.raises(ValueError, match="no factory"):
        supervisor.spawn("k")
    assert supervisor.get("k") is None
