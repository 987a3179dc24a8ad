"""hotelbot.store: the durable SQLite store (WAL, migrations, group-commit writer).

`open_store` yields a `Store` with one repository per table: `store.inbound`,
`store.conversations`, `store.guests`, `store.outbox`, `store.requests`, `store.statuses`,
`store.scheduled`, `store.windows`, `store.stays`, `store.opt_outs`. Each is typed by its
Protocol (`InboundRepository`, ...): the seam where a PostgreSQL implementation can stand
beside the SQLite one. Other packages import only these names.
"""

from hotelbot.store.conversations import ConversationRepository
from hotelbot.store.guests import GuestRepository
from hotelbot.store.inbound import InboundRepository
from hotelbot.store.optouts import OptOutRepository
from hotelbot.store.outbox import OutboxRepository
from hotelbot.store.records import (
    REJECTED_PREFIX,
    DeliveryStatus,
    GuestRecord,
    InboundMessage,
    InboundRow,
    InboundState,
    OutboundMessage,
    OutboundRow,
    OutboundState,
    Priority,
    RecordedWebhook,
    RejectedPart,
    RequestRecord,
    RequestStatus,
    ScheduledKind,
    ScheduledMessage,
    ScheduledStatus,
    StayRecord,
    StayState,
    StepCommit,
    outbox_callback,
)
from hotelbot.store.requests import RequestRepository
from hotelbot.store.scheduled import FireContext, Fired, ScheduledRepository
from hotelbot.store.schema import ConnectionSettings
from hotelbot.store.sqlite import Store, open_store
from hotelbot.store.statuses import StatusRepository
from hotelbot.store.stays import STAY_CANCELLED, STAY_CHANGED, StayApplied, StayRepository
from hotelbot.store.windows import WindowRepository
from hotelbot.store.writer import StoreStatistics

__all__ = [
    "REJECTED_PREFIX",
    "STAY_CANCELLED",
    "STAY_CHANGED",
    "ConnectionSettings",
    "ConversationRepository",
    "DeliveryStatus",
    "FireContext",
    "Fired",
    "GuestRecord",
    "GuestRepository",
    "InboundMessage",
    "InboundRepository",
    "InboundRow",
    "InboundState",
    "OptOutRepository",
    "OutboundMessage",
    "OutboundRow",
    "OutboundState",
    "OutboxRepository",
    "Priority",
    "RecordedWebhook",
    "RejectedPart",
    "RequestRecord",
    "RequestRepository",
    "RequestStatus",
    "ScheduledKind",
    "ScheduledMessage",
    "ScheduledRepository",
    "ScheduledStatus",
    "StatusRepository",
    "StayApplied",
    "StayRecord",
    "StayRepository",
    "StayState",
    "StepCommit",
    "Store",
    "StoreStatistics",
    "WindowRepository",
    "open_store",
    "outbox_callback",
]
