"""hotelbot.scheduler: sending what the conversations and the schedule produce.

Other packages import only the names below.
"""

from hotelbot.scheduler.sender import DirectSender, SenderStatistics

__all__ = ["DirectSender", "SenderStatistics"]
