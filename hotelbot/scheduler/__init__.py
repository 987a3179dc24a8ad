"""hotelbot.scheduler: scheduled messages, kept until they are due.

The timing wheel (wheel.py, pure: O(1) add and cancel, wakes only for non-empty slots, an
essay on the algorithm in its header). Other packages import only the names below.
"""

from hotelbot.scheduler.wheel import TimingWheel, WheelStatistics

__all__ = ["TimingWheel", "WheelStatistics"]
