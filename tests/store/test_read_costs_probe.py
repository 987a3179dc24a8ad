"""The read-costs probe (benchmarks/read_costs.py) seeds the history it says and times each
recurring read through the store. No time is asserted (numbers go in BENCHMARKS.md)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from benchmarks.read_costs import BEFORE_V9, before_v9, measure, seed


async def test_the_probe_seeds_a_history_and_times_every_read(tmp_path: Path) -> None:
    path = tmp_path / "hotelbot.sqlite3"
    seed(path, requests=200, messages=300, guests=40)
    conn = sqlite3.connect(path)
    counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table in ("requests", "inbound", "outbound")}
    open_requests = conn.execute("SELECT count(*) FROM requests WHERE status = 'new'").fetchone()
    windows = conn.execute("SELECT count(*) FROM windows").fetchone()[0]
    conn.close()
    assert counts == {"requests": 200, "inbound": 300, "outbound": 300}
    assert open_requests == (2,) and 0 < windows <= 5 * 40
    results = await measure(path)
    assert len(results) == 7 and all(ms > 0 for _, ms in results)
    assert set(BEFORE_V9) <= {name for name, _ in results}
    for name, _ in results:  # the baseline: the statements before v9, rolled back
        was = before_v9(path, name, runs=1)
        assert (was is None) == (name not in BEFORE_V9) and (was is None or was > 0)
    conn = sqlite3.connect(path)  # the purges found nothing past its age
    assert conn.execute("SELECT count(*) FROM inbound").fetchone()[0] == 300
    conn.close()
