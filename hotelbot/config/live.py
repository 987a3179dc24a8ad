"""The configuration in force: the Hotels the running process serves, reloadable.

Owns: `LiveConfig`, which holds the last good configuration and swaps in a new one only when
it loads without a problem (SIGHUP, `hotelbot admin reload`). Must never put in force a
configuration that failed to load.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from hotelbot.config.loader import load_hotels
from hotelbot.flows import Hotels

__all__ = ["LiveConfig"]

log = structlog.get_logger(__name__)


class LiveConfig:
    """The configuration in force; a failed reload keeps the last good one."""

    def __init__(self, config_dir: Path, hotels: Hotels) -> None:
        self.config_dir = config_dir
        self.hotels = hotels

    def get(self) -> Hotels:
        """The Hotels in force."""
        return self.hotels

    def reload(self) -> None:
        """Load and validate the configuration again. Raises FlowDefinitionError, keeping
        the configuration in force, when the new one is invalid."""
        self.hotels = load_hotels(self.config_dir)
        log.info("config_reloaded", hotels=len(self.hotels.hotels))
