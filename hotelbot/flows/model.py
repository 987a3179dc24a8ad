"""The flow model: frozen dataclasses that hotelbot.config builds and the engine reads.

Owns: the intermediate representation of flows, steps, options, branches, validators and a
hotel's resolved configuration (`Hotel`). Must never do I/O, import asyncio, read the clock
or log. Everything here is already validated: the engine trusts it.

Step references. A `next` target is either a step id of the same flow (`"quantity"`) or
another flow (`"flow:feedback"`, which starts that flow at its start step). On the navigation
stack and in reply ids a step is named by its `StepRef`: `"<flow_id>.<step_id>"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from hotelbot.typedefs import Dept, FlowId, HotelId, JSONScalar, Lang, NumberId, StepId

if TYPE_CHECKING:
    from hotelbot.flows.proactive import Category, QuietHours, ScheduledTemplate

FLOW_PREFIX = "flow:"


@dataclass(frozen=True, slots=True)
class Text:
    """A text in every enabled language of a hotel, e.g. {"en": "Hello", "pt": "Olá"}.

    Texts may hold `{variables}`; they are substituted at render time, in one pass.
    """

    by_lang: Mapping[str, str]

    def get(self, lang: str, fallback: str) -> str:
        """The text in `lang`, else in `fallback`, else in any language (never raises)."""
        if lang in self.by_lang:
            return self.by_lang[lang]
        if fallback in self.by_lang:
            return self.by_lang[fallback]
        return next(iter(self.by_lang.values()), "")

    @staticmethod
    def of(value: str, lang: str = "en") -> Text:
        return Text({lang: value})


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    NOT_IN = "not_in"
    PRESENT = "present"  # the variable was collected (and not skipped)
    ABSENT = "absent"


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """`{var, op, value}` over the collected data; `all`/`any` combine conditions. No eval."""

    var: str = ""
    op: Op = Op.EQ
    value: JSONScalar | tuple[JSONScalar, ...] = None
    all: tuple[Condition, ...] = ()
    any: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch:
    when: Condition
    to: str  # step id of the same flow, or "flow:<flow_id>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Next:
    """Where to go: the first branch whose condition holds, else `default`."""

    branches: tuple[Branch, ...] = ()
    default: str | None = None

    def targets(self) -> tuple[str, ...]:
        found = [b.to for b in self.branches]
        if self.default is not None:
            found.append(self.default)
        return tuple(found)


class StepKind(StrEnum):
    MENU = "menu"
    INPUT = "input"
    CONFIRM = "confirm"
    END = "end"


class ValidatorKind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    ROOM = "room"
    PHONE = "phone"
    EMAIL = "email"
    RATING = "rating"  # integer 1-5, also accepted as stars
    CHOICE = "choice"  # one of `choices` (matched like menu options), saved as the choice id


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    id: str
    title: Text


@dataclass(frozen=True, slots=True, kw_only=True)
class Validator:
    kind: ValidatorKind
    min_length: int | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[Choice, ...] = ()
    error: Text | None = None  # the hotel's wording when the answer is invalid


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    id: str  # stable, never shown to the guest
    title: Text  # <= 24 chars (list row) / 20 chars (button) in every language
    description: Text | None = None  # <= 72 chars
    next: Next
    # Data saved when chosen: a plain value, or a Text saved in the guest's language.
    set: Mapping[str, JSONScalar | Text] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSpec:
    """A proactive message an end step asks for, `after` minutes after the flow ends."""

    message_type: str  # e.g. "feedback_request"; names a scheduled-message template
    after_minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    id: StepId
    kind: StepKind
    text: Text
    header: Text | None = None  # <= 60 chars
    footer: Text | None = None  # <= 60 chars
    button: Text | None = None  # list-opening button label, <= 20 chars
    options: tuple[Option, ...] = ()  # menu only, already filtered/reordered for the hotel
    validator: Validator | None = None  # input only
    save_as: str | None = None  # input: name of the collected value
    remember: str | None = None  # input: also store under this guest-level key (room, name)
    next: Next | None = None  # input/confirm: where to go next; None on menu and end
    change: str | None = None  # confirm: step to go back to on "change"
    optional: bool = False
    enabled: bool = True
    request: str | None = None  # end: kind of request created ("order", "housekeeping", ...)
    schedule: tuple[ScheduleSpec, ...] = ()  # end


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    id: FlowId
    title: Text
    start: StepId
    steps: Mapping[StepId, Step]  # in file order
    # Readable names of the values the flow collects ("arrival_time" -> "Arrival time"): a
    # confirm step lists what its text does not name as "Label: value" (render.summary).
    labels: Mapping[str, Text] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sending:
    """How fast a department's number may send (WhatsApp's limits; the hotel file's `sending`).

    messages_per_second: Meta's throughput of the number (80 by default, up to 1000 once
    Meta upgraded it); pair_interval_seconds and pair_burst: the pace to one guest (Meta: one
    message per 6 s, with a short burst that borrows from later).
    """

    messages_per_second: int = 80
    pair_interval_seconds: float = 6.0
    pair_burst: int = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class Department:
    id: Dept
    phone_number_id: NumberId
    name: Text
    main_flow: FlowId  # the department's main menu
    flows: tuple[FlowId, ...]  # every flow this department may run
    sending: Sending = Sending()



WordKind = Literal["back", "menu", "skip", "stop", "start"]  # stop/start: marketing opt-out


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Standard conversation rules, the same for every hotel (DESIGN.md)."""

    max_errors: int = 5  # the 5th consecutive invalid answer starts a cooloff
    cooloff_minutes: int = 15
    timeout_minutes: int = 60  # idle longer than this and the context expires
    spam_burst: int = 20  # a guest may send this many messages at once (a full bucket) ...
    spam_per_second: float = 1.0  # ... then this many a second; past it: one notice, silence


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTemplate:
    """A WhatsApp message template the hotel had approved by Meta (the hotel file's
    `message_templates`): the only kind of message that may go out outside the 24-hour window.

    `languages` maps each guest language to Meta's language code of the approved translation;
    `body` names, in order, the values for the body's {{1}}, {{2}}...: the guest's data (name,
    room, ...) or a hotel variable; `buttons` are the payloads of its quick-reply buttons.
    """

    id: str
    name: str
    languages: Mapping[Lang, str]
    body: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Hotel:
    """One hotel's configuration, resolved and validated: what the engine runs on."""

    hotel_id: HotelId
    name: str
    timezone: str  # IANA name, e.g. "Europe/Lisbon"
    languages: tuple[Lang, ...]  # enabled; the first is the default
    variables: Mapping[str, Text]  # {restaurant_hours}, ...
    flows: Mapping[FlowId, Flow]  # overrides applied
    departments: Mapping[Dept, Department]
    strings: Mapping[str, Text]  # system texts: notices, re-asks, confirm/change titles, ...
    words: Mapping[WordKind, Mapping[str, frozenset[str]]]  # kind -> lang -> normalized words
    room_pattern: str  # regex a room number must fully match
    policy: Policy = Policy()
    read_receipts: bool = True  # mark each guest message read (blue ticks) once handled
    message_templates: Mapping[str, MessageTemplate] = field(default_factory=dict)
    # The scheduler's (issue 10, flows/proactive.py): scheduled-message templates by message
    # type, quiet hours per category, the env variable holding the PMS's bearer token.
    scheduled: Mapping[str, ScheduledTemplate] = field(default_factory=dict)
    quiet_hours: Mapping[Category, QuietHours] = field(default_factory=dict)
    pms_token_env: str | None = None

    @property
    def default_language(self) -> Lang:
        return self.languages[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class Hotels:
    """Every hotel of the configuration, and how to find one by its department numbers."""

    hotels: Mapping[HotelId, Hotel]
    numbers: Mapping[NumberId, tuple[HotelId, Dept]]
