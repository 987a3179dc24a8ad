"""hotelbot.outbound: everything hotelbot sends goes out through here.

The pacer (pacer.py, `open_pacer`: one task per sending number, fed by the outbox; recovery at
start), its pacing rules (pacing.py) and the 24-hour window rule (window.py), the last two
pure. Other packages import only the names below.
"""

from hotelbot.outbound.pacer import (
    Pacer,
    PacerSettings,
    PacerStatistics,
    Transport,
    open_pacer,
)
from hotelbot.outbound.pacing import NumberPacer, PacingPolicy, PacingStatistics
from hotelbot.outbound.window import Route, closes_at, route, route_after_131047

__all__ = [
    "NumberPacer",
    "Pacer",
    "PacerSettings",
    "PacerStatistics",
    "PacingPolicy",
    "PacingStatistics",
    "Route",
    "Transport",
    "closes_at",
    "open_pacer",
    "route",
    "route_after_131047",
]
