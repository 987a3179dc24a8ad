"""hotelbot benchmarks: speed and memory measured as ratios against baselines of the same run.

Owns: the benchmark programs (`python -m benchmarks.<name>`, or `scripts/bench <name>`) and the
sections they write into BENCHMARKS.md. Must never: be imported by hotelbot, assert timings in
tests, send traffic beyond 127.0.0.1, or run unbounded (every loop is bounded in count and
time).

    throughput  N signed webhooks, closed loop with concurrency C: minimal path vs hotelbot
    latency     open-loop pacing at a fixed rate: webhook ack p50/p99 (target p99 <= 5 ms)
    memory      100k active conversations through the Router: RSS and Python heap per one
"""
