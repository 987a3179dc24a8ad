"""How the store writes values into SQLite columns and reads them back.

Owns: orjson encoding of JSON columns (context snapshots, payloads, guest data, bodies), the
one timestamp format of the store, and turning records into statement parameters and result
rows back into records. Must never touch a connection, hold SQL statements or read the clock.

Timestamps are stored as fixed-width UTC ISO 8601 text, ``2024-05-01T12:00:00.000000+00:00``:
readable in the sqlite3 shell, exact to the microsecond on a round trip, and (being fixed-width
and all in UTC) ordered correctly by plain text comparison, which the expiry and schedule
indexes rely on. A naive datetime has no defined instant and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from hotelbot.errors import StoreError
from hotelbot.store.records import (
    REJECTED_KIND,
    DeliveryStatus,
    GuestRecord,
    InboundMessage,
    InboundRow,
    InboundState,
    OutboundMessage,
    OutboundRow,
    OutboundState,
    Priority,
    RejectedPart,
    RequestRecord,
    RequestStatus,
    ScheduledKind,
    ScheduledMessage,
    ScheduledStatus,
    StepCommit,
)
from hotelbot.typedefs import HotelId, JSONScalar, NumberId


def encode_json(value: object) -> str:
    """Encode a JSON column (any Mapping is written as an object, tuples as arrays).

    Raises:
        StoreError: the value holds something JSON cannot represent.
    """
    try:
        return orjson.dumps(value, default=_mapping_default).decode()
    except TypeError as exc:
        raise StoreError(f"value cannot be stored as JSON: {exc}") from exc


def decode_object(text: str | bytes) -> dict[str, object]:
    """Decode a JSON column that must hold an object.

    Raises:
        StoreError: the column is not valid JSON or not an object (a corrupt row).
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"stored JSON is unreadable: {exc}") from exc
    if not isinstance(value, dict):
        raise StoreError(f"stored JSON is a {type(value).__name__}, expected an object")
    return value


# The last datetime encoded and its text: one step encodes the same `now` (and one status
# its time) more than once, and isoformat is most of the cost. Keyed by the object itself
# (`is`: a datetime is immutable, and the memo holds it, so its id cannot be reused); one
# tuple, replaced whole, so the writer's thread and the loop never see half of it.
_last_encoded: tuple[datetime | None, str] = (None, "")
_UTC_TEXT = "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00"


def encode_time(value: datetime) -> str:
    """Timestamp column text: fixed-width UTC ISO 8601 with microseconds.

    Raises:
        StoreError: the datetime is naive (no timezone).
    """
    global _last_encoded
    last = _last_encoded
    if last[0] is value:
        return last[1]
    if value.tzinfo is UTC:  # the clock's own zone: nothing to convert (the common case)
        utc = value
    elif value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"naive datetime {value.isoformat()} cannot be stored: give it a tzinfo")
    else:
        utc = value.astimezone(UTC)
    # utc.isoformat(timespec="microseconds"), written out: 40 % cheaper than isoformat's
    # keyword handling (tests/store/test_store_codec.py checks they agree for any time).
    text = _UTC_TEXT % (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second,
                        utc.microsecond)
    _last_encoded = (value, text)
    return text


def encode_optional_time(value: datetime | None) -> str | None:
    return None if value is None else encode_time(value)


def decode_time(text: str) -> datetime:
    """Inverse of encode_time (an aware UTC datetime).

    Raises:
        StoreError: the text is not an ISO 8601 timestamp.
    """
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"not an ISO 8601 timestamp: {text!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def decode_optional_time(text: str | None) -> datetime | None:
    return None if text is None else decode_time(text)


def _mapping_default(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"type {type(value).__name__} is not JSON serializable")


# --- rows: records <-> column tuples (the column lists name the repositories' SELECT order) ---

INBOUND_COLUMNS = "seq, wamid, phone_number_id, guest_id, kind, payload, profile_name, sent_at"
INBOUND_ROW_COLUMNS = f"{INBOUND_COLUMNS}, state, attempts, error"
GUEST_COLUMNS = (
    "hotel_id, guest_id, data, language, last_inbound_at, profile_name, cooloff_until"
)
OUTBOUND_COLUMNS = (
    "id, phone_number_id, guest_id, body, priority, attempts, not_before, template, sending_since"
)
OUTBOUND_ROW_COLUMNS = (
    f"{OUTBOUND_COLUMNS}, state, wamid, error_code, error_detail, error_title, skip_reason,"
    " sent_at, delivered_at, read_at, failed_at, skipped_at"
)
REQUEST_COLUMNS = (
    "id, hotel_id, department, guest_id, flow_id, kind, data, status, created_at, updated_at, note"
)
SCHEDULED_COLUMNS = (
    "id, hotel_id, phone_number_id, guest_id, message_type, scheduled_at, data, status, kind,"
    " trigger_key, booking_ref, skip_reason, outbox_id, reply_flow, done_at"
)
STATUS_COLUMNS = "wamid, status, at, recipient_id, error_code, payload, error_title, callback"

Row = Sequence[Any]
InboundParams = tuple[tuple[object, ...], tuple[object, ...] | None]
# A guest's message is at most 4096 characters of text (or a short interactive reply); a
# part 32 times that is not a guest writing: it is parked, not stored as a conversation input.
MAX_PAYLOAD_BYTES = 128 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedStep:
    """A StepCommit encoded into statement parameters, ready for one transaction."""

    conversation: tuple[object, ...]
    guest: tuple[object, ...] | None  # None: the guest row is left as it is
    outbound: tuple[tuple[object, ...], ...]
    requests: tuple[tuple[object, ...], ...]
    scheduled: tuple[tuple[object, ...], ...]
    inbound_seq: int | None
    opt_out: bool | None = None
    cooloff: tuple[str | None] | None = None  # None: unchanged; else the value to store
    first_sending: bool = False  # the first outbound row is inserted `sending` (StepCommit)


def inbound_params(
    message: InboundMessage, received_at: str, hotel_of: Mapping[NumberId, HotelId]
) -> InboundParams:
    """(inbound row, guest touch or None when the number belongs to no known hotel).

    Raises:
        StoreError: the payload cannot be written as JSON or is over MAX_PAYLOAD_BYTES.
    """
    sent_at = _encode_sent_at(message.sent_at)
    payload = encode_json(message.payload)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise StoreError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    row = (
        message.wamid,
        message.phone_number_id,
        message.guest_id,
        message.kind,
        payload,
        message.profile_name,
        sent_at,
        received_at,
    )
    hotel_id = hotel_of.get(NumberId(message.phone_number_id))
    # The 24-hour window runs from the guest's own message time (Meta's timestamp), not ours.
    if hotel_id is None:
        return row, None
    return row, (hotel_id, message.guest_id, message.profile_name, sent_at)


# Meta's timestamps are whole seconds: at any real rate most messages share the second of
# the one before. Its own memo (by equality: each message's datetime is a new object), apart
# from encode_time's, which the times around it take over.
_last_sent_at: tuple[datetime | None, str] = (None, "")


def _encode_sent_at(value: datetime) -> str:
    global _last_sent_at
    last = _last_sent_at
    if last[0] is not None and last[0] == value:  # (an aware one never equals a naive one)
        return last[1]
    text = encode_time(value)
    _last_sent_at = (value, text)
    return text


def rejected_params(part: RejectedPart, received_at: str) -> tuple[object, ...]:
    """The parked inbound row of a RejectedPart (its payload: where, why and a preview)."""
    payload = {"where": part.where, "reason": part.reason, "preview": part.preview}
    return (
        part.key,
        part.phone_number_id,
        part.guest_id,
        REJECTED_KIND,
        encode_json(payload),
        received_at,
        received_at,
        InboundState.PARKED,
        part.reason[:1000],
    )


def inbound_from_row(row: Row) -> InboundMessage:
    seq, wamid, phone_number_id, guest_id, kind, payload, profile_name, sent_at = row
    return InboundMessage(
        wamid=wamid,
        phone_number_id=phone_number_id,
        guest_id=guest_id,
        kind=kind,
        payload=decode_object(payload),
        sent_at=decode_time(sent_at),
        profile_name=profile_name,
        seq=seq,
    )


def inbound_row_from_row(row: Row) -> InboundRow:
    state, attempts, error = row[-3:]
    return InboundRow(
        message=inbound_from_row(row[:-3]),
        state=InboundState(state),
        attempts=attempts,
        error=error,
    )


def status_params(status: DeliveryStatus) -> tuple[object, ...]:
    return (
        status.wamid,
        status.status,
        encode_time(status.at),
        status.recipient_id,
        status.error_code,
        encode_json(status.payload),
        status.error_title,
        status.callback,
    )


def guest_from_row(row: Row) -> GuestRecord:
    hotel_id, guest_id, data, language, last_inbound_at, profile_name, cooloff_until = row
    return GuestRecord(
        hotel_id=hotel_id,
        guest_id=guest_id,
        data=cast(dict[str, JSONScalar], decode_object(data)),
        language=language,
        last_inbound_at=decode_optional_time(last_inbound_at),
        profile_name=profile_name,
        cooloff_until=decode_optional_time(cooloff_until),
    )


def outbound_from_row(row: Row) -> OutboundMessage:
    id_, phone_number_id, guest_id, body, priority, attempts, not_before, template, since = row
    return OutboundMessage(
        phone_number_id=phone_number_id,
        guest_id=guest_id,
        body=decode_object(body),
        priority=Priority(priority),
        id=id_,
        attempts=attempts,
        not_before=decode_optional_time(not_before),
        template=None if template is None else decode_object(template),
        sending_since=decode_optional_time(since),
    )


_OUTBOUND_ROW_EXTRA = 11  # the columns OUTBOUND_ROW_COLUMNS adds to OUTBOUND_COLUMNS


def outbound_row_from_row(row: Row) -> OutboundRow:
    (state, wamid, error_code, error_detail, error_title, skip_reason,
     sent_at, delivered_at, read_at, failed_at, skipped_at) = row[-_OUTBOUND_ROW_EXTRA:]
    return OutboundRow(
        message=outbound_from_row(row[:-_OUTBOUND_ROW_EXTRA]),
        state=OutboundState(state),
        wamid=wamid,
        error_code=error_code,
        error_detail=error_detail,
        error_title=error_title,
        skip_reason=skip_reason,
        sent_at=decode_optional_time(sent_at),
        delivered_at=decode_optional_time(delivered_at),
        read_at=decode_optional_time(read_at),
        failed_at=decode_optional_time(failed_at),
        skipped_at=decode_optional_time(skipped_at),
    )


def status_from_row(row: Row) -> DeliveryStatus:
    wamid, status, at, recipient_id, error_code, payload, error_title, callback = row
    return DeliveryStatus(
        wamid=wamid,
        status=status,
        at=decode_time(at),
        recipient_id=recipient_id,
        error_code=error_code,
        error_title=error_title,
        callback=callback,
        payload=decode_object(payload),
    )


def scheduled_from_row(row: Row) -> ScheduledMessage:
    (id_, hotel_id, phone_number_id, guest_id, message_type, scheduled_at, data, status,
     kind, trigger_key, booking_ref, skip_reason, outbox_id, reply_flow, done_at) = row
    return ScheduledMessage(
        kind=ScheduledKind(kind),
        trigger_key=trigger_key,
        booking_ref=booking_ref,
        skip_reason=skip_reason,
        outbox_id=outbox_id,
        reply_flow=reply_flow,
        done_at=decode_optional_time(done_at),
        hotel_id=hotel_id,
        phone_number_id=phone_number_id,
        guest_id=guest_id,
        message_type=message_type,
        scheduled_at=decode_time(scheduled_at),
        data=cast(dict[str, JSONScalar], decode_object(data)),
        status=ScheduledStatus(status),
        id=id_,
    )


def request_from_row(row: Row) -> RequestRecord:
    id_, hotel_id, department, guest_id, flow_id, kind, data, status, created_at = row[:9]
    updated_at, note = row[9:] if len(row) > 9 else (None, None)
    return RequestRecord(
        hotel_id=hotel_id,
        department=department,
        guest_id=guest_id,
        flow_id=flow_id,
        kind=kind,
        data=cast(dict[str, JSONScalar], decode_object(data)),
        status=RequestStatus(status),
        id=id_,
        created_at=decode_optional_time(created_at),
        updated_at=decode_optional_time(updated_at),
        note=note,
    )


ACTIVITY_SPAN = 15  # characters of an encoded time that name its ten minutes: 'YYYY-MM-DDTHH:M'


def activity_span(last_activity: str | None) -> str:
    """The conversations.activity_span of an encoded last activity: its ten-minute span, ''
    for none (text order is time order, none first)."""
    return "" if last_activity is None else last_activity[:ACTIVITY_SPAN]


def prepare_step(commit: StepCommit) -> PreparedStep:
    """Encode everything of a StepCommit before it reaches the writer (bad input fails here).

    Raises:
        StoreError: a naive datetime or a value JSON cannot hold.
    """
    at = encode_optional_time(commit.at)
    activity = commit.context.get("last_activity")
    # The snapshot's last activity is mostly the step's own `now`, written as `at` already:
    # text equal to `at` is in the column's form, so decoding and encoding it gives `at`.
    last_activity = (encode_time(decode_time(activity))
                     if isinstance(activity, str) and activity != at else at)
    return PreparedStep(
        conversation=(
            commit.phone_number_id,
            commit.guest_id,
            commit.hotel_id,
            encode_json(commit.context),
            at,
            last_activity,
            activity_span(last_activity),
        ),
        guest=(
            (commit.hotel_id, commit.guest_id, encode_json(commit.guest_data), commit.language)
            if commit.guest_changed
            else None
        ),
        # (most steps create no request and schedule nothing: no generator for those)
        outbound=tuple([outbound_params(o, at) for o in commit.outbound]),
        requests=tuple([_request_params(r, at) for r in commit.requests]) if commit.requests
        else (),
        scheduled=tuple([_scheduled_params(s, at) for s in commit.scheduled])
        if commit.scheduled else (),
        inbound_seq=commit.inbound_seq,
        opt_out=commit.opt_out,
        cooloff=(encode_optional_time(commit.cooloff_until),) if commit.cooloff_changed else None,
        first_sending=commit.first_sending and bool(commit.outbound) and at is not None,
    )


def outbound_with_id(message: OutboundMessage, id: int) -> OutboundMessage:
    """`message` as committed, with its store id: `dataclasses.replace(message, id=id)`
    spelled out (replace looks the fields up on every call, twice the cost of one step's
    row; tests/store/test_store_codec.py checks that no field is left behind)."""
    return OutboundMessage(
        phone_number_id=message.phone_number_id,
        guest_id=message.guest_id,
        body=message.body,
        priority=message.priority,
        id=id,
        attempts=message.attempts,
        not_before=message.not_before,
        template=message.template,
        sending_since=message.sending_since,
    )


def outbound_params(message: OutboundMessage, at: str | None) -> tuple[object, ...]:
    return (
        message.phone_number_id,
        message.guest_id,
        encode_json(message.body),
        int(message.priority),
        message.attempts,
        encode_optional_time(message.not_before),
        None if message.template is None else encode_json(message.template),
        at,
    )


def _request_params(request: RequestRecord, at: str | None) -> tuple[object, ...]:
    created = encode_optional_time(request.created_at) or at
    return (
        request.hotel_id,
        request.department,
        request.guest_id,
        request.flow_id,
        request.kind,
        encode_json(request.data),
        str(request.status),
        created,
        created,
    )


def _scheduled_params(message: ScheduledMessage, at: str | None) -> tuple[object, ...]:
    return (
        message.hotel_id,
        message.phone_number_id,
        message.guest_id,
        message.message_type,
        encode_time(message.scheduled_at),
        encode_json(message.data),
        str(message.status),
        at,
    )
