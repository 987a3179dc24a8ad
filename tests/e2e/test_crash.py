"""SIGKILL `hotelbot serve` in the middle of a load, restart it on the same data: nothing lost,
nothing sent twice (benchmarks/crash.py in its small size; the figures live in BENCHMARKS.md).

Meta's redelivery is simulated: every webhook POST without a 200 is POSTed again, the guests'
messages and the fake Graph API's status webhooks alike. The kill comes while the fake Graph
API holds sends it recorded and has not answered yet. With the statuses flowing, a reply
caught in `sending` by the kill is resolved by its status after the restart, never resent.
A reply whose POST never left the killed process is resent only after the pacer's 120 s
grace: the test counts it as awaiting (still on disk), not as lost, and does not wait for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.crash import run

pytestmark = pytest.mark.e2e


async def test_sigkill_mid_load_loses_no_acknowledged_message_and_doubles_no_reply(
    tmp_path: Path,
) -> None:
    result = await run(40, 3, seed=5, grace_wait=0.0, data_dir=tmp_path / "var")
    assert result.acknowledged == result.messages == 120 and result.given_up == 0
    assert 0 < result.acked_before_kill < result.messages  # the kill came mid-load
    assert result.in_flight_at_kill > 0  # ... while Meta held sends it had not answered
    assert result.unconfirmed_at_start > 0  # so the restart found rows caught in `sending`
    assert result.redelivered > 0  # some POSTs met the dead server and were redelivered
    assert result.lost == 0
    assert result.doubled == 0, result.doubled_rows
    assert result.replies + result.awaiting_grace == result.acknowledged
