"""hotelbot.actors: the actor base, the supervisor and (beside them) the conversation actors.

Other packages import only the names in `__all__`.
"""

from hotelbot.actors.base import (
    ACTOR_TASK_PREFIX,
    Actor,
    ActorRef,
    ActorStatistics,
    FailureHook,
    live_actors,
)
from hotelbot.actors.conversation import (
    ConversationActor,
    ConversationDeps,
    StepObserver,
    UnlockStatus,
)
from hotelbot.actors.guests import GuestBook
from hotelbot.actors.holds import Holds
from hotelbot.actors.inbox import Inbox, InboxSettings, InboxStatistics, open_inbox
from hotelbot.actors.mailbox import Mailbox
from hotelbot.actors.progress import FunnelRecorder, open_funnel_recorder
from hotelbot.actors.retention import cutoffs_of, open_retention, purge_all
from hotelbot.actors.router import (
    ActiveConversation,
    Router,
    RouterSettings,
    RouterStatistics,
    open_router,
)
from hotelbot.actors.supervisor import (
    DecisionHook,
    Supervisor,
    SupervisorDecision,
    SupervisorStatistics,
)

__all__ = [
    "ACTOR_TASK_PREFIX",
    "ActiveConversation",
    "Actor",
    "ActorRef",
    "ActorStatistics",
    "ConversationActor",
    "ConversationDeps",
    "DecisionHook",
    "FailureHook",
    "FunnelRecorder",
    "GuestBook",
    "Holds",
    "Inbox",
    "InboxSettings",
    "InboxStatistics",
    "Mailbox",
    "Router",
    "RouterSettings",
    "RouterStatistics",
    "StepObserver",
    "Supervisor",
    "SupervisorDecision",
    "SupervisorStatistics",
    "UnlockStatus",
    "cutoffs_of",
    "live_actors",
    "open_funnel_recorder",
    "open_inbox",
    "open_retention",
    "open_router",
    "purge_all",
]
