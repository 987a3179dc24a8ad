"""What survives a crash of the process, and the status order under every arrival order."""

from __future__ import annotations

import asyncio
import itertools
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotelbot.store import DeliveryStatus, open_store

REPO = Path(__file__).resolve().parents[2]

# Records two guest messages, commits a step (two replies) for the first, prints the outbound
# ids, then dies without closing: no writer flush, no checkpoint, no close.
CRASHING_PROCESS = """
import asyncio, os, sys
from datetime import UTC, datetime
from pathlib import Path
from hotelbot.store import InboundMessage, OutboundMessage, StepCommit, open_store

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

def message(wamid):
    return InboundMessage(wamid=wamid, phone_number_id="pn1", guest_id="g1", kind="text",
                          payload={"text": {"body": "hi"}}, sent_at=T0)

async def main():
    async with open_store(Path(sys.argv[1])) as store:
        first, second = await store.inbound.record(
            [message("w1"), message("w2")], at=T0, hotel_of={"pn1": "h1"})
        body = {"type": "text", "text": {"body": "welcome"}}
        rows = await store.conversations.commit_step(StepCommit(
            phone_number_id="pn1", guest_id="g1", hotel_id="h1",
            context={"v": 1, "current_step": "menu"}, guest_data={}, language="en",
            inbound_seq=first.seq, at=T0,
            outbound=(OutboundMessage(phone_number_id="pn1", guest_id="g1", body=body),) * 2))
        print(second.seq, *(r.id for r in rows), flush=True)
        os._exit(3)

asyncio.run(main())
"""


async def test_acknowledged_writes_survive_a_process_crash(tmp_path: Path) -> None:
    path = tmp_path / "hotel.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_PROCESS,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,  # the child imports hotelbot from this checkout, as `python -c` does
    )
    async with asyncio.timeout(20):
        out, err = await process.communicate()
    assert process.returncode == 3, err.decode()
    last_line = out.decode().strip().splitlines()[-1]  # earlier lines are the store's logs
    waiting, *outbound_ids = (int(x) for x in last_line.split())
    assert (tmp_path / "hotel.db-wal").stat().st_size > 0  # the commits are only in the WAL

    async with open_store(path) as store:
        assert [m.seq for m in await store.inbound.pending()] == [waiting]
        pending = await store.outbox.pending()
        assert [r.id for r in pending] == outbound_ids
        assert pending[0].body == {"type": "text", "text": {"body": "welcome"}}
        assert await store.conversations.load("pn1", "g1") == {"v": 1, "current_step": "menu"}


STATUSES = ("sent", "delivered", "read", "failed")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


async def test_latest_status_is_the_furthest_whatever_the_arrival_order(tmp_path: Path) -> None:
    """Every order and every subset of statuses (Meta does not order webhooks)."""
    cases: list[tuple[str, tuple[str, ...]]] = []
    for size in range(1, len(STATUSES) + 1):
        for subset in itertools.combinations(STATUSES, size):
            for order in itertools.permutations(subset):
                cases.append((f"wamid.{len(cases)}", order))
    async with open_store(tmp_path / "hotel.db", synchronous="NORMAL") as store:
        for wamid, order in cases:
            for minute, name in enumerate(order):  # one webhook per status, in arrival order
                at = T0 + timedelta(minutes=minute)
                await store.statuses.record(
                    [DeliveryStatus(wamid=wamid, status=name, at=at, recipient_id="g1")]
                )
        for wamid, order in cases:
            expected = "failed" if "failed" in order else max(order, key=STATUSES.index)
            assert await store.statuses.latest(wamid) == expected, order
