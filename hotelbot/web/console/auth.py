"""Console sign-in: sessions, CSRF, the login rate limit and the security headers.

Owns: the encrypted session cookie (aiohttp-session's EncryptedCookieStorage: Fernet, i.e.
AES-128-CBC + HMAC-SHA256, keyed by HOTELBOT_CONSOLE_SECRET; HttpOnly, SameSite=Lax, Secure
when the request came over HTTPS, expiring after HOTELBOT_CONSOLE_SESSION seconds), the login
and logout handlers, the middleware that loads the signed-in staff member for every console
page, the CSRF token every form carries, and the security headers of every console response.
Must never: accept a form POST without the session's CSRF token, keep a session of a disabled
account or one whose password changed (the account's `generation`), say whether a username
exists, or log a password.

A session holds {user, gen, issued, csrf}. `issued` bounds its life on the server too: a
copied cookie stops working when the session expires, whatever the browser does with it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet, InvalidToken

from hotelbot.clock import Clock
from hotelbot.store import StaffRecord, Store
from hotelbot.web.console.accounts import LoginLimiter, check_password

PREFIX = "/console"
COOKIE = "hotelbot_console"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
       " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PUBLIC = (f"{PREFIX}/login", f"{PREFIX}/static/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """What sign-in needs (app[GATE])."""

    store: Store
    clock: Clock
    limiter: LoginLimiter
    session_seconds: float
    secret: str  # HOTELBOT_CONSOLE_SECRET: also makes the guests' opaque handles

    def handle(self, guest_id: str) -> str:
        """A guest's id as it appears in a console URL: encrypted, so no phone number shows in
        an address bar, a history or a proxy log."""
        return Fernet(self.secret.encode("ascii")).encrypt(guest_id.encode()).decode()

    def guest_of(self, handle: str) -> str | None:
        """The guest id of a handle (None: not one of ours)."""
        try:
            return Fernet(self.secret.encode("ascii")).decrypt(handle.encode()).decode()
        except (InvalidToken, ValueError):
            return None


GATE = web.AppKey("console_gate", Gate)
STAFF = web.RequestKey("console_staff", StaffRecord)  # the signed-in staff member


class _Cookies(EncryptedCookieStorage):
    """Secure when the request came over HTTPS: directly, or through a reverse proxy on this
    machine that says so (X-Forwarded-Proto from loopback only; docs/console.md). A plain-HTTP
    demo on loopback still works."""

    async def save_session(self, request: web.Request, response: web.StreamResponse,
                           session: Session) -> None:
        self._cookie_params["secure"] = over_https(request)
        await super().save_session(request, response, session)


def over_https(request: web.Request) -> bool:
    proxied = (request.remote in ("127.0.0.1", "::1")
               and request.headers.get("X-Forwarded-Proto", "").lower() == "https")
    return request.secure or proxied


def setup_auth(app: web.Application, secret: str, session_seconds: float) -> None:
    storage = _Cookies(Fernet(secret.encode("ascii")), cookie_name=COOKIE, path=f"{PREFIX}/",
                       max_age=int(session_seconds), httponly=True, samesite="Lax")
    setup_session(app, storage)
    app.middlewares.append(_guard)


def staff_of(request: web.Request) -> StaffRecord:
    return request[STAFF]


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token (made on first use): every form carries it."""
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def check_csrf(request: web.Request) -> None:
    """Raises 403 unless the POSTed form's `csrf` is the session's token."""
    form = await request.post()
    given = form.get("csrf")
    session = await get_session(request)
    expected = session.get("csrf")
    if not (isinstance(given, str) and isinstance(expected, str)
            and hmac.compare_digest(given, expected)):
        raise web.HTTPForbidden(text="the form is missing its security token: reload the page")


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        if not request.path.startswith(PUBLIC):
            await _sign_in(request)
            if request.method == "POST":
                await check_csrf(request)
        response = await handler(request)
    except web.HTTPException as exc:
        _secure_headers(exc)
        raise
    _secure_headers(response)
    return response


async def _sign_in(request: web.Request) -> None:
    """Load the session's staff member into request[STAFF], or send them to the login page."""
    gate = request.app[GATE]
    session = await get_session(request)
    user, gen, issued = session.get("user"), session.get("gen"), session.get("issued")
    staff = await gate.store.staff.get(user) if isinstance(user, str) else None
    fresh = isinstance(issued, float | int) and (
        gate.clock.now().timestamp() - issued < gate.session_seconds)
    if staff is None or staff.disabled or staff.generation != gen or not fresh:
        session.invalidate()
        if request.headers.get("Accept") == "text/event-stream" or request.method == "POST":
            raise web.HTTPUnauthorized(text="signed out: log in again")
        raise web.HTTPSeeOther(f"{PREFIX}/login")
    request[STAFF] = staff


def _secure_headers(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


# --- login / logout -----------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.StreamResponse:
    return await _login_form(request, error="", status=200)


async def _login_form(request: web.Request, *, error: str, status: int,
                      username: str = "") -> web.StreamResponse:
    context = {"csrf": await csrf_token(request), "error": error, "username": username}
    return aiohttp_jinja2.render_template("login.html", request, context, status=status)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /console/login: CSRF, the rate limit, then the password."""
    await check_csrf(request)
    gate = request.app[GATE]
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    address = request.remote or "?"
    now = gate.clock.monotonic()
    wait = gate.limiter.blocked(username, address, now)
    if wait > 0:
        response = await _login_form(
            request, status=429, username=username,
            error=f"Too many failed attempts. Try again in {int(wait // 60) + 1} minutes.")
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    staff = await gate.store.staff.get(username) if username else None
    ok = check_password(staff.password_hash if staff else None, password)
    if staff is None or not ok or staff.disabled:
        gate.limiter.failed(username, address, now)
        return await _login_form(request, status=401, username=username,
                                 error="Wrong username or password.")
    gate.limiter.succeeded(username)
    session = await new_session(request)  # a new session id: no fixation
    session.update({"user": staff.username, "gen": staff.generation,
                    "issued": gate.clock.now().timestamp(),
                    "csrf": secrets.token_urlsafe(32)})
    raise web.HTTPSeeOther(f"{PREFIX}/")


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther(f"{PREFIX}/login")
