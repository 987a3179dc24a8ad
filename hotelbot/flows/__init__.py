"""hotelbot.flows: the pure runtime (model, events, effects, context, engine, rendering).

Other packages import only the names below. Nothing here does I/O, uses asyncio, reads the
clock or logs; the configuration files are compiled into the model by hotelbot.config, which
this package never imports.
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
    event_for,
)
from hotelbot.flows.model import (
    FLOW_PREFIX,
    Branch,
    Choice,
    Condition,
    Department,
    Flow,
    Hotel,
    Hotels,
    MessageTemplate,
    Next,
    Op,
    Option,
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
from hotelbot.flows.notices import NOTICE_KEYS, staff_notice
from hotelbot.flows.render import (
    render_step,
    reply_id,
    summary_names,
    template_object,
    text_message,
)
from hotelbot.flows.text import normalize

__all__ = [
    "FLOW_PREFIX",
    "NOTICE_KEYS",
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
    "MessageTemplate",
    "Next",
    "Op",
    "Option",
    "OptionChosen",
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
    "event_for",
    "new_context",
    "normalize",
    "render_step",
    "reply_id",
    "staff_notice",
    "step",
    "summary_names",
    "template_object",
    "text_message",
]
