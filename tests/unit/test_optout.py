"""STOP / START (issue 8 point 18): a pure engine rule; the actor stores its effect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotelbot.config import load_hotels
from hotelbot.flows import OptOutChanged, SendMessage, TextReceived, new_context, step
from hotelbot.typedefs import HotelId
from tests.messages import message_text
from tests.paths import CONFIG

HOTELS = load_hotels(CONFIG).hotels
NOW = datetime(2026, 1, 15, 9, tzinfo=UTC)


@pytest.mark.parametrize(("hotel_id", "text", "opted_out", "reply"), [
    ("demo_hotel", "STOP", True, "You will no longer receive offers from Demo Hotel."),
    ("demo_hotel", "Unsubscribe", True, "You will no longer receive offers from Demo Hotel."),
    ("demo_hotel", "start", False, "You will receive offers from Demo Hotel again."),
    ("seaside_inn", "parar", True, "Deixará de receber ofertas do Seaside Inn."),
    ("seaside_inn", "START", False, "Voltará a receber ofertas do Seaside Inn."),
])
def test_stop_and_start_in_the_hotels_languages(
    hotel_id: str, text: str, opted_out: bool, reply: str
) -> None:
    hotel = HOTELS[HotelId(hotel_id)]
    number = next(iter(hotel.departments.values())).phone_number_id
    context = new_context(hotel, guest_id="351912345678", phone_number_id=number,
                          department=next(iter(hotel.departments)))
    outcome = step(hotel, context, TextReceived(text=text), NOW)
    [send, changed] = outcome.effects
    assert changed == OptOutChanged(opted_out=opted_out)
    assert isinstance(send, SendMessage) and message_text(send.body).startswith(reply)
    assert outcome.context.current_flow is None  # nothing else happened


def test_stop_inside_a_sentence_is_no_opt_out() -> None:
    hotel = HOTELS[HotelId("demo_hotel")]
    context = new_context(hotel, guest_id="351912345678", phone_number_id="100000000000001",
                          department="front_desk")
    outcome = step(hotel, context, TextReceived(text="please stop the music"), NOW)
    assert not any(isinstance(e, OptOutChanged) for e in outcome.effects)
