"""The local admin socket: a Unix socket (mode 0600) speaking one JSON object per line.

Owns: the socket file's life (parent directory created, a stale socket from a dead process
removed, bound under a umask that never exposes it, chmod 0600, removed on exit), the
connections (one request line -> one reply line, in order), and the framing errors: a line
that is not a JSON object, too long, or whose handler failed gets `{"ok": false, "error"}`
and the connection stays usable (a too-long line closes it: its rest cannot be framed).

Must never: crash or stop serving because of what a client sent, delete a file that is not
a socket or a socket another live process is serving, log request or reply contents (they
carry guest data), or keep connections open past shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog

from hotelbot.errors import HotelbotError

log = structlog.get_logger(__name__)

Handler = Callable[[Mapping[str, object]], Awaitable[Mapping[str, object]]]
MAX_LINE = 64 * 1024
MAX_PATH_BYTES = 107  # sun_path is 108 bytes on Linux, NUL included
_PRIVATE_UMASK = 0o177  # the socket file is born rw------- at worst


class AdminSocketError(HotelbotError):
    """The admin socket cannot be opened at `path`; `reason` says why."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"admin socket {path}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminServerStatistics:
    connections: int  # open now
    accepted: int
    requests: int
    refused: int  # answered ok=false (bad JSON, unknown command, handler refusal or failure)


class AdminServer:
    """Serves admin connections on a bound socket. Create it with `open_admin_server`."""

    def __init__(self, path: Path, handler: Handler, max_line: int) -> None:
        self.path = path
        self._handler = handler
        self._max_line = max_line
        self._connections: set[asyncio.Task[None]] = set()
        self._accepted = self._requests = self._refused = 0

    def statistics(self) -> AdminServerStatistics:
        return AdminServerStatistics(
            connections=len(self._connections), accepted=self._accepted,
            requests=self._requests, refused=self._refused,
        )

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: answer each request line until the client hangs up."""
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        self._accepted += 1
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-line: nothing to answer
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close_connections(self) -> None:
        """Cancel every open connection and wait until each one is closed."""
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # past the StreamReader limit: the line cannot be framed
                await self._write(writer, self._refuse(f"line longer than {self._max_line} bytes"))
                return
            if not line:
                return
            if not line.strip():
                continue
            await self._write(writer, await self.answer(line))

    async def answer(self, line: bytes) -> bytes:
        """The reply line (without the newline) to one request line."""
        self._requests += 1
        try:
            request = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return self._refuse(f"malformed JSON: {exc}")
        if not isinstance(request, dict):
            return self._refuse("expected a JSON object such as {\"cmd\": \"help\"}")
        try:
            reply = dict(await self._handler(request))
            encoded = orjson.dumps(reply)
        except Exception as exc:
            log.exception("admin_command_failed", cmd=str(request.get("cmd"))[:40])
            return self._refuse(f"internal error ({type(exc).__name__}); see the server log")
        if reply.get("ok") is not True:
            self._refused += 1
        return encoded

    def _refuse(self, reason: str) -> bytes:
        self._refused += 1
        return orjson.dumps({"ok": False, "error": reason})

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, reply: bytes) -> None:
        writer.write(reply + b"\n")
        await writer.drain()


@asynccontextmanager
async def open_admin_server(
    path: Path, handler: Handler, *, max_line: int = MAX_LINE
) -> AsyncIterator[AdminServer]:
    """Serve `handler` on a Unix socket at `path` (mode 0600) until the block exits.

    On exit: stop accepting, close every connection, remove the socket file.

    Args:
        path: the socket file; its parent directory is created if missing.
        handler: request object -> reply object (must carry `ok`).
        max_line: the longest request line accepted, in bytes.
    Raises:
        AdminSocketError: the path is too long for AF_UNIX, is taken by a file that is not a
            socket or by a live server, or cannot be bound.
    """
    path = Path(path)
    if len(os.fsencode(path)) > MAX_PATH_BYTES:
        raise AdminSocketError(path, f"path longer than {MAX_PATH_BYTES} bytes (AF_UNIX limit)")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    sock = _bind_private(path)
    admin = AdminServer(path, handler, max_line)
    try:
        server = await asyncio.start_unix_server(admin.serve, sock=sock, limit=max_line)
    except BaseException:
        sock.close()
        _unlink_own(path, None)
        raise
    identity = _identity(path)
    log.info("admin_socket_opened", path=str(path))
    try:
        yield admin
    finally:
        server.close()
        await admin.close_connections()
        await server.wait_closed()
        _unlink_own(path, identity)
        log.info("admin_socket_closed", path=str(path), **_stats(admin.statistics()))


def _remove_stale(path: Path) -> None:
    """Remove a socket file nobody serves; refuse a live one or a file of another kind."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AdminSocketError(path, "exists and is not a socket; not removing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)  # stale: its process is gone
        log.info("admin_socket_stale_removed", path=str(path))
        return
    except OSError as exc:
        raise AdminSocketError(path, f"cannot probe the existing socket: {exc}") from None
    finally:
        probe.close()
    raise AdminSocketError(path, "another process is serving it (is hotelbot already running?)")


def _bind_private(path: Path) -> socket.socket:
    """Bind under a restrictive umask (the file never exists with wider modes), then 0600."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(_PRIVATE_UMASK)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise AdminSocketError(path, f"cannot bind: {exc.strerror or exc}") from None
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    return sock


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def _unlink_own(path: Path, identity: tuple[int, int] | None) -> None:
    """Remove the socket file if it is still ours (not replaced by another server's)."""
    if identity is not None and _identity(path) != identity:
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _stats(stats: AdminServerStatistics) -> dict[str, int]:
    return {"accepted": stats.accepted, "requests": stats.requests, "refused": stats.refused}
