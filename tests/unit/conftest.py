"""Unit-test fixtures.

The programmatic Hotels live in tests/unit/fixtures.py (plain functions, usable inside
hypothesis tests where pytest fixtures are not); the fixtures below hand them to ordinary
tests.
"""

from __future__ import annotations

import pytest

from hotelbot.flows import Hotel
from tests.unit.fixtures import build_hotel


@pytest.fixture
def hotel() -> Hotel:
    return build_hotel()
