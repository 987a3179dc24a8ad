"""The admin command table: one JSON request object in, one JSON reply object out.

Owns: the commands of the local admin socket (`COMMANDS`: name, handler, what it does, its
parameters and the `hotelbot admin` actions that send it), the validation of their arguments,
and turning the app's objects (statistics dataclasses, request records, context snapshots)
into plain JSON data. Every reply has `ok`; a refusal is `{"ok": false, "error": "..."}` and
never an exception (CommandError is caught here).

The table is the one list of commands: the socket dispatches through it, `help` answers from
it, and the `hotelbot admin` command line (hotelbot/cli/admin.py) builds its actions from it.
A request is `{"cmd": NAME, KEY: VALUE, ...}` with the keys of the command's `params`.

Must never: block the event loop on configuration loading (it runs in a thread), show a
guest's full phone number unless asked (`"full": true`), log a request's data, or change
anything but a request's status, a parked message, a guest's cooloff (`unlock`), the
configuration in force and the scheduled messages (admin/scheduling.py: queue, cancel,
broadcast).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import structlog

from hotelbot.actors import ActiveConversation, UnlockStatus
from hotelbot.errors import FlowDefinitionError, HotelbotError, StoreError
from hotelbot.flows import Context, Hotel, Hotels
from hotelbot.log import mask_guest as mask_guest  # the one masking rule (logs, admin)
from hotelbot.store import (
    ConversationRepository,
    FunnelRepository,
    GuestDataRepository,
    InboundMessage,
    InboundRepository,
    RequestRecord,
    RequestRepository,
    RequestStatus,
    ScheduledMessage,
    ScheduledRepository,
    StayApplied,
    StayRecord,
    StayRepository,
)
from hotelbot.typedefs import GuestId, HotelId, NumberId

log = structlog.get_logger(__name__)

Reply = dict[str, object]
MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
ASK_TIMEOUT = 5.0  # seconds to wait for a busy conversation before reading its snapshot
STAFF_STATUSES = (RequestStatus.ACKNOWLEDGED, RequestStatus.DONE, RequestStatus.CANCELLED)


class CommandError(HotelbotError):
    """A request the admin socket refuses; `reason` is shown to the operator."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class HasStatistics(Protocol):
    def statistics(self) -> object: ...


class AdminRouter(HasStatistics, Protocol):
    async def ask_context(self, phone_number_id: NumberId, guest_id: GuestId) -> object: ...

    def conversations(self) -> list[ActiveConversation]: ...

    async def release_guest(self, hotel_id: HotelId, guest_id: GuestId) -> int: ...
    async def unlock(self, phone_number_id: NumberId, guest_id: GuestId,
                     timeout: float | None = ...) -> UnlockStatus: ...  # noqa: ASYNC109


class AdminInbox(HasStatistics, Protocol):
    def redispatch(self, message: InboundMessage) -> None: ...


class AdminStore(HasStatistics, Protocol):
    """The repositories the commands read and act on: requests, conversations, inbound."""

    @property
    def requests(self) -> RequestRepository: ...

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def inbound(self) -> InboundRepository: ...

    @property
    def guest_data(self) -> GuestDataRepository: ...

    @property
    def funnel(self) -> FunnelRepository: ...

    @property
    def scheduled(self) -> ScheduledRepository: ...

    @property
    def stays(self) -> StayRepository: ...


class Flushable(Protocol):
    async def flush(self) -> None: ...


class AdminScheduler(HasStatistics, Protocol):
    """The scheduler as the commands use it (hotelbot.scheduler.SchedulerActor)."""

    async def cancel(self, id: int, reason: str = "cancelled") -> bool: ...

    async def insert(self, rows: Sequence[ScheduledMessage]) -> list[int]: ...

    async def put_stay(self, hotel: Hotel, stay: StayRecord) -> StayApplied: ...

    def forget_guest(self, numbers: Iterable[str], guest_id: str) -> None: ...


class AdminDesk(Protocol):
    """Requests moved as the console's staff move them (hotelbot.web.Desk): the guest's
    notice in the same transaction, sent by the pacer; "done" fires the hotel's after-request
    triggers (the scheduler), whose new rows' ids come back among the results."""

    async def move_for_operator(self, request_id: int, status: str,
                                reason: str = "") -> tuple[RequestRecord, list[object]]: ...


class AdminConfig(Protocol):
    """The configuration in force: hotelbot.config.LiveConfig."""

    def get(self) -> Hotels: ...

    def reload(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminTargets:
    """The app's objects the commands read and act on."""

    router: AdminRouter
    inbox: AdminInbox
    store: AdminStore
    pacer: HasStatistics
    graph: HasStatistics | None  # None when sends go elsewhere than a Graph API client
    config: AdminConfig
    now: Callable[[], datetime]
    funnel: Flushable | None = None  # the funnel's in-memory tally (flushed before a read)
    scheduler: AdminScheduler | None = None  # the scheduler (queue, broadcast; issue 10)
    desk: AdminDesk | None = None  # ack/done/cancel as the console does them


Handler = Callable[[AdminTargets, Mapping[str, object]], Awaitable[Reply]]
ParamKind = Literal["text", "int", "bool"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """One key of a command's request, and how `hotelbot admin` takes it.

    A required parameter is positional on the command line (shown as `metavar`); an optional
    one is an option, `--key VALUE`, or a flag `--key` when its kind is bool.
    """

    key: str
    help: str
    kind: ParamKind = "text"
    required: bool = True
    choices: tuple[str, ...] = ()
    metavar: str = ""  # its value's name on the command line; KEY (an option: K) when empty

    @property
    def shown(self) -> str:
        """How the parameter reads in a usage line: `HOTEL`, `[--limit N]`, `[--full]`."""
        if self.required:
            return self.metavar or self.key.upper()
        if self.kind == "bool":
            return f"[--{self.key}]"
        return f"[--{self.key} {self.metavar or self.key[0].upper()}]"


@dataclass(frozen=True, slots=True, kw_only=True)
class CliAction:
    """A `hotelbot admin` action sending its command with `fixed` keys already set.

    Its command-line arguments are the command's params that `fixed` does not set.
    """

    name: str
    help: str
    fixed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One admin command: its handler, what it does, its params, its command-line actions."""

    name: str
    run: Handler
    doc: str
    params: tuple[Param, ...] = ()
    cli: tuple[CliAction, ...] = ()  # empty: one action named like the command

    def actions(self) -> tuple[CliAction, ...]:
        return self.cli or (CliAction(name=self.name, help=self.doc),)

    def action_params(self, action: CliAction) -> tuple[Param, ...]:
        fixed = {key for key, _value in action.fixed}
        return tuple(p for p in self.params if p.key not in fixed)

    def summary(self) -> str:
        """The `help` line: what it does, then its keys (`?` marks an optional one)."""
        keys = ", ".join(
            p.key + ("?" if not p.required else "")
            + (f" ({'|'.join(p.choices)})" if p.choices else "")
            for p in self.params
        )
        return f"{self.doc}: {keys}" if keys else self.doc


class AdminCommands:
    """The handler of the admin server: `await commands(request) -> reply`."""

    def __init__(self, targets: AdminTargets) -> None:
        self._targets = targets

    async def __call__(self, request: Mapping[str, object]) -> Reply:
        """Run one request. Never raises for bad input: the reply says what was wrong."""
        name = request.get("cmd")
        entry = COMMANDS.get(name) if isinstance(name, str) else None
        if entry is None:
            known = ", ".join(sorted(COMMANDS))
            return _refuse(f"unknown command {name!r}; known commands: {known}")
        try:
            reply = await entry.run(self._targets, request)
        except CommandError as exc:
            return _refuse(exc.reason)
        log.info("admin_command", cmd=name, ok=reply.get("ok", True))
        return {"ok": True, **reply}  # a command may answer ok=false with more than an error


# --- the commands ----------------------------------------------------------------------------


async def _help(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    return {"commands": {name: command.summary() for name, command in sorted(COMMANDS.items())}}


async def _stats(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    parts = {
        "inbox": targets.inbox, "router": targets.router, "store": targets.store,
        "pacer": targets.pacer, "graph": targets.graph, "scheduler": targets.scheduler,
    }
    return {"stats": {name: jsonable(obj.statistics()) for name, obj in parts.items()
                      if obj is not None}}


async def _requests(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    hotel = _text(request, "hotel")
    hotels = targets.config.get().hotels
    if hotel not in hotels:
        raise CommandError(f"unknown hotel {hotel!r}; known hotels: {', '.join(sorted(hotels))}")
    status = _optional_status(request.get("status"), tuple(RequestStatus))
    limit = _limit(request.get("limit", DEFAULT_LIMIT))
    full = request.get("full", False)
    if not isinstance(full, bool):
        raise CommandError("'full' must be true or false")
    rows = await targets.store.requests.recent(hotel, status, limit)
    timezone = hotels[HotelId(hotel)].timezone
    zone = ZoneInfo(timezone)  # times in the hotel's timezone
    return {"hotel": hotel, "timezone": timezone, "full": full,
            "requests": [request_row(r, full=full, zone=zone) for r in rows]}


async def _request_status(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    id_ = request.get("id")
    if not isinstance(id_, int) or isinstance(id_, bool) or id_ < 1:
        raise CommandError("'id' must be a positive integer (a request id)")
    status = _optional_status(request.get("status"), STAFF_STATUSES)
    if status is None:
        raise CommandError(f"'status' is required: one of {_names(STAFF_STATUSES)}")
    reason = request.get("reason", "")
    if not isinstance(reason, str):
        raise CommandError("'reason' must be text")
    if targets.desk is None:
        raise CommandError("requests cannot be moved here: this server has no desk")
    try:  # the guest is told; done schedules e.g. a feedback request 2 h later (issue 10)
        _moved, results = await targets.desk.move_for_operator(id_, status.value, reason)
    except (StoreError, LookupError) as exc:  # refused by the rules, or no such request
        raise CommandError(str(exc).strip("'\"")) from None
    scheduled = [i for found in results if isinstance(found, list)
                 for i in found if isinstance(i, int)]
    return {"id": id_, "status": status.value, "scheduled": scheduled}


async def _context(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    number, guest = _text(request, "phone_number_id"), _text(request, "guest")
    try:
        asked = targets.router.ask_context(NumberId(number), GuestId(guest))
        active = await asyncio.wait_for(asked, ASK_TIMEOUT)
    except (TimeoutError, HotelbotError):  # busy, or stopping: its snapshot is the truth
        active = None
    if isinstance(active, Context):
        return {"source": "memory", "context": jsonable(active.to_dict())}
    stored = await targets.store.conversations.load(number, guest)
    if stored is None:
        raise CommandError("no conversation between this number and this guest")
    return {"source": "store", "context": jsonable(stored)}


async def _unlock(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    number, guest = _text(request, "phone_number_id"), _text(request, "guest")
    try:
        status = await targets.router.unlock(NumberId(number), GuestId(guest), ASK_TIMEOUT)
    except TimeoutError:
        raise CommandError("the conversation is busy; try again in a moment") from None
    except HotelbotError:  # stopping
        raise CommandError("the server is stopping; nothing was changed") from None
    if status is UnlockStatus.UNKNOWN_NUMBER:
        raise CommandError(f"no department has phone_number_id {number!r}")
    if status is UnlockStatus.NO_CONVERSATION:
        raise CommandError("no conversation between this number and this guest")
    return {"guest": mask_guest(guest), "phone_number_id": number, "status": status.value}


async def _reload(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    try:
        await asyncio.to_thread(targets.config.reload)
    except FlowDefinitionError as exc:
        log.warning("admin_reload_refused", problems=len(exc.problems))
        return {
            "ok": False,
            "error": f"configuration refused ({len(exc.problems)} problem(s)); "
            "the previous configuration stays in force",
            "problems": [str(p) for p in exc.problems],
        }
    return {"hotels": sorted(targets.config.get().hotels)}


async def _parked(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    limit = _limit(request.get("limit", DEFAULT_LIMIT))
    rows = await targets.store.inbound.parked(limit)
    return {"parked": [
        {"seq": m.seq, "sent_at": m.sent_at.isoformat(), "phone_number_id": m.phone_number_id,
         "guest": mask_guest(m.guest_id), "kind": m.kind,
         "error": error.strip().splitlines()[-1] if error.strip() else ""}
        for m, error in rows
    ]}


async def _replay(targets: AdminTargets, request: Mapping[str, object]) -> Reply:
    seq = request.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise CommandError("'seq' must be a positive integer (a parked message's seq)")
    try:
        message = await targets.store.inbound.unpark(seq)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    targets.inbox.redispatch(message)
    return {"seq": seq, "replayed": True}


_LIMIT = Param(key="limit", kind="int", required=False, metavar="N",
               help=f"at most N rows (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})")
_STATUS_CHANGES = (("ack", RequestStatus.ACKNOWLEDGED), ("done", RequestStatus.DONE),
                   ("cancel", RequestStatus.CANCELLED))
COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command(name="help", run=_help, doc="list the commands"),
    Command(name="stats", run=_stats,
            doc="statistics of the router, the store, the sender and the Graph client"),
    Command(name="requests", run=_requests, doc="a hotel's requests, newest first", params=(
        Param(key="hotel", help="the hotel's id"),
        Param(key="status", required=False, choices=tuple(s.value for s in RequestStatus),
              help="only requests with this status"),
        _LIMIT,
        Param(key="full", kind="bool", required=False,
              help="full guest numbers and every collected value in full"),
    )),
    Command(name="request_status", run=_request_status, doc="set a request's status", params=(
        Param(key="id", kind="int", help="the request's id"),
        Param(key="status", choices=tuple(s.value for s in STAFF_STATUSES),
              help="the new status"),
        Param(key="reason", required=False,
              help="why (told to the guest when cancelling; required to cancel a done one)"),
    ), cli=tuple(CliAction(name=name, help=f"mark a request {status.value}",
                           fixed=(("status", status.value),))
                 for name, status in _STATUS_CHANGES)),
    Command(name="context", run=_context,
            doc="a conversation's context (in memory if active, else its snapshot)", params=(
        Param(key="phone_number_id", metavar="NUMBER", help="the department's phone_number_id"),
        Param(key="guest", help="the guest's WhatsApp id (phone number)"),
    )),
    Command(name="unlock", run=_unlock,
            doc="lift a guest's cooloff (and reset their error count) with a department number",
            params=(
        Param(key="phone_number_id", metavar="NUMBER", help="the department's phone_number_id"),
        Param(key="guest", help="the guest's WhatsApp id (phone number)"),
    )),
    Command(name="reload", run=_reload,
            doc="reload and validate the configuration; a bad one is refused"),
    Command(name="parked", run=_parked, doc="messages set aside after failing, newest first",
            params=(_LIMIT,)),
    Command(name="replay", run=_replay, doc="hand a parked message to its conversation again",
            params=(Param(key="seq", kind="int", help="the parked message's seq"),)),
)}


# --- conversions ------------------------------------------------------------------------------


def request_row(
    record: RequestRecord, *, full: bool = False, zone: ZoneInfo | None = None
) -> Reply:
    """A request as the admin socket shows it: the guest masked unless `full`, its time in
    `zone` (the hotel's timezone) when given."""
    created, updated = record.created_at, record.updated_at
    if zone is not None:
        created = created.astimezone(zone) if created is not None else None
        updated = updated.astimezone(zone) if updated is not None else None
    return {
        "id": record.id,
        "department": record.department,
        "guest": record.guest_id if full else mask_guest(record.guest_id),
        "kind": record.kind,
        "flow": record.flow_id,
        "data": jsonable(record.data),
        "status": record.status.value,
        "created_at": jsonable(created),
        "updated_at": jsonable(updated),
        "note": record.note,
    }


def jsonable(value: object) -> Any:
    """Plain JSON data from statistics dataclasses, records and snapshots.

    Dataclasses become dicts, datetimes ISO 8601 text, timedeltas seconds, enums their value.
    Raises:
        TypeError: a value with no JSON form.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _refuse(reason: str) -> Reply:
    return {"ok": False, "error": reason}


def _text(request: Mapping[str, object], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"{key!r} is required (a non-empty string)")
    return value.strip()


def _optional_status(
    value: object, allowed: tuple[RequestStatus, ...]
) -> RequestStatus | None:
    if value is None:
        return None
    if isinstance(value, str) and value in {s.value for s in allowed}:
        return RequestStatus(value)
    raise CommandError(f"'status' must be one of {_names(allowed)}, not {value!r}")


def _limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise CommandError(f"'limit' must be an integer from 1 to {MAX_LIMIT}")
    return value


def _names(statuses: tuple[RequestStatus, ...]) -> str:
    return ", ".join(s.value for s in statuses)
