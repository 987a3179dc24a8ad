"""The flow engine: one guest event + the context -> the new context + effects. Pure and total.

Owns: every conversation rule of docs/design.md, in the order below: what a guest reads is decided
here and nowhere else (the actors carry effects out). Must never raise for any event on any
context (a context left dangling by a config reload continues at the nearest valid step),
do I/O, read the clock (time arrives as `now`), use asyncio or log: the actor logs the
effects.
Where a move lands (step lookups, the stack, disabled steps) is hotelbot.flows.navigation's.

This module owns the entry (`step`: failures, the spam guard, the guest's shared data) and the
dispatch of one event to the rules; the rules themselves live in one module per concern:
  hotelbot.flows.moves       arrivals: main menu, a step shown, Next followed, a flow
                             finished, a reloaded context recovered (5, 7b, 13)
  hotelbot.flows.guards      rate limit, cooloff, expiry, invalid answers counted, loop
                             guard (2, 4, 7, 12, 14b)
  hotelbot.flows.answers     answers and refusals (11)
  hotelbot.flows.words       global words, taps, back, skip, keywords (6b, 9, 10)
  hotelbot.flows.rechecks    answers to a remembered value's check (13b; which values and
                             when: hotelbot.flows.remembered)
  hotelbot.flows.requests    the wording of a guest's own requests (5b)

Rules, in the order they are applied:
  0. Staff lifted the cooloff (CooloffLifted): cooloff_until and error_count cleared, nothing
     else changes and nothing is sent (not a guest message: no rate limit, no last_activity).
  1. Step failures. StepFailed (handling a guest message crashed): strings["error"] in the
     guest's language, and the context exactly as it was (the actor restarts from its
     snapshot). No other rule runs.
  2. Spam. Every guest message takes a token from the conversation's bucket (context.rate:
     policy.spam_burst at once, then policy.spam_per_second), unless it is a replay (`replayed`:
     handed over again after a restart or by an operator). Without a token, the message is
     recorded and not handled: the first one of a flood gets strings["spam"] in the guest's
     language and `Silence(SPAM)`, later ones only `Silence(SPAM)`; only context.rate changes
     and no other rule runs. A guest is noticed again only after they got a token back.
 2b. Hotel-wide limits. When the guest's Limits are given (Guest.limits), they are the rate
     limit's bucket and the cooloff of rules 2 and 4 for every number of the hotel (applied
     first, even to a step failure's context); the context's rate and cooloff_until after
     the step are the guest's new Limits. A cooloff lifted elsewhere also resets this
     conversation's error count.
 2c. Opt-out. A text that is wholly one of the hotel's `stop` words (STOP, unsubscribe, per
     language) or `start` words: strings["opted_out"] / ["opted_in"] and OptOutChanged(True /
     False) for the actor to store (flows/optout.py); the context only gets last_activity.
  3. Guest data. The guest's data and language, shared by the hotel's departments (`guest`),
     replace the context's accumulated_data and language (a language only once chosen); a
     language the hotel no longer enables (reload) becomes its default.
  3b. Notices (NoticeReceived: a reaction, a deleted or edited message, a system notice such
     as a number change) need no answer: `(Silence(NOTICE),)`, only last_activity changes
     (the actor records the message). The chat-opened event (ChatOpened, `request_welcome`)
     is handled like any message: idle, it gets the main menu with strings["welcome"]; in a
     flow, the current step again.
  4. Cooloff. Before `cooloff_until`: no reply at all, `(Silence(COOLOFF),)`, only
     last_activity changes. After it: cooloff and error_count cleared, the event is handled.
  5. Flow requests. FlowRequested(id), or a template button whose payload is "flow:<id>",
     start that flow if the department offers it (also on an idle or expired context). The
     stack keeps the department's main menu, so "back" leads there. A message that is a
     "person" word ("human", "agent", "person", ...) requests the handoff flow the same way,
     when the department offers it (the guest asks for a member of staff).
 5b. A guest's own requests. words["requests"] ("my orders", "my requests", per language)
     anywhere: ListRequests (the actor sends requests_message: the open ones, a Cancel row
     for each not yet acknowledged); a tap "~requests:cancel:<id>": CancelRequest (the actor
     cancels it only while it is new, and sends cancel_message). The context stays as it is.
  6. Idle (no current flow). Small talk (words["thanks"]: thanks, ok, 👍, ...) from a guest
     who talked before (a flow finished) gets strings["acknowledged"] and stays idle. A tap on
     an earlier message at a flow's start step (the main menu's included) opens that flow and
     is applied (rule 9); any other tap gets the main menu under strings["stale_tap"]. Any
     other event shows the main menu with strings["welcome"].
 6b. Free text naming an option. With no flow open, typed text (not a global word) that is
     one of the main menu's options by number or title picks it, as if the menu were open.
     There, and at an open menu whose options it does not name, a text containing one of an
     option's `keywords` (any enabled language, whole words: "Can I extend my stay?") picks
     it: an option of the open menu, else of the first menu of any flow the department
     offers (main menu first), which opens that flow there.
  7. Expiry. If idle longer than policy.timeout_minutes, the event is not applied: the main
     menu is shown with strings["expired"].
 7b. Reloaded. A context whose step a reload disabled or removed continues at the nearest
     valid step under strings["flow_changed"], never an error: a disabled step's successor
     (not an end step), else the flow's start (its answers dropped), else (the flow gone or
     no longer offered) the main menu. The message is not applied to the new step.
  8. Unsupported kinds (image, audio, ...): strings["unsupported"] + the step again, no error.
  9. Taps (OptionChosen): a reply id "<flow>.<step>:<key>" of the current step is applied; of
     a step still on the navigation stack, the guest goes back to it (rule 10) and it is
     applied there; of the start step of a flow the department offers (an earlier message),
     that flow opens afresh there and it is applied. Anything else (a step passed or
     abandoned, an option a reload removed, a forged id) is a stale tap: strings["stale_tap"]
     and the current step again, never counted as an error. Never applied out of its flow: a
     later step's tap (an old order's Confirm) needs answers that are gone.
 10. Global words (any enabled language): menu (main menu, stack and errors cleared), back
     (pop the stack; at the main menu's start: strings["back_at_start"]), skip (optional steps
     only, else strings["skip_not_allowed"] as an invalid answer). Going back to a step, by
     "back", a tap or a Next target already on the stack (a confirm's "change"), forgets the
     answers given since: that step's own and those of every step popped off the stack
     (navigation.Navigator.rewind); guest-level data stays. A numeral (the shipped "0" for
     menu) is a word only where the step does not read a number: at an integer, number or
     rating input it is an answer (validators.numeric_answer), checked like any other.
 11. Answers: menus and choice/rating inputs by number or title (validators.match_choice);
     a basket step is shown and answered as the menu or input hotelbot.flows.basket.view
     builds from the context, and arriving at it adds the item just chosen (basket.absorb);
     other inputs by their validator; confirm steps by number, title, yes or no. A refused
     answer is re-asked under the step's own error text if it has one, else under what it
     missed: strings["invalid_too_short"] {min} / ["invalid_too_long"] {max} for a text's
     lengths, ["invalid_range"] {min} {max} (or ["invalid_too_low"] {min}, ["invalid_too_high"]
     {max} when one side is open) for a number, ["invalid_rating"] {min} {max} with the step's
     own range for any refused rating, ["invalid_time_window"] {min} {max} (the guest's times)
     for a time outside the step's window, ["invalid_time_past"] for one already past today
     where the step refuses it, else ["invalid_<kind>"] (not of the kind's form). A time
     taken for tomorrow says so: strings["time_tomorrow"] above the next step.
 12. Invalid answers count. From the 3rd consecutive one (guards.STUCK_FROM) the re-ask adds
     strings["stuck_example"] {example} (a valid answer: the first entry's title, a rating's
     top, a number's lowest, else the first candidate the step's validator accepts; none for
     free text) and strings["stuck_way_out"] ("type menu"). The policy.max_errors-th
     consecutive one starts the cooloff with one strings["cooloff"] notice. Any valid move
     (answer, back, menu, skip) resets the count.
 13. Moving on: Next branches in order (first condition that holds), else the default; a step
     id of the same flow, or "flow:<id>" (new flow, step data cleared). Disabled steps are
     passed through by their own `next`. An end step sends its text, CreateRequest and
     ScheduleMessage effects and leaves the context idle (a basket's request carries its
     lines and total: basket.request_data).
     Opening hours (hotelbot.flows.availability): a menu shows when each closed option opens;
     choosing a closed option (or a flow whose hours are closed) gives strings["closed"] and
     the menu again, not counted as an error; a flow requested while closed lands at the main
     menu with that notice. An end step creates no request that cannot be served: a flow
     closed since lands at the main menu, a basket holding an item not served now goes back
     to the basket step, each with strings["closed"].
 13b. Remembered data is confirmed before use. Arriving at a step of a flow (not the main
     menu) that uses a remembered value (its texts name it, a branch tests it, a step
     remembers it) the guest has not confirmed today (the hotel's date): strings
     ["remembered_check"] "{label}: {value} — is that right?" with Confirm / Change first
     (Context.checking). Confirm marks it confirmed today; Change asks it again with the
     remembering step's own question and validator, and the new value replaces the
     remembered one. Then the step arrived at is shown. "Change" at a confirm step drops the
     flow's confirmations, so the remembered values are asked again on the way back
     (hotelbot.flows.remembered, hotelbot.flows.rechecks).
 14b. Loop guard. When the replies of rules 3-13 are exactly the ones sent the last time,
     more than policy.loop_replies times within policy.loop_minutes of the first (an
     auto-responder, two bots talking): one strings["loop_notice"], a CreateRequest of kind
     "incident" for staff (reason, count, the reply), and Silence(LOOP); then, while the step
     would produce that same reply again (each within loop_minutes of the last), only
     Silence(LOOP) and nothing of the step applies. A different reply ends it.
 14. last_activity = now after every event handled by rules 3-13.
 15. GuestChanged(data, language) ends the effects when the context's accumulated_data or
     language differ from the guest's as given (without `guest`: from the context's before
     the step); the actor stores the guest's row only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hotelbot.flows.context import Context, ContextChanges, Guest, Limits
from hotelbot.flows.effects import (
    CancelRequest,
    GuestChanged,
    ListRequests,
    Silence,
    SilenceReason,
)
from hotelbot.flows.events import (
    CooloffLifted,
    Event,
    FlowRequested,
    NoticeReceived,
    OptionChosen,
    StepFailed,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
)
from hotelbot.flows.model import FLOW_PREFIX, Hotel
from hotelbot.flows.moves import Outcome, aware
from hotelbot.flows.optout import opt_out_effects
from hotelbot.flows.ratelimit import take
from hotelbot.flows.rechecks import Rechecks
from hotelbot.flows.render import text_message
from hotelbot.flows.requests import CANCEL_PREFIX
from hotelbot.typedefs import JSONScalar

__all__ = ["Outcome", "new_context", "step"]


def new_context(
    hotel: Hotel,
    *,
    guest_id: str,
    phone_number_id: str,
    department: str,
    language: str | None = None,
    accumulated_data: Mapping[str, JSONScalar] | None = None,
) -> Context:
    """A fresh, idle context: the guest's language if the hotel enables it, else its default."""
    return Context(
        hotel_id=hotel.hotel_id,
        guest_id=guest_id,
        phone_number_id=phone_number_id,
        department=department,
        language=language if language in hotel.languages else hotel.default_language,
        accumulated_data=dict(accumulated_data or {}),
    )


def step(
    hotel: Hotel,
    context: Context,
    event: Event,
    now: datetime,
    *,
    guest: Guest | None = None,
    replayed: bool = False,
) -> Outcome:
    """Apply one event to the context (see the rules in this module's docstring).

    Args:
        hotel: the hotel's validated configuration.
        context: the conversation's context (as restored, or from `new_context`).
        event: what the guest did (or StepFailed: what handling their message did).
        now: the current time (aware; naive values are read as UTC).
        guest: what the hotel's departments share about the guest, newest first; None: the
            context's own accumulated_data and language are the guest's.
        replayed: the message was handed over again (replay at start, an operator's
            replay): it does not count against the rate limit.

    Returns:
        The new context and the effects, in order. Never raises.
    """
    now = aware(now)
    turn = _Turn(hotel, now)
    limits = guest.limits if guest is not None else None
    if isinstance(event, CooloffLifted | StepFailed):
        return _unguarded(turn, context, event, limits, guest)
    # The bucket after this message goes into the context in the step's last copy (echoed),
    # and rule 2b's cooloff and error count only when they differ: each evolve copies the
    # whole context (issue 13). No rule below reads context.rate.
    rate = context.rate if limits is None else limits.rate
    allowed = True
    if not replayed:
        policy = hotel.policy
        allowed, rate = take(rate, burst=policy.spam_burst, per_second=policy.spam_per_second,
                             now=now)
    if limits is not None:
        changes = _limit_changes(context, limits)
        context = context.evolve(**changes) if changes else context
    merged = _merged(context, guest)
    if not allowed:
        return turn.limited(context.evolve(rate=rate), merged)
    before = guest or Guest(data=context.accumulated_data, language=context.language)
    opted = opt_out_effects(hotel, merged, event)  # rule 2c: STOP / START
    if opted is not None:
        return Outcome(context=context.evolve(last_activity=now, rate=rate), effects=opted)
    outcome = turn.handle(merged, event)
    after, effects = turn.echoed(context, outcome.context, outcome.effects, rate)  # and 14
    if after.accumulated_data != before.data or after.language != before.language:
        effects += (GuestChanged(data=after.accumulated_data, language=after.language),)
    return Outcome(context=after, effects=effects)


def _unguarded(turn: _Turn, context: Context, event: CooloffLifted | StepFailed,
               limits: Limits | None, guest: Guest | None) -> Outcome:
    """Rules 0 and 1: staff lifted the cooloff, or handling a message failed (under the
    guest's hotel-wide limits, rule 2b, when given)."""
    changes: ContextChanges = {}
    if limits is not None:
        changes = _limit_changes(context, limits)
        changes["rate"] = limits.rate
    if isinstance(event, CooloffLifted):
        changes["cooloff_until"], changes["error_count"] = None, 0
        return Outcome(context=context.evolve(**changes), effects=())
    context = context.evolve(**changes) if changes else context
    apology = turn.say("error", _merged(context, guest))
    return Outcome(context=context, effects=(text_message(apology),))


def _limit_changes(context: Context, limits: Limits) -> ContextChanges:
    """What puts the context under the guest's hotel-wide cooloff (rule 2b), only where it
    differs: the cooloff, and a cooloff lifted elsewhere (staff, another number) also clears
    this conversation's error count."""
    changes: ContextChanges = {}
    if limits.cooloff_until is not context.cooloff_until:
        changes["cooloff_until"] = limits.cooloff_until
        if context.cooloff_until is not None and limits.cooloff_until is None:
            changes["error_count"] = 0
    return changes


def _merged(context: Context, guest: Guest | None) -> Context:
    """The context with the guest's shared data and language (a language only once chosen)."""
    if guest is None:
        return context
    language = guest.language or context.language
    if language == context.language and _same(guest.data, context.accumulated_data):
        return context  # merged already (a returning guest, a snapshot): nothing to copy
    return context.evolve(accumulated_data=guest.data, language=language)


def _same(data: Mapping[str, JSONScalar], other: Mapping[str, JSONScalar]) -> bool:
    """Whether two guest data are the same object, or hold the same keys in the same order
    with the same values of the same types (a snapshot reads them alike: 1 is not True)."""
    if data is other:
        return True
    if len(data) != len(other):
        return False
    for (key, value), (other_key, other_value) in zip(data.items(), other.items(), strict=True):
        if key != other_key or type(value) is not type(other_value) or value != other_value:
            return False
    return True


class _Turn(Rechecks):
    """One event's turn: which rule applies to it (the rules' order in the docstring)."""

    __slots__ = ()

    def handle(self, ctx: Context, event: Event) -> Outcome:
        if ctx.language not in self.hotel.languages:  # the hotel dropped it since (reload)
            ctx = ctx.evolve(language=self.hotel.default_language)
        if isinstance(event, NoticeReceived):
            return Outcome(context=ctx, effects=(Silence(reason=SilenceReason.NOTICE),))
        cooling = self.cooling(ctx)
        if cooling is not None:
            return cooling
        if ctx.cooloff_until is not None:
            ctx = ctx.evolve(cooloff_until=None, error_count=0)
        requested = _requested_flow(event) or self.asks_for_person(ctx, event)
        if requested is not None:
            if self.nav.offered(ctx, requested):
                return self.start_requested(ctx, requested)
            event = UnsupportedReceived(kind="flow")
        if isinstance(event, TemplateButtonPressed):
            event = TextReceived(text=event.text or event.payload)
        if isinstance(event, TextReceived) and self.asks_requests(event.text):
            return Outcome(context=ctx, effects=(ListRequests(),))
        if isinstance(event, OptionChosen) and event.reply_id.startswith(CANCEL_PREFIX):
            wanted = event.reply_id.removeprefix(CANCEL_PREFIX)
            if wanted.isdigit():
                return Outcome(context=ctx, effects=(CancelRequest(request_id=int(wanted)),))
        if ctx.current_flow is None:
            return self.idle(ctx, event)
        if self.expired(ctx):
            return self.main_menu(ctx, self.say("expired", ctx))
        here = self.nav.position(ctx)
        if here is None:
            return self.recover(ctx.evolve(checking=()))
        if ctx.checking:
            return self.checked(ctx, here, event)
        here = self.view(ctx, here)
        if isinstance(event, UnsupportedReceived):
            return self.show(ctx, here, self.say("unsupported", ctx))
        if isinstance(event, OptionChosen):
            return self.tap(ctx, here, event.reply_id)
        if isinstance(event, TextReceived):
            return self.text(ctx, here, event.text)
        return self.show(ctx, here)

    def idle(self, ctx: Context, event: Event) -> Outcome:
        if (isinstance(event, TextReceived) and ctx.last_activity is not None
                and self.small_talk(event.text)):
            return Outcome(context=ctx, effects=(text_message(self.say("acknowledged", ctx)),))
        if isinstance(event, TextReceived) and (routed := self.from_idle(ctx, event.text)):
            return routed
        if isinstance(event, OptionChosen):
            ref, sep, key = event.reply_id.rpartition(":")
            reopened = self.reopen(ctx, ref, key) if sep else None
            if reopened is not None:
                return reopened
            return self.main_menu(ctx, self.say("stale_tap", ctx))
        return self.main_menu(ctx, self.say("welcome", ctx))


def _requested_flow(event: Event) -> str | None:
    if isinstance(event, FlowRequested):
        return event.flow_id
    if isinstance(event, TemplateButtonPressed) and event.payload.startswith(FLOW_PREFIX):
        return event.payload.removeprefix(FLOW_PREFIX)
    return None
