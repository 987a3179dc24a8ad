"""The timing wheel of the scheduler, on plain floats: never early, O(1) add and cancel."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotelbot.scheduler import TimingWheel

TICK = 0.01
YEAR = 365 * 86400.0


def small_wheel(slots: int = 8, levels: int = 3) -> TimingWheel[str]:
    """The header's example: 10 ms ticks, 8 slots, 3 levels (horizon 5.12 s at start 0)."""
    return TimingWheel[str](start=0.0, tick=TICK, slots=slots, levels=levels)


def test_the_worked_example_of_the_header_350_ms() -> None:
    wheel = small_wheel()
    wheel.add("a", 0.35)
    assert wheel.statistics().per_level == (0, 1, 0)  # level 1, slot 4: 320-400 ms
    assert wheel.next_deadline() == pytest.approx(0.32)  # when that slot cascades
    assert wheel.advance(0.32) == []
    assert wheel.statistics().per_level == (1, 0, 0) and wheel.statistics().cascaded == 1
    assert wheel.next_deadline() == 0.35  # level 0: exact
    assert wheel.advance(0.35) == [("a", 0.35)]
    assert wheel.next_deadline() is None


def test_the_worked_example_of_the_header_cascades_twice_in_one_jump() -> None:
    wheel = small_wheel()
    wheel.add("b", 2.5)
    assert wheel.statistics().per_level == (0, 0, 1)  # level 2, slot 3: 1.92-2.56 s
    assert wheel.next_deadline() == pytest.approx(1.92)
    assert wheel.advance(3.0) == [("b", 2.5)]
    assert wheel.statistics().cascaded == 2  # level 2 -> level 1 -> level 0


Step = tuple[str, str | float, object]

SCENARIOS: dict[str, list[Step]] = {
    "fires_at_its_due_not_a_moment_before": [
        ("add", "a", 0.05), ("advance", 0.0499, []), ("advance", 0.05, [("a", 0.05)]),
        ("advance", 1.0, [])],
    "fires_in_due_order_ties_by_insertion": [
        ("add", "b", 0.03), ("add", "a", 0.03), ("add", "c", 0.01), ("add", "d", 0.031),
        ("advance", 0.1, [("c", 0.01), ("b", 0.03), ("a", 0.03), ("d", 0.031)])],
    "readding_a_pending_key_moves_it_later": [
        ("add", "a", 0.05), ("add", "a", 2.0), ("advance", 1.0, []),
        ("advance", 2.0, [("a", 2.0)])],
    "readding_a_pending_key_moves_it_earlier": [
        ("add", "a", 3.0), ("add", "a", 0.07), ("advance", 0.07, [("a", 0.07)]),
        ("advance", 4.0, [])],
    "readding_takes_a_new_place_among_ties": [
        ("add", "a", 0.2), ("add", "b", 0.2), ("add", "a", 0.2),
        ("advance", 0.2, [("b", 0.2), ("a", 0.2)])],
    "a_cancelled_entry_never_fires": [
        ("add", "a", 0.05), ("add", "b", 0.05), ("cancel", "a", True),
        ("advance", 1.0, [("b", 0.05)]), ("cancel", "a", False)],
    "cancel_of_a_fired_or_unknown_key_is_false": [
        ("add", "a", 0.05), ("advance", 0.05, [("a", 0.05)]), ("cancel", "a", False),
        ("cancel", "nobody", False)],
    "a_fired_key_can_be_added_again": [
        ("add", "a", 0.05), ("advance", 0.05, [("a", 0.05)]), ("add", "a", 0.1),
        ("advance", 0.1, [("a", 0.1)])],
    "a_due_in_the_past_fires_at_the_next_advance": [
        ("advance", 1.0, []), ("add", "a", 0.5), ("add", "b", -100.0),
        ("advance", 1.0, [("b", -100.0), ("a", 0.5)])],
    "a_due_later_in_the_current_tick_waits_for_it": [
        ("advance", 1.0, []), ("add", "a", 1.005), ("advance", 1.004, []),
        ("advance", 1.005, [("a", 1.005)])],
    "a_clock_running_backwards_fires_nothing_early": [
        ("advance", 0.6, []), ("add", "a", 0.55), ("add", "b", 0.65), ("advance", 0.3, []),
        ("advance", 0.6, [("a", 0.55)]), ("advance", 0.65, [("b", 0.65)])],
    "an_entry_at_the_edge_of_the_first_level_fires_on_time": [
        ("add", "a", 0.08), ("add", "b", 0.64), ("advance", 0.0799, []),
        ("advance", 0.08, [("a", 0.08)]), ("advance", 0.6399, []),
        ("advance", 0.64, [("b", 0.64)])],
}


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_add_advance_cancel_table(steps: list[Step]) -> None:
    wheel = small_wheel()
    for op, arg, expected in steps:
        if op == "add":
            assert isinstance(arg, str) and isinstance(expected, float)
            wheel.add(arg, expected)
            assert arg in wheel
        elif op == "cancel":
            assert isinstance(arg, str)
            assert wheel.cancel(arg) is expected
            assert arg not in wheel
        else:
            assert isinstance(arg, float)
            assert wheel.advance(arg) == expected, (op, arg)


@pytest.mark.parametrize("step_ticks", [1, 3, 8, 13, 64, 100, 600])
@pytest.mark.parametrize("offset", [0.0, 0.005])
def test_entries_cascade_across_every_level_boundary(step_ticks: int, offset: float) -> None:
    boundaries = [0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 71, 72, 127, 128, 447, 448, 449, 511]
    wheel = small_wheel()
    dues = {f"t{b}": b * TICK + offset for b in boundaries}
    for key, due in dues.items():
        wheel.add(key, due)
    assert all(wheel.statistics().per_level)  # every level holds something
    fired_at: dict[str, float] = {}
    previous, now = -1.0, 0.0
    while wheel:
        for key, due in wheel.advance(now):
            assert previous < due <= now  # at the first advance with now >= due: never early
            fired_at[key] = now
        previous, now = now, now + step_ticks * TICK
    assert set(fired_at) == set(dues)
    assert wheel.statistics().cascaded > 0 and wheel.statistics().fired == len(dues)


OFFSETS = st.floats(-0.05, 0.47, allow_nan=False)  # within the horizon: 3 * 16 ticks ahead
STEPS = st.one_of(st.floats(0.0, 0.05), st.integers(0, 70).map(lambda n: n * TICK),
                  st.floats(0.0, 0.6), st.floats(0.0, 100.0))
OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(0, 12), OFFSETS),
    st.tuples(st.just("cancel"), st.integers(0, 12), st.just(0.0)),
    st.tuples(st.just("advance"), st.just(0), STEPS),
), max_size=80)


@settings(max_examples=400, deadline=None)
@given(ops=OPS, slots=st.sampled_from([2, 4, 8]), levels=st.integers(1, 3))
def test_every_entry_fires_once_in_due_order_at_the_first_advance_past_its_due(
        ops: list[tuple[str, int, float]], slots: int, levels: int) -> None:
    wheel = TimingWheel[int](start=0.0, tick=TICK, slots=slots, levels=levels)
    span = (slots - 1) * slots ** (levels - 1) * TICK  # the horizon is at least this far
    model: dict[int, tuple[float, int]] = {}  # key -> (due, insertion order)
    now, seq = 0.0, 0
    for op, key, value in ops:
        if op == "add":
            due = now + value * span / 0.48
            wheel.add(key, due)
            model[key], seq = (due, seq), seq + 1
        elif op == "cancel":
            assert wheel.cancel(key) is (model.pop(key, None) is not None)
        else:
            now += value
            due_now = sorted((d, s, k) for k, (d, s) in model.items() if d <= now)
            assert wheel.advance(now) == [(k, d) for d, _, k in due_now]
            for _, _, k in due_now:
                del model[k]
        assert len(wheel) == len(model)
        deadline = wheel.next_deadline()
        assert (deadline is None) == (not model)
        assert deadline is None or deadline <= min(d for d, _ in model.values())
    assert wheel.stop() == [(k, d) for d, _, k in sorted((d, s, k) for k, (d, s) in
                                                             model.items())]


@settings(max_examples=200, deadline=None)
@given(dues=st.lists(st.floats(0.0, 5.11), min_size=1, max_size=60))
def test_an_actor_sleeping_until_next_deadline_fires_everything_exactly_at_its_due(
        dues: list[float]) -> None:
    wheel = small_wheel()
    for n, due in enumerate(dues):
        wheel.add(f"e{n}", due)
    fired, wakes = 0, 0
    while (deadline := wheel.next_deadline()) is not None:
        wakes += 1
        batch = wheel.advance(deadline)
        assert all(due == deadline for _, due in batch)  # not early, and not late at all
        fired += len(batch)
    assert fired == len(dues)
    assert wakes <= len(dues) + wheel.statistics().cascaded  # a wake fires or cascades


def test_next_deadline_is_exact_in_level_0_and_in_the_past_when_overdue() -> None:
    wheel = small_wheel()
    assert wheel.next_deadline() is None
    wheel.add("a", 0.053)
    wheel.add("b", 0.051)
    assert wheel.next_deadline() == 0.051
    assert wheel.cancel("b") and wheel.next_deadline() == 0.053
    wheel.advance(0.052)
    wheel.add("late", 0.01)
    assert wheel.next_deadline() == 0.01
    assert wheel.advance(0.052) == [("late", 0.01)]


def test_a_big_jump_fires_everything_in_order_without_walking_the_ticks() -> None:
    start = 1_000_000.0  # a monotonic clock's value
    wheel = TimingWheel[str](start=start, tick=TICK, slots=512, levels=4)
    offsets = {"second": 1.0, "minute": 60.0, "day": 86400.0, "fortnight": 15 * 86400.0,
               "year": YEAR, "decade": 10 * YEAR, "twenty years": 20 * YEAR}
    for key, offset in reversed(offsets.items()):
        wheel.add(key, start + offset)
    assert wheel.statistics().per_level == (1, 1, 2, 3)
    # 21 years of 10 ms ticks is 6.6e10 of them: walking them would never finish
    assert wheel.advance(start + 21 * YEAR) == [(k, start + o) for k, o in offsets.items()]
    assert not wheel and wheel.statistics().cascaded <= 3 * len(offsets)
    wheel.add("next", start + 30 * YEAR)
    assert wheel.advance(start + 30 * YEAR) == [("next", start + 30 * YEAR)]


def test_the_horizon_refuses_far_dues_and_moves_with_the_wheel() -> None:
    wheel = small_wheel()
    assert wheel.horizon(0.0) == pytest.approx(5.12)  # (0 // 64 + 8) * 64 ticks
    wheel.add("near", math.nextafter(wheel.horizon(0.0), 0.0))
    with pytest.raises(ValueError, match=r"horizon 5\.12"):
        wheel.add("far", 5.12)
    with pytest.raises(ValueError, match="horizon"):
        wheel.add("far", math.inf)
    assert "far" not in wheel and len(wheel) == 1
    assert wheel.horizon(1.0) == pytest.approx(5.76)  # (100 // 64 + 8) * 64 ticks
    wheel.advance(1.0)
    wheel.add("far", 5.12)
    assert wheel.advance(5.76) == [("near", math.nextafter(5.12, 0.0)), ("far", 5.12)]


@pytest.mark.parametrize("now", [0.0, 0.63, 0.64, 1.0, 5.119, 77.7, 1e6])
def test_the_horizon_is_at_least_the_guaranteed_span_ahead(now: float) -> None:
    wheel = small_wheel()
    wheel.advance(now)
    horizon = wheel.horizon(now)
    assert horizon > now + 7 * 64 * TICK  # (slots - 1) * slots^(levels - 1) ticks
    wheel.add("last", math.nextafter(horizon, 0.0))  # the first due refused is the horizon
    with pytest.raises(ValueError):
        wheel.add("refused", horizon)


@pytest.mark.parametrize("due", [math.nan])
def test_a_due_that_is_not_a_number_is_refused_and_changes_nothing(due: float) -> None:
    wheel = small_wheel()
    wheel.add("a", 0.5)
    with pytest.raises(ValueError):
        wheel.add("a", due)
    assert wheel.stop() == [("a", 0.5)]


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_advance_refuses_a_time_that_is_not_finite(now: float) -> None:
    with pytest.raises(ValueError):
        small_wheel().advance(now)


def test_stop_hands_back_what_never_fired_in_due_order_and_empties_the_wheel() -> None:
    wheel = small_wheel()
    for key, due in [("c", 3.0), ("fired", 0.1), ("a", 0.2), ("gone", 0.3), ("b", 0.2)]:
        wheel.add(key, due)
    wheel.cancel("gone")
    assert wheel.advance(0.15) == [("fired", 0.1)]
    assert wheel.stop() == [("a", 0.2), ("b", 0.2), ("c", 3.0)]
    assert len(wheel) == 0 and wheel.next_deadline() is None and wheel.stop() == []
    assert wheel.advance(10.0) == []
    stats = wheel.statistics()
    assert (stats.pending, stats.per_level, stats.fired, stats.cancelled) == (0, (0, 0, 0), 1, 1)


def test_statistics_count_what_happened() -> None:
    wheel = small_wheel()
    wheel.add("a", 0.05)
    wheel.add("a", 0.5)  # rescheduled: level 1
    wheel.add("b", 3.0)  # level 2
    wheel.add("c", 0.01)
    wheel.cancel("c")
    stats = wheel.statistics()
    assert (stats.pending, stats.per_level, stats.rescheduled, stats.cancelled) == (
        2, (0, 1, 1), 1, 1)
    wheel.advance(5.0)
    stats = wheel.statistics()
    assert (stats.pending, stats.fired, stats.cascaded) == (0, 2, 3)


@pytest.mark.parametrize("kwargs", [{"tick": 0.0}, {"tick": -1.0}, {"tick": math.inf},
                                    {"slots": 1}, {"levels": 0}, {"start": math.nan}])
def test_a_wheel_out_of_range_is_refused(kwargs: dict[str, float]) -> None:
    arguments: dict[str, float] = {"start": 0.0, "tick": TICK, "slots": 8, "levels": 3}
    with pytest.raises(ValueError):
        TimingWheel[str](**{**arguments, **kwargs})  # type: ignore[arg-type]


def test_a_hundred_thousand_adds_and_cancels_leave_an_empty_wheel() -> None:
    # The shape of a million pending messages, at a tenth of the count; no timing asserted.
    rng = random.Random(7)
    wheel = TimingWheel[int](start=0.0)  # 10 ms x 512 x 4 levels
    count = 100_000
    for key in range(count):
        wheel.add(key, rng.uniform(0.0, 30 * 86400.0))
    assert len(wheel) == count and sum(wheel.statistics().per_level) == count
    assert all(wheel.cancel(key) for key in range(count))
    assert len(wheel) == 0 and wheel.next_deadline() is None
    assert wheel.statistics().cancelled == count and wheel.advance(31 * 86400.0) == []
