"""What the engine asks the world to do: its outputs. Imperative names.

Must never do I/O. The actor carries effects out (send, store, schedule) and logs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hotelbot.typedefs import JSONScalar


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessage:
    """Send one WhatsApp message to the guest.

    `body` is the Graph API message object without the envelope fields (`messaging_product`,
    `recipient_type`, `to`), e.g. {"type": "text", "text": {"body": "...", "preview_url": False}}
    or {"type": "interactive", "interactive": {...}}. The sender adds the envelope.
    The same body object may be shared by every guest who reaches a step (render.py memoizes
    messages that name no value of the guest's): read it, copy it, never change it in place.
    """

    body: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRequest:
    """An end step finished a flow: store a request (order, housekeeping job, feedback...)."""

    kind: str
    flow_id: str
    department: str
    data: Mapping[str, JSONScalar]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleMessage:
    """Ask the scheduler for a proactive message `after_minutes` from now."""

    message_type: str
    after_minutes: int
    data: Mapping[str, JSONScalar] = field(default_factory=dict)


class SilenceReason(StrEnum):
    COOLOFF = "cooloff"
    SPAM = "spam"  # past the rate limit
    NOTICE = "notice"  # a reaction, a deletion, an edit, a system notice: nothing to answer
    LOOP = "loop"  # the conversation kept producing the same reply (an auto-responder?)


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """The message was recorded and deliberately not handled (a documented silence).

    A notice saying why may go with it (the first message past the rate limit).
    """

    reason: SilenceReason


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestChanged:
    """The step changed what the hotel's departments share about the guest: store it."""

    data: Mapping[str, JSONScalar]
    language: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRequests:
    """Show the guest their open requests ("my requests"): the actor reads them and sends
    hotelbot.flows.requests_message (the engine's wording)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequest:
    """The guest asked to cancel their request `request_id`: the actor cancels it if staff
    have not acknowledged it yet and sends hotelbot.flows.cancel_message."""

    request_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OptOutChanged:
    """The guest said STOP (True) or START (False): store the hotel's marketing opt-out."""

    opted_out: bool


Effect = (
    SendMessage | CreateRequest | ScheduleMessage | Silence | GuestChanged | ListRequests
    | CancelRequest | OptOutChanged
)
