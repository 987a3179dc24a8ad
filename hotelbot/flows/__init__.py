"""hotelbot.flows: the pure core (model, events, effects, context, engine, rendering).

Other packages import only the names below. Nothing here does I/O, uses asyncio, reads the
clock or logs.
"""

from hotelbot.flows.context import Context, Guest
from hotelbot.flows.effects import (
    CreateRequest,
    Effect,
    GuestChanged,
    ScheduleMessage,
    SendMessage,
    Silence,
    SilenceReason,
)
from hotelbot.flows.engine import Outcome, new_context, step
from hotelbot.flows.events import (
    Event,
    FlowRequested,
    OptionChosen,
    StepFailed,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
)
from hotelbot.flows.loader import check_config, load_catalog
from hotelbot.flows.model import (
    FLOW_PREFIX,
    Branch,
    Catalog,
    Choice,
    Condition,
    Department,
    Flow,
    FlowSet,
    Next,
    Op,
    Option,
    Policy,
    ScheduleSpec,
    Step,
    StepKind,
    Text,
    Validator,
    ValidatorKind,
    WordKind,
)
from hotelbot.flows.render import render_step, reply_id, text_message
from hotelbot.flows.text import normalize

__all__ = [
    "FLOW_PREFIX",
    "Branch",
    "Catalog",
    "Choice",
    "Condition",
    "Context",
    "CreateRequest",
    "Department",
    "Effect",
    "Event",
    "Flow",
    "FlowRequested",
    "FlowSet",
    "Guest",
    "GuestChanged",
    "Next",
    "Op",
    "Option",
    "OptionChosen",
    "Outcome",
    "Policy",
    "ScheduleMessage",
    "ScheduleSpec",
    "SendMessage",
    "Silence",
    "SilenceReason",
    "Step",
    "StepFailed",
    "StepKind",
    "TemplateButtonPressed",
    "Text",
    "TextReceived",
    "UnsupportedReceived",
    "Validator",
    "ValidatorKind",
    "WordKind",
    "check_config",
    "load_catalog",
    "new_context",
    "normalize",
    "render_step",
    "reply_id",
    "step",
    "text_message",
]
