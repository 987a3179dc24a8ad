"""hotelbot.whatsapp.payloads / limits / errors: pure tests (no loop, no sockets)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotelbot.errors import GraphAPIError, PayloadError, RateLimited
from hotelbot.flows import Event, event_for
from hotelbot.flows.events import (
    ChatOpened,
    NoticeReceived,
    OptionChosen,
    TemplateButtonPressed,
    TextReceived,
    UnsupportedReceived,
)
from hotelbot.store.records import InboundMessage
from hotelbot.whatsapp.errors import classify, transport_error
from hotelbot.whatsapp.payloads import (
    MAX_PART_DEPTH,
    REJECTED_PREFIX,
    check_message,
    envelope,
    mark_read_body,
    parse_webhook,
    sign,
    verify_signature,
)

DATA = Path(__file__).parent.parent / "data"
SECRET = b"app-secret-123"
NUMBER = "106540352242922"


def raw(name: str) -> bytes:
    return (DATA / "webhooks" / f"{name}.json").read_bytes()


def doc(name: str) -> dict[str, object]:
    loaded = orjson.loads(raw(name))
    assert isinstance(loaded, dict)
    return loaded


def send(name: str) -> dict[str, object]:
    loaded = orjson.loads((DATA / "sends" / f"{name}.json").read_bytes())
    assert isinstance(loaded, dict)
    return loaded


def value_of(document: dict[str, object]) -> dict[str, object]:
    return document["entry"][0]["changes"][0]["value"]  # type: ignore[index, no-any-return]


def message(kind: str, payload: dict[str, object]) -> InboundMessage:
    return InboundMessage(
        wamid="wamid.x",
        phone_number_id=NUMBER,
        guest_id="16505551234",
        kind=kind,
        payload={"type": kind, **payload},
        sent_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


# --- section 1 examples -------------------------------------------------------------------------


def test_text_example_parses_with_profile_name_and_string_timestamp() -> None:
    parsed = parse_webhook(raw("text"))
    assert parsed.statuses == () and parsed.errors == ()
    (msg,) = parsed.messages
    assert msg.wamid == "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert msg.phone_number_id == NUMBER
    assert msg.guest_id == "16505551234"
    assert msg.kind == "text"
    assert msg.profile_name == "Maria Lopez"
    assert msg.sent_at == datetime.fromtimestamp(1760000000, tz=UTC)
    assert msg.payload == value_of(doc("text"))["messages"][0]  # type: ignore[index]
    assert _event(msg) == TextReceived(text="Hi, can I get extra towels in room 412?")


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("button_reply", OptionChosen(reply_id="hk:towels:confirm", title="Yes, please")),
        (
            "list_reply",
            OptionChosen(reply_id="fb:room_service:breakfast", title="Breakfast in room"),
        ),
        (
            "template_button",
            TemplateButtonPressed(payload="checkout:late_request", text="Late checkout"),
        ),
    ],
)
def test_reply_examples_map_to_events(name: str, event: object) -> None:
    (msg,) = parse_webhook(raw(name)).messages
    assert msg.guest_id == "16505551234"
    assert msg.payload["context"]["from"] == "15550783881"  # type: ignore[index]
    assert _event(msg) == event


def test_sent_status_example() -> None:
    parsed = parse_webhook(raw("status_sent"))
    assert parsed.messages == ()
    (status,) = parsed.statuses
    assert status.wamid == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI4MjZGRDA0OUE2OTQ3RkEyMzcA"
    assert status.status == "sent"
    assert status.recipient_id == "16505551234"
    assert status.at == datetime.fromtimestamp(1760003000, tz=UTC)
    assert status.error_code is None and status.error_title is None
    assert status.payload["biz_opaque_callback_data"] == "job=checkout-reminder:res-88231"
    assert status.callback == "job=checkout-reminder:res-88231"


def test_failed_status_example_carries_error_code() -> None:
    (status,) = parse_webhook(raw("status_failed")).statuses
    assert (status.status, status.error_code) == ("failed", 131047)
    assert (status.error_title, status.callback) == ("Re-engagement message", None)


@pytest.mark.parametrize(("callback", "kept"), [
    ("outbox:42", "outbox:42"),
    ("", None),  # empty: no callback
    ("x" * 512, "x" * 512),  # Meta's limit when sending it (4.1)
])
def test_status_callback_data_is_read(callback: str, kept: str | None) -> None:
    document = doc("status_sent")
    value_of(document)["statuses"][0]["biz_opaque_callback_data"] = callback  # type: ignore[index]
    (status,) = parse_webhook(orjson.dumps(document)).statuses
    assert status.callback == kept


@pytest.mark.parametrize("callback", ["x" * 513, 42, ["outbox:1"]])
def test_a_status_with_a_bad_callback_is_rejected(callback: object) -> None:
    document = doc("status_sent")
    value_of(document)["statuses"][0]["biz_opaque_callback_data"] = callback  # type: ignore[index]
    parsed = parse_webhook(orjson.dumps(document))
    assert parsed.statuses == ()
    (part,) = parsed.rejected
    assert "biz_opaque_callback_data" in part.reason


def test_a_failed_status_without_a_title_or_with_a_long_one() -> None:
    document = doc("status_failed")
    error = value_of(document)["statuses"][0]["errors"][0]  # type: ignore[index]
    del error["title"]
    (status,) = parse_webhook(orjson.dumps(document)).statuses
    assert (status.error_code, status.error_title) == (131047, None)
    error["title"] = "t" * 300
    (status,) = parse_webhook(orjson.dumps(document)).statuses
    assert status.error_title == "t" * 200


def test_system_error_in_value_errors_is_reported() -> None:
    document = doc("status_sent")
    value = value_of(document)
    del value["statuses"]
    value["errors"] = [
        {"code": 130429, "title": "Rate limit hit", "error_data": {"details": "slow down"}}
    ]
    parsed = parse_webhook(orjson.dumps(document))
    (error,) = parsed.errors
    assert (error.code, error.title, error.details) == (130429, "Rate limit hit", "slow down")
    assert error.phone_number_id == NUMBER


# --- batching and identities ------------------------------------------------------------------


def test_every_entry_change_and_message_is_read_in_order() -> None:
    document = doc("text")
    value = value_of(document)
    first = value["messages"][0]  # type: ignore[index]
    second = {**first, "id": "wamid.two", "timestamp": "1760000001"}
    value["messages"] = [first, second]
    other = copy.deepcopy(document["entry"][0])  # type: ignore[index]
    other["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    other["changes"][0]["value"]["messages"] = [{**first, "id": "wamid.three"}]
    status_change = doc("status_sent")["entry"][0]["changes"][0]  # type: ignore[index]
    other["changes"].append(status_change)
    other["changes"].append({"field": "account_update", "value": {"event": "whatever"}})
    document["entry"].append(other)  # type: ignore[attr-defined]
    parsed = parse_webhook(orjson.dumps(document))
    assert [m.wamid for m in parsed.messages] == [first["id"], "wamid.two", "wamid.three"]
    assert [m.phone_number_id for m in parsed.messages] == [NUMBER, NUMBER, "999"]
    assert len(parsed.statuses) == 1


def test_thousand_updates_in_one_post() -> None:
    document = doc("text")
    value = value_of(document)
    template = value["messages"][0]  # type: ignore[index]
    value["messages"] = [{**template, "id": f"wamid.{i}"} for i in range(1000)]
    parsed = parse_webhook(orjson.dumps(document))
    assert len(parsed.messages) == 1000
    assert parsed.messages[-1].wamid == "wamid.999"


def test_contacts_are_matched_to_their_own_messages() -> None:
    document = doc("text")
    value = value_of(document)
    msg = value["messages"][0]  # type: ignore[index]
    value["contacts"] = [
        {"profile": {"name": "Ana"}, "wa_id": "111"},
        {"profile": {"name": "Bob"}, "wa_id": "222"},
    ]
    value["messages"] = [{**msg, "from": "222", "id": "w1"}, {**msg, "from": "111", "id": "w2"}]
    parsed = parse_webhook(orjson.dumps(document))
    assert [(m.guest_id, m.profile_name) for m in parsed.messages] == [
        ("222", "Bob"),
        ("111", "Ana"),
    ]


def test_user_id_only_guest_uses_business_scoped_id() -> None:
    document = doc("text")
    value = value_of(document)
    value["contacts"] = [{"profile": {"name": "Maria"}, "user_id": "US.13491208655302741918"}]
    msg = value["messages"][0]  # type: ignore[index]
    del msg["from"]
    (parsed,) = parse_webhook(orjson.dumps(document)).messages
    assert parsed.guest_id == "US.13491208655302741918"
    assert parsed.profile_name == "Maria"


def test_from_user_id_is_used_when_no_phone_is_given() -> None:
    document = doc("text")
    value = value_of(document)
    value["contacts"] = [{"user_id": "US.1"}, {"user_id": "US.2", "profile": {"name": "Two"}}]
    msg = value["messages"][0]  # type: ignore[index]
    del msg["from"]
    msg["from_user_id"] = "US.2"
    (parsed,) = parse_webhook(orjson.dumps(document)).messages
    assert (parsed.guest_id, parsed.profile_name) == ("US.2", "Two")


def test_phone_wins_over_user_id_when_both_are_given() -> None:
    (msg,) = parse_webhook(raw("text")).messages  # contact carries wa_id and user_id
    assert msg.guest_id == "16505551234"


# --- malformed input ----------------------------------------------------------------------------


def _mutated(change: str) -> bytes:
    document = doc("text")
    value = value_of(document)
    msg = value["messages"][0]  # type: ignore[index]
    if change == "object":
        document["object"] = "page"
    elif change == "entry":
        document["entry"] = {"id": "x"}
    elif change == "changes":
        document["entry"][0]["changes"] = None  # type: ignore[index]
    elif change == "value":
        document["entry"][0]["changes"][0]["value"] = []  # type: ignore[index]
    elif change == "metadata":
        del value["metadata"]
    elif change == "messages":
        value["messages"] = {"id": "x"}
    elif change == "id":
        del msg["id"]
    elif change == "timestamp":
        msg["timestamp"] = "yesterday"
    elif change == "far_future":
        msg["timestamp"] = "999999999999"
    elif change == "sender":
        del msg["from"]
        value["contacts"] = []
    return orjson.dumps(document)


@pytest.mark.parametrize("change", ["object", "entry"])
def test_a_body_that_is_no_webhook_raises_payload_error(change: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_webhook(_mutated(change))
    assert info.value.reason


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("changes", "entry[0]"),
        ("value", "entry[0].changes[0]"),
        ("metadata", "entry[0].changes[0]"),
        ("messages", "entry[0].changes[0]"),
        ("id", "entry[0].changes[0].value.messages[0]"),
        ("timestamp", "entry[0].changes[0].value.messages[0]"),
        ("far_future", "entry[0].changes[0].value.messages[0]"),
        ("sender", "entry[0].changes[0].value.messages[0]"),
    ],
)
def test_a_part_of_unexpected_shape_is_rejected_with_where_and_why(
    change: str, where: str
) -> None:
    parsed = parse_webhook(_mutated(change))
    assert parsed.messages == ()
    (part,) = parsed.rejected
    assert part.where == where and part.reason.startswith(where)
    assert part.preview


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe"])
def test_not_a_webhook_object_raises(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_webhook(body)


def test_a_bad_message_late_in_the_batch_costs_only_itself() -> None:
    document = doc("text")
    value = value_of(document)
    good = value["messages"][0]  # type: ignore[index]
    value["messages"] = [good, {**good, "id": "wamid.second", "timestamp": None}]
    parsed = parse_webhook(orjson.dumps(document))
    assert [m.wamid for m in parsed.messages] == [good["id"]]  # type: ignore[index]
    (part,) = parsed.rejected
    assert "messages[1].timestamp" in part.reason
    assert part.key == "wamid.second"  # its own id: Meta's retry of it is deduplicated


DEEP = "__deep__"


def _nested(depth: int) -> object:
    value: object = "deep"
    for _ in range(depth):
        value = {"k": value}
    return value


def _with_deep(document: object, depth: int) -> bytes:
    """orjson cannot write past ~254 levels, but Meta's peers can: splice the bytes in."""
    deep = b'{"k":' * depth + b'"deep"' + b"}" * depth
    return orjson.dumps(document).replace(f'"{DEEP}"'.encode(), deep)


@pytest.mark.parametrize("depth", [MAX_PART_DEPTH, 255, 1000])
def test_deep_nesting_inside_one_message_rejects_only_that_message(depth: int) -> None:
    document = doc("text")
    value = value_of(document)
    good = value["messages"][0]  # type: ignore[index]
    value["messages"] = [{**good, "id": "wamid.deep", "extra": DEEP}, good]
    parsed = parse_webhook(_with_deep(document, depth))
    assert [m.wamid for m in parsed.messages] == [good["id"]]  # type: ignore[index]
    (part,) = parsed.rejected
    assert part.key == "wamid.deep" and "nested deeper" in part.reason
    assert len(part.preview) <= 600


def test_nesting_within_the_bound_is_accepted() -> None:
    document = doc("text")
    value = value_of(document)
    good = value["messages"][0]  # type: ignore[index]
    value["messages"] = [{**good, "extra": _nested(MAX_PART_DEPTH - 2)}]
    assert len(parse_webhook(orjson.dumps(document)).messages) == 1


@pytest.mark.parametrize("braces", [0, 40, 1000])
@pytest.mark.parametrize(("depth", "accepted"), [(MAX_PART_DEPTH - 1, True),  # + the message
                                                 (MAX_PART_DEPTH, False)])
def test_the_depth_bound_is_exact_whatever_the_brackets_inside_strings(
    braces: int, depth: int, accepted: bool
) -> None:
    # the guard skips its walk only when the body has too few '{'/'[' bytes to hold a deep
    # part; brackets inside strings only make it walk, never change the answer
    document = doc("text")
    value = value_of(document)
    good = value["messages"][0]  # type: ignore[index]
    value["messages"] = [{**good, "extra": _nested(depth), "note": "{[" * braces}]
    parsed = parse_webhook(orjson.dumps(document))
    assert len(parsed.messages) == (1 if accepted else 0)
    assert [("nested deeper" in p.reason) for p in parsed.rejected] == ([] if accepted else [True])


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("from", "919800000001 "),
        ("from", " 919800000001"),
        ("from", "a" * 300),
        ("from", "null"),
        ("from", "+919800000001"),
        ("from", "1234567890123456"),
        ("id", "wamid with space"),
        ("id", "x" * 257),
    ],
)
def test_identifiers_of_the_wrong_shape_are_rejected(field: str, bad: str) -> None:
    document = doc("text")
    msg = value_of(document)["messages"][0]  # type: ignore[index]
    msg[field] = bad
    value_of(document)["contacts"] = []
    parsed = parse_webhook(orjson.dumps(document))
    assert parsed.messages == ()
    (part,) = parsed.rejected
    assert f".{field}: not " in part.reason
    assert part.guest_id == ("" if field == "from" else msg["from"])


def test_a_user_id_of_the_wrong_shape_is_rejected() -> None:
    document = doc("text")
    msg = value_of(document)["messages"][0]  # type: ignore[index]
    del msg["from"]
    msg["from_user_id"] = "not a bsuid"
    value_of(document)["contacts"] = []
    (part,) = parse_webhook(orjson.dumps(document)).rejected
    assert "from_user_id: not a business-scoped user id" in part.reason


def test_a_department_number_of_the_wrong_shape_rejects_its_change() -> None:
    document = doc("text")
    value_of(document)["metadata"]["phone_number_id"] = "12 34"  # type: ignore[index]
    parsed = parse_webhook(orjson.dumps(document))
    assert parsed.messages == ()
    (part,) = parsed.rejected
    assert "metadata.phone_number_id: not 1-20 digits" in part.reason
    assert part.key.startswith(REJECTED_PREFIX)


def test_a_rejected_part_key_is_stable_across_retries_of_the_same_body() -> None:
    raw = _mutated("metadata")
    first, second = parse_webhook(raw).rejected, parse_webhook(raw).rejected
    assert first == second and first[0].key.startswith(REJECTED_PREFIX)
    assert parse_webhook(_mutated("value")).rejected[0].key != first[0].key


def test_a_bad_status_beside_a_message_costs_only_itself() -> None:
    document = doc("text")
    value = value_of(document)
    value["statuses"] = [{"id": "wamid.s", "status": "sent", "timestamp": "1", "recipient_id": "1",
                          "deep": DEEP}]
    parsed = parse_webhook(_with_deep(document, 300))
    assert len(parsed.messages) == 1 and parsed.statuses == ()
    (part,) = parsed.rejected
    assert part.where.endswith("statuses[0]") and part.key.startswith(REJECTED_PREFIX)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["from", "id", "timestamp", "type", "text"]), _json))
def test_any_message_shape_parses_or_is_rejected(fields: dict[str, object]) -> None:
    document = doc("text")
    value_of(document)["messages"] = [fields]
    parsed = parse_webhook(orjson.dumps(document))  # never raises: one part, one verdict
    assert len(parsed.messages) + len(parsed.rejected) == 1
    for msg in parsed.messages:
        assert isinstance(_event(msg), TextReceived | OptionChosen | UnsupportedReceived
                          | NoticeReceived | ChatOpened)


_digit_like = st.text(alphabet=st.sampled_from("0123456789+a .\n\u0663\uff11"), max_size=24)


@settings(max_examples=300, deadline=None)
@given(sender=_digit_like, timestamp=_digit_like, number=_digit_like)
def test_digit_fields_take_exactly_their_documented_shapes(
    sender: str, timestamp: str, number: str
) -> None:
    """from: [0-9]{1,15}, timestamp: [0-9]{1,12}, phone_number_id: [0-9]{1,20} (ASCII digits
    only: not another script's digits, not a trailing newline), as the IDENTIFIERS say."""
    document = doc("text")
    value = value_of(document)
    value["metadata"] = {"phone_number_id": number}
    value["contacts"] = []
    value["messages"] = [{"from": sender, "id": "wamid.A", "timestamp": timestamp, "type": "text",
                          "text": {"body": "hi"}}]
    parsed = parse_webhook(orjson.dumps(document))
    shaped = (re.fullmatch(r"[0-9]{1,15}", sender) and re.fullmatch(r"[0-9]{1,12}", timestamp)
              and re.fullmatch(r"[0-9]{1,20}", number))
    assert len(parsed.messages) == (1 if shaped else 0)
    assert len(parsed.rejected) == (0 if shaped else 1)


@pytest.mark.parametrize(("guest", "field", "value"), [
    ("4915112345678", "to", "+4915112345678"),
    ("+4915112345678", "to", "+4915112345678"),
    ("1" * 20, "to", "+" + "1" * 20),
    ("1" * 21, "recipient", "1" * 21),
    ("US.13491208655302741918", "recipient", "US.13491208655302741918"),
    ("++1", "recipient", "++1"),
    ("+", "recipient", "+"),
    ("\u0663\u0664", "recipient", "\u0663\u0664"),  # Arabic-Indic digits are not a phone number
])
def test_the_envelope_sends_digits_as_a_phone_number_and_the_rest_as_a_user_id(
    guest: str, field: str, value: str
) -> None:
    full = envelope(guest, {"type": "text", "text": {"body": "hi"}})
    assert full[field] == value
    assert ("recipient" if field == "to" else "to") not in full


def test_each_messages_timestamp_is_its_own_after_any_other() -> None:
    """Meta's timestamps of one second share one datetime; each message still gets its own
    second, and a bad timestamp is refused whatever was read before it."""
    def sent_at(timestamp: object) -> datetime | str:
        document = doc("text")
        value_of(document)["messages"][0]["timestamp"] = timestamp  # type: ignore[index]
        parsed = parse_webhook(orjson.dumps(document))
        return parsed.messages[0].sent_at if parsed.messages else parsed.rejected[0].reason
    first, second = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    seconds = [1767225600, "1767225600", "1767225601", "1767225600", 1767225601]
    assert [sent_at(s) for s in seconds] == [first, first, second, first, second]
    assert str(sent_at("1767225600x")).endswith(".timestamp: expected Unix seconds")
    assert str(sent_at("999999999999")).endswith(".timestamp: Unix seconds out of range")
    assert str(sent_at("999999999999")).endswith(".timestamp: Unix seconds out of range")
    assert sent_at("1767225601") == second


_hex_like = st.text(alphabet=st.sampled_from("0123456789abcdefABCDEFg \t\n\u0660"), min_size=60,
                    max_size=68)


@settings(max_examples=500, deadline=None)
@given(prefix=st.sampled_from(["sha256=", "SHA256=", "sha1=", " sha256=", "sha256= ", ""]),
       digits=_hex_like, tail=st.sampled_from(["", " ", "\n", "0"]), real=st.booleans())
def test_a_signature_header_is_read_exactly_as_its_documented_shape(
    prefix: str, digits: str, tail: str, real: bool
) -> None:
    """Verified only when the stripped header fullmatches sha256=[0-9a-fA-F]{64} and the
    digest matches; every other header is refused, whatever whitespace or case it holds."""
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    digest = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if real:  # the right digest, in mixed case
        digits = "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(digest))
    header = prefix + digits + tail
    shaped = re.fullmatch(r"sha256=([0-9a-fA-F]{64})", header.strip())
    expected = shaped is not None and shaped.group(1).lower() == digest
    assert verify_signature(body, header, SECRET) is expected
    assert verify_signature(body, f"sha256={digest}", SECRET)


# --- events ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["image", "audio", "video", "document", "location", "sticker", "contacts"]
)
def test_media_and_other_kinds_are_unsupported(kind: str) -> None:
    assert _event(message(kind, {kind: {"id": "1"}})) == UnsupportedReceived(kind=kind)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("reaction", {"reaction": {"message_id": "wamid.X", "emoji": "👍"}}),
        ("reaction", {"reaction": {"message_id": "wamid.X"}}),  # a reaction removed
        ("system", {"system": {"body": "changed number", "type": "user_changed_number"}}),
        ("revoke", {"revoke": {"original_message_id": "wamid.X"}}),
        ("edit", {"edit": {"original_message_id": "wamid.X"}}),
    ],
)
def test_reactions_deletions_and_system_notices_need_no_answer(
    kind: str, payload: dict[str, object]
) -> None:
    assert _event(message(kind, payload)) == NoticeReceived(kind=kind)


def test_request_welcome_is_the_chat_opened() -> None:
    assert _event(message("request_welcome", {})) == ChatOpened()


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("unsupported", {"errors": [{"code": 131051}]}),
        ("interactive", {"interactive": {"type": "nfm_reply", "nfm_reply": {"id": "x"}}}),
        ("interactive", {"interactive": {"type": "button_reply", "button_reply": {}}}),
        ("text", {"text": {}}),
        ("button", {"button": {}}),
    ],
)
def test_unreadable_payloads_are_unsupported(kind: str, payload: dict[str, object]) -> None:
    assert _event(message(kind, payload)) == UnsupportedReceived(kind=kind)


def test_quick_reply_without_payload_uses_its_label() -> None:
    event = _event(message("button", {"button": {"text": "Late checkout"}}))
    assert event == TemplateButtonPressed(payload="Late checkout", text="Late checkout")


# --- signature (section 2) ---------------------------------------------------------------------


def test_signature_over_raw_bytes_is_accepted() -> None:
    body = raw("text")
    header = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert header == sign(body, SECRET)
    assert verify_signature(body, header, SECRET)
    assert verify_signature(body, header.upper().replace("SHA256=", "sha256="), SECRET)


def test_non_ascii_is_hashed_as_received() -> None:
    body = b'{"name": "Jos\\u00e9"}'  # Meta escapes non-ASCII; re-serializing would differ
    assert verify_signature(body, sign(body, SECRET), SECRET)
    assert not verify_signature(orjson.dumps(orjson.loads(body)), sign(body, SECRET), SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha1=" + "0" * 40, "sha256=" + "0" * 64, "sha256=" + "g" * 64, "abc"],
)
def test_missing_or_forged_signature_is_refused(header: str | None) -> None:
    assert not verify_signature(raw("text"), header, SECRET)


def test_tampered_body_or_other_secret_is_refused() -> None:
    body = raw("text")
    header = sign(body, SECRET)
    assert not verify_signature(body.replace(b"412", b"413"), header, SECRET)
    assert not verify_signature(body, header, b"other-secret")
    assert not verify_signature(body, sign(body, b""), b"")


# --- outgoing bodies ---------------------------------------------------------------------------


def test_envelope_for_phone_and_business_scoped_ids() -> None:
    body = {"type": "text", "text": {"body": "hi"}}
    full = envelope("16505551234", body)
    assert full == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"body": "hi"},
    }
    assert envelope("+16505551234", body)["to"] == "+16505551234"
    scoped = envelope("US.13491208655302741918", body)
    assert scoped["recipient"] == "US.13491208655302741918" and "to" not in scoped
    assert check_message(full) == [] and check_message(scoped) == []


@pytest.mark.parametrize(
    ("guest", "body"),
    [("", {"type": "text"}), (" 1", {"type": "text"}), ("1", {"to": "+2", "type": "text"})],
)
def test_envelope_refuses_bad_input(guest: str, body: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        envelope(guest, body)


def test_mark_read_body_is_valid() -> None:
    assert mark_read_body("wamid.1") == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.1",
    }
    assert check_message(mark_read_body("wamid.1")) == []
    assert check_message({"messaging_product": "whatsapp", "status": "read"}) != []


@pytest.mark.parametrize("name", ["text", "buttons", "list", "template"])
def test_documented_send_examples_are_valid(name: str) -> None:
    assert check_message(send(name)) == []


def _broken(name: str, path: tuple[str | int, ...], value: object) -> dict[str, object]:
    body = send(name)
    target: Any = body  # a test walking into JSON it built itself
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


_DELETE = object()
_ACTION = ("interactive", "action")
_ROW = (*_ACTION, "sections", 0, "rows", 0)
_BUTTON = (*_ACTION, "buttons", 0, "reply")
_ROWS = [{"id": f"r{i}", "title": f"Row {i}"} for i in range(11)]
_PARAM = ("template", "components", 0, "parameters", 0, "text")


@pytest.mark.parametrize(
    ("name", "path", "value", "expected"),
    [
        ("text", ("messaging_product",), "sms", "messaging_product"),
        ("text", ("to",), _DELETE, "to: required"),
        ("text", ("to",), "room 412", "to: expected a phone"),
        ("text", ("text", "body"), "x" * 4097, "text.body: 4097 characters, limit 4096"),
        ("text", ("text", "body"), "", "text.body: must not be empty"),
        ("text", ("type",), "carrier_pigeon", "type: unsupported"),
        ("buttons", (*_ACTION, "buttons"), [], "0 buttons, expected 1-3"),
        ("buttons", (*_BUTTON, "title"), "x" * 21, "reply.title: 21 characters, limit 20"),
        ("buttons", (*_BUTTON, "title"), "Later", "'Later' is not unique"),
        ("buttons", (*_BUTTON, "id"), "i" * 257, "reply.id: 257 characters, limit 256"),
        ("buttons", ("interactive", "body", "text"), "b" * 1025, "body.text: 1025 characters"),
        ("buttons", ("interactive", "header", "text"), "h" * 61, "header.text: 61 characters"),
        ("buttons", ("interactive", "footer", "text"), "f" * 61, "footer.text: 61 characters"),
        ("buttons", ("interactive", "body"), _DELETE, "body.text: required"),
        ("list", (*_ACTION, "button"), "b" * 21, "action.button: 21 characters, limit 20"),
        ("list", (*_ACTION, "sections"), [], "0 sections, expected 1-10"),
        ("list", (*_ACTION, "sections", 0, "rows"), _ROWS, "12 rows in total, expected 1-10"),
        ("list", (*_ROW, "title"), "t" * 25, "title: 25 characters, limit 24"),
        ("list", (*_ROW, "id"), "i" * 201, "id: 201 characters, limit 200"),
        ("list", (*_ROW, "id"), "fb:room_service:club", "is not unique"),
        ("list", (*_ROW, "description"), "d" * 73, "description: 73 characters, limit 72"),
        ("list", (*_ACTION, "sections", 0, "title"), "s" * 25, "title: 25 characters"),
        ("list", (*_ACTION, "sections", 1, "title"), _DELETE, "sections[1].title: required"),
        ("list", ("interactive", "header"), {"type": "image", "image": {"id": "1"}}, "'text'"),
        ("template", ("template", "name"), _DELETE, "template.name: required"),
        ("template", ("template", "language", "code"), _DELETE, "language.code: required"),
        ("template", ("template", "components"), {}, "components: expected a list"),
        ("template", ("template", "components", 0, "type"), "side", "type: expected one of"),
        ("template", ("template", "components", 1, "index"), None, "index: expected"),
        ("template", _PARAM, "two\nlines", "no newlines, tabs"),
        ("template", _PARAM, "a     b", "more than 4 consecutive spaces"),
    ],
)
def test_check_message_flags_each_limit(
    name: str, path: tuple[str | int, ...], value: object, expected: str
) -> None:
    violations = check_message(_broken(name, path, value))
    assert any(expected in v for v in violations), violations


def test_one_section_needs_no_title_and_ten_rows_fit() -> None:
    body = _broken("list", (*_ACTION, "sections"), [{"rows": _ROWS[:10]}])
    assert check_message(body) == []


# --- error classification (section 6) ----------------------------------------------------------


def _error(code: int) -> bytes:
    return orjson.dumps({"error": {"message": f"(#{code}) x", "code": code, "fbtrace_id": "t"}})


@pytest.mark.parametrize(
    ("code", "wait"), [(130429, 1.0), (131056, 1.0), (4, 60.0), (80007, 60.0), (613, 60.0)]
)
def test_rate_limits(code: int, wait: float) -> None:
    error = classify(400, _error(code))
    assert isinstance(error, RateLimited)
    assert (error.code, error.retryable, error.retry_after) == (code, True, wait)


def test_documented_example_error_body() -> None:
    body = (DATA / "graph" / "error_131056.json").read_bytes()
    error = classify(400, body)
    assert isinstance(error, RateLimited) and error.code == 131056
    assert error.details.startswith("Too many messages sent")


@pytest.mark.parametrize("code", [1, 2, 131000, 131016, 133004, 131057])
def test_transient_codes_are_retryable(code: int) -> None:
    error = classify(400, _error(code))
    assert not isinstance(error, RateLimited)
    assert (error.code, error.retryable) == (code, True)


@pytest.mark.parametrize(
    "code",
    [
        *(131047, 131026, 131050, 130403, 132000, 132001, 132016, 132099, 100, 131008, 131009),
        *(0, 190, 10, 200, 299, 368, 131031, 130497, 131048, 131064, 131049, 999999),
    ],
)
def test_permanent_codes_are_not_retried_even_on_5xx(code: int) -> None:
    for status in (400, 403):
        assert classify(status, _error(code)).retryable is False
    if code != 999999:
        assert classify(500, _error(code)).retryable is False


def test_status_only_decides_when_the_body_has_no_code() -> None:
    assert classify(502, b"<html>bad gateway</html>").retryable is True
    assert classify(500, _error(999999)).retryable is True
    assert classify(400, b"").retryable is False
    limited = classify(429, b"", retry_after="7")
    assert isinstance(limited, RateLimited) and limited.retry_after == 7.0
    transient = orjson.dumps({"error": {"code": 123456, "is_transient": True}})
    assert classify(400, transient).retryable is True


def test_transport_errors_are_retryable_code_zero() -> None:
    error = transport_error("timeout")
    assert isinstance(error, GraphAPIError)
    assert (error.status, error.code, error.retryable) == (0, 0, True)


def _event(message: InboundMessage) -> Event:
    """The engine's event for a parsed message (what the inbox computes)."""
    return event_for(message.kind, message.payload)


def test_a_graph_error_carries_metas_title_without_the_code_prefix() -> None:
    body = orjson.dumps({"error": {"message": "(#131026) Message undeliverable", "code": 131026,
                                   "error_data": {"details": "not on WhatsApp"}}})
    error = classify(400, body)
    assert (error.code, error.title, error.details) == (
        131026, "Message undeliverable", "not on WhatsApp")
    assert classify(500, b"not json").title == ""
