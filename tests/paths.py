"""Where the tests find their files: one place, so no test depends on the operator's config/.

CONFIG is the tests' own configuration (tests/data/config/): the shipped flow templates and
strings.yaml (tests/test_shipped_config.py keeps them identical to config/'s) and two hotels,
demo_hotel and seaside_inn. A hotel an operator adds to config/hotels/ changes no test.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "data" / "config"
SHIPPED_CONFIG = ROOT / "config"
