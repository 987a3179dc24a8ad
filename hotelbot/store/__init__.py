"""hotelbot.store: the durable SQLite store (WAL, migrations, group-commit writer).

`open_store` yields a `Store` with one repository per table: `store.inbound`,
`store.conversations`, `store.guests`, `store.outbox`, `store.requests`, `store.statuses`,
`store.scheduled`, `store.windows`, `store.stays`, `store.opt_outs`. Each is typed by its
Protocol (`InboundRepository`, ...): the seam where a PostgreSQL implementation can stand
beside the SQLite one. Other packages import only these names.
"""

from hotelbot.store.backup import (
    BackupInfo,
    backup_database,
    dated_backup_name,
    prune_backups,
    restore_database,
)
from hotelbot.store.codec import InboundParams
from hotelbot.store.conversations import ConversationRepository
from hotelbot.store.funnel import FunnelCount, FunnelKey, FunnelRepository
from hotelbot.store.guestdata import (
    GUEST_COLUMNS,
    GUEST_TABLES,
    ForgetReport,
    GuestDataRepository,
    GuestTable,
)
from hotelbot.store.guests import GuestRepository
from hotelbot.store.handoffs import Handoff, HandoffRepository
from hotelbot.store.history import History, HistoryRepository
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
    RecordedStep,
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
from hotelbot.store.requests import (
    TRANSITIONS,
    RequestRepository,
    TransitionRefused,
    check_transition,
)
from hotelbot.store.retention import Cutoffs, PurgeReport
from hotelbot.store.scheduled import FireContext, Fired, ScheduledRepository
from hotelbot.store.schema import ConnectionSettings
from hotelbot.store.sqlite import Store, open_store
from hotelbot.store.staff import StaffRecord, StaffRepository, StaffRole
from hotelbot.store.statuses import StatusRepository
from hotelbot.store.stays import STAY_CANCELLED, STAY_CHANGED, StayApplied, StayRepository
from hotelbot.store.windows import WindowRepository
from hotelbot.store.writer import StoreStatistics

__all__ = [
    "GUEST_COLUMNS",
    "GUEST_TABLES",
    "REJECTED_PREFIX",
    "STAY_CANCELLED",
    "STAY_CHANGED",
    "TRANSITIONS",
    "BackupInfo",
    "ConnectionSettings",
    "ConversationRepository",
    "Cutoffs",
    "DeliveryStatus",
    "FireContext",
    "Fired",
    "ForgetReport",
    "FunnelCount",
    "FunnelKey",
    "FunnelRepository",
    "GuestDataRepository",
    "GuestRecord",
    "GuestRepository",
    "GuestTable",
    "Handoff",
    "HandoffRepository",
    "History",
    "HistoryRepository",
    "InboundMessage",
    "InboundParams",
    "InboundRepository",
    "InboundRow",
    "InboundState",
    "OptOutRepository",
    "OutboundMessage",
    "OutboundRow",
    "OutboundState",
    "OutboxRepository",
    "Priority",
    "PurgeReport",
    "RecordedStep",
    "RecordedWebhook",
    "RejectedPart",
    "RequestRecord",
    "RequestRepository",
    "RequestStatus",
    "ScheduledKind",
    "ScheduledMessage",
    "ScheduledRepository",
    "ScheduledStatus",
    "StaffRecord",
    "StaffRepository",
    "StaffRole",
    "StatusRepository",
    "StayApplied",
    "StayRecord",
    "StayRepository",
    "StayState",
    "StepCommit",
    "Store",
    "StoreStatistics",
    "TransitionRefused",
    "WindowRepository",
    "backup_database",
    "check_transition",
    "dated_backup_name",
    "open_store",
    "outbox_callback",
    "prune_backups",
    "restore_database",
]
