"""Graph API error classification: Meta's error body -> GraphAPIError / RateLimited.

Owns: the table of docs/whatsapp-cloud-api.md section 6 (which codes are retried, which are
rate limits and how long to wait first). Decisions are made on Meta's `error.code`; the HTTP
status only decides when the body carries no code (5xx -> retry, 429 -> rate limited).
Must never: do I/O, branch on message text, or raise (it returns the error to raise).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from hotelbot.errors import GraphAPIError, RateLimited

__all__ = [
    "PAIR_RATE_LIMIT",
    "PERMANENT_CODES",
    "RATE_LIMIT_CODES",
    "REENGAGEMENT_REQUIRED",
    "RETRYABLE_CODES",
    "THROUGHPUT_LIMIT",
    "classify",
    "transport_error",
]

PAIR_RATE_LIMIT = 131056  # too many messages to one recipient (section 5.2)
THROUGHPUT_LIMIT = 130429  # the number's messages per second exceeded (section 5.1)
REENGAGEMENT_REQUIRED = 131047  # the 24-hour window is closed: only a template (section 5.6)
# code -> first wait in seconds. 131056: Meta's 4^X schedule starts at 1 s (the caller grows
# it); 130429: "try again later", exponential from ~1 s; 4 / 80007 / 613: hourly windows.
RATE_LIMIT_CODES: Mapping[int, float] = {
    THROUGHPUT_LIMIT: 1.0,
    PAIR_RATE_LIMIT: 1.0,
    4: 60.0,
    80007: 60.0,
    613: 60.0,
}
RETRYABLE_CODES = frozenset({1, 2, 131000, 131016, 133004, 131057})
_TEMPLATE_CODES = frozenset({132000, 132001, 132005, 132007, 132012, 132015, 132016})
PERMANENT_CODES = frozenset(
    {131047, 131026, 131050, 130403, 100, 131008, 131009, 0, 190, 10, 368, 131031, 130497}
    | {131048, 131064, 131049}
    | _TEMPLATE_CODES
    | set(range(200, 300))
)
TOO_MANY_REQUESTS = 429


def classify(status: int, body: bytes, *, retry_after: str | None = None) -> GraphAPIError:
    """The error to raise for a non-2xx Graph API answer.

    Args:
        status: the HTTP status.
        body: the raw response body (Meta's `{"error": {...}}`, or anything).
        retry_after: a `Retry-After` header, when the answer carried one.

    Returns:
        RateLimited for 130429/131056/4/80007/613 (and a code-less 429); a retryable
        GraphAPIError for 5xx and Meta's transient codes; a permanent one otherwise.
    """
    error = _classified(status, body, retry_after)
    error.title = _title(body)
    return error


def _classified(status: int, body: bytes, retry_after: str | None) -> GraphAPIError:
    code, details, transient = _error_fields(body)
    hinted = _seconds(retry_after)
    if code is not None and code in RATE_LIMIT_CODES:
        return RateLimited(status, code, hinted or RATE_LIMIT_CODES[code], details)
    if code is None and status == TOO_MANY_REQUESTS:
        return RateLimited(status, 0, hinted or 1.0, details)
    if code is not None and code in RETRYABLE_CODES:
        return GraphAPIError(status, code, True, details)
    known = code is not None and (code in PERMANENT_CODES or 132000 <= code < 133000)
    retryable = not known and (status >= 500 or transient)
    return GraphAPIError(status, code or 0, retryable, details)


def transport_error(details: str) -> GraphAPIError:
    """A timeout or connection failure: no answer from Meta, so code 0 and retryable."""
    return GraphAPIError(0, 0, True, details)


def _error_fields(body: bytes) -> tuple[int | None, str, bool]:
    """(code, details, is_transient) from Meta's error body; (None, "", False) if absent."""
    try:
        doc: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, "", False
    error = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(error, dict):
        return None, "", False
    code = error.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        code = None
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    if not isinstance(details, str):
        message = error.get("message")
        details = message if isinstance(message, str) else ""
    return code, details[:500], error.get("is_transient") is True


def _seconds(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        value = float(header.strip())
    except ValueError:
        return None  # an HTTP date: Meta does not send one; fall back to the table
    return value if 0 < value < 86_400 else None


_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")


def _title(body: bytes) -> str:
    """Meta's title of the error: `message` is "(#code) title" (fact sheet 4.7)."""
    try:
        doc: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    error = doc.get("error") if isinstance(doc, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return _CODE_PREFIX.sub("", message)[:200] if isinstance(message, str) else ""
