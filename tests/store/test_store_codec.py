"""The store's column encodings: timestamps and JSON."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotelbot.errors import StoreError
from hotelbot.store.codec import (
    decode_object,
    decode_time,
    encode_json,
    encode_time,
    inbound_params,
    outbound_with_id,
    prepare_step,
)
from hotelbot.store.records import (
    GuestRecord,
    InboundMessage,
    OutboundMessage,
    Priority,
    RecordedWebhook,
    RejectedPart,
    StepCommit,
)

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
aware = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=offsets
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(aware)
def test_time_round_trips_exactly_as_utc(value: datetime) -> None:
    text = encode_time(value)
    assert len(text) == len("2025-03-01T09:00:00.000000+00:00")
    back = decode_time(text)
    assert back == value and back.utcoffset() == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(aware, aware)
def test_time_text_order_is_time_order(a: datetime, b: datetime) -> None:
    assert (encode_time(a) < encode_time(b)) == (a < b)


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=offsets | st.just(UTC)))
def test_time_text_is_the_utc_isoformat_with_microseconds(value: datetime) -> None:
    assert encode_time(value) == value.astimezone(UTC).isoformat(timespec="microseconds")


def test_naive_time_is_refused() -> None:
    with pytest.raises(StoreError, match="naive"):
        encode_time(datetime(2025, 3, 1, 9, 0))


def test_unreadable_time_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="ISO 8601"):
        decode_time("yesterday")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_json_objects_round_trip(value: dict[str, object]) -> None:
    assert decode_object(encode_json(value)) == value


def test_any_mapping_is_stored_as_an_object() -> None:
    nested = MappingProxyType({"a": MappingProxyType({"b": (1, 2)})})
    assert decode_object(encode_json(nested)) == {"a": {"b": [1, 2]}}


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "{not json", ""])
def test_a_column_that_is_not_an_object_is_refused(text: str) -> None:
    with pytest.raises(StoreError):
        decode_object(text)


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(StoreError, match="JSON"):
        encode_json({"when": object()})
    assert encode_time(datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == (
        encode_time(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    )


def test_the_encoded_time_memo_never_answers_for_another_datetime() -> None:
    a = datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
    b = datetime(2025, 3, 1, 10, 30, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert encode_time(a) == "2025-03-01T09:00:00.123456+00:00"
    assert encode_time(a) == "2025-03-01T09:00:00.123456+00:00"  # the memo's answer
    assert encode_time(b) == "2025-03-01T08:30:00.000005+00:00"  # converted, not the memo's
    assert encode_time(a.replace(microsecond=0)) == "2025-03-01T09:00:00.000000+00:00"
    with pytest.raises(StoreError, match="naive"):  # a naive one is refused after any memo
        encode_time(a.replace(tzinfo=None))
    assert encode_time(b) == "2025-03-01T08:30:00.000005+00:00"


@pytest.mark.parametrize(("activity", "stored"), [
    ("2025-03-01T09:00:00.123456+00:00", "2025-03-01T09:00:00.123456+00:00"),  # the step's now
    ("2025-03-01T09:00:00+00:00", "2025-03-01T09:00:00.000000+00:00"),  # isoformat, no micros
    ("2025-03-01T11:00:00.5+02:00", "2025-03-01T09:00:00.500000+00:00"),  # another offset
    (None, "2025-03-01T09:00:00.123456+00:00"),  # none in the snapshot: the step's time
])
def test_a_steps_last_activity_is_stored_in_the_column_form(
    activity: str | None, stored: str
) -> None:
    commit = StepCommit(
        phone_number_id="100", guest_id="4915", hotel_id="h", context={"last_activity": activity},
        guest_data={}, language="en", inbound_seq=None,
        at=datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC),
    )
    prepared = prepare_step(commit)
    assert prepared.conversation[4] == "2025-03-01T09:00:00.123456+00:00"
    assert prepared.conversation[5] == stored
    assert prepared.conversation[6] == stored[:15]  # its ten-minute span (expiry's index)


def test_an_outbound_row_with_its_id_keeps_every_other_field() -> None:
    """outbound_with_id spells replace(message, id=...) out: a field added to OutboundMessage
    and not copied there fails here (every field is set to a value unlike its default)."""
    message = OutboundMessage(
        phone_number_id="100", guest_id="4915", body={"type": "text"}, priority=Priority.MARKETING,
        id=3, attempts=2, not_before=datetime(2025, 3, 1, tzinfo=UTC),
        template={"name": "t"}, sending_since=datetime(2025, 3, 2, tzinfo=UTC),
    )
    for f in fields(OutboundMessage):
        assert getattr(message, f.name) != f.default, f"set {f.name} in this test"
    assert outbound_with_id(message, 42) == replace(message, id=42)


def test_a_message_with_its_seq_keeps_every_other_field() -> None:
    """InboundMessage.with_seq spells replace(message, seq=...) out: a field added and not
    copied there fails here (every field is set to a value unlike its default)."""
    message = InboundMessage(wamid="wamid.A", phone_number_id="100", guest_id="4915",
                             kind="text", payload={"a": 1}, profile_name="Ana", seq=7,
                             sent_at=datetime(2026, 1, 1, tzinfo=UTC))
    for f in fields(InboundMessage):
        assert getattr(message, f.name) != f.default, f"set {f.name} in this test"
    assert message.with_seq(42) == replace(message, seq=42)


def test_a_recorded_webhook_with_fresh_keeps_every_other_field() -> None:
    """RecordedWebhook.with_fresh spells replace(...) out, likewise."""
    message = InboundMessage(wamid="wamid.A", phone_number_id="100", guest_id="4915",
                             kind="text", payload={}, sent_at=datetime(2026, 1, 1, tzinfo=UTC))
    recorded = RecordedWebhook(
        fresh=(message,), parked=(RejectedPart(key="k", where="w", reason="r"),), duplicates=2,
        failed_rows=((3, 131047),), guests=(GuestRecord(hotel_id="h", guest_id="4915", data={}),),
    )
    for f in fields(RecordedWebhook):
        assert getattr(recorded, f.name) != f.default, f"set {f.name} in this test"
    again = (message.with_seq(9),)
    assert recorded.with_fresh(again, 5) == replace(recorded, fresh=again, duplicates=5)


def test_a_messages_sent_at_is_its_own_after_any_other() -> None:
    """Meta's seconds are remembered from one message to the next, by value: each message's
    column is its own time, and a naive one is refused after any of them."""
    def message(sent_at: datetime) -> InboundMessage:
        return InboundMessage(wamid="wamid.A", phone_number_id="100", guest_id="4915",
                              kind="text", payload={}, sent_at=sent_at)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    same = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))  # the same instant
    later = first + timedelta(seconds=1)
    texts = [inbound_params(message(at), "r", {})[0][6] for at in (first, same, later, first)]
    assert texts == ["2026-01-01T00:00:00.000000+00:00", "2026-01-01T00:00:00.000000+00:00",
                     "2026-01-01T00:00:01.000000+00:00", "2026-01-01T00:00:00.000000+00:00"]
    with pytest.raises(StoreError, match="naive"):
        inbound_params(message(first.replace(tzinfo=None)), "r", {})
