"""Logging setup (structlog) and the redaction every log line goes through.

Owns: the processor chain (merge_contextvars, add_log_level, UTC ISO timestamp, redact, then
ConsoleRenderer on a tty or dict tracebacks + orjson JSON bytes otherwise) and the level
filter (and `debug_enabled()`, the level check a hot path makes before building a debug
line). Must never: let a message body, a token or a full phone number reach the output
(keys are redacted by name, at every depth of nested dicts, lists and tuples), or show the
local variables of a traceback (they hold bodies and tokens), or do anything at import.

Redaction by key name (case-insensitive):
    masked to the last 4 characters (`********0018`, `mask_guest`, the one rule every masked
        number follows: logs, admin replies, the console): guest, guest_id, wa_id, to, from, from_,
        recipient, recipient_id, phone, and keys ending in `_<one of those>` or containing
        "phone" (except phone_number_id, Meta's id of a department number), and their plurals
        (guests, wa_ids); in a list, each element is masked
    dropped: body, text, payload, caption, and any key containing token, secret,
        password or authorization
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import Processor

from hotelbot.errors import ConfigError

MASKED_KEYS = frozenset(
    {"phone", "guest", "guest_id", "wa_id", "to", "from", "from_", "recipient", "recipient_id"}
)
UNMASKED_PHONE_KEYS = frozenset({"phone_number_id"})
DROPPED_KEYS = frozenset({"body", "text", "payload", "caption"})
DROPPED_FRAGMENTS = ("token", "secret", "password", "authorization")
LEVELS = ("debug", "info", "warning", "error", "critical")
_debug = True  # what configure_logging last set (unconfigured structlog lets debug through)


def debug_enabled() -> bool:
    """Whether debug lines are written: a hot path checks this before building one (a call
    on a module's lazy logger proxy costs a bound logger's assembly even when filtered)."""
    return _debug


def mask_guest(value: object) -> str:
    """A guest's id (a phone number) with only its last 4 characters shown: `********0018`.

    One star per hidden character; a value of 4 characters or fewer is all stars (it shows
    nothing rather than everything).
    """
    text = str(value)
    if len(text) <= 4:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


def _should_drop(key: str) -> bool:
    return key in DROPPED_KEYS or any(fragment in key for fragment in DROPPED_FRAGMENTS)


def _should_mask(key: str) -> bool:
    if key in UNMASKED_PHONE_KEYS:
        return False
    if "phone" in key:
        return True
    singular = key.removesuffix("s")  # guests, recipients, wa_ids
    return any(
        name in (key, singular) or key.endswith("_" + name) or singular.endswith("_" + name)
        for name in MASKED_KEYS
    )


def _mask_value(value: object) -> object:
    if isinstance(value, Mapping):  # e.g. recipients=[{"wa_id": ...}]: redact by its keys
        return _redact_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(item) for item in value]
    return mask_guest(value)


def _redact_value(value: object) -> object:
    if isinstance(value, Mapping):
        return _redact_mapping(value)
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


_KEEP, _MASK, _DROP = 0, 1, 2


@functools.lru_cache(maxsize=4096)
def _policy(key: str) -> int:
    """What to do with a key (cached: log lines reuse a few hundred key names)."""
    name = key.lower()
    if _should_drop(name):
        return _DROP
    return _MASK if _should_mask(name) else _KEEP


def _redact_mapping(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    clean: dict[Any, Any] = {}
    for key, value in mapping.items():
        policy = _policy(str(key))
        if policy == _DROP:
            continue
        if policy == _MASK and value is not None:
            clean[key] = _mask_value(value)
        else:
            clean[key] = _redact_value(value)
    return clean


def redact(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask phone-like keys, drop bodies and secrets (see module doc)."""
    event = event_dict.get("event")
    clean = _redact_mapping(event_dict)
    if event is not None:
        clean["event"] = event  # the event name is a constant, never redacted
    return clean


def shared_processors() -> list[Processor]:
    """The chain before rendering: context, level, UTC ISO time, redaction."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]


def configure_logging(
    *, json: bool | None = None, level: str = "info", stream: TextIO | None = None,
    cache: bool | None = None,
) -> None:
    """Configure structlog once for the process.

    Args:
        json: JSON lines (True) or console (False); None picks console on a tty.
        level: debug, info, warning, error or critical.
        stream: where lines go (sys.stdout by default; JSON goes to its binary buffer).
        cache: cache loggers on first use; None caches unless running under pytest
            (cached loggers would ignore structlog.testing.capture_logs).

    Raises:
        ConfigError: `level` is not a known level.
    """
    global _debug
    name = level.strip().lower()
    if name not in LEVELS:
        raise ConfigError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    out = stream if stream is not None else sys.stdout
    as_json = json if json is not None else not out.isatty()
    processors = shared_processors()
    if as_json:
        processors += [
            # dict_tracebacks without locals: a frame's locals hold bodies and tokens
            ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ]
        factory: Callable[..., Any] = structlog.BytesLoggerFactory(file=out.buffer)
    else:
        # plain tracebacks: rich/better-exceptions formatters would print frame locals
        renderer = structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        processors.append(renderer)
        factory = structlog.PrintLoggerFactory(file=out)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[name.upper()]
        ),
        logger_factory=factory,
        cache_logger_on_first_use=cache if cache is not None else "pytest" not in sys.modules,
    )
    _debug = name == "debug"


class Throttle:
    """At most one line per key per `period` seconds: repeated identical warnings from one
    client address (disconnects, timeouts, bad signatures) must not flood the log (issue 14).

    `allow(key, now)` returns None to drop the line, or the number of lines dropped for that
    key since the last one it allowed (log it as `suppressed=`). Keys are bounded: past
    `max_keys` the oldest are forgotten, so a flood of addresses cannot grow memory.
    """

    def __init__(self, period: float = 60.0, max_keys: int = 4096) -> None:
        self._period = period
        self._max_keys = max_keys
        self._last: dict[str, tuple[float, int]] = {}  # key -> (allowed at, dropped since)

    def allow(self, key: str, now: float) -> int | None:
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self._period:
            self._last[key] = (seen[0], seen[1] + 1)
            return None
        self._last.pop(key, None)
        if len(self._last) >= self._max_keys:
            for oldest in list(self._last)[: self._max_keys // 4]:
                del self._last[oldest]
        self._last[key] = (now, 0)
        return 0 if seen is None else seen[1]
