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
from hotelbot.actors.conversation import ConversationActor, ConversationDeps
from hotelbot.actors.guests import GuestBook
from hotelbot.actors.holds import Holds
from hotelbot.actors.inbox import Inbox, InboxSettings, InboxStatistics, open_inbox
from hotelbot.actors.mailbox import Mailbox
from hotelbot.actors.router import Router, RouterSettings, RouterStatistics, open_router
from hotelbot.actors.supervisor import (
    DecisionHook,
    Supervisor,
    SupervisorDecision,
    SupervisorStatistics,
)

__all__ = [
    "ACTOR_TASK_PREFIX",
    "Actor",
    "ActorRef",
    "ActorStatistics",
    "ConversationActor",
    "ConversationDeps",
    "DecisionHook",
    "FailureHook",
    "GuestBook",
    "Holds",
    "Inbox",
    "InboxSettings",
    "InboxStatistics",
    "Mailbox",
    "Router",
    "RouterSettings",
    "RouterStatistics",
    "Supervisor",
    "SupervisorDecision",
    "SupervisorStatistics",
    "live_actors",
    "open_inbox",
    "open_router",
]
