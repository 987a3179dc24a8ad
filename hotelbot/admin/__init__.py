"""hotelbot.admin: the local admin socket (JSON lines, mode 0600), its commands and its client.

Other packages import only the names in `__all__`.
"""

from hotelbot.admin.client import AdminUnavailable, call
from hotelbot.admin.commands import AdminCommands, AdminTargets, CommandError
from hotelbot.admin.server import (
    AdminServer,
    AdminServerStatistics,
    AdminSocketError,
    open_admin_server,
)

__all__ = [
    "AdminCommands",
    "AdminServer",
    "AdminServerStatistics",
    "AdminSocketError",
    "AdminTargets",
    "AdminUnavailable",
    "CommandError",
    "call",
    "open_admin_server",
]
