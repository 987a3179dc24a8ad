"""Rows that cross the store boundary: what callers hand to the store and get back.

Owns: frozen dataclasses and the enums of every state column; no SQL, no I/O (the SQL lives in
the repository modules). Each state enum lists exactly what its table's CHECK accepts (schema.py;
tests/store/test_store_states.py holds the two together).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

from hotelbot.typedefs import JSONScalar


class Priority(IntEnum):
    """Lower goes first: replies, then service messages (checkout reminder, staff reply), then
    marketing (promos, broadcasts)."""

    REPLY = 0
    SERVICE = 1
    MARKETING = 2


class OutboundState(StrEnum):
    """Where an outbox row stands (outbox.py draws the moves; a status only moves it forward)."""

    PENDING = "pending"  # committed, waiting for its turn (and its not_before)
    SENDING = "sending"  # handed to the Graph API: its answer (or a status naming it) is awaited
    SENT = "sent"  # accepted: wamid known
    DELIVERED = "delivered"  # a `delivered` status arrived (Cloud API 1.7)
    READ = "read"  # a `read` status arrived (it may come without `delivered`)
    FAILED = "failed"  # permanent error, answered or in a `failed` status (error_code kept)
    SKIPPED = "skipped"  # never sent, on purpose (skip_reason: e.g. "outside_window")


class InboundState(StrEnum):
    RECEIVED = "received"  # durably recorded, not yet processed
    DONE = "done"  # its step committed (or it needed none)
    PARKED = "parked"  # kept failing: set aside with the error, not retried


class RequestStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"
    CANCELLED = "cancelled"


class ScheduledStatus(StrEnum):
    """pending -> due -> sent / skipped (skip_reason) / failed (scheduler/actor.py)."""

    PENDING = "pending"  # waiting for its scheduled_at
    DUE = "due"  # its time came: claimed by the scheduler, being rendered
    SENT = "sent"  # rendered; its outbox row committed in the same transaction (outbox_id)
    SKIPPED = "skipped"  # never sent, on purpose (skip_reason: opted_out, stay_cancelled, ...)
    FAILED = "failed"  # could not be rendered (skip_reason says why)


class ScheduledKind(StrEnum):
    MESSAGE = "message"  # a message to the guest
    CHECKOUT = "checkout"  # a stay's checkout: the guest's stay data (room) is cleared


class StayState(StrEnum):
    BOOKED = "booked"  # upserted by the PMS (before or during the stay)
    CHECKED_OUT = "checked_out"  # its check_out passed: the guest's room was cleared
    CANCELLED = "cancelled"  # DELETE by the PMS: its pending messages were skipped


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """One guest message from a webhook, as recorded before the 200 is sent."""

    wamid: str  # WhatsApp message id: the dedupe key
    phone_number_id: str
    guest_id: str
    kind: str  # text | interactive | button | image | ... (the webhook's `type`)
    payload: Mapping[str, object]  # the message object as received
    sent_at: datetime  # the message's own timestamp
    profile_name: str | None = None
    seq: int = 0  # store-assigned arrival order (0 before it is recorded)

    def with_seq(self, seq: int) -> InboundMessage:
        """This message as recorded under `seq` (dataclasses.replace, without its
        introspection: once per guest message)."""
        return InboundMessage(wamid=self.wamid, phone_number_id=self.phone_number_id,
                              guest_id=self.guest_id, kind=self.kind, payload=self.payload,
                              sent_at=self.sent_at, profile_name=self.profile_name, seq=seq)


REJECTED_KIND = "rejected"  # the inbound `kind` of a RejectedPart's row: parked, never replayed
REJECTED_PREFIX = "!rejected."  # keys made up for parts without a valid id ("!" is in no wamid)


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedPart:
    """A part of a signed webhook POST that could not be read or stored as documented.

    It is recorded (inbound row, kind "rejected", state parked, `reason` as the error) so
    staff can see it, and never reaches a conversation. `key` is its dedupe key: the part's
    own message id when it had a valid one, else a key derived from the body's digest and
    `where`, so Meta's retry of the same body is recognised. `preview` is bounded text.
    """

    key: str
    where: str
    reason: str
    phone_number_id: str = ""
    guest_id: str = ""
    preview: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedWebhook:
    """What one webhook POST left in the store."""

    fresh: tuple[InboundMessage, ...]  # new messages, with their seq, in payload order
    parked: tuple[RejectedPart, ...]  # newly parked parts (a retried body's are not repeated)
    duplicates: int  # messages seen before (acknowledged, not processed again)
    # (outbound id, Meta's error code; 0 when it gave none) of the rows a `failed` status in
    # this POST just failed: the pacer turns a 131047 into a template send or a skip.
    failed_rows: tuple[tuple[int, int], ...] = ()
    # The guests of the new messages as the same transaction left them (the guest book's
    # cache is filled from these: no read of its own before the step).
    guests: tuple[GuestRecord, ...] = ()

    def with_fresh(self, fresh: tuple[InboundMessage, ...], duplicates: int) -> RecordedWebhook:
        """This record with `fresh` and `duplicates` in place of its own."""
        return RecordedWebhook(fresh=fresh, parked=self.parked, duplicates=duplicates,
                               failed_rows=self.failed_rows, guests=self.guests)


@dataclass(frozen=True, slots=True)
class RecordedStep:
    """A step committed with the message it answers (ConversationRepository.commit_recorded_step):
    the message's seq, or None when its wamid was recorded already (a duplicate: nothing of the
    step was written); the outbound rows with their ids."""

    seq: int | None
    outbound: tuple[OutboundMessage, ...] = ()


OUTBOX_CALLBACK_PREFIX = "outbox:"  # biz_opaque_callback_data of hotelbot's sends


def outbox_callback(id: int) -> str:
    """The `biz_opaque_callback_data` that names outbox row `id` (Meta echoes it, 1.7)."""
    return f"{OUTBOX_CALLBACK_PREFIX}{id}"


def outbox_id_of(callback: str | None) -> int | None:
    """The outbox row id a status's callback names, or None (absent, or not hotelbot's)."""
    if callback is None or not callback.startswith(OUTBOX_CALLBACK_PREFIX):
        return None
    digits = callback.removeprefix(OUTBOX_CALLBACK_PREFIX)
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        return None
    return int(digits)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryStatus:
    wamid: str  # id of the message we sent
    status: str  # sent | delivered | read | failed | played
    at: datetime
    recipient_id: str
    error_code: int | None = None
    error_title: str | None = None  # the first error's title (on `failed`)
    callback: str | None = None  # biz_opaque_callback_data as echoed; hotelbot's is "outbox:<id>"
    payload: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundMessage:
    """A message to send: the outbox row. `body` is the Graph API body without envelope.

    `template` is the approved template to send instead outside the 24-hour window: the
    `template` object of a Graph API template message, `{"name", "language", "components"}`
    (docs/whatsapp-cloud-api.md 4.5, 5.6).
    """

    phone_number_id: str
    guest_id: str
    body: Mapping[str, object]
    priority: Priority = Priority.REPLY
    id: int = 0  # store-assigned
    attempts: int = 0
    not_before: datetime | None = None  # for retries with backoff
    template: Mapping[str, object] | None = None
    sending_since: datetime | None = None  # set while the row is `sending`


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundRow:
    """A recorded inbound message with where it stands (admin, tests): `inbound.get(seq)`."""

    message: InboundMessage
    state: InboundState
    attempts: int
    error: str | None = None  # why it was parked


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundRow:
    """An outbox row with where it stands (admin, tests): `outbox.get(id)`, `outbox.recent()`."""

    message: OutboundMessage
    state: OutboundState
    wamid: str | None = None  # set when the Graph API accepted it
    error_code: int | None = None  # Meta's code (-1: refused inside hotelbot)
    error_detail: str | None = None
    error_title: str | None = None  # Meta's error title (a `failed` status, or the answer)
    skip_reason: str | None = None  # why a skipped row was never sent
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    skipped_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    hotel_id: str
    department: str
    guest_id: str
    flow_id: str
    kind: str
    data: Mapping[str, JSONScalar]
    status: RequestStatus = RequestStatus.NEW
    id: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None  # its last move (staff acted on it)
    note: str | None = None  # why staff cancelled it


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledMessage:
    hotel_id: str
    phone_number_id: str
    guest_id: str
    message_type: str
    scheduled_at: datetime
    data: Mapping[str, JSONScalar] = field(default_factory=dict)
    status: ScheduledStatus = ScheduledStatus.PENDING
    id: int = 0
    kind: ScheduledKind = ScheduledKind.MESSAGE
    trigger_key: str | None = None  # unique per hotel: a stay's trigger is re-planned in place
    booking_ref: str | None = None  # the stay it belongs to
    skip_reason: str | None = None
    outbox_id: int | None = None  # the outbox row it became (status sent)
    reply_flow: str | None = None  # the flow a reply to it starts (set when it is sent)
    done_at: datetime | None = None  # when it left pending/due


@dataclass(frozen=True, slots=True, kw_only=True)
class StayRecord:
    """A guest's stay, as the hotel's PMS (or a CSV import) gave it."""

    hotel_id: str
    booking_ref: str
    guest_id: str
    guest_name: str
    room: str
    check_in: datetime  # aware
    check_out: datetime  # aware
    language: str | None = None
    state: StayState = StayState.BOOKED


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestRecord:
    hotel_id: str
    guest_id: str
    data: Mapping[str, JSONScalar]  # name, room, ... (a hotel's departments share it)
    language: str | None = None
    last_inbound_at: datetime | None = None  # opens the 24-hour customer-service window
    profile_name: str | None = None
    # The guest's hotel-wide cooloff as last committed (kept across restarts: issue 8.17).
    cooloff_until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepCommit:
    """Everything one engine step changes, committed in ONE transaction (the outbox rule).

    `context` is the snapshot dict (Context.to_dict()); `guest_data` replaces the guest's data.
    `inbound_seq` (when not None) is marked done in the same transaction. `guest_changed`
    False skips the guest upsert (most steps leave the guest's data and language alone).
    """

    phone_number_id: str
    guest_id: str
    hotel_id: str
    context: Mapping[str, object]
    guest_data: Mapping[str, JSONScalar]
    language: str
    inbound_seq: int | None
    outbound: tuple[OutboundMessage, ...] = ()
    requests: tuple[RequestRecord, ...] = ()
    scheduled: tuple[ScheduledMessage, ...] = ()
    at: datetime | None = None
    guest_changed: bool = True
    opt_out: bool | None = None  # True: marketing opt-out recorded; False: undone (issue 8.18)
    # The guest's hotel-wide cooloff changed (started, lifted, over): store cooloff_until.
    cooloff_changed: bool = False
    cooloff_until: datetime | None = None
    # The first outbound row is committed already `sending` (sending_since `at`): the pacer
    # reserved its POST, which follows the commit at once with no write of its own. A crash
    # in between leaves it to the pacer's recovery, like any row caught in `sending`.
    first_sending: bool = False
