"""Logging: redaction of phones, bodies and secrets; the configured JSON and console chains."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pytest
import structlog
from structlog.testing import capture_logs

from hotelbot.errors import ConfigError
from hotelbot.log import configure_logging, debug_enabled, mask_guest, redact

GUEST = "34612345678"


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def binary_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8")


def json_lines(stream: io.TextIOWrapper) -> list[dict[str, object]]:
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return [orjson.loads(line) for line in raw.splitlines()]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("34612345678", "*******5678"),
        ("+34612345678", "********5678"),
        (34612345678, "*******5678"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_keeps_only_the_last_four_characters(value: object, expected: str):
    assert mask_guest(value) == expected


def test_admin_replies_mask_by_the_same_rule():
    from hotelbot.admin.commands import mask_guest as admin_mask

    assert admin_mask is mask_guest


@pytest.mark.parametrize(
    "key", ["phone", "guest", "guest_id", "wa_id", "to", "from", "recipient_id", "guest_phone",
            "display_phone_number", "reply_to"],
)
def test_phone_like_keys_are_masked(key: str):
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().info("inbound_received", **{key: GUEST})
    assert logs[0][key] == "*******5678"


@pytest.mark.parametrize(
    "key", ["body", "text", "payload", "access_token", "verify_token", "app_secret",
            "Authorization"],
)
def test_bodies_and_secrets_are_dropped(key: str):
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().info("send_failed", status=500, **{key: "hunter2"})
    assert key not in logs[0]
    assert logs[0]["status"] == 500
    assert "hunter2" not in str(logs[0])


def test_the_department_number_id_and_the_event_name_stay_readable():
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().info("text_sent", phone_number_id="106540352242922", count=3)
    assert logs[0]["event"] == "text_sent"
    assert logs[0]["phone_number_id"] == "106540352242922"
    assert logs[0]["count"] == 3


def test_nested_values_are_redacted_too():
    with capture_logs(processors=[redact]) as logs:
        structlog.get_logger().info(
            "graph_request",
            request={"to": GUEST, "text": {"body": "room 12"}, "type": "text"},
            recipients=[{"wa_id": GUEST}],
            guests=[GUEST, "34699990000"],
        )
    entry = logs[0]
    assert entry["request"] == {"to": "*******5678", "type": "text"}
    assert entry["recipients"] == [{"wa_id": "*******5678"}]
    assert entry["guests"] == ["*******5678", "*******0000"]
    assert "room 12" not in str(entry)


def test_configured_json_chain_renders_redacted_orjson_lines():
    stream = binary_stream()
    configure_logging(json=True, level="info", stream=stream)
    log = structlog.get_logger("hotelbot.test")
    with structlog.contextvars.bound_contextvars(wamid="wamid.ABC", guest=GUEST):
        log.info("inbound_received", body="I want towels", token="EAAG-secret", to=GUEST)
    log.debug("not_shown")
    (line,) = json_lines(stream)
    assert line["event"] == "inbound_received"
    assert line["level"] == "info"
    assert line["wamid"] == "wamid.ABC"
    assert line["guest"] == "*******5678"
    assert line["to"] == "*******5678"
    assert "body" not in line and "token" not in line
    timestamp = str(line["timestamp"])
    assert timestamp.startswith("20") and timestamp.endswith("Z")
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    assert b"towels" not in raw and b"EAAG" not in raw and GUEST.encode() not in raw


def test_json_tracebacks_are_structured_and_show_no_locals():
    stream = binary_stream()
    configure_logging(json=True, stream=stream)
    log = structlog.get_logger()

    def fail(access_token: str) -> None:
        raise RuntimeError("graph down")

    try:
        fail("EAAG-very-secret")
    except RuntimeError:
        log.exception("send_failed")
    (line,) = json_lines(stream)
    assert line["level"] == "error"
    exception = line["exception"]
    assert isinstance(exception, list)
    assert exception[0]["exc_type"] == "RuntimeError"
    assert b"EAAG-very-secret" not in stream.buffer.getvalue()  # type: ignore[attr-defined]


def test_level_filters_lower_levels():
    stream = binary_stream()
    configure_logging(json=True, level="WARNING", stream=stream)
    log = structlog.get_logger()
    log.info("hidden")
    log.warning("shown")
    assert [line["event"] for line in json_lines(stream)] == ["shown"]


def test_console_chain_on_a_text_stream_is_redacted():
    stream = io.StringIO()
    configure_logging(json=False, stream=stream)
    structlog.get_logger().info("inbound_received", guest=GUEST, text="my room is 12")
    out = stream.getvalue()
    assert "inbound_received" in out
    assert "*******5678" in out
    assert GUEST not in out and "my room" not in out


def test_json_is_chosen_when_the_stream_is_not_a_tty():
    stream = binary_stream()
    configure_logging(stream=stream)
    structlog.get_logger().info("started")
    assert json_lines(stream)[0]["event"] == "started"


def test_unknown_level_is_a_config_error():
    with pytest.raises(ConfigError):
        configure_logging(level="loud", stream=binary_stream())


def test_throttle_allows_one_line_per_key_per_period_and_counts_the_rest():
    from hotelbot.log import Throttle

    throttle = Throttle(period=60.0)
    assert throttle.allow("disconnect 10.0.0.1", 0.0) == 0
    assert throttle.allow("disconnect 10.0.0.1", 1.0) is None
    assert throttle.allow("disconnect 10.0.0.1", 59.0) is None
    assert throttle.allow("disconnect 10.0.0.2", 2.0) == 0  # another address: its own line
    assert throttle.allow("disconnect 10.0.0.1", 61.0) == 2  # two were dropped meanwhile
    assert throttle.allow("disconnect 10.0.0.1", 62.0) is None


def test_throttle_forgets_old_keys_past_its_bound():
    from hotelbot.log import Throttle

    throttle = Throttle(period=60.0, max_keys=8)
    for n in range(100):
        throttle.allow(f"k{n}", 0.0)
    assert len(throttle._last) <= 8
    assert throttle.allow("k99", 1.0) is None  # the newest are kept


# info last: the level the tests after this file run at, as before it
@pytest.mark.parametrize(("level", "enabled"), [("warning", False), ("debug", True),
                                                ("DEBUG", True), ("info", False)])
def test_debug_enabled_follows_the_configured_level(level: str, enabled: bool) -> None:
    stream = binary_stream()
    configure_logging(json=True, level=level, stream=stream)
    assert debug_enabled() is enabled
    structlog.get_logger("hotelbot.test").debug("probe")
    assert bool(json_lines(stream)) is enabled  # the check agrees with structlog's filter
