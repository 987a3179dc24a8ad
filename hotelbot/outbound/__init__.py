"""hotelbot.outbound: everything hotelbot sends goes out through here.

The pacing rules (pacing.py) and the 24-hour window rule (window.py) are pure; other
packages import only the names below.
"""

from hotelbot.outbound.pacing import NumberPacer, PacingPolicy, PacingStatistics
from hotelbot.outbound.window import Route, closes_at, route, route_after_131047

__all__ = [
    "NumberPacer",
    "PacingPolicy",
    "PacingStatistics",
    "Route",
    "closes_at",
    "route",
    "route_after_131047",
]
