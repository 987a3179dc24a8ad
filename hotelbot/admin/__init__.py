"""hotelbot.admin: the local admin socket (JSON lines, mode 0600) and its command table.

The client side (`hotelbot admin`) is hotelbot/cli/admin.py; it builds its actions from
`COMMANDS`. Other packages import only the names in `__all__`.
"""

from hotelbot.admin.commands import (
    COMMANDS,
    AdminCommands,
    AdminTargets,
    CliAction,
    Command,
    CommandError,
    Param,
)
from hotelbot.admin.ops import OPS_COMMANDS
from hotelbot.admin.scheduling import SCHEDULER_COMMANDS
from hotelbot.admin.server import (
    AdminServer,
    AdminServerStatistics,
    AdminSocketError,
    open_admin_server,
)

COMMANDS.update(OPS_COMMANDS)  # the operator's commands (ops.py, issue 12) join the one table
COMMANDS.update(SCHEDULER_COMMANDS)  # queue, queue_cancel, broadcast (issue 10)

__all__ = [
    "COMMANDS",
    "AdminCommands",
    "AdminServer",
    "AdminServerStatistics",
    "AdminSocketError",
    "AdminTargets",
    "CliAction",
    "Command",
    "CommandError",
    "Param",
    "open_admin_server",
]
