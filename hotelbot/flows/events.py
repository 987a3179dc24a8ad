"""What happens to a conversation: the engine's inputs.

Must never do I/O. Events are facts, named in the past tense. Every event but StepFailed and
CooloffLifted is a guest message: those count against the guest's rate limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class TextReceived:
    """The guest typed text."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionChosen:
    """The guest tapped a reply button or a list row; `reply_id` is the id we rendered."""

    reply_id: str
    title: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateButtonPressed:
    """The guest tapped a quick-reply button of a template (scheduled) message."""

    payload: str
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsupportedReceived:
    """The guest sent something menus cannot read (image, audio, location, sticker, ...)."""

    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeReceived:
    """An update that needs no answer: a reaction, a deleted or edited message, a system
    notice (the guest changed their number). Recorded and met with silence."""

    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatOpened:
    """The guest opened the chat with the number (`request_welcome`): greet them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRequested:
    """Start `flow_id` now (a reply to a scheduled message names the flow to run)."""

    flow_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CooloffLifted:
    """Staff lifted the guest's cooloff (`hotelbot admin unlock`, the staff console): the
    guest may write again at once, their error count starts over. Not a guest message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed:
    """Handling one of the guest's messages crashed (the actor restarts from its snapshot)."""


Event = (
    TextReceived | OptionChosen | TemplateButtonPressed | UnsupportedReceived | NoticeReceived
    | ChatOpened | FlowRequested | StepFailed | CooloffLifted
)

# Webhook message types that need no answer (NoticeReceived). Meta's documented types:
# `reaction` (an emoji added or removed), `system` (user_changed_number and the like); the
# newer `revoke`/`deleted` (a message deleted) and `edit` (a message edited: answering the
# edit as a new message would re-run a step the guest already answered).
NOTICE_KINDS = frozenset({"reaction", "system", "revoke", "deleted", "edit"})


# --- a guest's WhatsApp message as an event (the one place messages become events) ----------


def event_for(kind: str, payload: Mapping[str, object]) -> Event:
    """The engine's input for one guest message (its webhook `type` and message object);
    total over every payload (Cloud API fact sheet section 1.2 field notes).

    text -> TextReceived; interactive button_reply/list_reply -> OptionChosen; template
    quick reply (`button`) -> TemplateButtonPressed; a reaction, deletion, edit or system
    notice (NOTICE_KINDS) -> NoticeReceived(kind); `request_welcome` (the chat opened) ->
    ChatOpened; anything else, or a known type whose content is missing (a `type:
    unsupported` message included), -> UnsupportedReceived(kind).
    """
    if kind in NOTICE_KINDS:
        return NoticeReceived(kind=kind)
    if kind == "request_welcome":
        return ChatOpened()
    if kind == "text":
        body = _field(payload, "text", "body")
        if body is not None:
            return TextReceived(text=body)
    elif kind == "interactive":
        inner = payload.get("interactive")
        reply_type = inner.get("type") if isinstance(inner, dict) else None
        if reply_type in ("button_reply", "list_reply") and isinstance(inner, dict):
            reply_id = _field(inner, str(reply_type), "id")
            if reply_id:
                title = _field(inner, str(reply_type), "title") or ""
                return OptionChosen(reply_id=reply_id, title=title)
    elif kind == "button":
        pressed = _field(payload, "button", "payload")
        text = _field(payload, "button", "text") or ""
        if pressed or text:
            # A quick reply sent without a payload echoes its label as the payload.
            return TemplateButtonPressed(payload=pressed or text, text=text)
    return UnsupportedReceived(kind=kind)


def _field(container: Mapping[str, object], outer: str, inner: str) -> str | None:
    nested = container.get(outer)
    value = nested.get(inner) if isinstance(nested, dict) else None
    return value if isinstance(value, str) else None
