"""Programmatic Hotels for the engine tests: small, readable, covering every step kind.

Hotel "test_hotel", languages en (default) and pt, department front_desk (number 1001):

  main.start (menu, 4 options -> list): Room service -> flow:order, Feedback -> flow:feedback,
      Late checkout -> flow:late, Português -> set language pt, stays at main.start
  order.category (menu, 2 -> buttons, set category) -> branch: food -> item_food, else item_drinks
  order.item_food (menu, 2 -> buttons, set item) -> quantity
  order.item_drinks (menu, 12 -> numbered text) -> quantity
  order.quantity (integer 1-20) -> note (optional text) -> allergy (DISABLED) -> confirm
  order.confirm ("{quantity} x {item}", change -> quantity) -> done (end: order + feedback in 120)
  feedback.rating (rating) -> rating <= 2: what (choice) else comment; what -> comment
  feedback.comment (optional text) -> thanks (end: feedback)
  late.time (time) -> day (date) -> room (room, remember room) -> name (text, remember
      guest_name) -> confirm -> done (end: late_checkout)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hotelbot.flows.context import Context
from hotelbot.flows.effects import SendMessage
from hotelbot.flows.engine import Outcome, step
from hotelbot.flows.events import Event
from hotelbot.flows.model import (
    Branch,
    Choice,
    Condition,
    Department,
    Flow,
    Hotel,
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
)
from hotelbot.flows.ratelimit import Bucket
from hotelbot.flows.text import normalize
from hotelbot.typedefs import Dept, FlowId, HotelId, Lang, NumberId, StepId
from tests.messages import message_text

DEPT = "front_desk"
NUMBER = "1001"
GUEST = "351910000000"


def t(en: str, pt: str | None = None) -> Text:
    return Text({"en": en, "pt": pt if pt is not None else f"[pt] {en}"})


def go(target: str) -> Next:
    return Next(default=target)


STRINGS: Mapping[str, Text] = {
    "invalid_option": t("Please pick one of the options.", "Escolha uma das opções."),
    "invalid_text": t("Please write a short text."),
    "invalid_too_short": t("Please write at least {min} characters."),
    "invalid_too_long": t("Please write at most {max} characters."),
    "invalid_range": t("Please send a number from {min} to {max}."),
    "invalid_too_low": t("Please send {min} or more."),
    "invalid_too_high": t("Please send {max} or less."),
    "invalid_integer": t("Please send a whole number."),
    "invalid_number": t("Please send a number."),
    "invalid_date": t("Please send a date like 25/12."),
    "invalid_time": t("Please send a time like 7pm or 19:30."),
    "invalid_room": t("Please send your room number."),
    "invalid_phone": t("Please send a phone number."),
    "invalid_email": t("Please send an email address."),
    "invalid_rating": t("Please rate from {min} to {max}."),
    "invalid_choice": t("Please pick one of the choices."),
    "cooloff": t("Too many tries. Please try again in {minutes} minutes."),
    "expired": t("Your session expired, let's start again."),
    "skip_not_allowed": t("This question cannot be skipped."),
    "back_at_start": t("You are at the start already."),
    "unsupported": t("Sorry, I can only read text and menu answers."),
    "confirm": t("Confirm", "Confirmar"),
    "change": t("Change", "Alterar"),
    "menu_button": t("Options", "Opções"),
    "numbered_hint": t("Reply with a number."),
    "stuck_example": t("For example: {example}"),
    "stuck_way_out": t("Or type menu to start again."),
    "example_date": t("tomorrow", "amanhã"),
    "requests_title": t("Your open requests:"),
    "requests_none": t("You have no open requests."),
    "requests_cancel_hint": t("You can still cancel these."),
    "request_cancel_row": t("Cancel #{id}"),
    "request_status_new": t("waiting for our staff"),
    "request_status_acknowledged": t("being handled"),
    "guest_cancelled": t("Request #{id} is cancelled."),
    "request_not_cancellable": t("Request #{id} can no longer be cancelled."),
    "loop_notice": t("We seem to be repeating ourselves. Our staff have been told."),
    "remembered_check": t("{label}: {value} — is that right?", "{label}: {value} — está correto?"),
    "flow_changed": t("We have just updated this service."),
    "stale_tap": t("That menu is no longer active."),
    "acknowledged": t("You're welcome!", "De nada!"),
    "nav_footer": t("0 = menu · back = previous step", "0 = menu · voltar = passo anterior"),
    "skip_hint": t("Send 'skip' to leave this out."),
    "error": t("Something went wrong, please try again."),
    "spam": t("Please slow down."),
    "welcome": t("Welcome to {hotel_name}!", "Bem-vindo ao {hotel_name}!"),
}

WORDS = {
    "back": {"en": frozenset({"back", "previous"}), "pt": frozenset({"voltar"})},
    "menu": {"en": frozenset({"menu", "home", "main menu", "0"}), "pt": frozenset({"inicio"})},
    "skip": {"en": frozenset({"skip", "n/a", "prefer not to answer"}), "pt": frozenset({"pular"})},
    "thanks": {"en": frozenset({"thanks", "ok", "👍"}), "pt": frozenset({"obrigado"})},
    "requests": {"en": frozenset({"my orders", "my requests"}), "pt": frozenset({"meus pedidos"})},
}


def _main() -> Flow:
    options = (
        Option(id="order", title=t("Room service", "Serviço de quarto"), next=go("flow:order"),
               description=t("Food and drinks, {restaurant_hours}")),
        Option(id="feedback", title=t("Feedback", "Opinião"), next=go("flow:feedback")),
        Option(id="late", title=t("Late checkout", "Saída tardia"), next=go("flow:late")),
        Option(id="lang_pt", title=t("Português", "Português"), next=go("start"),
               set={"language": "pt"}),
    )
    start = Step(id=StepId("start"), kind=StepKind.MENU, options=options,
                 text=t("How can we help, {guest_name}?", "Como podemos ajudar?"),
                 header=t("{hotel_name}"), footer=t("Reception is open 24h"))
    return Flow(id=FlowId("main"), title=t("Main"), start=StepId("start"),
                steps={StepId("start"): start})


def _menu(step_id: str, text: str, titles: list[str], key: str, next_: str) -> Step:
    options = tuple(
        Option(id=f"o{i}", title=t(title), next=go(next_), set={key: title})
        for i, title in enumerate(titles, 1)
    )
    return Step(id=StepId(step_id), kind=StepKind.MENU, text=t(text), options=options)


def _order() -> Flow:
    drinks = [f"Drink {n}" for n in range(1, 13)]
    category = Step(
        id=StepId("category"), kind=StepKind.MENU, text=t("Food or drinks?"),
        options=(
            Option(id="food", title=t("Food", "Comida"), next=go("item_food"),
                   set={"category": "food"}),
            Option(id="drinks", title=t("Drinks", "Bebidas"),
                   next=Next(branches=(Branch(when=Condition(var="category", op=Op.EQ,
                                                             value="drinks"),
                                              to="item_drinks"),),
                             default="item_food"),
                   set={"category": "drinks"}),
        ),
    )
    steps = [
        category,
        _menu("item_food", "Which dish?", ["Club sandwich", "Caesar salad"], "item", "quantity"),
        _menu("item_drinks", "Which drink?", drinks, "item", "quantity"),
        Step(id=StepId("quantity"), kind=StepKind.INPUT, text=t("How many {item}?"),
             validator=Validator(kind=ValidatorKind.INTEGER, min=1, max=20),
             save_as="quantity", next=go("note")),
        Step(id=StepId("note"), kind=StepKind.INPUT, text=t("Any special request?"),
             validator=Validator(kind=ValidatorKind.TEXT, max_length=200), save_as="note",
             optional=True, next=go("allergy")),
        Step(id=StepId("allergy"), kind=StepKind.INPUT, text=t("Any allergy?"),
             validator=Validator(kind=ValidatorKind.TEXT), save_as="allergy",
             enabled=False, next=go("confirm")),
        Step(id=StepId("confirm"), kind=StepKind.CONFIRM,
             text=t("{quantity} x {item}. Note: {note}. Confirm?"),
             next=go("done"), change="quantity"),
        Step(id=StepId("done"), kind=StepKind.END,
             text=t("Thank you! Your order is with the kitchen."),
             request="order",
             schedule=(ScheduleSpec(message_type="feedback_request", after_minutes=120),)),
    ]
    return Flow(id=FlowId("order"), title=t("Order"), start=StepId("category"),
                steps={s.id: s for s in steps})


def _feedback() -> Flow:
    low = Branch(when=Condition(var="rating", op=Op.LE, value=2), to="what")
    steps = [
        Step(id=StepId("rating"), kind=StepKind.INPUT, text=t("How was your stay?"),
             validator=Validator(kind=ValidatorKind.RATING), save_as="rating",
             next=Next(branches=(low,), default="comment")),
        Step(id=StepId("what"), kind=StepKind.INPUT, text=t("What went wrong?"),
             validator=Validator(kind=ValidatorKind.CHOICE, choices=(
                 Choice(id="slow", title=t("Slow service", "Serviço lento")),
                 Choice(id="cold", title=t("Cold food", "Comida fria")),
                 Choice(id="rude", title=t("Rude staff", "Equipe rude")),
             )),
             save_as="what", next=go("comment")),
        Step(id=StepId("comment"), kind=StepKind.INPUT, text=t("Anything else?"),
             validator=Validator(kind=ValidatorKind.TEXT), save_as="comment", optional=True,
             next=go("thanks")),
        Step(id=StepId("thanks"), kind=StepKind.END, text=t("Thanks for the feedback!"),
             request="feedback"),
    ]
    return Flow(id=FlowId("feedback"), title=t("Feedback"), start=StepId("rating"),
                steps={s.id: s for s in steps})


def _late() -> Flow:
    steps = [
        Step(id=StepId("time"), kind=StepKind.INPUT, text=t("What time would you leave?"),
             validator=Validator(kind=ValidatorKind.TIME), save_as="time", next=go("day")),
        Step(id=StepId("day"), kind=StepKind.INPUT, text=t("Which day?"),
             validator=Validator(kind=ValidatorKind.DATE,
                                 error=t("A future date please, like 25/12.")),
             save_as="day", next=go("room")),
        Step(id=StepId("room"), kind=StepKind.INPUT, text=t("Your room number?"),
             validator=Validator(kind=ValidatorKind.ROOM), save_as="room", remember="room",
             next=go("name")),
        Step(id=StepId("name"), kind=StepKind.INPUT, text=t("Your name?"),
             validator=Validator(kind=ValidatorKind.TEXT, max_length=60), save_as="guest_name",
             remember="guest_name", next=go("confirm")),
        Step(id=StepId("confirm"), kind=StepKind.CONFIRM,
             text=t("{guest_name}, room {room}: leave at {time} on {day}?"),
             next=go("done"), change="time"),
        Step(id=StepId("done"), kind=StepKind.END, text=t("Done, {guest_name}."),
             request="late_checkout"),
    ]
    return Flow(id=FlowId("late"), title=t("Late checkout"), start=StepId("time"),
                steps={s.id: s for s in steps})


def build_hotel(**changes: object) -> Hotel:
    """The test hotel; keyword arguments replace Hotel fields (e.g. policy=...)."""
    flows = {f.id: f for f in (_main(), _order(), _feedback(), _late())}
    department = Department(
        id=Dept(DEPT), phone_number_id=NumberId(NUMBER), name=t("Front desk", "Receção"),
        main_flow=FlowId("main"), flows=(FlowId("order"), FlowId("feedback"), FlowId("late")),
    )
    hotel = Hotel(
        hotel_id=HotelId("test_hotel"), name="Hotel Test", timezone="Europe/Lisbon",
        languages=(Lang("en"), Lang("pt")),
        variables={"restaurant_hours": t("07:00-23:00")},
        flows=flows, departments={Dept(DEPT): department}, strings=STRINGS,
        words={kind: {lang: frozenset(normalize(w) for w in ws) for lang, ws in by.items()}
               for kind, by in WORDS.items()},  # type: ignore[misc]
        room_pattern=r"[0-9]{3}[A-Z]?", locale="en_PT",
    )
    return replace(hotel, **changes)  # type: ignore[arg-type]


NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ONE_TAKEN = Bucket(tokens=Policy().spam_burst - 1.0, counted_at=NOW)  # a fresh bucket, one message


def at(ref: str | None, *, stack: tuple[str, ...] = (), data: dict[str, object] | None = None,
       errors: int = 0, language: str = "en", idle_for: timedelta = timedelta(minutes=1),
       cooloff_until: datetime | None = None) -> Context:
    flow, step_id = ref.split(".") if ref else (None, None)
    return Context(hotel_id="test_hotel", guest_id=GUEST, phone_number_id=NUMBER,
                   department=DEPT, language=language, current_flow=flow, current_step=step_id,
                   step_data=dict(data or {}), navigation_stack=stack, error_count=errors,
                   last_activity=NOW - idle_for, cooloff_until=cooloff_until)  # type: ignore[arg-type]


def where(ctx: Context) -> str:
    return f"{ctx.current_flow}.{ctx.current_step}" if ctx.current_flow else "idle"


def text_of(outcome: Outcome) -> str:
    return "\n".join(message_text(e.body) for e in outcome.effects if isinstance(e, SendMessage))


def run(ctx: Context, event: Event, hotel: Hotel | None = None, now: datetime = NOW
        ) -> Outcome:
    return step(hotel or build_hotel(), ctx, event, now)


HOTEL = build_hotel()
