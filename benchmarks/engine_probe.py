"""The flow engine alone, in process: µs of CPU per step on the throughput benchmark's traffic.

Owns: replaying, without a loop, a store or sockets, what the conversation actor asks of the
pure engine per guest message: `flows.step` with the guest's shared record (data, language,
hotel-wide limits, as the actor passes them) and then `Context.to_dict` (the snapshot the step
commits). The traffic is the throughput benchmark's (benchmarks/load.py): guests writing
"hello", "menu", "hi" to the shipped configuration's five department numbers (a new
conversation, then returning ones), loaded unpaced as the benchmark loads it
(benchmarks/hotels.py), at a fixed `now` by day and at night (room service and breakfast
closed: menus say when they open); and the demo's room-service order dialogue by day.
Reports the best of 3 runs (process CPU time) per case, the probe's own bookkeeping (a few
µs a step) included, and a cProfile top by tottime (CPU time); `--digest` prints a hash of
every outcome instead, to show a change kept the engine's behaviour (same digest before and
after).
Must never: write outside a temporary directory, or be read as the server's cost (actors,
store and sends are not here: scripts/bench throughput measures those).

    python -m benchmarks.engine_probe [--guests 2000] [--profile 20] [--digest]
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from benchmarks.hotels import unpaced_config
from benchmarks.load import NUMBERS, ROUND_TEXTS
from hotelbot.config import load_hotels
from hotelbot.flows import (
    Context,
    CreateRequest,
    Event,
    GuestChanged,
    Hotels,
    Limits,
    OptionChosen,
    SendMessage,
    TextReceived,
    new_context,
    remembered_mark,
    step,
)
from hotelbot.flows import Guest as SharedGuest
from hotelbot.typedefs import JSONScalar, NumberId

DAY = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # London 10:00, Lisbon 10:00: all open
NIGHT = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # room service and breakfast closed
RUNS = 3

# The demo's room-service order (tests/unit/dialogues/demo_hotel.yaml, its first dialogue):
# text typed, or ("choose", title) for a tap on the last message's button or row so titled.
ORDER: tuple[str | tuple[str, str], ...] = (
    "hi", "1", "Mains", "club sandwich", "25", "2", ("choose", "Review order"), "no onions",
    "change", "yes", ("choose", "Add another item"), "drinks", "tea", "3",
    ("choose", "Review order"), "skip", "yes",
)
ORDER_NUMBER = "100000000000002"  # the demo hotel's room service


@dataclass(slots=True)
class _Guest:
    """What the actor keeps for a guest between steps: the shared record and the limits."""

    data: dict[str, JSONScalar] = field(default_factory=dict)
    language: str | None = None
    limits: Limits | None = None
    context: Context | None = None
    last: SendMessage | None = None
    requests: int = 0


class _Replay:
    """Steps guests through the engine as the actor does; `sink` sees every outcome."""

    def __init__(self, hotels: Hotels, now: datetime,
                 sink: Callable[[object], None] | None = None) -> None:
        self.hotels, self.now, self.sink = hotels, now, sink

    def message(self, guest: _Guest, guest_id: str, number: str, event: Event) -> None:
        hotel_id, dept = self.hotels.numbers[NumberId(number)]
        hotel = self.hotels.hotels[hotel_id]
        context = guest.context or new_context(
            hotel, guest_id=guest_id, phone_number_id=number, department=dept,
            language=guest.language, accumulated_data=guest.data)
        shared = SharedGuest(data=guest.data, language=guest.language, limits=guest.limits)
        outcome = step(hotel, context, event, self.now, guest=shared)
        snapshot = outcome.context.to_dict()
        guest.context = outcome.context
        guest.limits = Limits(rate=outcome.context.rate,
                              cooloff_until=outcome.context.cooloff_until)
        for effect in outcome.effects:
            if isinstance(effect, GuestChanged):
                guest.data, guest.language = dict(effect.data), effect.language
            if isinstance(effect, SendMessage):
                guest.last = effect
            guest.requests += isinstance(effect, CreateRequest)
        if self.sink is not None:
            self.sink((repr(outcome.effects), snapshot))

    def benchmark(self, guests: int) -> int:
        """Every guest writes each of ROUND_TEXTS once, round after round; returns steps."""
        known = [_Guest() for _ in range(guests)]
        for text in ROUND_TEXTS:
            for i, guest in enumerate(known):
                self.message(guest, f"3519{i:07d}", NUMBERS[i % len(NUMBERS)],
                             TextReceived(text=text))
        return guests * len(ROUND_TEXTS)

    def orders(self, times: int) -> int:
        """The room-service order dialogue, `times` guests one after another; returns steps."""
        for n in range(times):
            guest = _Guest(data={"room": "412",
                                 remembered_mark("room"): self.now.date().isoformat()})
            for turn in ORDER:
                event: Event = (OptionChosen(reply_id=_titled(guest.last, turn[1]))
                                if isinstance(turn, tuple) else TextReceived(text=turn))
                self.message(guest, f"3518{n:07d}", ORDER_NUMBER, event)
            assert guest.requests == 1, "the order dialogue did not end with the order"
        return times * len(ORDER)


def _titled(message: SendMessage | None, title: str) -> str:
    assert message is not None
    action = message.body["interactive"]["action"]  # type: ignore[index]
    rows = [b["reply"] for b in action.get("buttons", [])]
    rows += [row for s in action.get("sections", []) for row in s["rows"]]
    return next(str(r["id"]) for r in rows if r["title"] == title)


def _cases(hotels: Hotels, guests: int) -> Iterator[tuple[str, Callable[[], int]]]:
    for name, now in (("day", DAY), ("night", NIGHT)):
        replay = _Replay(hotels, now)
        yield f"benchmark traffic, {name}", partial(replay.benchmark, guests)
    replay = _Replay(hotels, DAY)  # room service is closed at night: orders by day only
    yield "room-service order, day", partial(replay.orders, max(1, guests // 5))


def _best(run: Callable[[], int]) -> tuple[float, int]:
    best, steps = float("inf"), 0
    for _ in range(RUNS):
        start = time.process_time()
        steps = run()
        best = min(best, time.process_time() - start)
    return best / steps * 1e6, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=20, help="cProfile rows (0: none)")
    parser.add_argument("--digest", action="store_true", help="hash every outcome instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hotels = load_hotels(unpaced_config(Path(tmp) / "config"))
    if args.digest:
        digest = hashlib.sha256()
        for now in (DAY, NIGHT):
            replay = _Replay(hotels, now, sink=lambda o: digest.update(repr(o).encode()))
            replay.benchmark(50)
            if now == DAY:
                replay.orders(2)
        print(digest.hexdigest())
        return
    for name, run in _cases(hotels, args.guests):
        per_step, steps = _best(run)
        print(f"{name:32} {per_step:7.1f} µs CPU a step (best of {RUNS}, {steps} steps)")
    if args.profile:
        profile = cProfile.Profile(time.process_time)  # CPU: other processes add nothing
        replay = _Replay(hotels, DAY)
        profile.runcall(replay.benchmark, args.guests)
        profile.runcall(replay.orders, max(1, args.guests // 5))
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
