"""Settings: one frozen dataclass built from HOTELBOT_* environment variables + CLI overrides.

Owns: the names, defaults and validation of every process setting. Must never: read
os.environ itself (the caller passes the mapping), log or repr a secret, or accept a bad value
silently (every fault is a SettingError naming the variable; all faults are found in one
pass and reported together).

    variable                  field            default
    HOTELBOT_APP_SECRET       app_secret       required (signs webhook POSTs)
    HOTELBOT_VERIFY_TOKEN     verify_token     required (the GET verify handshake)
    HOTELBOT_ACCESS_TOKEN     access_token     required (Graph API bearer token)
    HOTELBOT_GRAPH_URL        graph_url        https://graph.facebook.com
    HOTELBOT_GRAPH_VERSION    graph_version    v25.0
    HOTELBOT_CONFIG_DIR       config_dir       config
    HOTELBOT_DATA_DIR         data_dir         var (database: <data_dir>/hotelbot.sqlite3)
    HOTELBOT_HOST             host             127.0.0.1
    HOTELBOT_PORT             port             8080 (1-65535)
    HOTELBOT_LOG_LEVEL        log_level        info
    HOTELBOT_MAX_BODY_BYTES   max_body_bytes   3.25 MiB (Meta posts webhooks of up to 3 MB)
    HOTELBOT_ADMIN_SOCKET     admin_socket     <data_dir>/admin.sock
    HOTELBOT_MAX_PENDING_WRITES max_pending_writes 10000 (past it the webhook answers 503)
    HOTELBOT_BODY_TIMEOUT     body_timeout     10 s to receive a request body once its head arrived
    HOTELBOT_IDLE_TIMEOUT     idle_timeout     15 s: a connection with no complete request head
                                               this long after it opened or after its last
                                               response is closed (idle keep-alive, slow heads)
    HOTELBOT_MAX_CONNECTIONS  max_connections  512 open client connections; past it new ones
                                               get a 503 and are closed (fd limit is often 1024)
    HOTELBOT_SENDING_GRACE    sending_grace    120 s a reply caught mid-send by a crash waits
                                               for a status naming it before it is sent again
    HOTELBOT_METRICS_HOST     metrics_host     127.0.0.1: GET /metrics listens here, apart
                                               from the webhook (keep it off the internet)
    HOTELBOT_METRICS_PORT     metrics_port     9108 (0: any free port; off: no listener)
    HOTELBOT_CONSOLE_SECRET   console_secret   unset: no staff console. A Fernet key (32 bytes,
                                               url-safe base64) that encrypts and signs the
                                               console's session cookies
    HOTELBOT_CONSOLE_SESSION  console_session  43200 s (12 h): a console login lasts this long
    HOTELBOT_HANDOFF_TIMEOUT  handoff_timeout  1800 s: a conversation staff took over goes back
                                               to the bot after this long without release
    HOTELBOT_SCHEDULED_REPLY_WINDOW scheduled_reply_window 4 h: a guest's next message this
                                               soon after a scheduled one answers it (issue 10)

Why these numbers (issue 14): Meta sends a whole webhook POST (at most ~3 MB) at once from its
data centres, in well under a second; 10 s is generous for that and short for a client that
trickles a body at 1 byte/s. An idle keep-alive connection costs a file descriptor; 15 s lets
Meta reuse one between bursts. 512 connections keeps half of a common 1024 descriptor limit
for the database, the Graph API client's pool and the admin socket.

An empty variable counts as unset. Overrides are keyword arguments named like the fields
(`port=9000`, `data_dir="/srv/var"`), typed or as strings; None means "not given".
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from hotelbot.errors import ConfigError

PREFIX = "HOTELBOT_"
SECRETS = ("app_secret", "verify_token", "access_token")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024 + 256 * 1024
DEFAULT_DATA_DIR = Path("var")
DATABASE_NAME = "hotelbot.sqlite3"
ADMIN_SOCKET_NAME = "admin.sock"
_VERSION = re.compile(r"^v\d+\.\d+$")


class SettingError(ConfigError):
    """A setting is missing or invalid. `variable` is the (first) environment variable's name;
    `faults` holds every fault found in one pass (this one first), so an operator fixes them
    all at once rather than one start-up at a time."""

    def __init__(
        self, variable: str, reason: str, *, others: tuple[SettingError, ...] = ()
    ) -> None:
        self.variable = variable
        self.reason = reason
        self.faults: tuple[SettingError, ...] = (self, *others)
        super().__init__("\n".join([f"{variable}: {reason}", *(str(o) for o in others)]))


def env_name(field_name: str) -> str:
    """The environment variable of a Settings field (`port` -> `HOTELBOT_PORT`)."""
    return PREFIX + field_name.upper()


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the process is configured with. Secrets never appear in repr."""

    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    access_token: str = field(repr=False)
    graph_url: str = "https://graph.facebook.com"
    graph_version: str = "v25.0"
    config_dir: Path = Path("config")
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    admin_socket: Path = Path()  # unset: <data_dir>/admin.sock (filled in by __post_init__)
    max_pending_writes: int = 10_000  # writes queued for the store before 503s
    body_timeout: float = 10.0
    idle_timeout: float = 15.0
    max_connections: int = 512
    sending_grace: float = 120.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9108  # None: no metrics listener; 0: any free port (tests)
    console_secret: str = field(default="", repr=False)
    console_session: float = 12 * 3600.0
    handoff_timeout: float = 1800.0
    scheduled_reply_window: float = 4 * 3600.0

    def __post_init__(self) -> None:
        if self.admin_socket == Path():
            object.__setattr__(self, "admin_socket", self.data_dir / ADMIN_SOCKET_NAME)

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_NAME

    @property
    def graph_base_url(self) -> str:
        """The versioned Graph API root, e.g. https://graph.facebook.com/v25.0."""
        return f"{self.graph_url}/{self.graph_version}"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, require_secrets: bool = True, **overrides: object
    ) -> Settings:
        """Build Settings from `env` (e.g. os.environ) with CLI `overrides` on top.

        Args:
            env: the environment mapping.
            require_secrets: False for commands that never talk to Meta (check-config,
                admin): missing secrets are then empty strings.
            overrides: field name -> value; None values are ignored.

        Raises:
            SettingError: a required variable is missing or a value is invalid.
            ConfigError: an override names no Settings field.
        """
        raw = _collect(env, overrides)
        values: dict[str, object] = {}
        faults: list[SettingError] = []
        for name, parse in _PARSERS.items():
            text = raw.get(name)
            if text is None:
                if name in SECRETS:
                    if require_secrets:
                        faults.append(SettingError(env_name(name), "required but not set"))
                    values[name] = ""
                continue
            try:
                values[name] = parse(text)
            except ValueError as exc:
                faults.append(SettingError(env_name(name), str(exc)))
        if faults:
            first = faults[0]
            raise SettingError(first.variable, first.reason, others=tuple(faults[1:]))
        return cls(**values)  # type: ignore[arg-type]


def _collect(env: Mapping[str, str], overrides: Mapping[str, object]) -> dict[str, str]:
    """Field name -> raw text: the environment first, overrides on top; empty means unset."""
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown setting override(s): {', '.join(unknown)}")
    raw: dict[str, str] = {}
    for name in known:
        value = env.get(env_name(name), "").strip()
        if value:
            raw[name] = value
    for name, given in overrides.items():
        if given is not None and str(given).strip():
            raw[name] = str(given).strip()
    return raw


def _text(value: str) -> str:
    return value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"not an integer: {value!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} out of range 1-65535")
    return port


def _metrics_port(value: str) -> int | None:
    if value.lower() == "off":
        return None
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"not a port or 'off': {value!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range 0-65535 (0: any free port)")
    return port


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"not an integer: {value!r}") from None
    if number < 1:
        raise ValueError(f"must be positive, got {number}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"not a number of seconds: {value!r}") from None
    if not 0 < number <= 3600:
        raise ValueError(f"must be more than 0 and at most 3600 seconds, got {value}")
    return number


def _fernet_key(value: str) -> str:
    try:
        if len(base64.urlsafe_b64decode(value.encode("ascii"))) == 32:
            return value
    except (ValueError, UnicodeEncodeError):
        pass
    raise ValueError("expected a Fernet key: 32 bytes in url-safe base64 (make one with"
                     " `python -c 'from cryptography.fernet import Fernet;"
                     " print(Fernet.generate_key().decode())'`)")


def _long_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"not a number of seconds: {value!r}") from None
    if not 0 < number <= 30 * 86400:
        raise ValueError(f"must be more than 0 and at most 30 days, got {value}")
    return number


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    if parts.query or parts.fragment:
        raise ValueError("the URL must not have a query or a fragment")
    return value.rstrip("/")


def _version(value: str) -> str:
    if not _VERSION.match(value):
        raise ValueError(f"expected a Graph API version like v25.0, got {value!r}")
    return value


def _level(value: str) -> str:
    level = value.lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


_PARSERS: dict[str, Callable[[str], object]] = {
    "app_secret": _text,
    "verify_token": _text,
    "access_token": _text,
    "graph_url": _url,
    "graph_version": _version,
    "config_dir": Path,
    "data_dir": Path,
    "host": _text,
    "port": _port,
    "log_level": _level,
    "max_body_bytes": _positive_int,
    "admin_socket": Path,
    "max_pending_writes": _positive_int,
    "body_timeout": _seconds,
    "idle_timeout": _seconds,
    "max_connections": _positive_int,
    "sending_grace": _seconds,
    "metrics_host": _text,
    "metrics_port": _metrics_port,
    "console_secret": _fernet_key,
    "console_session": _long_seconds,
    "handoff_timeout": _long_seconds,
    "scheduled_reply_window": _seconds,
}
