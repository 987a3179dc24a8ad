"""hotelbot.store: the durable SQLite store (WAL, migrations, group-commit writer).

Other packages import only these names.
"""

from hotelbot.store.records import (
    DeliveryStatus,
    GuestRecord,
    InboundMessage,
    InboundState,
    OutboundMessage,
    OutboundState,
    Priority,
    RecordedWebhook,
    RejectedPart,
    RequestRecord,
    RequestStatus,
    ScheduledMessage,
    StepCommit,
)
from hotelbot.store.sqlite import Store, open_store
from hotelbot.store.writer import StoreStatistics

__all__ = [
    "DeliveryStatus",
    "GuestRecord",
    "InboundMessage",
    "InboundState",
    "OutboundMessage",
    "OutboundState",
    "Priority",
    "RecordedWebhook",
    "RejectedPart",
    "RequestRecord",
    "RequestStatus",
    "ScheduledMessage",
    "StepCommit",
    "Store",
    "StoreStatistics",
    "open_store",
]
