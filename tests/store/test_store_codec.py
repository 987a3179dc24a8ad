"""The store's column encodings: timestamps and JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotelbot.errors import StoreError
from hotelbot.store.codec import decode_object, decode_time, encode_json, encode_time

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
