"""A hierarchical hashed timing wheel, pure: which scheduled entries are due, and when to wake.

Owns the bookkeeping of the scheduler's pending entries (keys such as the scheduled row id, each
with a due time); the scheduler actor adds and cancels entries, sleeps until `next_deadline()`
and calls `advance(now)` when it wakes. Must never read the clock, sleep, do I/O, log or import
asyncio: times come in as monotonic seconds (floats), so every rule is tested on plain numbers.

The algorithm. Varghese and Lauck ("Hashed and Hierarchical Timing Wheels", SOSP 1987) keep
timers in a circular array of slots, one slot per tick, like the seconds on a clock face: an
entry due in d ticks goes into slot (now + d) mod n, so insert and cancel are O(1) whatever the
number of timers, and each tick only looks at one slot. One wheel of n slots only reaches n
ticks ahead; their scheme 7 stacks wheels, each slot of level L spanning n^L ticks (seconds,
minutes, hours), so a few levels reach years ahead with a few thousand slots. An entry sits in
the lowest level whose window holds it; when the clock reaches the start of a higher-level
slot, that slot's entries "cascade": each is re-inserted, and lands a level (or more) lower.
Kafka's TimingWheel.scala (the overflow wheels, bucket expiry by window) and Netty's
HashedWheelTimer.java (a stop() that hands back the unfired timeouts) are the models here.

Rules:
    ticks        tick k covers [start + k*tick, start + (k+1)*tick); the tick of t is
                 floor((t - start) * (1 / tick)), computed one way for dues and for `now`, so
                 due <= now implies tick(due) <= tick(now) under float rounding too.
    levels       a slot of level L spans slots^L ticks. With the wheel at tick c, level L holds
                 ticks below (c // slots^L + slots) * slots^L (Kafka's window: the current
                 slot's start plus the level's span); an entry goes to the lowest level that
                 holds it, in slot (tick // slots^L) mod slots. So a level's slots never alias,
                 and the current slot of every level above 0 is always empty.
    horizon      the top level's window is the horizon (at least (slots-1) * slots^(levels-1)
                 ticks ahead): add() refuses a due at or past it with ValueError. The caller
                 keeps far rows in SQLite and adds them as they come near.
    past         a due in a tick before the wheel's lands in the current level-0 slot and
                 fires at the next advance() whose now is at or past it.
    never early  advance(now) returns exactly the entries with due <= now: whole slots before
                 now's tick, and from now's own slot only those due <= now (never late either,
                 beyond the caller's own wake-up latency).
    sparse       advance() jumps from one non-empty slot to the next (a bitmap of non-empty
                 slots per level, so finding the next one is a few integer operations), never
                 walking empty ticks: ten years ahead on an empty wheel is one step.
    order        what fires, and what stop() hands back, comes in due order, ties by insertion.
    deadline     next_deadline() is exact when the earliest entry is in level 0; when a higher
                 slot comes first, it is the time that slot cascades (advance then fires
                 nothing, moves its entries down, and the next deadline is exact or the next
                 cascade). The actor wakes only for non-empty slots.

Why hotelbot uses it: a hotel chain schedules a million messages (reminders, check-out
surveys), most far ahead, many moved or cancelled before they fire. A heap costs log n per
insert and a search or a tombstone per cancel; the wheel costs O(1) for both (a dict from key
to entry, an insertion-ordered dict per slot), and the actor wakes only when a slot that holds
something comes round (Kafka keeps its non-empty buckets in a DelayQueue for the same reason).

A worked example (tick 10 ms, 8 slots, 3 levels, start 0): a level-0 slot is 10 ms (the level
spans 80 ms), a level-1 slot 80 ms (spans 640 ms), a level-2 slot 640 ms (spans 5.12 s, the
horizon at tick 0).
    add("a", 0.35)   tick 35. Level 0 holds ticks 0-7: no. Level 1 holds ticks below
                     (0 // 8 + 8) * 8 = 64: yes, slot 35 // 8 = 4 (ticks 32-39, 320-400 ms).
                     next_deadline() = 0.32, when that slot cascades.
    advance(0.32)    tick 32: level-1 slot 4 cascades; tick 35 is below 32 + 8, so "a" goes to
                     level 0, slot 35 mod 8 = 3. Nothing fires; next_deadline() = 0.35, exact.
    advance(0.35)    tick 35: slot 3 holds "a", due 0.35 <= 0.35: [("a", 0.35)].
    add("b", 2.5)    (from tick 0) tick 250. Level 1 holds ticks below 64: no. Level 2 holds
                     ticks below (0 // 64 + 8) * 64 = 512: slot 250 // 64 = 3 (1.92-2.56 s).
    advance(3.0)     one call, three steps, not 300 ticks: at tick 192 level-2 slot 3
                     cascades ("b" to level 1, slot 250 // 8 mod 8 = 7, ticks 248-255); at tick
                     248 that slot cascades ("b" to level-0 slot 250 mod 8 = 2); at tick 250
                     "b" fires: [("b", 2.5)]. The wheel ends at tick 300.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["TimingWheel", "WheelStatistics"]

K = TypeVar("K", bound=Hashable)

_FAR = 2**1100  # a tick beyond any float's: the tick of an infinite due


@dataclass(slots=True)
class _Entry(Generic[K]):
    key: K
    due: float
    tick: int  # tick_of(due), unclamped
    seq: int  # insertion order: ties in due fire in the order they were added
    level: int = 0
    slot: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelStatistics:
    pending: int
    per_level: tuple[int, ...]  # pending entries in each level, level 0 first
    fired: int
    cancelled: int
    rescheduled: int  # add() of a key already pending
    cascaded: int  # entries moved down a level (or more) as their slot came round


def _distance(bits: int, position: int, slots: int) -> int:
    """Slots from `position` (included) forward, round the wheel, to the first set bit."""
    ahead = bits >> position
    if ahead:
        return (ahead & -ahead).bit_length() - 1
    behind = bits & ((1 << position) - 1)
    return slots - position + (behind & -behind).bit_length() - 1


class TimingWheel(Generic[K]):
    """The pending entries of the scheduler, keyed by K. Mutable, owned by the scheduler actor.

    Args:
        start: the time of tick 0 (monotonic seconds).
        tick: seconds per level-0 slot.
        slots: slots per level.
        levels: how many wheels are stacked; the horizon is about tick * slots^levels.

    Raises:
        ValueError: a tick that is not positive and finite, fewer than 2 slots or 1 level, or
            a start that is not finite.
    """

    __slots__ = ("_bits", "_buckets", "_cancelled", "_cascaded", "_counts", "_cur",
                 "_deadline", "_deadline_known", "_entries", "_fired", "_levels", "_per_second",
                 "_rescheduled", "_seq", "_slots", "_start", "_tick", "_units")

    def __init__(self, *, start: float, tick: float = 0.01, slots: int = 512,
                 levels: int = 4) -> None:
        if not (math.isfinite(tick) and tick > 0) or not math.isfinite(start):
            raise ValueError(f"tick must be positive and start finite, not {tick}, {start}")
        if slots < 2 or levels < 1:
            raise ValueError(f"at least 2 slots and 1 level, not {slots} and {levels}")
        self._start, self._tick, self._slots, self._levels = start, tick, slots, levels
        self._per_second = 1.0 / tick  # multiplying: 0.35 s is tick 35 of 10 ms, not 34.99..
        self._units = tuple(math.prod([slots] * level) for level in range(levels))  # ticks/slot
        self._buckets: list[list[dict[K, _Entry[K]]]] = [
            [{} for _ in range(slots)] for _ in range(levels)]
        self._bits = [0] * levels  # bit s set: slot s of that level is non-empty
        self._counts = [0] * levels
        self._entries: dict[K, _Entry[K]] = {}
        self._cur = 0  # the wheel's tick: that of the latest advance()
        self._seq = 0
        self._deadline: float | None = None
        self._deadline_known = True
        self._fired = self._cancelled = self._rescheduled = self._cascaded = 0

    # --- adding and cancelling -------------------------------------------------------------

    def add(self, key: K, due: float) -> None:
        """Schedule `key` at `due` (monotonic seconds); a pending `key` is moved. O(1).

        Far rows stay in SQLite: the caller adds them once they come within `horizon(now)`.
        A due at or before the wheel's time fires at the next `advance`.

        Raises:
            ValueError: `due` is NaN, or at or past the horizon (infinity too; the message
                names the horizon).
        """
        if math.isnan(due):
            raise ValueError("due must be a number, not NaN")
        tick, limit = self._tick_of(due), self._horizon_tick(self._cur)
        if tick >= limit:
            raise ValueError(f"due {due} is at or past the wheel's horizon "
                             f"{self._time_of(limit)}: keep it until it comes nearer")
        old = self._entries.get(key)
        if old is not None:
            self._unlink(old)
            self._rescheduled += 1
        entry = _Entry(key=key, due=due, tick=tick, seq=self._seq)
        self._seq += 1
        self._entries[key] = entry
        self._place(entry)
        self._deadline_known = False

    def cancel(self, key: K) -> bool:
        """Drop `key`. O(1).

        Returns:
            True if it was pending; False if unknown, cancelled or already fired.
        """
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._unlink(entry)
        self._cancelled += 1
        self._deadline_known = False
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    # --- time ------------------------------------------------------------------------------

    def advance(self, now: float) -> list[tuple[K, float]]:
        """Move the wheel to `now` and take what is due.

        Jumps from one non-empty slot to the next, cascading higher slots as their start
        comes round, so a jump of any length costs the slots it meets, not the ticks.

        Returns:
            Every pending (key, due) with due <= now, in due order (ties by insertion).

        Raises:
            ValueError: `now` is not finite.
        """
        target = self._target(now)
        fired: list[_Entry[K]] = []
        while (event := self._next_event()) is not None and event <= target:
            self._cur = event
            self._cascade(event)
            self._fire(event, now if event == target else math.inf, fired)
            if event == target:
                break
        self._cur = target
        self._deadline_known = False
        fired.sort(key=lambda e: (e.due, e.seq))
        return [(e.key, e.due) for e in fired]

    def next_deadline(self) -> float | None:
        """When the actor should next call `advance`; None when nothing is pending.

        Returns:
            The earliest due if it is in level 0 (exact); else, if a higher slot comes first,
            the time that slot cascades (advance then fires nothing and moves it down). Never
            later than the earliest due; in the past when something is overdue.
        """
        if not self._deadline_known:
            self._deadline = self._compute_deadline()
            self._deadline_known = True
        return self._deadline

    def horizon(self, now: float) -> float:
        """The first due `add` refuses once the wheel has advanced to `now` (its own time if
        that is later): at least (slots-1) * slots^(levels-1) ticks after `now`. Rows due
        before it belong in the wheel, the rest in SQLite. Advance before adding.

        Raises:
            ValueError: `now` is not finite.
        """
        return self._time_of(self._horizon_tick(self._target(now)))

    def stop(self) -> list[tuple[K, float]]:
        """Empty the wheel.

        Returns:
            Every pending (key, due), in due order (ties by insertion), for the caller to
            persist: what never fired.
        """
        rest = sorted(self._entries.values(), key=lambda e: (e.due, e.seq))
        for level in range(self._levels):
            for bucket in self._buckets[level]:
                bucket.clear()
        self._bits = [0] * self._levels
        self._counts = [0] * self._levels
        self._entries.clear()
        self._deadline, self._deadline_known = None, True
        return [(e.key, e.due) for e in rest]

    def statistics(self) -> WheelStatistics:
        return WheelStatistics(
            pending=len(self._entries), per_level=tuple(self._counts), fired=self._fired,
            cancelled=self._cancelled, rescheduled=self._rescheduled, cascaded=self._cascaded,
        )

    # --- the slots -------------------------------------------------------------------------

    def _tick_of(self, t: float) -> int:
        """The tick holding `t`; beyond float range (an infinite due, or one so far that the
        quotient overflows) a tick past any other, keeping the order."""
        ticks = (t - self._start) * self._per_second
        if math.isfinite(ticks):
            return math.floor(ticks)
        return _FAR if ticks > 0 else -_FAR

    def _time_of(self, tick: int) -> float:
        """The smallest float whose tick is `tick` or later (float rounding: the product
        alone can land a hair on either side)."""
        t = self._start + tick * self._tick
        while self._tick_of(lower := math.nextafter(t, -math.inf)) >= tick:
            t = lower
        while self._tick_of(t) < tick:
            t = math.nextafter(t, math.inf)
        return t

    def _target(self, now: float) -> int:
        """The wheel's tick once advanced to `now`: time never runs backwards in the wheel."""
        if not math.isfinite(now):
            raise ValueError(f"now must be finite, not {now}")
        return max(self._cur, self._tick_of(now))

    def _horizon_tick(self, cur: int) -> int:
        top = self._units[-1]
        return (cur // top + self._slots) * top

    def _place(self, entry: _Entry[K]) -> None:
        """File `entry` in the lowest level whose window holds it (the caller checked the
        horizon); an overdue entry goes to the current level-0 slot."""
        tick = max(entry.tick, self._cur)
        level = 0
        while tick // self._units[level] >= self._cur // self._units[level] + self._slots:
            level += 1
        slot = tick // self._units[level] % self._slots
        entry.level, entry.slot = level, slot
        self._buckets[level][slot][entry.key] = entry
        self._bits[level] |= 1 << slot
        self._counts[level] += 1

    def _unlink(self, entry: _Entry[K]) -> None:
        bucket = self._buckets[entry.level][entry.slot]
        del bucket[entry.key]
        self._counts[entry.level] -= 1
        if not bucket:
            self._bits[entry.level] &= ~(1 << entry.slot)

    def _first_slot(self, level: int) -> int | None:
        """The tick at which the first non-empty slot of `level` starts (>= the wheel's)."""
        bits = self._bits[level]
        if not bits:
            return None
        base = self._cur // self._units[level]
        return (base + _distance(bits, base % self._slots, self._slots)) * self._units[level]

    def _next_event(self) -> int | None:
        starts = [t for level in range(self._levels) if (t := self._first_slot(level)) is not None]
        return min(starts, default=None)

    def _cascade(self, tick: int) -> None:
        """Re-file the entries of every higher slot that starts at `tick` (the wheel's)."""
        for level in range(self._levels - 1, 0, -1):
            unit = self._units[level]
            slot = tick // unit % self._slots
            if tick % unit or not self._bits[level] >> slot & 1:
                continue
            bucket = self._buckets[level][slot]
            moving = list(bucket.values())
            bucket.clear()
            self._bits[level] &= ~(1 << slot)
            self._counts[level] -= len(moving)
            self._cascaded += len(moving)
            for entry in moving:
                self._place(entry)

    def _fire(self, tick: int, now: float, fired: list[_Entry[K]]) -> None:
        """Take from level-0 slot `tick` the entries due <= now (all of them: now = inf)."""
        slot = tick % self._slots
        bucket = self._buckets[0][slot]
        due = list(bucket.values()) if now == math.inf else [
            e for e in bucket.values() if e.due <= now]
        for entry in due:
            del bucket[entry.key]
            del self._entries[entry.key]
        if not bucket:
            self._bits[0] &= ~(1 << slot)
        self._counts[0] -= len(due)
        self._fired += len(due)
        fired.extend(due)

    def _compute_deadline(self) -> float | None:
        first = self._first_slot(0)
        best = math.inf if first is None else min(
            e.due for e in self._buckets[0][first % self._slots].values())
        for level in range(1, self._levels):
            start = self._first_slot(level)
            if start is not None:
                best = min(best, self._time_of(start))
        return None if best == math.inf else best
