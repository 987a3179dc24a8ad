"""The configuration the benchmarks run on: the shipped one, unpaced.

Owns: `unpaced_config(dest)`: a copy of config/ whose departments may send 1000 messages a
second (WhatsApp's highest throughput) with no pair pacing to speak of, and without read
receipts. The benchmarks measure what hotelbot itself costs per message; WhatsApp's pacing
(80 messages a second per number by default, one message per 6 s to a guest) would measure
Meta's limits instead, and the minimal path sends no read receipts. Pacing has its own
tests (tests/actors/test_pacer.py).
Must never write outside `dest`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config"
UNPACED = "    sending: {messages_per_second: 1000, pair_interval_seconds: 0.001, pair_burst: 45}\n"


def unpaced_config(dest: Path) -> Path:
    """Copy the shipped configuration to `dest` (replaced) and lift its pacing; returns it."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(SHIPPED, dest)
    for hotel in (dest / "hotels").glob("*.yaml"):
        text = hotel.read_text(encoding="utf-8")
        text = re.sub(r"^( {4}main_flow: .*\n)", lambda m: m.group(1) + UNPACED, text,
                      flags=re.M)
        text = re.sub(r"^timezone: .*\n", lambda m: m.group(0) + "read_receipts: false\n", text,
                      count=1, flags=re.M)
        hotel.write_text(text, encoding="utf-8")
    return dest
