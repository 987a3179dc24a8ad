"""Guards: when the engine holds a guest back instead of moving them on. Pure.

Owns rules 2 (spam: the rate limit's notice and silence), 14b (the loop guard), 4
(cooloff: silence until it ends), 7 (expiry of an idle conversation) and 12 (invalid answers
counted: from the STUCK_FROM-th on the re-ask adds an example and the way out; the policy's
threshold starts the cooloff) of hotelbot.flows.engine. The token bucket's arithmetic is
hotelbot.flows.ratelimit's. Must never do I/O, read the clock (time is `self.now`) or log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from hotelbot.flows.context import Context, Echo
from hotelbot.flows.effects import CreateRequest, Effect, SendMessage, Silence, SilenceReason
from hotelbot.flows.memo import remember
from hotelbot.flows.moves import Moves, Outcome, aware
from hotelbot.flows.navigation import Position
from hotelbot.flows.ratelimit import Bucket
from hotelbot.flows.render import clip, example, join, shared, text_message

__all__ = ["INCIDENT", "STUCK_FROM", "Guards"]

INCIDENT = "incident"  # the request kind staff see for a conversation the loop guard stopped

# From this consecutive invalid answer on, the re-ask shows an example and the way out.
STUCK_FROM = 3


class Guards(Moves):
    """Rate limit, cooloff, expiry and the error count."""

    __slots__ = ()

    def limited(self, ctx: Context, merged: Context) -> Outcome:
        """Past the rate limit: one notice per flood (in `merged`'s language), then silence."""
        silence = Silence(reason=SilenceReason.SPAM)
        if ctx.rate.noticed:
            return Outcome(context=ctx, effects=(silence,))
        ctx = ctx.evolve(rate=replace(ctx.rate, noticed=True))
        return Outcome(context=ctx, effects=(text_message(self.say("spam", merged)), silence))

    def cooling(self, ctx: Context) -> Outcome | None:
        """Silence while a cooloff lasts; None once it is over (or there is none)."""
        if ctx.cooloff_until is not None and self.now < aware(ctx.cooloff_until):
            return Outcome(context=ctx, effects=(Silence(reason=SilenceReason.COOLOFF),))
        return None

    def expired(self, ctx: Context) -> bool:
        if ctx.last_activity is None:
            return False
        limit = timedelta(minutes=self.hotel.policy.timeout_minutes)
        return self.now - aware(ctx.last_activity) > limit

    def stuck(self, ctx: Context, here: Position) -> str:
        """For a guest who keeps missing: an example of a valid answer (when there is one worth
        showing) and the way out."""
        shown = example(self.hotel, ctx, here.flow, here.step, self.locale(ctx.language))
        return join(self.say("stuck_example", ctx, example=shown) if shown else "",
                    self.say("stuck_way_out", ctx))

    def invalid(self, ctx: Context, here: Position, wording: str) -> Outcome:
        """Count an invalid answer: re-ask with `wording` on top, or start the cooloff."""
        count = ctx.error_count + 1
        policy = self.hotel.policy
        if count < policy.max_errors:
            if count >= STUCK_FROM:
                wording = join(wording, self.stuck(ctx, here))
            if ctx.checking:  # `here` is the synthetic step of a remembered value's check
                return self.show_check(ctx.evolve(error_count=count), wording)
            return self.show(ctx.evolve(error_count=count), here, wording)
        until = self.now + timedelta(minutes=policy.cooloff_minutes)
        notice = self.say("cooloff", ctx, minutes=str(policy.cooloff_minutes))
        ctx = ctx.evolve(error_count=count, cooloff_until=until)
        return Outcome(context=ctx, effects=(text_message(notice),))

    def echoed(self, before: Context, after: Context, effects: tuple[Effect, ...],
               rate: Bucket) -> tuple[Context, tuple[Effect, ...]]:
        """The loop guard (rule 14b) over a step's result: `before` is the context the step
        started from, `after` and `effects` what it produced, `rate` the rate limit's bucket
        after this message (rule 2). The context returned has that bucket and last_activity
        = now (rule 14), set in the same evolve."""
        now = self.now
        bodies = [e.body for e in effects if isinstance(e, SendMessage)]
        if not bodies:
            return after.evolve(last_activity=now, rate=rate), effects
        fingerprint = _fingerprint(bodies)
        echo, policy = before.echo, self.hotel.policy
        same = (echo.fingerprint == fingerprint and echo.since is not None
                and now - aware(echo.since) <= timedelta(minutes=policy.loop_minutes))
        if same and echo.tripped:  # still looping: nothing of the step applies
            held = before.evolve(echo=replace(echo, since=now), last_activity=now, rate=rate)
            return held, (Silence(reason=SilenceReason.LOOP),)
        count, since = (echo.count + 1, echo.since) if same else (1, now)
        if count <= policy.loop_replies:
            echo = Echo(fingerprint=fingerprint, since=since, count=count)
            return after.evolve(echo=echo, last_activity=now, rate=rate), effects
        silence = Silence(reason=SilenceReason.LOOP)
        sent = next(e for e in effects if isinstance(e, SendMessage))
        incident = CreateRequest(kind=INCIDENT, flow_id="", department=before.department, data={
            "reason": "loop", "repeated": count, "minutes": policy.loop_minutes,
            "reply": clip(_text_of(sent.body), 200)})
        held = before.evolve(echo=Echo(fingerprint=fingerprint, since=now, count=count,
                                       tripped=True), last_activity=now, rate=rate)
        return held, (text_message(self.say("loop_notice", before)), incident, silence)


# Memo of the fingerprint of one reply body, for the bodies the render memo shares
# (render.shared: the same object for every guest who reaches that step, never changed), keyed
# by the body's id and holding it, so an id is never reused while cached. The repr of a menu
# and its hash were ~7 µs of every step (issue 13). Pure: no I/O.
_PRINTS: dict[int, tuple[Mapping[str, object], str]] = {}
_PRINTS_MAX = 1024


def _fingerprint(bodies: list[Mapping[str, object]]) -> str:
    """The loop guard's fingerprint of a step's replies: blake2b (8 bytes, hex) over their
    reprs, one a line; the same for the same replies, in every process and version."""
    if len(bodies) == 1:
        body = bodies[0]
        hit = _PRINTS.get(id(body))
        if hit is not None and hit[0] is body:
            return hit[1]
        fingerprint = _digest(repr(body))
        if shared(body):
            remember(_PRINTS, id(body), (body, fingerprint), _PRINTS_MAX)
        return fingerprint
    return _digest("\n".join(map(repr, bodies)))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _text_of(body: object) -> str:
    """The readable text of a message body, for staff (a text's body, an interactive's body)."""
    if isinstance(body, dict):
        for key in ("text", "interactive"):
            inner = body.get(key)
            if isinstance(inner, dict):
                text = inner.get("body")
                if isinstance(text, dict):
                    text = text.get("text")
                if isinstance(text, str):
                    return text
    return ""
