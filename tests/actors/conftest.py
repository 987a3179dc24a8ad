"""Fixtures for actor tests: every actor started during a test is stopped after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hotelbot.actors import live_actors
from tests.fakes.clock import FakeClock

STOP_TIMEOUT = 2.0


@pytest.fixture(autouse=True)
async def _stop_every_actor() -> AsyncIterator[None]:
    """Stop (drain) what a test left running; cancel what does not stop within the timeout."""
    yield
    refs = live_actors()
    if not refs:
        return
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await asyncio.gather(*(ref.stop() for ref in refs), return_exceptions=True)
    except TimeoutError:
        pass
    stuck = [ref for ref in live_actors() if ref in refs]
    for ref in stuck:
        ref._task.cancel()
    for ref in stuck:
        await ref.wait_stopped()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
