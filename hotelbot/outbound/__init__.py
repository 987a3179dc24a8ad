"""hotelbot.outbound: everything hotelbot sends goes out through here.

The sender (sender.py, `open_sender`: outbox recovery at start), the pacing rules
(pacing.py) and the 24-hour window rule (window.py), the last two pure. Other packages import
only the names below.
"""

from hotelbot.outbound.pacing import NumberPacer, PacingPolicy, PacingStatistics
from hotelbot.outbound.sender import DirectSender, SenderStatistics, Transport, open_sender
from hotelbot.outbound.window import Route, closes_at, route, route_after_131047

__all__ = [
    "DirectSender",
    "NumberPacer",
    "PacingPolicy",
    "PacingStatistics",
    "Route",
    "SenderStatistics",
    "Transport",
    "closes_at",
    "open_sender",
    "route",
    "route_after_131047",
]
