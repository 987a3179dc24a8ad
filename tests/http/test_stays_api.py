"""The PMS stays API through the real server (issue 10): tokens, validation, upsert, delete."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hotelbot.store import ScheduledStatus
from tests.fakes.hotel import Hotel, HotelFactory

DEMO_TOKEN = "demo-pms-token-0123456789"
SEASIDE_TOKEN = "seaside-pms-token-9876543210"
PATH = "/api/v1/hotels/demo_hotel/stays/BK-77"
STAY = {"guest_wa_id": "447700900123", "guest_name": "Maria Silva", "room": "412",
        "check_in": "2030-05-01T15:00:00+01:00", "check_out": "2030-05-04T11:00:00+01:00",
        "language": "en"}


@pytest.fixture
async def api(start_hotel: HotelFactory, monkeypatch: pytest.MonkeyPatch) -> Hotel:
    monkeypatch.setenv("HOTELBOT_DEMO_PMS_TOKEN", DEMO_TOKEN)
    monkeypatch.setenv("HOTELBOT_SEASIDE_PMS_TOKEN", SEASIDE_TOKEN)
    return await start_hotel()


async def call(h: Hotel, method: str, path: str = PATH, body: Any = STAY,
               token: str | None = DEMO_TOKEN, raw: bytes | None = None
               ) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else orjson.dumps(body)
    async with h.client.request(method, path, data=data, headers=headers) as response:
        return response.status, orjson.loads(await response.read()), dict(response.headers)


async def test_no_token_or_a_wrong_one_is_401_another_hotels_is_403(api: Hotel) -> None:
    status, body, headers = await call(api, "PUT", token=None)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert (await call(api, "PUT", token="not-a-token"))[0] == 401
    assert (await call(api, "DELETE", token=DEMO_TOKEN + "x"))[0] == 401
    status, body, _ = await call(api, "PUT", token=SEASIDE_TOKEN)
    assert status == 403 and "another hotel" in body["error"]
    assert (await call(api, "PUT", path="/api/v1/hotels/seaside_inn/stays/X1",
                       token=DEMO_TOKEN))[0] == 403
    assert await api.store.stays.get("demo_hotel", "BK-77") is None


async def test_a_body_that_is_not_a_json_object_is_400(api: Hotel) -> None:
    status, body, _ = await call(api, "PUT", raw=b"{not json")
    assert status == 400 and body == {"error": "the body is not JSON", "field": None}
    status, body, _ = await call(api, "PUT", body=[STAY])
    assert status == 400 and body["error"] == "the body must be a JSON object"


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"check_in": "2030-05-01T15:00:00"}, "check_in", "needs a UTC offset"),
    ({"check_out": "next tuesday"}, "check_out", "expected ISO 8601"),
    ({"check_out": "2030-05-01T14:00:00+01:00"}, "check_out", "must be after check_in"),
    ({"room": "penthouse"}, "room", "not a room number of this hotel"),
    ({"guest_wa_id": "12ab"}, "guest_wa_id", "expected a WhatsApp id"),
    ({"language": "pt"}, "language", "expected one of the hotel's languages: en"),
    ({"guest_name": ""}, "guest_name", "expected a non-empty string"),
    ({"vip": True}, "vip", "unknown field"),
    ({"guest_name": None}, "guest_name", "expected a non-empty string"),
], ids=lambda v: str(v)[:30])
async def test_a_wrong_field_is_422_naming_it_and_nothing_is_applied(
    api: Hotel, change: dict[str, Any], field: str, reason: str,
) -> None:
    status, body, _ = await call(api, "PUT", body={**STAY, **change})
    assert status == 422
    assert any(f["field"] == field and f["reason"].startswith(reason) for f in body["fields"])
    assert await api.store.stays.get("demo_hotel", "BK-77") is None
    assert await api.store.scheduled.pending() == []


async def test_a_missing_field_is_422_naming_it(api: Hotel) -> None:
    status, body, _ = await call(api, "PUT", body={"room": "412"})
    assert status == 422
    assert {f["field"] for f in body["fields"] if f["reason"] == "required"} == {
        "guest_wa_id", "guest_name", "check_in", "check_out"}


async def test_put_is_an_idempotent_upsert_that_reschedules_and_delete_cancels(
    api: Hotel,
) -> None:
    status, body, _ = await call(api, "PUT")
    assert (status, body["pending"]) == (201, 6)  # welcome, 3 surveys, reminder, checkout
    status, body, _ = await call(api, "PUT")
    assert (status, body["pending"]) == (200, 6)
    pending = await api.store.scheduled.pending()
    assert len(pending) == 6
    extended = {**STAY, "check_out": "2030-05-05T11:00:00+01:00"}
    assert (await call(api, "PUT", body=extended))[1]["pending"] == 7
    reminder = [r for r in await api.store.scheduled.pending()
                if r.message_type == "checkout_reminder"]
    assert [r.scheduled_at.isoformat() for r in reminder] == ["2030-05-05T08:00:00+00:00"]
    guest = await api.store.guests.load("demo_hotel", "447700900123")
    assert guest is not None and guest.data["room"] == "412" and guest.language == "en"
    status, body, _ = await call(api, "DELETE")
    assert (status, body["state"], body["skipped"]) == (200, "cancelled", 7)
    assert await api.store.scheduled.pending() == []
    skipped = await api.store.scheduled.listing("demo_hotel", ScheduledStatus.SKIPPED, 50)
    assert {r.skip_reason for r in skipped} == {"stay_cancelled", "stay_changed"}
    assert (await call(api, "DELETE", path=PATH.replace("BK-77", "NOPE")))[0] == 404
