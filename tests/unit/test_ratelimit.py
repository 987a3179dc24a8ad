from hotelbot.actors.ratelimit import RateLimit, TokenBucket


def test_burst_then_one_per_second() -> None:
    bucket = TokenBucket(RateLimit(burst=20, per_second=1.0), now=0.0)
    assert all(bucket.allow(0.0) for _ in range(20))
    assert not bucket.allow(0.0)
    assert not bucket.allow(0.5)
    assert bucket.allow(1.0)
    assert not bucket.allow(1.2)


def test_refill_is_capped_at_burst() -> None:
    bucket = TokenBucket(RateLimit(burst=3, per_second=1.0), now=0.0)
    assert bucket.full(1000.0)
    assert [bucket.allow(1000.0) for _ in range(4)] == [True, True, True, False]


def test_noticed_resets_when_tokens_return() -> None:
    bucket = TokenBucket(RateLimit(burst=1, per_second=1.0), now=0.0)
    assert bucket.allow(0.0)
    assert not bucket.allow(0.1)
    bucket.noticed = True
    assert bucket.allow(2.0)
    assert bucket.noticed is False


def test_clock_going_backwards_never_adds_tokens() -> None:
    bucket = TokenBucket(RateLimit(burst=1, per_second=1.0), now=10.0)
    assert bucket.allow(10.0)
    assert not bucket.allow(5.0)
