"""hotelbot.scheduler: scheduled messages, kept until they are due (issue 10).

The timing wheel (wheel.py, pure: O(1) add and cancel, wakes only for non-empty slots, an
essay on the algorithm in its header); the triggers (triggers.py, pure: a stay's plan, quiet
hours, DST, what a due row becomes); a batch of due rows decided (firing.py); the scheduler
actor (actor.py: the wheel's window of SQLite rows, firing through the pacer, its API);
stays (stays.py: a stay's validation and re-planning); broadcasts (broadcast.py). Other
packages import only the names below.
"""

from hotelbot.scheduler.actor import (
    SchedulerActor,
    SchedulerObserver,
    SchedulerSettings,
    SchedulerStatistics,
    open_scheduler,
)
from hotelbot.scheduler.broadcast import BroadcastError, BroadcastResult, Segment, broadcast
from hotelbot.scheduler.stays import (
    FIELDS,
    FieldError,
    delete_stay,
    parse_stay,
    put_stay,
    valid_booking_ref,
)
from hotelbot.scheduler.triggers import CHECKOUT, Due, after_quiet, local_moment, stay_plan
from hotelbot.scheduler.wheel import TimingWheel, WheelStatistics

__all__ = [
    "CHECKOUT",
    "FIELDS",
    "BroadcastError",
    "BroadcastResult",
    "Due",
    "FieldError",
    "SchedulerActor",
    "SchedulerObserver",
    "SchedulerSettings",
    "SchedulerStatistics",
    "Segment",
    "TimingWheel",
    "WheelStatistics",
    "after_quiet",
    "broadcast",
    "delete_stay",
    "local_moment",
    "open_scheduler",
    "parse_stay",
    "put_stay",
    "stay_plan",
    "valid_booking_ref",
]
