"""The flow model: frozen dataclasses that hotelbot.config builds and the engine reads.

Owns: the intermediate representation of flows, steps, options, branches, validators and a
hotel's resolved configuration (`Hotel`). Must never do I/O, import asyncio, read the clock
or log. Everything here is already validated: the engine trusts it.

Step references. A `next` target is either a step id of the same flow (`"quantity"`), another
flow (`"flow:feedback"`, which starts that flow at its start step) or REQUESTS_TARGET. On the
navigation stack and in reply ids a step is named by its `StepRef`: `"<flow_id>.<step_id>"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from hotelbot.typedefs import Dept, FlowId, HotelId, JSONScalar, Lang, NumberId, StepId

if TYPE_CHECKING:
    from hotelbot.flows.proactive import Category, QuietHours, ScheduledTemplate

FLOW_PREFIX = "flow:"
# A `next` target that shows the guest their open requests (engine rule 5b), e.g. a menu
# option "My requests"; the conversation is then idle.
REQUESTS_TARGET = "show:requests"
# A booking reference unless the hotel file says otherwise: 3 to 20 letters, digits or dashes,
# starting with a letter or a digit ("205", "AB1234", "BK-2026-77").
DEFAULT_REFERENCE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9-]{2,19}"


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
    BASKET = "basket"  # the order so far (hotelbot.flows.basket): add, change, remove, review


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
    REFERENCE = "reference"  # a booking reference: the hotel's reference_pattern
    NAME = "name"  # a person's name: letters, spaces, apostrophes, hyphens, dots


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
    # time: a time of day already past today is for tomorrow ("tomorrow") or refused
    # ("refuse"); either way the answer is saved as a local date-time ("2026-11-26T19:00").
    # None: saved "HH:MM", with no day.
    past: Literal["tomorrow", "refuse"] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hours:
    """When something is available, in the hotel's timezone: windows of minutes since
    midnight, [start, end); an end at or before its start runs past midnight."""

    windows: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    id: str  # stable, never shown to the guest
    title: Text  # <= 24 chars (list row) / 20 chars (button) in every language
    description: Text | None = None  # <= 72 chars
    next: Next
    # Data saved when chosen: a plain value, or a Text saved in the guest's language.
    set: Mapping[str, JSONScalar | Text] = field(default_factory=dict)
    # Words that pick this option when a guest types them in free text (engine rule 6b):
    # language -> phrases, normalized like guest text (hotelbot.flows.text.normalize).
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hours: Hours | None = None  # when it can be chosen (the hotel file's opening_hours)


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
    add: str | None = None  # basket: the step that adds another item (its `next` reviews)
    max_quantity: int = 20  # basket: the most of one item a guest may order


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    id: FlowId
    title: Text
    start: StepId
    steps: Mapping[StepId, Step]  # in file order
    # Readable names of the values the flow collects ("arrival_time" -> "Arrival time"): a
    # confirm step lists what its text does not name as "Label: value" (render.summary).
    labels: Mapping[str, Text] = field(default_factory=dict)
    hours: Hours | None = None  # when it can run (the hotel file's opening_hours)


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
class Retention:
    """How long the hotel keeps what it no longer needs (the hotel file's `retention`, in days;
    issue 12). The server purges each past its age, hourly; `guests_days` also erases the
    guest's conversations, their processed messages and finished requests."""

    inbound_days: int = 30  # processed guest messages (>= 8: Meta retries for up to 7 days)
    outbound_days: int = 90  # replies and messages sent (or failed), with their statuses
    requests_days: int = 365  # finished requests (done or cancelled)
    guests_days: int = 730  # a guest who has not written for this long is forgotten


@dataclass(frozen=True, slots=True, kw_only=True)
class Department:
    id: Dept
    phone_number_id: NumberId
    name: Text
    main_flow: FlowId  # the department's main menu
    flows: tuple[FlowId, ...]  # every flow this department may run
    sending: Sending = Sending()



# back/menu/skip are global words (engine rule 10); thanks is small talk, answered with a short
# acknowledgement once a flow has finished (rule 6).
# requests ("my orders") lists the guest's open requests wherever they are (rule 5b).
# person ("human", "agent") asks for a member of staff: the handoff flow (issue 11).
# stop/start: the guest's marketing opt-out at the hotel (issue 8, point 18).
WordKind = Literal["back", "menu", "skip", "thanks", "requests", "person", "stop", "start"]
HANDOFF_FLOW = "handoff"  # the flow a "person" word starts ("talk to a person", issue 11)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A hotel's conversation rules: the seed's standard values by default; a hotel file may
    set each within bounds (`conversation:`, hotelbot/config/hotels.py POLICY_BOUNDS)."""

    max_errors: int = 5  # the 5th consecutive invalid answer starts a cooloff
    cooloff_minutes: int = 15
    timeout_minutes: int = 60  # idle longer than this and the context expires
    spam_burst: int = 20  # a guest may send this many messages at once (a full bucket) ...
    spam_per_second: float = 1.0  # ... then this many a second; past it: one notice, silence
    loop_replies: int = 10  # the same reply more than this many times ...
    loop_minutes: int = 10  # ... within this many minutes: a loop (one notice, an incident)


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
class Orders:
    """What the hotel charges for what a basket holds (the hotel file's `orders`).

    `prices` maps an item (the id of the menu option that chooses it) to its price in
    `currency` (ISO 4217, e.g. "GBP"); `charge_to_room`: orders are added to the room's bill
    (else paid on delivery); the texts say which.
    """

    currency: str = "EUR"
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    charge_to_room: bool = True


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
    # Babel locale of the hotel (e.g. "en_GB"): how amounts and dates are written for it.
    locale: str = "en"
    phone_region: str | None = None  # phonenumbers' default region for numbers without +
    date_order: str = "DMY"  # how guests write numeric dates here (from the locale): DMY/MDY/YMD
    reference_pattern: str = DEFAULT_REFERENCE_PATTERN  # regex a booking reference must match
    orders: Orders = Orders()
    read_receipts: bool = True  # mark each guest message read (blue ticks) once handled
    message_templates: Mapping[str, MessageTemplate] = field(default_factory=dict)
    retention: Retention = Retention()
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
