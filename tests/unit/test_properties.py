"""Property tests: any sequence of guest events keeps the engine total and the context valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotelbot.config import load_hotels
from hotelbot.flows.basket import STATE_KEYS, basket_step
from hotelbot.flows.context import Context
from hotelbot.flows.effects import (
    CancelRequest,
    ListRequests,
    SendMessage,
    Silence,
    SilenceReason,
)
from hotelbot.flows.engine import new_context, step
from hotelbot.flows.events import (
    ChatOpened,
    Event,
    FlowRequested,
    NoticeReceived,
    OptionChosen,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
)
from hotelbot.flows.model import Hotel, StepKind
from hotelbot.flows.navigation import answers
from hotelbot.flows.render import reply_id, step_entries
from hotelbot.whatsapp.limits import check_message
from hotelbot.whatsapp.payloads import envelope
from tests.paths import CONFIG
from tests.unit.fixtures import DEPT, GUEST, NUMBER, WORDS, build_hotel

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def real_reply_ids(hotel: Hotel) -> list[str]:
    return sorted(
        reply_id(flow.id, s.id, entry.key)
        for flow in hotel.flows.values()
        for s in flow.steps.values()
        for entry in step_entries(hotel, s)
    )


def guest_texts(hotel: Hotel) -> list[str]:
    titles = {
        title
        for flow in hotel.flows.values()
        for s in flow.steps.values()
        for entry in step_entries(hotel, s)
        for title in entry.title.by_lang.values()
    }
    words = {w for by_lang in hotel.words.values() for ws in by_lang.values() for w in ws}
    samples = {"7pm", "19:30", "tomorrow", "25/12", "412", "Room 412", "a@b.com", "yes", "no",
               "+351 912 345 678", "⭐⭐⭐", "{room}", "{hotel_name}", ""}
    return sorted(titles | words | samples | {str(n) for n in range(-1, 16)})


def events(hotel: Hotel) -> st.SearchStrategy[Event | int]:
    ids = real_reply_ids(hotel)
    fake_ids = st.sampled_from(["x", "main.start:", ":", "nope.step:1", "a.b.c:d", ""])
    flows = [*sorted(hotel.flows), "nope", ""]
    return st.one_of(
        st.builds(TextReceived, text=st.sampled_from(guest_texts(hotel))),
        st.builds(TextReceived, text=st.text(max_size=30)),
        st.builds(OptionChosen, reply_id=st.sampled_from(ids) | fake_ids),
        st.builds(UnsupportedReceived, kind=st.sampled_from(["image", "audio", "location"])),
        st.builds(NoticeReceived, kind=st.sampled_from(["reaction", "system", "revoke"])),
        st.just(ChatOpened()),
        st.builds(FlowRequested, flow_id=st.sampled_from(flows)),
        st.builds(TemplateButtonPressed, payload=st.sampled_from([f"flow:{f}" for f in flows]
                                                                 + ["promo", ""]),
                  text=st.sampled_from(["", "1", "yes", "menu"])),
        st.sampled_from([1, 14, 16, 59, 61, 3000]),  # minutes that pass before the next event
    )


def check_context(hotel: Hotel, ctx: Context, now: datetime) -> None:
    assert ctx.last_activity == now
    assert ctx.language in hotel.languages
    assert (ctx.current_flow is None) == (ctx.current_step is None)
    if ctx.current_flow is not None:
        flow = hotel.flows[ctx.current_flow]  # type: ignore[index]
        current = flow.steps[ctx.current_step]  # type: ignore[index]
        assert current.enabled and current.kind is not StepKind.END
    for ref in ctx.navigation_stack:
        flow_id, _, step_id = ref.partition(".")
        assert step_id in hotel.flows[flow_id].steps  # type: ignore[index]
    # Only the answers of steps on the guest's path: back (or a change) forgets the others.
    on_path = {key for ref in ctx.navigation_stack if ref.startswith(f"{ctx.current_flow}.")
               for key in answers(hotel.flows[ctx.current_flow]  # type: ignore[index]
                                  .steps[ref.partition(".")[2]])}  # type: ignore[index]
    if ctx.current_flow is not None and basket_step(hotel.flows[ctx.current_flow]) is not None:
        on_path |= STATE_KEYS  # a basket outlives the steps that filled it (flows.basket)
    assert set(ctx.step_data) <= on_path, (ctx.navigation_stack, dict(ctx.step_data))
    if ctx.cooloff_until is None:
        assert 0 <= ctx.error_count < hotel.policy.max_errors
    else:
        assert ctx.error_count == hotel.policy.max_errors


def current_answers(hotel: Hotel, ctx: Context) -> list[Event]:
    """Plausible answers to the step the guest is at (to get deep into flows)."""
    if ctx.current_flow is None:
        return [TextReceived(text="hi")]
    flow = hotel.flows[ctx.current_flow]  # type: ignore[index]
    here = flow.steps[ctx.current_step]  # type: ignore[index]
    taps: list[Event] = [OptionChosen(reply_id=reply_id(flow.id, here.id, e.key))
                         for e in step_entries(hotel, here)]
    return taps + [TextReceived(text=x) for x in VALID_SAMPLES]


VALID_SAMPLES = ("1", "2", "3", "7pm", "tomorrow", "25/12", "412", "101", "204", "Ana Lopez",
                 "AB1234", "yes", "skip", "back", "a@b.com", "+351912345678")


def play(hotel: Hotel, department: str, number: str, data: st.DataObject,
         steps: int) -> None:
    ctx = new_context(hotel, guest_id="351910000000", phone_number_id=number,
                      department=department)
    now = START
    anything = events(hotel)
    for _ in range(steps):
        item = data.draw(st.sampled_from(current_answers(hotel, ctx)) | anything)
        if isinstance(item, int):
            now += timedelta(minutes=item)
            continue
        now += timedelta(seconds=5)
        out = step(hotel, ctx, item, now)
        # ListRequests / CancelRequest: the actor sends the reply (flows.requests_message)
        sends = [e for e in out.effects
                 if isinstance(e, SendMessage | ListRequests | CancelRequest)]
        # the documented silences: a cooloff, a notice (reaction, deletion, system), a loop
        assert sends or out.effects in {(Silence(reason=SilenceReason.COOLOFF),),
                                        (Silence(reason=SilenceReason.NOTICE),),
                                        (Silence(reason=SilenceReason.LOOP),)}
        if not sends:
            assert out.context == ctx.evolve(last_activity=now, rate=out.context.rate)
        for send in sends:
            if isinstance(send, SendMessage):
                assert check_message(envelope(GUEST, send.body)) == [], send.body
        check_context(hotel, out.context, now)
        ctx = out.context


FIXTURE = build_hotel()


@settings(max_examples=200, deadline=None)
@given(data=st.data(), steps=st.integers(min_value=1, max_value=40))
def test_fixture_hotel_survives_any_event_sequence(data: st.DataObject, steps: int) -> None:
    play(FIXTURE, DEPT, NUMBER, data, steps)


def _configured() -> list[tuple[Hotel, str, str]]:
    hotels = load_hotels(CONFIG)
    return [(hotel, d.id, d.phone_number_id) for hotel in hotels.hotels.values()
            for d in hotel.departments.values()]


CONFIGURED = _configured()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_configured_hotels_survive_any_event_sequence(data: st.DataObject) -> None:
    hotel, department, number = data.draw(st.sampled_from(CONFIGURED))
    play(hotel, department, number, data, data.draw(st.integers(min_value=1, max_value=30)))


def test_words_fixture_is_what_the_properties_draw_from() -> None:
    assert {"back", "menu", "skip", "thanks", "requests"} == set(WORDS) == set(FIXTURE.words)
