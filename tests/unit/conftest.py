"""Unit-test setup: make tests/unit/fixtures.py importable from sub-directories (dialogues/).

The programmatic Hotels live in fixtures.py (plain functions, usable inside hypothesis
tests where pytest fixtures are not); the fixtures below hand them to ordinary tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from fixtures import build_hotel  # noqa: E402

from hotelbot.flows import Hotel  # noqa: E402


@pytest.fixture
def hotel() -> Hotel:
    return build_hotel()
