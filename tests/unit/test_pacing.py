"""The pacing rules of a sending number, on a fake clock (plain floats): issue 9."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotelbot.outbound.pacing import NumberPacer, PacingPolicy


def _send_all(pacer: NumberPacer, recipients: list[str], start: float = 0.0) -> list[float]:
    """Send to each recipient in turn at the earliest allowed time; the send times."""
    now, times = start, []
    for recipient in recipients:
        now = pacer.ready_at(recipient, now)
        pacer.sent(recipient, now)
        times.append(now)
    return times


def max_in_any_second(times: list[float]) -> int:
    """The most sends in any window of one second (times sorted)."""
    best, left = 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


def test_a_number_never_sends_more_than_its_rate_in_any_one_second_window() -> None:
    pacer = NumberPacer(PacingPolicy(per_second=80))
    times = _send_all(pacer, [f"g{n}" for n in range(1000)])
    assert 72 <= max_in_any_second(times) <= 80
    # spread evenly at 90 % of the rate after a burst of a tenth of it: 8 + 992 / 72 per s
    assert times[-1] == pytest.approx(992 / 72, abs=0.05)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[:8] == pytest.approx([0.0] * 8) and min(gaps[8:]) == pytest.approx(1 / 72)


def test_jitter_of_a_tenth_of_a_second_cannot_push_a_second_over_the_rate() -> None:
    pacer = NumberPacer(PacingPolicy(per_second=80))
    times = _send_all(pacer, [f"g{n}" for n in range(500)])
    # Meta sees each send up to 100 ms later than we sent it (the worst: alternately late)
    seen = sorted(t + (0.1 if n % 2 else 0.0) for n, t in enumerate(times))
    assert max_in_any_second(seen) <= 80


@settings(max_examples=200, deadline=None)
@given(per_second=st.integers(1, 200), gaps=st.lists(st.floats(0, 0.05), min_size=1,
                                                        max_size=400))
def test_the_rate_holds_for_any_arrival_pattern(per_second: int, gaps: list[float]) -> None:
    pacer = NumberPacer(PacingPolicy(per_second=per_second))
    now, times = 0.0, []
    for n, gap in enumerate(gaps):
        now = pacer.ready_at(f"g{n}", now + gap)
        pacer.sent(f"g{n}", now)
        times.append(now)
    assert max_in_any_second(times) <= per_second


def test_one_recipient_gets_a_short_burst_then_one_message_per_interval() -> None:
    pacer = NumberPacer(PacingPolicy(pair_interval=6.0, pair_burst=3))
    times = _send_all(pacer, ["guest"] * 6)
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3:] == pytest.approx([6.3, 12.6, 18.9])  # the interval and its 5 % margin


def test_a_paced_recipient_never_slows_another() -> None:
    pacer = NumberPacer(PacingPolicy(pair_burst=1))
    pacer.sent("busy", 0.0)
    assert pacer.ready_at("busy", 0.1) == pytest.approx(6.3)
    assert pacer.ready_at("other", 0.1) == 0.1


def test_pair_limit_backs_off_four_to_the_x_for_that_pair_only() -> None:
    pacer = NumberPacer(PacingPolicy(max_backoff=300.0))
    delays = [pacer.pair_limited("guest", 0.0, jitter=0.0) for _ in range(6)]
    assert delays == [1.0, 4.0, 16.0, 64.0, 256.0, 300.0]
    assert pacer.ready_at("guest", 0.0) == pytest.approx(300.0)
    assert pacer.ready_at("other", 0.0) == 0.0
    pacer.sent("guest", 400.0)  # a success resets the exponent
    assert pacer.pair_limited("guest", 400.0, jitter=0.0) == 1.0


def test_pair_jitter_only_lengthens_the_wait() -> None:
    pacer = NumberPacer()
    assert 1.0 <= pacer.pair_limited("g", 0.0, jitter=0.999) <= 1.1


def test_throughput_limit_pauses_the_whole_number_honouring_retry_after() -> None:
    pacer = NumberPacer(PacingPolicy(base_backoff=1.0))
    assert pacer.number_limited(10.0, retry_after=0.0, jitter=0.0) == 1.0
    assert pacer.ready_at("anyone", 10.0) == 11.0
    assert pacer.number_limited(11.0, retry_after=0.0, jitter=0.0) == 2.0
    assert pacer.number_limited(13.0, retry_after=30.0, jitter=0.0) == 30.0
    pacer.sent("g", 43.0)  # a success: the next 130429 starts from 1 s again
    assert pacer.number_limited(44.0, retry_after=0.0, jitter=0.0) == 1.0


def test_retryable_errors_back_off_exponentially_and_give_up_after_max_attempts() -> None:
    pacer = NumberPacer(PacingPolicy(max_attempts=4, base_backoff=1.0, max_backoff=5.0))
    fixed = [pacer.retry_delay(n, jitter=1.0) for n in (1, 2, 3)]
    assert fixed == pytest.approx([1.0, 2.0, 4.0])
    assert pacer.retry_delay(1, jitter=0.0) == pytest.approx(0.5)  # equal jitter: >= half
    assert pacer.retry_delay(3, jitter=1.0, at_least=10.0) == pytest.approx(5.0)  # capped
    assert pacer.retry_delay(4, jitter=0.5) is None


def test_idle_pairs_are_forgotten_so_memory_stays_bounded() -> None:
    pacer = NumberPacer(PacingPolicy(pair_interval=6.0, pair_burst=2))
    for n in range(1000):
        pacer.sent(f"g{n}", 0.0)
    pacer.pair_limited("paused", 0.0, jitter=0.0)
    assert pacer.forget_idle(5.0) == 0  # buckets not full yet
    assert pacer.forget_idle(6.3) == 1000  # a token takes the interval and its 5 % margin
    assert pacer.statistics().pairs == 1  # the paused pair is kept until its pause ends


@pytest.mark.parametrize(
    "policy", [{"per_second": 0}, {"per_second": 1001}, {"pair_interval": 0},
               {"pair_burst": 0}, {"max_attempts": 0}, {"base_backoff": 10, "max_backoff": 1}],
)
def test_a_policy_out_of_range_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PacingPolicy(**policy)  # type: ignore[arg-type]
