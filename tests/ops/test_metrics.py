"""GET /metrics: on its own listener, counting the real traffic that went through the webhook."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotelbot.app import CORE, METRICS_SITE
from hotelbot.metrics import Metrics
from hotelbot.store import (
    DeliveryStatus,
    InboundMessage,
    RecordedWebhook,
    ScheduledMessage,
    ScheduledStatus,
)
from hotelbot.web import WebhookMeter
from hotelbot.whatsapp.payloads import sign
from tests.fakes.clock import FakeClock
from tests.fakes.hotel import APP_SECRET, Hotel, HotelFactory, text_item, webhook_post
from tests.numbers import FRONT_DESK

GUEST = "34600111222"
CHECK_IN = ["Hello", "1", "Ana Lopez", "AB1234", "around 3pm", "skip", "yes"]


async def scrape(hotel: Hotel) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the hotel's /metrics, by (name, sorted labels)."""
    port = hotel.app[METRICS_SITE].port
    timeout = aiohttp.ClientTimeout(total=10)
    async with (aiohttp.ClientSession(timeout=timeout) as http,
                http.get(f"http://127.0.0.1:{port}/metrics") as response):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_a_check_in_through_the_webhook(hotel: Hotel) -> None:
    for text in CHECK_IN:
        await hotel.say(FRONT_DESK, GUEST, text)
    raw = webhook_post(FRONT_DESK, GUEST, [text_item(GUEST, "menu", wamid="wamid.DUP1")])
    assert await hotel.post(raw) == 200
    assert await hotel.post(raw) == 200  # Meta's retry: acknowledged, not counted again
    assert await hotel.post(raw, signature="sha256=00") == 401
    await hotel.settle()

    samples = await scrape(hotel)
    steps = len(CHECK_IN) + 1
    assert value(samples, "hotelbot_inbound_messages_total", hotel="demo_hotel",
                 type="text") == steps
    assert sum(v for (name, labels), v in samples.items()
               if name == "hotelbot_engine_steps_total") == steps
    assert value(samples, "hotelbot_sends_total", result="sent", code="0") == len(
        hotel.fake.sent_to(GUEST))
    assert value(samples, "hotelbot_webhook_seconds_count", code="200") == steps + 1
    assert value(samples, "hotelbot_webhook_seconds_count", code="401") == 1
    assert value(samples, "hotelbot_store_commit_seconds_count") >= steps
    assert value(samples, "hotelbot_outbound_rows", state="pending") == 0
    assert value(samples, "hotelbot_outbound_rows", state="sending") == 0
    assert value(samples, "hotelbot_pacer_queue_depth") == 0
    assert value(samples, "hotelbot_actors_active") == 1
    assert value(samples, "hotelbot_cooloffs_total", hotel="demo_hotel", flow="check_in") == 0


async def test_refused_posts_are_timed_by_their_status(hotel: Hotel) -> None:
    bomb = gzip.compress(b"{}")
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(bomb, APP_SECRET.encode())}
    async with hotel.client.post("/webhook", data=bomb, headers=headers) as response:
        assert response.status == 415
    assert await hotel.post(b"{" + b" " * (4 * 1024 * 1024) + b"}") == 413  # raised by read()
    assert await hotel.post(b"{not json") == 400
    samples = await scrape(hotel)
    for code in ("415", "413", "400"):
        assert value(samples, "hotelbot_webhook_seconds_count", code=code) == 1, code
    assert value(samples, "hotelbot_webhook_seconds_count", code="200") == 0


def test_the_webhook_meter_counts_each_event_on_the_series_labels_would_give() -> None:
    metrics = Metrics()
    meter = WebhookMeter(metrics, lambda number: {"100": "demo_hotel"}.get(number, ""))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    texts = tuple(InboundMessage(wamid=f"wamid.{i}", phone_number_id="100", guest_id=GUEST,
                                 kind="text", payload={}, sent_at=at) for i in range(3))
    read = DeliveryStatus(wamid="wamid.X", status="read", at=at, recipient_id=GUEST)
    sample = metrics.registry.get_sample_value
    assert sample("hotelbot_inbound_messages_total", {"hotel": "demo_hotel", "type": "text"}
                  ) is None  # no series before its first event
    for _ in range(2):
        meter.recorded(RecordedWebhook(fresh=texts, parked=(), duplicates=0), [read])
        meter.answered(200, 0.002)
    assert sample("hotelbot_inbound_messages_total",
                  {"hotel": "demo_hotel", "type": "text"}) == 6
    assert sample("hotelbot_delivery_statuses_total", {"status": "read"}) == 2
    assert sample("hotelbot_webhook_seconds_count", {"code": "200"}) == 2
    assert sample("hotelbot_webhook_seconds_bucket", {"code": "200", "le": "0.0025"}) == 2
    assert sample("hotelbot_webhook_seconds_bucket", {"code": "200", "le": "0.001"}) == 0


async def test_a_cooloff_is_counted_once(hotel: Hotel) -> None:
    for text in ["Hello", "1", *["x"] * 5]:  # a one-letter name is refused five times
        await hotel.say(FRONT_DESK, GUEST, text)
    await hotel.say(FRONT_DESK, GUEST, "still here")  # silenced, not a step of any flow
    samples = await scrape(hotel)
    assert value(samples, "hotelbot_cooloffs_total", hotel="demo_hotel", flow="check_in") == 1


async def test_each_server_has_its_own_registry(
    start_hotel: HotelFactory, tmp_path: Path
) -> None:
    first, second = await start_hotel(), await start_hotel(data_dir=tmp_path / "second")
    await first.say(FRONT_DESK, GUEST, "Hello")
    one, two = await scrape(first), await scrape(second)
    assert value(one, "hotelbot_inbound_messages_total", hotel="demo_hotel", type="text") == 1
    assert value(two, "hotelbot_inbound_messages_total", hotel="demo_hotel", type="text") == 0
    assert first.app[CORE].metrics is not second.app[CORE].metrics


async def test_metrics_are_not_served_on_the_webhook_port(hotel: Hotel) -> None:
    async with hotel.client.get("/metrics") as response:
        assert response.status == 404


@pytest.mark.parametrize("port", ["off"])
async def test_the_metrics_listener_can_be_turned_off(
    start_hotel: HotelFactory, port: str
) -> None:
    from hotelbot.settings import Settings

    settings = Settings.from_env({"HOTELBOT_METRICS_PORT": port}, require_secrets=False)
    hotel = await start_hotel(metrics_port=settings.metrics_port)
    assert METRICS_SITE not in hotel.app



async def test_the_scheduler_reports_its_pending_rows_and_how_late_they_fired(
        start_hotel: HotelFactory) -> None:
    clock = FakeClock()
    hotel = await start_hotel(clock=clock)
    due = clock.now() + timedelta(seconds=60)
    [id_] = await hotel.core.scheduler.insert([ScheduledMessage(
        hotel_id="demo_hotel", phone_number_id=FRONT_DESK, guest_id=GUEST,
        message_type="feedback_request", scheduled_at=due)])
    await hotel.core.scheduler.wait_idle()
    before = await scrape(hotel)
    assert value(before, "hotelbot_scheduler_pending") == 1
    assert value(before, "hotelbot_scheduler_lateness_seconds_count") == 0

    clock.jump(60.3)  # the wheel fires it 0.3 s late (the fake clock moves only when told)
    await hotel.core.scheduler.wait_idle()
    await hotel.settle()
    row = await hotel.store.scheduled.get(id_)
    assert row is not None and row.status is not ScheduledStatus.PENDING
    after = await scrape(hotel)
    assert value(after, "hotelbot_scheduler_pending") == 0
    assert value(after, "hotelbot_scheduler_lateness_seconds_count") == 1
    assert value(after, "hotelbot_scheduler_lateness_seconds_bucket", le="0.1") == 0
    assert value(after, "hotelbot_scheduler_lateness_seconds_bucket", le="0.5") == 1
    assert 0.29 < value(after, "hotelbot_scheduler_lateness_seconds_sum") < 0.31
