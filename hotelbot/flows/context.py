"""The conversation context: the state one guest has with one department number.

Owns: the Context dataclass (the seed's Context Data Structure, plus cooloff and language)
and its plain-dict form for snapshots. Must never do I/O; JSON encoding happens in the store.

Fields:
  current_flow / current_step  where the guest is; both None when idle (next message: main menu)
  step_data                    answers collected in the current flow (cleared when a flow starts)
  accumulated_data             guest-level data shared by a hotel's departments (name, room, ...)
  navigation_stack             StepRefs ("flow.step") of steps the guest came through, oldest first
  error_count                  consecutive invalid answers
  cooloff_until                set when error_count reached the limit; silence until then
  rate                         the inbound rate limit's token bucket (flows.ratelimit), with
                               whether this flood was noticed; absent in older snapshots: full
  echo                         the loop guard's memory (Echo); absent in older snapshots: none
  checking                     (key, phase): before the current step, a remembered value is
                               being confirmed (phase "ask": is it right? "input": its new
                               value); () when not (hotelbot.flows.remembered). Absent in
                               older snapshots: ()

Guest is what a hotel's departments share about one guest (their data and language, and the
anti-abuse Limits): the engine merges it into the context and says when a step changed the
data or language (effects.GuestChanged); the context's rate and cooloff after a step are the
guest's new Limits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from itertools import repeat
from operator import attrgetter, call
from typing import TypedDict, TypeVar, Unpack

from hotelbot.flows.ratelimit import Bucket
from hotelbot.typedefs import JSONScalar

# `rate`, `checking` and `echo` were added with defaults: older snapshots still read.
SNAPSHOT_VERSION = 1

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    hotel_id: str
    guest_id: str  # wa_id (or Meta's user_id when the webhook carries no phone)
    phone_number_id: str
    department: str
    language: str
    current_flow: str | None = None
    current_step: str | None = None
    step_data: Mapping[str, JSONScalar] = field(default_factory=dict)
    accumulated_data: Mapping[str, JSONScalar] = field(default_factory=dict)
    navigation_stack: tuple[str, ...] = ()
    error_count: int = 0
    last_activity: datetime | None = None
    cooloff_until: datetime | None = None
    rate: Bucket = field(default_factory=Bucket)
    checking: tuple[str, ...] = ()
    # Bookkeeping of the loop guard, not where the conversation stands: left out of equality.
    echo: Echo = field(default_factory=lambda: Echo(), compare=False)

    def evolve(self, **changes: Unpack[ContextChanges]) -> Context:
        """A copy with `changes` applied; mypy checks each field's name and type.

        Built field by field, not by dataclasses.replace: that runs __init__, which sets each
        of a frozen dataclass's 16 fields through object.__setattr__ again, and a step
        evolves its context several times (issue 13: a quarter of the engine's CPU).
        """
        new = _bare(Context)
        _consume(map(call, _PUT, repeat(new), _values(self)))  # each slot set, looping in C
        for name, value in changes.items():
            _SLOT[name](new, value)
        return new

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able dict (datetimes as ISO 8601 strings) with a schema version."""
        # A step's times are mostly its one `now` (last activity, the bucket, the loop guard):
        # each time object is formatted once (issue 13).
        active, rate, echo = _iso(self.last_activity), self.rate, self.echo
        counted = active if rate.counted_at is self.last_activity else _iso(rate.counted_at)
        since = active if echo.since is self.last_activity else _iso(echo.since)
        return {
            "v": SNAPSHOT_VERSION,
            "hotel_id": self.hotel_id,
            "guest_id": self.guest_id,
            "phone_number_id": self.phone_number_id,
            "department": self.department,
            "language": self.language,
            "current_flow": self.current_flow,
            "current_step": self.current_step,
            "step_data": dict(self.step_data),
            "accumulated_data": dict(self.accumulated_data),
            "navigation_stack": list(self.navigation_stack),
            "error_count": self.error_count,
            "last_activity": active,
            "cooloff_until": _iso(self.cooloff_until),
            "rate": {"tokens": rate.tokens, "counted_at": counted, "noticed": rate.noticed},
            "checking": list(self.checking),
            "echo": {"fingerprint": echo.fingerprint, "since": since, "count": echo.count,
                     "tripped": echo.tripped},
        }

    @staticmethod
    def from_dict(d: Mapping[str, object]) -> Context:
        """Inverse of to_dict (a snapshot without `rate` gets a full bucket).

        Raises:
            ValueError: an unknown snapshot version.
            KeyError, TypeError: a field is missing or of the wrong type.
        """
        if d.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"unknown context snapshot version {d.get('v')!r}")
        return Context(
            hotel_id=_of(str, d["hotel_id"]),
            guest_id=_of(str, d["guest_id"]),
            phone_number_id=_of(str, d["phone_number_id"]),
            department=_of(str, d["department"]),
            language=_of(str, d["language"]),
            current_flow=_optional(str, d["current_flow"]),
            current_step=_optional(str, d["current_step"]),
            step_data=_scalars(d["step_data"]),
            accumulated_data=_scalars(d["accumulated_data"]),
            navigation_stack=tuple(_of(str, ref) for ref in _of(list, d["navigation_stack"])),
            error_count=_of(int, d["error_count"]),
            last_activity=_dt(d["last_activity"]),
            cooloff_until=_dt(d["cooloff_until"]),
            rate=_bucket(d.get("rate")),
            checking=tuple(_of(str, part) for part in _of(list, d.get("checking", []))),
            echo=_echo(d.get("echo")),
        )


# Context.evolve's parts: every field's value at once, and each field's slot setter (a slot's
# own __set__ writes past the frozen dataclass's guard, as its __init__ does).
_FIELDS = tuple(f.name for f in fields(Context))
_values = attrgetter(*_FIELDS)
_SLOT = {name: getattr(Context, name).__set__ for name in _FIELDS}
_PUT = tuple(_SLOT.values())
_bare = object.__new__
_consume = deque[None](maxlen=0).extend  # runs an iterator for its effects, keeping nothing


@dataclass(frozen=True, slots=True, kw_only=True)
class Echo:
    """The loop guard's memory (engine rule 14b): the fingerprint of the last reply, since
    when it has been the same, how many times, and whether the guard tripped (silence)."""

    fingerprint: str = ""
    since: datetime | None = None
    count: int = 0
    tripped: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The anti-abuse state of one guest across all of a hotel's numbers: the inbound rate
    limit's bucket and the cooloff (issue 8 point 17: three departments do not give three
    times the allowance, and switching numbers does not dodge a cooloff)."""

    rate: Bucket = field(default_factory=Bucket)
    cooloff_until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Guest:
    """What a hotel's departments share about one guest (docs/design.md "Keys")."""

    data: Mapping[str, JSONScalar] = field(default_factory=dict)  # name, room, ...
    language: str | None = None  # None: never chosen (the hotel's default applies)
    # The hotel-wide rate limit and cooloff; None: not known (e.g. after a restart): the
    # conversation's own (Context.rate, Context.cooloff_until) apply.
    limits: Limits | None = None


class ContextChanges(TypedDict, total=False):
    """Context.evolve's keyword arguments: every field, with its type."""

    hotel_id: str
    guest_id: str
    phone_number_id: str
    department: str
    language: str
    current_flow: str | None
    current_step: str | None
    step_data: Mapping[str, JSONScalar]
    accumulated_data: Mapping[str, JSONScalar]
    navigation_stack: tuple[str, ...]
    error_count: int
    last_activity: datetime | None
    cooloff_until: datetime | None
    rate: Bucket
    checking: tuple[str, ...]
    echo: Echo


def _echo(value: object) -> Echo:
    if value is None:  # a snapshot from before the loop guard
        return Echo()
    found = _of(dict, value)
    return Echo(fingerprint=_of(str, found.get("fingerprint", "")),
                since=_dt(found.get("since")), count=_of(int, found.get("count", 0)),
                tripped=_of(bool, found.get("tripped", False)))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(_of(str, value)) if value is not None else None


def _of(kind: type[_T], value: object) -> _T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _optional(kind: type[_T], value: object) -> _T | None:
    return None if value is None else _of(kind, value)


def _scalars(value: object) -> dict[str, JSONScalar]:
    found: dict[str, JSONScalar] = {}
    for key, item in _of(dict, value).items():
        if not isinstance(item, str | int | float | bool | None):
            raise TypeError(f"not a JSON scalar at {key!r}: {type(item).__name__}")
        found[_of(str, key)] = item
    return found


def _bucket(value: object) -> Bucket:
    if value is None:  # a snapshot from before the rate limit moved into the context
        return Bucket()
    found = _of(dict, value)
    tokens = found.get("tokens")
    if tokens is not None and (not isinstance(tokens, int | float) or isinstance(tokens, bool)):
        raise TypeError(f"expected a number of tokens, got {type(tokens).__name__}")
    return Bucket(
        tokens=None if tokens is None else float(tokens),
        counted_at=_dt(found.get("counted_at")),
        noticed=_of(bool, found.get("noticed", False)),
    )
