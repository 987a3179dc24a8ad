"""hotelbot.flows: the pure runtime (model, events, effects, context, engine, rendering).

Other packages import only the names below. Nothing here does I/O, uses asyncio, reads the
clock or logs; the configuration files are compiled into the model by hotelbot.config, which
this package never imports.
"""

from hotelbot.flows.basket import basket_step, item_options
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
    event_for,
)
from hotelbot.flows.model import (
    DEFAULT_REFERENCE_PATTERN,
    FLOW_PREFIX,
    Branch,
    Choice,
    Condition,
    Department,
    Flow,
    Hotel,
    Hotels,
    Hours,
    MessageTemplate,
    Next,
    Op,
    Option,
    Orders,
    Policy,
    ScheduleSpec,
    Sending,
    Step,
    StepKind,
    Text,
    Validator,
    ValidatorKind,
    WordKind,
)
from hotelbot.flows.navigation import answers
from hotelbot.flows.render import render_step, reply_id, summary_names, text_message
from hotelbot.flows.text import normalize

__all__ = [
    "DEFAULT_REFERENCE_PATTERN",
    "FLOW_PREFIX",
    "Branch",
    "Choice",
    "Condition",
    "Context",
    "CreateRequest",
    "Department",
    "Effect",
    "Event",
    "Flow",
    "FlowRequested",
    "Guest",
    "GuestChanged",
    "Hotel",
    "Hotels",
    "Hours",
    "MessageTemplate",
    "Next",
    "Op",
    "Option",
    "OptionChosen",
    "Orders",
    "Outcome",
    "Policy",
    "ScheduleMessage",
    "ScheduleSpec",
    "SendMessage",
    "Sending",
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
    "answers",
    "basket_step",
    "event_for",
    "item_options",
    "new_context",
    "normalize",
    "render_step",
    "reply_id",
    "step",
    "summary_names",
    "text_message",
]
