"""The PMS stays API: PUT and DELETE /api/v1/hotels/{hotel_id}/stays/{booking_ref} (issue 10).

Owns: authentication (a bearer token per hotel, from the environment variable its hotel file
names in `pms_token_env`, compared in constant time), reading the JSON body, and the HTTP
answers; validation and applying a stay are the scheduler's (scheduler/stays.py). Must never
log a token, a body or a full phone number, never let one hotel's token touch another hotel,
and never apply half a stay (the scheduler's transaction is all or nothing).

    PUT     200 updated / 201 created  {"hotel_id", "booking_ref", "state", "pending"}
    DELETE  200 {"hotel_id", "booking_ref", "state": "cancelled", "skipped"}; 404 no stay
    401     no bearer token, or one that is no hotel's  (WWW-Authenticate: Bearer)
    403     another hotel's token
    400     the body is not a JSON object               {"error", "field": null}
    422     a field is missing or wrong                 {"error", "fields": [{field, reason}]}
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson
import structlog
from aiohttp import web

from hotelbot.clock import Clock
from hotelbot.flows import Hotels
from hotelbot.scheduler import SchedulerActor, delete_stay, parse_stay, put_stay
from hotelbot.store import Store
from hotelbot.typedefs import HotelId

__all__ = ["STAYS", "StaysApi", "add_stays_routes"]

log = structlog.get_logger(__name__)
MAX_BODY = 16 * 1024  # a stay is a few hundred bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StaysApi:
    scheduler: SchedulerActor
    store: Store
    hotels: Callable[[], Hotels]
    clock: Clock
    environ: Mapping[str, str]  # where the hotels' PMS tokens are

    def authorize(self, request: web.Request, hotel_id: str) -> web.Response | None:
        """None when the request carries `hotel_id`'s token; else the 401 or 403."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        given = token.strip().encode()
        owner = None
        for hotel in self.hotels().hotels.values():
            expected = self.environ.get(hotel.pms_token_env, "") if hotel.pms_token_env else ""
            # compare_digest with every hotel: the time does not tell which one matched
            if expected and hmac.compare_digest(given, expected.encode()):
                owner = hotel.hotel_id
        if owner is None:
            return _unauthorized("the token is not valid")
        if owner != hotel_id:
            log.warning("stays_forbidden", token_hotel=owner, hotel=hotel_id)
            return _json({"error": "this token belongs to another hotel"}, 403)
        return None


STAYS = web.AppKey("stays", StaysApi)
_PATH = "/api/v1/hotels/{hotel_id}/stays/{booking_ref}"


def add_stays_routes(app: web.Application) -> None:
    app.router.add_put(_PATH, _put)
    app.router.add_delete(_PATH, _delete)


async def _put(request: web.Request) -> web.Response:
    api = request.app[STAYS]
    hotel_id, ref = request.match_info["hotel_id"], request.match_info["booking_ref"]
    refused = api.authorize(request, hotel_id)
    if refused is not None:
        return refused
    hotel = api.hotels().hotels[HotelId(hotel_id)]
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    parsed = parse_stay(hotel, ref, body)
    if isinstance(parsed, list):
        fields = [{"field": f.field, "reason": f.reason} for f in parsed]
        return _json({"error": "invalid stay", "fields": fields}, 422)
    existed = await api.store.stays.get(hotel_id, ref) is not None
    applied = await put_stay(api.scheduler, api.store, hotel, parsed, api.clock.now())
    log.info("stay_put", hotel=hotel_id, booking_ref=ref, created=not existed,
             pending=len(applied.open_rows), skipped=len(applied.skipped_ids))
    return _json({"hotel_id": hotel_id, "booking_ref": ref, "state": "booked",
                  "pending": len(applied.open_rows)}, 200 if existed else 201)


async def _delete(request: web.Request) -> web.Response:
    api = request.app[STAYS]
    hotel_id, ref = request.match_info["hotel_id"], request.match_info["booking_ref"]
    refused = api.authorize(request, hotel_id)
    if refused is not None:
        return refused
    applied = await delete_stay(api.scheduler, api.store, hotel_id, ref, api.clock.now())
    if applied is None:
        return _json({"error": "no such stay"}, 404)
    log.info("stay_cancelled", hotel=hotel_id, booking_ref=ref,
             skipped=len(applied.skipped_ids))
    return _json({"hotel_id": hotel_id, "booking_ref": ref, "state": "cancelled",
                  "skipped": len(applied.skipped_ids)}, 200)


async def _body(request: web.Request) -> dict[str, object] | web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _json({"error": f"the body is over {MAX_BODY} bytes", "field": None}, 413)
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return _json({"error": f"the body is over {MAX_BODY} bytes", "field": None}, 413)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _json({"error": "the body is not JSON", "field": None}, 400)
    if not isinstance(body, dict):
        return _json({"error": "the body must be a JSON object", "field": None}, 400)
    return body


def _unauthorized(reason: str) -> web.Response:
    response = _json({"error": reason}, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="hotelbot"'
    return response


def _json(data: object, status: int) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status,
                        content_type="application/json")
