"""The parent's handle on a benchmark server process: start, wait ready, measure, stop.

Owns: spawning `python -m benchmarks.server`, waiting (bounded) until it answers /healthz,
reading its CPU time and RSS from /proc, core pinning (server on one core, the load
generator on the others), and a bounded SIGTERM -> SIGKILL stop.
Must never: leave the child running, or wait without a timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp.test_utils import unused_port

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Pinning:
    server: int | None  # the core the server gets to itself
    harness: frozenset[int] | None  # the cores left for the load generator and the fake


def plan_pinning(enabled: bool) -> Pinning:
    """Give the server one core and the harness the rest (only with at least two cores)."""
    cores = sorted(os.sched_getaffinity(0))
    if not enabled or len(cores) < 2:
        return Pinning(server=None, harness=None)
    return Pinning(server=cores[0], harness=frozenset(cores[1:]))


def pin_harness(pinning: Pinning) -> None:
    if pinning.harness is not None:
        os.sched_setaffinity(0, pinning.harness)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size now (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc status")


@dataclass(slots=True)
class ServerProcess:
    kind: str
    pid: int
    url: str  # the webhook URL

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)


@asynccontextmanager
async def open_server(
    kind: str, *, graph_url: str, data_dir: Path, cpu: int | None, profile: Path | None = None,
    log_level: str = "info",
) -> AsyncIterator[ServerProcess]:
    """Run the `kind` server in a child process until the block ends.

    Raises:
        RuntimeError: the server exited or did not answer within START_TIMEOUT seconds.
    """
    port = unused_port()
    args = [sys.executable, "-m", "benchmarks.server", "--kind", kind, "--port", str(port),
            "--graph-url", graph_url, "--data-dir", str(data_dir), "--log-level", log_level]
    if cpu is not None:
        args += ["--cpu", str(cpu)]
    if profile is not None:
        args += ["--profile", str(profile)]
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (before the clock starts)
    errors = (data_dir / "server.stderr").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=errors, stderr=errors)
    server = ServerProcess(kind=kind, pid=proc.pid, url=f"http://127.0.0.1:{port}/webhook")
    try:
        await _wait_ready(proc, f"http://127.0.0.1:{port}/healthz", data_dir / "server.stderr")
        yield server
    finally:
        await _stop(proc)
        errors.close()


async def _wait_ready(proc: asyncio.subprocess.Process, url: str, stderr: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                tail = stderr.read_text(errors="replace")[-2000:]  # noqa: ASYNC240
                raise RuntimeError(f"server exited with {proc.returncode}:\n{tail}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server did not answer {url} within {START_TIMEOUT:.0f} s")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
