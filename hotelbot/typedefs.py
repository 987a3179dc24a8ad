"""Typed ids shared by every package.

Owns: the NewType ids and small aliases. Must never import anything from hotelbot.
"""

from __future__ import annotations

from typing import NewType

HotelId = NewType("HotelId", str)
Dept = NewType("Dept", str)
GuestId = NewType("GuestId", str)  # the guest's WhatsApp identity: a wa_id or a user_id
NumberId = NewType("NumberId", str)  # a department's phone_number_id
FlowId = NewType("FlowId", str)
StepId = NewType("StepId", str)
Lang = NewType("Lang", str)

JSONScalar = str | int | float | bool | None
