"""Smoke tests of the benchmarks: each runs in its tiniest mode, completes and reports numbers.

No timing is asserted (speed targets live in BENCHMARKS.md, never in tests): only that every
message was answered, the numbers are there and positive, and the section was written.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.load import generator_gc_paused
from benchmarks.report import percentile, table, update_section

ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str, tmp_path: Path) -> tuple[object, str]:
    out, md = tmp_path / "out.json", tmp_path / "BENCH.md"
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args, "--json", str(out),
         "--output", str(md)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return orjson.loads(out.read_bytes()), md.read_text(encoding="utf-8")


def test_throughput_tiny_run_answers_every_message(tmp_path: Path) -> None:
    data, md = _run("throughput", "--guests", "20", "--messages", "2", "--concurrency", "4",
                    "--repeat", "1", tmp_path=tmp_path)
    results = data["results"]  # type: ignore[index]
    assert {r["kind"] for r in results} == {"minimal", "hotelbot"}
    for r in results:
        assert r["messages"] == 40 and r["errors"] == 0 and r["unmatched"] == 0
        assert r["replies"] >= 40 and r["complete"]
        # CPU comes from /proc in 10 ms ticks: a tiny run of the minimal path may read 0
        assert r["rate"] > 0 and r["server_cpu_us"] >= 0 and r["e2e_p99"] >= r["e2e_p50"] > 0
    assert data["summary"]["rate_ratio"] > 0  # type: ignore[index]
    assert "<!-- bench:throughput:start -->" in md and "msgs/s" in md


def test_the_generator_collects_no_garbage_while_it_measures_and_again_after() -> None:
    kept = [[object()] for _ in range(100)]  # tracked containers alive across the pause
    with generator_gc_paused():
        assert not gc.isenabled() and gc.get_freeze_count() >= len(kept)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_latency_tiny_run_reports_percentiles(tmp_path: Path) -> None:
    data, md = _run("latency", "--rate", "200", "--seconds", "0.25", "--repeat", "2",
                    tmp_path=tmp_path)
    runs = [(r["kind"], r["run"]) for r in data]  # type: ignore[union-attr]
    assert runs == [("minimal", 1), ("hotelbot", 1), ("minimal", 2), ("hotelbot", 2)]
    for r in data:  # type: ignore[union-attr]
        assert r["messages"] == 50 and r["errors"] == 0 and r["unmatched"] == 0
        assert r["ack_max"] >= r["ack_p99"] >= r["ack_p50"] > 0 and r["server_cpu_us"] >= 0
    assert "<!-- bench:latency:end -->" in md and "Median ack p99" in md and "target 5 ms" in md


def test_memory_tiny_run_keeps_every_conversation_alive(tmp_path: Path) -> None:
    data, md = _run("memory", "--conversations", "300", "--trace-conversations", "100",
                    tmp_path=tmp_path)
    rss, heap = data["rss"], data["heap"]  # type: ignore[index]
    assert rss["active"] == 300 + 500 and heap["active"] == 100 + 500
    assert rss["sent"] >= 300 and heap["heap_delta"] > 0 and heap["sites"]
    assert "KiB / conversation" in md


def test_fuzz_tiny_run_has_no_5xx_and_answers_every_guest(tmp_path: Path) -> None:
    data, md = _run("fuzz", "--bodies", "120", tmp_path=tmp_path)
    assert data["bodies"] == 120 and data["server_errors"] == 0  # type: ignore[index]
    assert data["guests"] == data["answered"] == 3  # type: ignore[index]
    assert sum(data["statuses"].values()) == 123  # type: ignore[index]
    assert "<!-- bench:fuzz:start -->" in md and "5xx: **0**" in md


def test_crash_tiny_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    data, md = _run("crash", "--guests", "10", "--messages", "2", "--grace-wait", "0",
                    tmp_path=tmp_path)
    assert data["acknowledged"] == data["messages"] == 20  # type: ignore[index]
    assert data["lost"] == 0 and data["doubled"] == 0  # type: ignore[index]
    assert data["replies"] + data["awaiting_grace"] == 20  # type: ignore[index]
    assert "<!-- bench:crash:start -->" in md and "doubled replies" in md


def test_pacing_tiny_run_keeps_the_rate_the_pair_rate_and_sends_every_row(
    tmp_path: Path,
) -> None:
    data, md = _run("pacing", "--quick", "--pair-interval", "1", "--pair-rows", "8",
                    tmp_path=tmp_path)
    r: dict[str, Any] = data  # type: ignore[assignment]
    limit, interval, tolerance = r["per_second"], r["pair_interval"], 0.05
    for b in (r["broadcast"], r["replies"]["broadcast"]):
        assert b["sent"] == b["rows"] == 200 and b["duplicates"] == 0
        # On the pacer's clock strictly; on the receiver's with the benchmark's allowance for
        # network jitter (its strict count there is a finding, reported, not an invariant).
        assert b["max_per_second_called"] <= limit
        assert b["max_per_second_tolerant"] <= limit
    pair = r["pair"]
    assert pair["sent"] == pair["rows"] == 8 and pair["duplicates"] == 0
    assert pair["burst_observed"] <= pair["burst_policy"]
    assert pair["min_gap_after_burst"] >= interval - tolerance
    assert pair["bucket_slack"] >= -tolerance
    assert r["replies"]["replies_sent"] == r["replies"]["replies"] > 0
    assert r["failed"] == r["skipped"] == r["refused"] == r["invalid"] == 0 and r["ok"]
    assert "<!-- bench:pacing:start -->" in md and "Verdict (3)" in md


def test_update_section_replaces_only_its_own_block(tmp_path: Path) -> None:
    path = tmp_path / "B.md"
    path.write_text("# Title\n\nkept by hand\n", encoding="utf-8")
    update_section(path, "alpha", "one")
    update_section(path, "beta", "two")
    update_section(path, "alpha", "three")
    text = path.read_text(encoding="utf-8")
    assert "kept by hand" in text and "three" in text and "two" in text and "one" not in text
    assert text.index("alpha") < text.index("beta")
    with pytest.raises(ValueError):
        update_section(path, "Bad Name", "x")


def test_percentile_and_table() -> None:
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 99) == 4.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    assert table(["a", "b"], [[1, 22]]).splitlines()[2] == "| 1 | 22 |"
    with pytest.raises(ValueError):
        table(["a"], [[1, 2]])


def test_scheduler_tiny_run_fires_every_due_row(tmp_path: Path) -> None:
    data, md = _run("scheduler", "--rows", "2000", "--fire", "50", "--fire-seconds", "1",
                    "--rate", "20", "--lead", "8", tmp_path=tmp_path)
    assert isinstance(data, dict)
    assert data["fired"] == data["sent"] == 50 and data["errors"] == 0
    assert data["in_wheel"] == 50 and data["rss_mb"] > 0 and data["insert_us"] > 0
    assert "commit lateness" in md
