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
from hotelbot.actors.mailbox import Mailbox
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
    "DecisionHook",
    "FailureHook",
    "Mailbox",
    "Supervisor",
    "SupervisorDecision",
    "SupervisorStatistics",
    "live_actors",
]
