"""flows.progress: what one engine step did to the guest's way through a flow (the funnel)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotelbot.config import load_hotels
from hotelbot.flows import Context, Mark, new_context, progress, step
from hotelbot.flows.events import TextReceived
from tests.paths import CONFIG

HOTEL = load_hotels(CONFIG).hotels["demo_hotel"]
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def _walk(texts: list[str], ctx: Context | None = None, start: datetime = T0,
          gap: timedelta = timedelta(seconds=5)) -> tuple[Context, list[list[tuple[str, str,
                                                                                    str]]]]:
    ctx = ctx or new_context(HOTEL, guest_id="g", phone_number_id="100000000000001",
                             department="front_desk")
    marks = []
    now = start
    for text in texts:
        outcome = step(HOTEL, ctx, TextReceived(text=text), now)
        moved = progress(HOTEL, ctx, outcome, now)
        marks.append([(m.value, f, s) for m, f, s in moved.marks])
        ctx, now = outcome.context, now + gap
    return ctx, marks


def test_a_completed_check_in_reaches_each_step_then_completes() -> None:
    _ctx, marks = _walk(["Hello", "1", "Ana Lopez", "AB1234", "3pm", "skip", "yes"])
    assert marks[0] == [("reached", "front_desk_menu", "main")]
    assert marks[1] == [("reached", "check_in", "guest_name")]
    assert marks[2] == [("reached", "check_in", "booking_reference")]
    assert marks[-1] == [("completed", "check_in", "")]


def test_an_invalid_answer_reaches_nothing_new() -> None:
    _ctx, marks = _walk(["Hello", "1", "x"])
    assert marks[2] == []


def test_menu_in_the_middle_of_a_flow_abandons_it() -> None:
    _ctx, marks = _walk(["Hello", "1", "Ana Lopez", "menu"])
    assert marks[3] == [("abandoned", "check_in", "booking_reference"),
                        ("reached", "front_desk_menu", "main")]


def test_the_fifth_invalid_answer_starts_a_cooloff_and_the_silence_marks_nothing() -> None:
    _ctx, marks = _walk(["Hello", "1", "x", "x", "x", "x", "x", "x"])
    assert [m for m in marks[6] if m[0] == "cooloff"] == [("cooloff", "check_in", "guest_name")]
    assert marks[7] == []  # inside the cooloff: silenced


def test_a_message_after_the_timeout_marks_the_flow_expired() -> None:
    ctx, _marks = _walk(["Hello", "1"])
    late = T0 + timedelta(minutes=HOTEL.policy.timeout_minutes + 5)
    _ctx, marks = _walk(["Ana Lopez"], ctx=ctx, start=late)
    assert marks[0][0] == ("expired", "check_in", "guest_name")
    assert (Mark.REACHED.value, "front_desk_menu", "main") in marks[0]
