"""hotelbot.cli: the `hotelbot` command (serve, check-config, admin, say).

`main` is the entry point of `[project.scripts]` and of `python -m hotelbot`. Nothing runs at
import. Other packages import only the names in `__all__`.
"""

from hotelbot.cli.main import main

__all__ = ["main"]
