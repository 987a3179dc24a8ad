"""The 24-hour window rule: free-form, template or skip (issue 9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotelbot.outbound.window import Route, closes_at, route, route_after_131047

WROTE = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "has_template", "expected"),
    [
        (timedelta(0), False, Route.FREE_FORM),
        (timedelta(hours=23, minutes=58), False, Route.FREE_FORM),
        (timedelta(hours=23, minutes=59, seconds=30), False, Route.SKIP),  # inside the margin
        (timedelta(hours=23, minutes=59, seconds=30), True, Route.TEMPLATE),
        (timedelta(hours=24), False, Route.SKIP),
        (timedelta(days=3), True, Route.TEMPLATE),
        (timedelta(hours=1), True, Route.FREE_FORM),  # a template-capable message inside: as is
    ],
)
def test_the_window_decides_free_form_template_or_skip(
    after: timedelta, has_template: bool, expected: Route
) -> None:
    assert route(last_inbound_at=WROTE, now=WROTE + after, has_template=has_template) == expected


def test_a_guest_who_never_wrote_has_no_window() -> None:
    assert closes_at(None) is None
    assert route(last_inbound_at=None, now=WROTE, has_template=False) == Route.SKIP
    assert route(last_inbound_at=None, now=WROTE, has_template=True) == Route.TEMPLATE


def test_a_131047_sends_the_template_once_then_skips() -> None:
    assert route_after_131047(has_template=True, sent_as_template=False) == Route.TEMPLATE
    assert route_after_131047(has_template=True, sent_as_template=True) == Route.SKIP
    assert route_after_131047(has_template=False, sent_as_template=False) == Route.SKIP
