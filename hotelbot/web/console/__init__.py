"""hotelbot.web.console: the staff console at /console/ (issue 11).

Server-rendered pages (aiohttp-jinja2 templates, vendored static files: no CDN), sessions in
encrypted cookies, CSRF on every form, live updates by server-sent events. `add_console`
mounts it on the application; the desk (desk.py) is what staff actions do. See
docs/console.md.
"""

from __future__ import annotations

import asyncio
import functools
from importlib import resources

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hotelbot.web.console import auth, views
from hotelbot.web.console.accounts import (
    MIN_PASSWORD,
    LoginLimiter,
    LoginLimits,
    check_password,
    hash_password,
)
from hotelbot.web.console.auth import GATE, Gate
from hotelbot.web.console.desk import ACTIONS, Desk, DoneHook, NotFound
from hotelbot.web.console.views import DESK, mask

__all__ = [
    "ACTIONS",
    "DESK",
    "GATE",
    "MIN_PASSWORD",
    "Desk",
    "DoneHook",
    "Gate",
    "LoginLimiter",
    "LoginLimits",
    "NotFound",
    "add_console",
    "check_password",
    "hash_password",
    "mask",
]

def add_console(app: web.Application, *, secret: str, session_seconds: float) -> None:
    """Mount the console at /console/ (app[DESK] and app[GATE] are set by the caller's
    cleanup context before the first request)."""
    # PackageLoader and importlib.resources read inside a zipapp too (no files on disk).
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader(__name__, "templates"),
                         autoescape=jinja2.select_autoescape(default=True))
    auth.setup_auth(app, secret, session_seconds)
    r = app.router
    r.add_get("/console", _to_console)
    r.add_get("/console/login", auth.login_page)
    r.add_post("/console/login", auth.login)
    r.add_post("/console/logout", auth.logout)
    r.add_get("/console/", views.board)
    r.add_get("/console/board", views.board_fragment)
    r.add_get("/console/events", views.events)
    r.add_get("/console/requests/{id}", views.request_page)
    r.add_post("/console/requests/{id}/{action}", views.act)
    r.add_get("/console/conversations", views.conversations)
    r.add_get("/console/conversations/{department}/{guest}", views.conversation)
    r.add_get("/console/conversations/{department}/{guest}/messages", views.messages_fragment)
    r.add_post("/console/conversations/{department}/{guest}/{action}",
               views.conversation_action)
    r.add_get("/console/static/{name}", _static)
    app[views.STREAMS_CLOSING] = asyncio.Event()
    app.on_shutdown.append(views.close_streams)


STATIC = {"console.css": "text/css", "console.js": "text/javascript"}


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files(__name__).joinpath("static", name).read_bytes()


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound(text="no such file")
    return web.Response(body=_asset(name), content_type=STATIC[name], charset="utf-8",
                        headers={"Cache-Control": "max-age=300"})


async def _to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/console/")
