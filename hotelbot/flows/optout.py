"""The marketing opt-out rule (issue 8 point 18): STOP / START, in any enabled language.

Owns: recognising the hotel's `stop` and `start` words in a guest's text and what the guest
reads back. Must never do I/O, read the clock or log: the actor stores the OptOutChanged
effect in the step's transaction, and the scheduler reads it (marketing is skipped, service
messages still go).
"""

from __future__ import annotations

from hotelbot.flows.context import Context
from hotelbot.flows.effects import Effect, OptOutChanged
from hotelbot.flows.events import Event, TextReceived
from hotelbot.flows.model import Hotel, WordKind
from hotelbot.flows.render import string, substitute, text_message, variables
from hotelbot.flows.text import kinds_of, normalize

_RULES: tuple[tuple[WordKind, bool, str], ...] = (
    ("stop", True, "opted_out"), ("start", False, "opted_in"),
)


def opt_out_effects(hotel: Hotel, context: Context, event: Event) -> tuple[Effect, ...] | None:
    """The confirmation and the OptOutChanged effect when the guest's whole text is a stop or
    start word; None otherwise (the event goes on to the other rules)."""
    if not isinstance(event, TextReceived):
        return None
    kinds = kinds_of(hotel.words, normalize(event.text))
    for kind, opted_out, key in _RULES:
        if kind in kinds:
            values = variables(hotel, context, None)
            body = substitute(string(hotel, key, context.language), values)
            return (text_message(body), OptOutChanged(opted_out=opted_out))
    return None
