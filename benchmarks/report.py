"""Benchmark results: percentiles, machine facts, markdown tables and BENCHMARKS.md sections.

Owns: how numbers are summarised and printed, and the marked sections of BENCHMARKS.md
(`<!-- bench:NAME:start -->` ... `<!-- bench:NAME:end -->`) that a benchmark may replace.
Must never: touch text outside its own markers, or measure anything itself.
"""

from __future__ import annotations

import math
import os
import platform
import re
import shlex
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, not {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds with two decimals ("-" for NaN)."""
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table (also readable as plain text)."""
    if any(len(row) != len(headers) for row in rows):
        raise ValueError("every row needs one cell per header")
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else "unknown"


def machine_facts() -> str:
    """One line: cores, CPU, Python, OS and the versions of the libraries on the path."""
    libs = ", ".join(f"{name} {version(name)}" for name in ("aiohttp", "aiosqlite", "orjson",
                                                           "uvloop", "structlog"))
    return (
        f"nproc {os.cpu_count()}, {cpu_model()}; Python {platform.python_version()} "
        f"({platform.python_implementation()}); {platform.system()} {platform.release()}; "
        f"SQLite {sqlite3.sqlite_version}; {libs}"
    )


def command_line(module: str, argv: Sequence[str]) -> str:
    """The command that reproduces this run."""
    name = module.rsplit(".", 1)[-1]
    return shlex.join(["scripts/bench", name, *argv])


def section(name: str, command: str, body: str) -> str:
    """A whole BENCHMARKS.md section body: when, where, how, then the results."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Command: `{command}` ({stamp})\n\n"
        f"Machine: {machine_facts()}\n\n{body.rstrip()}\n"
    )


def update_section(path: Path, name: str, text: str) -> None:
    """Replace the marked section `name` of the markdown file at `path` (append if absent).

    Raises:
        ValueError: the name is not a plain identifier, or the markers are unbalanced.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"section name must be a lowercase identifier, not {name!r}")
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if (start in old) != (end in old) or old.count(start) > 1:
        raise ValueError(f"{path}: unbalanced markers for section {name!r}")
    if start in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block + "\n"
    path.write_text(new, encoding="utf-8")


def emit(name: str, argv: Sequence[str], body: str, output: Path | None) -> None:
    """Print the results; also write them as section `name` of `output` when given."""
    text = section(name, command_line(f"benchmarks.{name}", argv), body)
    print(text)
    if output is not None:
        update_section(output, name, text)
        print(f"(section {name!r} updated in {output})", file=sys.stderr)
