"""The department numbers (phone_number_id) of the tests' hotels (tests/data/config/hotels/)."""

from __future__ import annotations

FRONT_DESK = "100000000000001"  # demo_hotel
ROOM_SERVICE = "100000000000002"
HOUSEKEEPING = "100000000000003"
SEASIDE_FRONT_DESK = "200000000000001"  # seaside_inn
SEASIDE_ROOM_SERVICE = "200000000000002"
