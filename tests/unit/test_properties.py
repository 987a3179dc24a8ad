"""Property tests: any sequence of guest events keeps the engine total and the context valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures import DEPT, NUMBER, WORDS, build_flow_set, payload_problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotelbot.flows.context import Context
from hotelbot.flows.effects import SendMessage, Silence, SilenceReason
from hotelbot.flows.engine import new_context, step
from hotelbot.flows.events import (
    Event,
    FlowRequested,
    OptionChosen,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
)
from hotelbot.flows.model import FlowSet, StepKind
from hotelbot.flows.render import reply_id, step_entries

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CONFIG = Path(__file__).parents[2] / "config"


def real_reply_ids(flow_set: FlowSet) -> list[str]:
    return sorted(
        reply_id(flow.id, s.id, entry.key)
        for flow in flow_set.flows.values()
        for s in flow.steps.values()
        for entry in step_entries(flow_set, s)
    )


def guest_texts(flow_set: FlowSet) -> list[str]:
    titles = {
        title
        for flow in flow_set.flows.values()
        for s in flow.steps.values()
        for entry in step_entries(flow_set, s)
        for title in entry.title.by_lang.values()
    }
    words = {w for by_lang in flow_set.words.values() for ws in by_lang.values() for w in ws}
    samples = {"7pm", "19:30", "tomorrow", "25/12", "412", "Room 412", "a@b.com", "yes", "no",
               "+351 912 345 678", "⭐⭐⭐", "{room}", "{hotel_name}", ""}
    return sorted(titles | words | samples | {str(n) for n in range(-1, 16)})


def events(flow_set: FlowSet) -> st.SearchStrategy[Event | int]:
    ids = real_reply_ids(flow_set)
    fake_ids = st.sampled_from(["x", "main.start:", ":", "nope.step:1", "a.b.c:d", ""])
    flows = [*sorted(flow_set.flows), "nope", ""]
    return st.one_of(
        st.builds(TextReceived, text=st.sampled_from(guest_texts(flow_set))),
        st.builds(TextReceived, text=st.text(max_size=30)),
        st.builds(OptionChosen, reply_id=st.sampled_from(ids) | fake_ids),
        st.builds(UnsupportedReceived, kind=st.sampled_from(["image", "audio", "location"])),
        st.builds(FlowRequested, flow_id=st.sampled_from(flows)),
        st.builds(TemplateButtonPressed, payload=st.sampled_from([f"flow:{f}" for f in flows]
                                                                 + ["promo", ""]),
                  text=st.sampled_from(["", "1", "yes", "menu"])),
        st.sampled_from([1, 14, 16, 59, 61, 3000]),  # minutes that pass before the next event
    )


def check_context(flow_set: FlowSet, ctx: Context, now: datetime) -> None:
    assert ctx.last_activity == now
    assert ctx.language in flow_set.languages
    assert (ctx.current_flow is None) == (ctx.current_step is None)
    if ctx.current_flow is not None:
        flow = flow_set.flows[ctx.current_flow]  # type: ignore[index]
        current = flow.steps[ctx.current_step]  # type: ignore[index]
        assert current.enabled and current.kind is not StepKind.END
    for ref in ctx.navigation_stack:
        flow_id, _, step_id = ref.partition(".")
        assert step_id in flow_set.flows[flow_id].steps  # type: ignore[index]
    if ctx.cooloff_until is None:
        assert 0 <= ctx.error_count < flow_set.policy.max_errors
    else:
        assert ctx.error_count == flow_set.policy.max_errors


def current_answers(flow_set: FlowSet, ctx: Context) -> list[Event]:
    """Plausible answers to the step the guest is at (to get deep into flows)."""
    if ctx.current_flow is None:
        return [TextReceived(text="hi")]
    flow = flow_set.flows[ctx.current_flow]  # type: ignore[index]
    here = flow.steps[ctx.current_step]  # type: ignore[index]
    taps: list[Event] = [OptionChosen(reply_id=reply_id(flow.id, here.id, e.key))
                         for e in step_entries(flow_set, here)]
    return taps + [TextReceived(text=x) for x in VALID_SAMPLES]


VALID_SAMPLES = ("1", "2", "3", "7pm", "tomorrow", "25/12", "412", "101", "204", "Ana Lopez",
                 "AB1234", "yes", "skip", "a@b.com", "+351912345678")


def play(flow_set: FlowSet, department: str, number: str, data: st.DataObject,
         steps: int) -> None:
    ctx = new_context(flow_set, guest_id="351910000000", phone_number_id=number,
                      department=department)
    now = START
    anything = events(flow_set)
    for _ in range(steps):
        item = data.draw(st.sampled_from(current_answers(flow_set, ctx)) | anything)
        if isinstance(item, int):
            now += timedelta(minutes=item)
            continue
        now += timedelta(seconds=5)
        out = step(flow_set, ctx, item, now)
        sends = [e for e in out.effects if isinstance(e, SendMessage)]
        assert sends or out.effects == (Silence(reason=SilenceReason.COOLOFF),)
        if not sends:
            assert out.context == ctx.evolve(last_activity=now, rate=out.context.rate)
        for send in sends:
            assert payload_problems(send.body) == [], send.body
        check_context(flow_set, out.context, now)
        ctx = out.context


FIXTURE = build_flow_set()


@settings(max_examples=200, deadline=None)
@given(data=st.data(), steps=st.integers(min_value=1, max_value=40))
def test_fixture_hotel_survives_any_event_sequence(data: st.DataObject, steps: int) -> None:
    play(FIXTURE, DEPT, NUMBER, data, steps)


def _shipped() -> list[tuple[FlowSet, str, str]]:
    try:
        from hotelbot.flows.loader import load_catalog
    except ImportError:
        return []
    if not (CONFIG / "hotels").is_dir():
        return []
    catalog = load_catalog(CONFIG)
    return [(fs, d.id, d.phone_number_id) for fs in catalog.hotels.values()
            for d in fs.departments.values()]


SHIPPED = _shipped()


@pytest.mark.skipif(not SHIPPED, reason="shipped config or loader not there yet")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_shipped_hotels_survive_any_event_sequence(data: st.DataObject) -> None:
    flow_set, department, number = data.draw(st.sampled_from(SHIPPED))
    play(flow_set, department, number, data, data.draw(st.integers(min_value=1, max_value=30)))


def test_words_fixture_is_what_the_properties_draw_from() -> None:
    assert {"back", "menu", "skip"} == set(WORDS) == set(FIXTURE.words)
