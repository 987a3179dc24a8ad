"""The inbound rate limit: the bucket arithmetic, and the engine's spam rule as tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from hotelbot.flows.context import Context, Guest
from hotelbot.flows.effects import Effect, SendMessage, Silence, SilenceReason
from hotelbot.flows.engine import step
from hotelbot.flows.events import Event, FlowRequested, OptionChosen, TextReceived
from hotelbot.flows.model import Policy
from hotelbot.flows.ratelimit import Bucket, take
from tests.unit.fixtures import HOTEL, NOW, at, build_hotel, run, text_of, where

SPAM = Silence(reason=SilenceReason.SPAM)


def seconds(n: float) -> datetime:
    return NOW + timedelta(seconds=n)


def allowed(bucket: Bucket, at_: datetime, burst: int = 20) -> tuple[bool, Bucket]:
    return take(bucket, burst=burst, per_second=1.0, now=at_)


def takes(burst: int, times: list[float], bucket: Bucket | None = None) -> list[bool]:
    state = bucket or Bucket()
    result = []
    for n in times:
        ok, state = allowed(state, seconds(n), burst)
        result.append(ok)
    return result


# --- the bucket --------------------------------------------------------------------------------


def test_burst_then_one_per_second() -> None:
    assert takes(20, [0.0] * 20 + [0.0, 0.5, 1.0, 1.2]) == [True] * 20 + [False, False, True, False]


def test_refill_is_capped_at_burst() -> None:
    assert takes(3, [0.0, 1000.0, 1000.0, 1000.0, 1000.0]) == [True, True, True, True, False]


def test_noticed_resets_when_tokens_return() -> None:
    _ok, empty = allowed(Bucket(tokens=0.0, counted_at=NOW, noticed=True), seconds(0.1), burst=1)
    assert empty.noticed is True
    ok, back = allowed(empty, seconds(2.0), burst=1)
    assert ok and back.noticed is False


def test_clock_going_backwards_never_adds_tokens() -> None:
    assert takes(1, [10.0, 5.0, 10.5]) == [True, False, False]


def test_a_missing_bucket_is_full() -> None:
    assert Bucket() == Context.from_dict(_old_snapshot()).rate
    assert takes(2, [0.0, 0.0, 0.0]) == [True, True, False]


def _old_snapshot() -> dict[str, object]:
    snapshot = at("order.quantity").to_dict()
    del snapshot["rate"]  # written before the rate limit moved into the context
    return snapshot


def test_the_bucket_survives_a_snapshot() -> None:
    ctx = at("order.quantity").evolve(rate=Bucket(tokens=0.25, counted_at=NOW, noticed=True))
    assert Context.from_dict(ctx.to_dict()) == ctx


# --- the engine's spam rule ----------------------------------------------------------------------

EMPTY = Bucket(tokens=0.0, counted_at=NOW)


@pytest.mark.parametrize(("bucket", "event", "effects", "after"), [
    # the first message past the limit: the notice, and the message itself is not handled
    (EMPTY, TextReceived(text="2"), ("Please slow down.", SPAM), replace(EMPTY, noticed=True)),
    # later ones in the same flood: silence
    (replace(EMPTY, noticed=True), TextReceived(text="menu"), (SPAM,),
     replace(EMPTY, noticed=True)),
    (replace(EMPTY, noticed=True), FlowRequested(flow_id="feedback"), (SPAM,),
     replace(EMPTY, noticed=True)),
    # half a token is not a token
    (Bucket(tokens=0.5, counted_at=NOW - timedelta(seconds=0.4)), OptionChosen(reply_id="x"),
     ("Please slow down.", SPAM), Bucket(tokens=0.9, counted_at=NOW, noticed=True)),
])
def test_past_the_limit_only_the_bucket_changes(
    bucket: Bucket, event: Event, effects: tuple[str | Effect, ...], after: Bucket
) -> None:
    before = at("order.quantity", errors=2).evolve(rate=bucket)
    out = run(before, event)
    shown = tuple(text_of(out) if isinstance(e, SendMessage) else e for e in out.effects)
    assert shown == effects
    assert out.context == before.evolve(rate=after)


def test_a_flood_gets_the_notice_once_then_silence() -> None:
    ctx = at("order.quantity")
    answers = []
    for _ in range(25):
        out = run(ctx, TextReceived(text="menu"))  # all at NOW
        ctx = out.context
        answers.append("notice" if SPAM in out.effects and text_of(out) else
                       "silence" if out.effects == (SPAM,) else "answer")
    assert answers == ["answer"] * 20 + ["notice"] + ["silence"] * 4
    assert ctx.rate.noticed and where(ctx) == "main.start"


def test_a_flood_during_a_cooloff_is_counted_too() -> None:
    ctx = at("order.quantity", errors=5, cooloff_until=NOW + timedelta(minutes=1))
    for _ in range(20):
        ctx = run(ctx, TextReceived(text="menu")).context
    out = run(ctx, TextReceived(text="menu"))
    assert text_of(out) == "Please slow down." and out.effects[-1] == SPAM


def test_after_a_quiet_second_the_guest_is_answered_and_noticed_again() -> None:
    flooded = at("order.quantity").evolve(rate=replace(EMPTY, noticed=True))
    answered = run(flooded, TextReceived(text="2"), now=seconds(1))
    assert where(answered.context) == "order.note" and SPAM not in answered.effects
    assert answered.context.rate == Bucket(tokens=0.0, counted_at=seconds(1))
    again = run(answered.context, TextReceived(text="ok"), now=seconds(1))
    assert text_of(again) == "Please slow down." and again.effects[-1] == SPAM


def test_a_replay_is_not_counted() -> None:
    flooded = at("order.quantity").evolve(rate=replace(EMPTY, noticed=True))
    out = step(HOTEL, flooded, TextReceived(text="2"), NOW, replayed=True)
    assert where(out.context) == "order.note" and out.context.rate == flooded.rate


def test_the_notice_is_in_the_guests_shared_language() -> None:
    before = at("order.quantity").evolve(rate=EMPTY)
    out = step(HOTEL, before, TextReceived(text="2"), NOW, guest=Guest(data={}, language="pt"))
    assert text_of(out) == "[pt] Please slow down."
    assert out.context == before.evolve(rate=replace(EMPTY, noticed=True))  # nothing merged


def test_the_policy_sets_the_burst_and_the_rate() -> None:
    hotel = build_hotel(policy=Policy(spam_burst=2, spam_per_second=0.5))
    ctx = at(None)
    answered = []
    for n in [0, 0, 0, 1, 2]:
        out = run(ctx, TextReceived(text="hi"), hotel, seconds(n))
        ctx = out.context
        answered.append(SPAM not in out.effects)
    assert answered == [True, True, False, False, True]
