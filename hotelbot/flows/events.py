"""What happens to a conversation: the engine's inputs.

Must never do I/O. Events are facts, named in the past tense. Every event but StepFailed is a
guest message: those count against the guest's rate limit.
"""

from __future__ import annotations

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
class FlowRequested:
    """Start `flow_id` now (a reply to a scheduled message names the flow to run)."""

    flow_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed:
    """Handling one of the guest's messages crashed (the actor restarts from its snapshot)."""


Event = (
    TextReceived | OptionChosen | TemplateButtonPressed | UnsupportedReceived | FlowRequested
    | StepFailed
)
