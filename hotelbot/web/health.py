"""Liveness and readiness: GET /healthz and GET /readyz.

Owns: the two probe routes. /healthz answers as long as the process serves HTTP; /readyz
answers 200 only when every check of the core is true (the configuration is loaded, the store
takes writes, the router accepts messages) and 503 with the failing checks otherwise, e.g.
while starting or draining. Must never touch the store or the network itself: it reads the
checks the composition root gave it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aiohttp import web

__all__ = ["READINESS", "Readiness", "add_health_routes"]


class Readiness(Protocol):
    def __call__(self) -> Mapping[str, bool]:
        """Each check by name: True when that part is ready."""


READINESS = web.AppKey("readiness", Readiness)


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    readiness = request.app.get(READINESS)
    checks = dict(readiness()) if readiness is not None else {"started": False}
    ready = all(checks.values())
    return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)
