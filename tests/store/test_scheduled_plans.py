"""With a million pending rows, the scheduler's statements must not walk the status index."""

from __future__ import annotations

import sqlite3

import pytest

from hotelbot.store import ScheduledStatus
from hotelbot.store import scheduled as scheduled_sql
from hotelbot.store import stays as stays_sql
from hotelbot.store.schema import migrate


@pytest.mark.parametrize(("sql", "uses"), [
    (scheduled_sql._CLAIM, "INTEGER PRIMARY KEY"),
    (scheduled_sql._DECIDE, "INTEGER PRIMARY KEY"),
    (scheduled_sql._CANCEL, "INTEGER PRIMARY KEY"),
    (scheduled_sql._LAST_SENT, "scheduled_by_guest"),
    (scheduled_sql._PENDING_BEFORE, "scheduled_by_status_time (status=? AND scheduled_at<?)"),
    (stays_sql._STAY_ROWS, "scheduled_by_stay"),
    (stays_sql._SKIP_UNPLANNED, "scheduled_by_stay"),
], ids=["claim", "decide", "cancel", "last_sent", "pending_before", "stay_rows", "unplanned"])
def test_each_statement_uses_its_index(sql: str, uses: str) -> None:
    conn = sqlite3.connect(":memory:")
    migrate(conn)
    params = tuple(ScheduledStatus.PENDING for _ in range(sql.count("?")))
    plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert uses in plan, plan
