"""Property: no signed body, however mangled, gets a 5xx, stops the server or costs a guest.

Bodies are valid webhook POSTs with random mutations (tests/fuzz_bodies.py). After each hostile
POST an ordinary guest writes; every one of them must be answered. `scripts/bench fuzz` runs
the same with tens of thousands of bodies (BENCHMARKS.md).
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.hotel import Hotel, text_item, webhook_post
from tests.fuzz_bodies import hostile_body
from tests.numbers import FRONT_DESK

# A new ordinary guest per example (one guest writing 60 times in a row would rightly meet the
# per-guest rate limit); never drawn by the fuzzer, whose guests are 3460xxxxxxx.
_sentinels = (f"3469{n:07d}" for n in itertools.count())


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
async def test_hostile_bodies_never_5xx_and_an_interleaved_guest_is_answered(
    hotel: Hotel, rng: random.Random
) -> None:
    status = await hotel.post(hostile_body(rng, FRONT_DESK))
    assert status in (200, 400, 413), status
    guest = next(_sentinels)
    assert await hotel.post(webhook_post(FRONT_DESK, guest, [text_item(guest, "menu")])) == 200
    await hotel.settle()
    assert len(hotel.fake.sent_to(guest)) == 1
    async with hotel.client.get("/healthz") as response:
        assert response.status == 200
