"""A guest's reply to a scheduled message starts the flow its template names (issue 10).

Owns the rule; the scheduler finds the scheduled message the reply may answer, the engine
starts the flow (rule 5, FlowRequested). Must never do I/O, read the clock or log.

A scheduled send creates no conversation context. A guest message answers it when it quotes
it (`context.id` is its wamid), taps one of its template's buttons, or comes within the
hotel's reply window after it before the guest did anything else on that number (the
context's last_activity is older than the send). It then becomes FlowRequested(reply_flow),
unless the guest is in the middle of a flow (not idle, not expired, not at the first step
of the department's main menu: the reply is handled there) or the text is a global word
(menu, back, STOP...: those keep their meaning). A template
button whose payload is "flow:<id>" is left to the engine, which starts that flow itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hotelbot.flows.context import Context
from hotelbot.flows.events import Event, FlowRequested, TemplateButtonPressed, TextReceived
from hotelbot.flows.model import FLOW_PREFIX, Hotel
from hotelbot.flows.text import kinds_of, normalize
from hotelbot.typedefs import Dept


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledReply:
    """The scheduled message a guest's message may answer (the latest sent on that number,
    or the one it quotes)."""

    reply_flow: str | None
    sent_at: datetime
    quoted: bool = False  # the guest's message quotes it
    recent: bool = False  # sent within the reply window before the guest's message


def reply_event(hotel: Hotel, context: Context, event: Event, answered: ScheduledReply | None,
                now: datetime) -> Event:
    """The event to hand the engine: FlowRequested(reply_flow) when `event` answers a
    scheduled message (module docstring), else `event` unchanged."""
    if answered is None or answered.reply_flow is None:
        return event
    if isinstance(event, TemplateButtonPressed) and event.payload.startswith(FLOW_PREFIX):
        return event
    if _mid_flow(hotel, context, now) or _global_word(hotel, event):
        return event
    tapped = isinstance(event, TemplateButtonPressed)
    fresh = answered.recent and (context.last_activity is None
                                 or _aware(context.last_activity) <= _aware(answered.sent_at))
    if answered.quoted or tapped or fresh:
        return FlowRequested(flow_id=answered.reply_flow)
    return event


def may_answer(hotel: Hotel, context: Context, event: Event, now: datetime) -> bool:
    """False when `event` cannot answer a scheduled message whatever was sent (the guest is
    mid-flow or said a global word): the caller need not look one up."""
    return not _mid_flow(hotel, context, now) and not _global_word(hotel, event)


def _mid_flow(hotel: Hotel, context: Context, now: datetime) -> bool:
    """In a flow, not idle past the timeout; the department's main menu is no flow to keep."""
    if context.current_flow is None:
        return False
    department = hotel.departments.get(Dept(context.department))
    if department is not None and context.current_flow == department.main_flow:
        main = hotel.flows.get(department.main_flow)
        if main is not None and context.current_step == main.start:
            return False
    if context.last_activity is None:
        return True
    idle = _aware(now) - _aware(context.last_activity)
    return idle <= timedelta(minutes=hotel.policy.timeout_minutes)


def _global_word(hotel: Hotel, event: Event) -> bool:
    """A word that keeps its meaning (menu, back, STOP, "my requests", "agent"...). Small talk
    ("great", "thanks") is not one: after a survey it is the answer ("Great!" starts the
    feedback)."""
    if not isinstance(event, TextReceived):
        return False
    kinds = kinds_of(hotel.words, normalize(event.text))
    return bool(kinds) and kinds != _SMALL_TALK


_SMALL_TALK = frozenset({"thanks"})  # the one kind of words that is no global word


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
