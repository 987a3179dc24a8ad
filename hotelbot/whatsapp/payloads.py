"""Webhook JSON in, Graph API bodies out: the pure translation layer of the WhatsApp edge.

Owns: the X-Hub-Signature-256 check, parsing a webhook POST into InboundMessage and
DeliveryStatus records (docs/whatsapp-cloud-api.md sections 1-2), mapping a message to the flow
engine's Event, and building the send envelope and the mark-as-read body (section 4.1).
`check_message` (the documented limits of outgoing bodies) lives in limits.py and is
re-exported here.

Must never: do I/O, import asyncio or aiohttp, log, re-serialize JSON before hashing, or let
one bad part of a POST cost the others (issue 14). A body that is not JSON or not a WhatsApp
webhook at all raises PayloadError (400); below that, every entry, change, message, status and
error is read on its own, and a part that does not have its documented shape (ids included,
see IDENTIFIERS) or nests deeper than MAX_PART_DEPTH becomes a RejectedPart, recorded and parked
for staff with its reason, never handed to a conversation.

IDENTIFIERS (checked at the edge; anything else is a RejectedPart):
    wa_id, from, recipient_id     1-15 digits (an E.164 number without "+")
    user_id, from_user_id         business-scoped user id: 2 capital letters, ".", 1-64 letters
                                  or digits (e.g. US.13491208655302741918)
    phone_number_id               1-20 digits (Meta's id of a department number)
    message and status ids        1-256 characters of [A-Za-z0-9._:=+/-] ("wamid.<base64>")
    biz_opaque_callback_data      optional, a string of at most 512 characters (Meta's limit
                                  when sending it, section 4.1; it comes back in statuses, 1.7)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from hotelbot.errors import PayloadError
from hotelbot.store import REJECTED_PREFIX, DeliveryStatus, InboundMessage, RejectedPart
from hotelbot.whatsapp.limits import OPAQUE_DATA_MAX, check_message

__all__ = [
    "ENVELOPE_KEYS",
    "MAX_PART_DEPTH",
    "REJECTED_PREFIX",
    "ParsedWebhook",
    "RejectedPart",
    "WebhookError",
    "check_message",
    "envelope",
    "mark_read_body",
    "parse_webhook",
    "sign",
    "verify_signature",
]

ENVELOPE_KEYS = frozenset({"messaging_product", "recipient_type", "to", "recipient"})
_SIGNATURE_CHARS = len("sha256=") + 64  # the header: sha256=[0-9a-fA-F]{64}
# The all-digit shapes are checked with `_digits` (no regex per field): at most this many.
_TIMESTAMP_DIGITS = 12  # Unix seconds
_PHONE_ID_DIGITS = 20  # a guest id sent as `to` (optionally with "+")
WA_ID_DIGITS = 15
NUMBER_ID_DIGITS = 20
WA_ID = re.compile(r"[0-9]{1,15}")
USER_ID = re.compile(r"[A-Z]{2}\.[0-9A-Za-z]{1,64}")
MESSAGE_ID = re.compile(r"[0-9A-Za-z._:=+/-]{1,256}")
# Meta's payloads nest 6 levels at most (an interactive reply inside a message inside a value);
# past this a part is refused at parse time, well before orjson's encoder gives up (~254).
MAX_PART_DEPTH = 32
_PREVIEW_CHARS = 600


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookError:
    """A system/app level error Meta reported in `value.errors[]` (no message id attached)."""

    phone_number_id: str  # "" when the change carried no metadata
    code: int
    title: str = ""
    details: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedWebhook:
    """Everything one webhook POST carried, in payload order."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[DeliveryStatus, ...] = ()
    errors: tuple[WebhookError, ...] = ()
    rejected: tuple[RejectedPart, ...] = ()


# --- signature (section 2) -------------------------------------------------------------------


def verify_signature(raw: bytes, header: str | None, app_secret: bytes) -> bool:
    """Check Meta's `X-Hub-Signature-256` header against the raw request bytes.

    Args:
        raw: the request body exactly as received (never re-serialized).
        header: the header value, `sha256=<64 hex>`, or None when it was missing.
        app_secret: the App Secret (not the access token, not the verify token).

    Returns:
        True only for a well-formed header whose HMAC-SHA256 matches; an empty secret
        never verifies anything (fail closed).
    """
    if header is None or not app_secret:
        return False
    # `sha256=[0-9a-fA-F]{64}` after strip(), checked without a regex: 64 characters
    # that fromhex reads as 32 bytes are all hex digits (it skips whitespace, which would
    # leave fewer bytes, and refuses anything else).
    text = header.strip()
    if len(text) != _SIGNATURE_CHARS or not text.startswith("sha256="):
        return False
    try:
        expected = bytes.fromhex(text[7:])
    except ValueError:
        return False
    if len(expected) != 32:
        return False
    mac = _keyed(app_secret).copy()
    mac.update(raw)
    return hmac.compare_digest(mac.digest(), expected)


@functools.lru_cache(maxsize=4)
def _keyed(app_secret: bytes) -> hmac.HMAC:
    """The HMAC-SHA256 keyed with the secret, before any data: a copy per body skips the
    key set-up (a third of the check's cost); a process has one App Secret."""
    return hmac.new(app_secret, digestmod=hashlib.sha256)


def sign(raw: bytes, app_secret: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta would send for `raw` (used by the fake server)."""
    return "sha256=" + hmac.new(app_secret, raw, hashlib.sha256).hexdigest()


# --- parsing (section 1.2) -------------------------------------------------------------------
#
# Cost: a POST is read in one walk. The field helpers take the part's path and the field's
# suffix apart and join them only to word an error; the depth guard walks a part only when the
# body holds more than MAX_PART_DEPTH '{' and '[' bytes (every container of a part opens with
# one, so a body with fewer cannot hold a part nested deeper); the body's digest (the key of
# parts without an id) is computed only when a part is rejected. The all-digit ids are checked
# with str methods (`_digits`, exactly the documented patterns), and the datetime of the last
# timestamp text is reused: the messages of one second share Meta's timestamp.


def parse_webhook(raw: bytes) -> ParsedWebhook:
    """Parse one webhook POST body; every entry, change, message and status is read.

    Changes whose `field` is not "messages" are skipped; unknown keys are ignored. A part
    that is not the documented shape is returned in `rejected` (with where and why), and
    the parts around it are parsed as usual.

    Raises:
        PayloadError: the body is not JSON, not an object, not a WhatsApp Business Account
            webhook, or has no `entry` list: nothing in it can be read (answer 400).
    """
    try:
        doc: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PayloadError("body is not valid JSON (or nests deeper than 1024)") from None
    root = _obj(doc, "body")
    if root.get("object") != "whatsapp_business_account":
        raise PayloadError("object: expected 'whatsapp_business_account'")
    entries = _list(root.get("entry"), "entry")
    out = _Collected(raw, shallow=raw.count(b"{") + raw.count(b"[") <= MAX_PART_DEPTH)
    for i, entry in enumerate(entries):
        out.guard(f"entry[{i}]", entry, _parse_entry)
    return ParsedWebhook(
        messages=tuple(out.messages),
        statuses=tuple(out.statuses),
        errors=tuple(out.errors),
        rejected=tuple(out.rejected),
    )


class _Collected:
    """What the walk over one body found so far, and the state of the value being read."""

    __slots__ = ("contacts", "errors", "messages", "number", "raw", "rejected", "shallow",
                 "statuses")

    def __init__(self, raw: bytes, *, shallow: bool) -> None:
        self.raw = raw
        self.shallow = shallow  # no part of this body can nest deeper than MAX_PART_DEPTH
        self.number = ""  # the phone_number_id of the value being read ("" when unknown)
        self.contacts: list[Mapping[str, object]] = []  # the contacts of that value
        self.messages: list[InboundMessage] = []
        self.statuses: list[DeliveryStatus] = []
        self.errors: list[WebhookError] = []
        self.rejected: list[RejectedPart] = []

    def guard(
        self, where: str, part: object, parse: Callable[[object, str, _Collected], None]
    ) -> None:
        """Parse one part; a PayloadError turns it into a RejectedPart (the rest goes on)."""
        try:
            parse(part, where, self)
        except PayloadError as exc:
            self.reject(where, part, exc.reason)

    def reject(self, where: str, part: object, reason: str) -> None:
        fields = part if isinstance(part, dict) else {}
        own_id = _valid(MESSAGE_ID, fields.get("id"))
        is_message = where.rsplit(".", 1)[-1].startswith("messages[")
        self.rejected.append(
            RejectedPart(
                key=own_id if own_id and is_message
                else f"{REJECTED_PREFIX}{self.body_digest()}.{where}",
                where=where,
                reason=reason,
                phone_number_id=self.number,
                guest_id=_valid(WA_ID, fields.get("from")),
                preview=preview(part),
            )
        )

    def body_digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:32]


def _parse_entry(entry: object, where: str, out: _Collected) -> None:
    out.number = ""
    changes = _list(_obj(entry, where).get("changes"), where, ".changes")
    for j, change in enumerate(changes):
        out.guard(f"{where}.changes[{j}]", change, _parse_change)


def _parse_change(change: object, where: str, out: _Collected) -> None:
    out.number = ""
    body = _obj(change, where)
    if _str(body.get("field"), where, ".field") != "messages":
        return
    value = _obj(body.get("value"), where, ".value")
    _parse_value(value, f"{where}.value", out)


def _parse_value(value: Mapping[str, object], where: str, out: _Collected) -> None:
    messages = _opt_list(value.get("messages"), where, ".messages")
    statuses = _opt_list(value.get("statuses"), where, ".statuses")
    errors = _opt_list(value.get("errors"), where, ".errors")
    metadata = value.get("metadata")
    out.number = ""
    if messages or statuses or metadata is not None:
        meta = _obj(metadata, where, ".metadata")
        number = _str(meta.get("phone_number_id"), where, ".metadata.phone_number_id")
        _shape_digits(NUMBER_ID_DIGITS, number, where, ".metadata.phone_number_id", "1-20 digits")
        out.number = number
    out.contacts = [
        c for c in _opt_list(value.get("contacts"), where, ".contacts") if isinstance(c, dict)
    ]
    for k, item in enumerate(messages):
        out.guard(f"{where}.messages[{k}]", item, _message)
    for k, item in enumerate(statuses):
        out.guard(f"{where}.statuses[{k}]", item, _status)
    for k, item in enumerate(errors):
        out.guard(f"{where}.errors[{k}]", item, _system_error)


def _message(item: object, where: str, out: _Collected) -> None:
    msg = _leaf(item, where, out)
    wamid = _str(msg.get("id"), where, ".id")
    _shape(MESSAGE_ID, wamid, where, ".id", "a message id (1-256 of A-Z a-z 0-9 . _ : = + / -)")
    sender = _opt_str(msg.get("from"), where, ".from")
    user_id = _opt_str(msg.get("from_user_id"), where, ".from_user_id")
    contact = _contact_for(sender, user_id, out.contacts)
    guest = _guest_id(sender, user_id, contact, where)
    profile = contact.get("profile")
    name = profile.get("name") if isinstance(profile, dict) else None
    out.messages.append(
        InboundMessage(
            wamid=wamid,
            phone_number_id=out.number,
            guest_id=guest,
            kind=_str(msg.get("type"), where, ".type"),
            payload=msg,
            sent_at=_timestamp(msg.get("timestamp"), where, ".timestamp"),
            profile_name=name[:256] if isinstance(name, str) and name else None,
        )
    )


def _guest_id(
    sender: str | None, user_id: str | None, contact: Mapping[str, object], where: str
) -> str:
    """The guest: the phone wa_id when there is one, else the business-scoped user id."""
    if sender:
        return _shape_digits(WA_ID_DIGITS, sender, where, ".from", "a WhatsApp id (1-15 digits)")
    wa_id = _opt_str(contact.get("wa_id"), "contacts[].wa_id")
    if wa_id:
        return _shape_digits(WA_ID_DIGITS, wa_id, "contacts[].wa_id", "",
                             "a WhatsApp id (1-15 digits)")
    user = user_id or _opt_str(contact.get("user_id"), "contacts[].user_id")
    if user:
        return _shape(USER_ID, user, where, ".from_user_id", "a business-scoped user id")
    raise PayloadError(f"{where}: no sender (from, from_user_id, wa_id or user_id)")


def _contact_for(
    sender: str | None, user_id: str | None, contacts: list[Mapping[str, object]]
) -> Mapping[str, object]:
    """The contact describing this message's sender; the only one when nothing names it."""
    for contact in contacts:
        if sender and contact.get("wa_id") == sender:
            return contact
        if user_id and contact.get("user_id") == user_id:
            return contact
    if len(contacts) == 1:
        return contacts[0]
    return {}


def _status(item: object, where: str, out: _Collected) -> None:
    status = _leaf(item, where, out)
    wamid = _str(status.get("id"), where, ".id")
    _shape(MESSAGE_ID, wamid, where, ".id", "a message id")
    recipient = _opt_str(status.get("recipient_id"), where, ".recipient_id")
    if recipient:
        _shape_digits(WA_ID_DIGITS, recipient, where, ".recipient_id",
                      "a WhatsApp id (1-15 digits)")
    else:
        recipient = _opt_str(status.get("recipient_user_id"), where, ".recipient_user_id")
        if not recipient:
            raise PayloadError(f"{where}: no recipient_id")
        _shape(USER_ID, recipient, where, ".recipient_user_id", "a business-scoped user id")
    error_code: int | None = None
    error_title: str | None = None
    errors = _opt_list(status.get("errors"), where, ".errors")
    if errors:
        first = _obj(errors[0], where, ".errors[0]")
        error_code = _opt_int(first.get("code"), where)
        title = first.get("title")
        error_title = title[:200] if isinstance(title, str) and title else None
    state = _str(status.get("status"), where, ".status")
    if len(state) > 32:
        raise PayloadError(f"{where}.status: longer than 32 characters")
    callback = _opt_str(status.get("biz_opaque_callback_data"), where,
                        ".biz_opaque_callback_data")
    if callback is not None and len(callback) > OPAQUE_DATA_MAX:
        raise PayloadError(
            f"{where}.biz_opaque_callback_data: longer than {OPAQUE_DATA_MAX} characters"
        )
    out.statuses.append(
        DeliveryStatus(
            wamid=wamid,
            status=state,
            at=_timestamp(status.get("timestamp"), where, ".timestamp"),
            recipient_id=recipient,
            error_code=error_code,
            error_title=error_title,
            callback=callback,
            payload=status,
        )
    )


def _system_error(item: object, where: str, out: _Collected) -> None:
    error = _leaf(item, where, out)
    code = _opt_int(error.get("code"), where, ".code")
    if code is None:
        raise PayloadError(f"{where}.code: expected an integer")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    title = error.get("title")
    out.errors.append(
        WebhookError(
            phone_number_id=out.number,
            code=code,
            title=title[:200] if isinstance(title, str) else "",
            details=details[:500] if isinstance(details, str) else "",
        )
    )


def preview(part: object, limit: int = _PREVIEW_CHARS) -> str:
    """A bounded JSON rendering of any parsed part (deep nesting cut at 8 levels), for staff."""
    text = orjson.dumps(_cut(part, 8)).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut(value: object, depth: int) -> object:
    if isinstance(value, dict):
        if depth <= 0:
            return "{…}"
        return {str(k)[:100]: _cut(v, depth - 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return "[…]" if depth <= 0 else [_cut(v, depth - 1) for v in value[:50]]
    if isinstance(value, str):
        return value[:200]
    return value


def _leaf(item: object, where: str, out: _Collected) -> Mapping[str, object]:
    """A message, status or error object: the parts that are stored, so depth is bounded."""
    part = _obj(item, where)
    if not out.shallow and _deeper_than(part, MAX_PART_DEPTH):
        raise PayloadError(f"{where}: nested deeper than {MAX_PART_DEPTH} levels")
    return part


def _deeper_than(value: object, limit: int) -> bool:
    """True when `value` nests more than `limit` containers deep (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children: Iterable[object] = node.values() if isinstance(node, dict) else (
            node if isinstance(node, list) else ()
        )
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _digits(text: str, most: int) -> bool:
    """`text` is 1 to `most` ASCII digits: what `[0-9]{1,most}` fullmatches (str.isdigit alone
    also takes other scripts' digits, and isascii alone takes letters)."""
    return len(text) <= most and text.isascii() and text.isdigit()


def _valid(pattern: re.Pattern[str], value: object) -> str:
    """`value` when it is a string of this shape, else ""."""
    return value if isinstance(value, str) and pattern.fullmatch(value) else ""


# --- shape helpers ---------------------------------------------------------------------------
# Each takes the part's path and the field's suffix (".id") apart: joined only for an error.


def _shape(pattern: re.Pattern[str], value: str, where: str, key: str, shape: str) -> str:
    if pattern.fullmatch(value) is None:
        raise PayloadError(f"{where}{key}: not {shape}")
    return value


def _shape_digits(most: int, value: str, where: str, key: str, shape: str) -> str:
    if not _digits(value, most):
        raise PayloadError(f"{where}{key}: not {shape}")
    return value


def _obj(value: object, where: str, key: str = "") -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}{key}: expected an object")
    return value


def _list(value: object, where: str, key: str = "") -> list[object]:
    if not isinstance(value, list):
        raise PayloadError(f"{where}{key}: expected a list")
    return value


def _opt_list(value: object, where: str, key: str) -> list[object]:
    return [] if value is None else _list(value, where, key)


def _str(value: object, where: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where}{key}: expected a non-empty string")
    return value


def _opt_str(value: object, where: str, key: str = "") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}{key}: expected a string")
    return value or None


def _opt_int(value: object, where: str, key: str = "") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where}{key}: expected an integer")
    return value


# The last timestamp read and its datetime: the messages of one second share Meta's text.
# One tuple, replaced whole (a datetime is immutable: sharing it is safe).
_last_timestamp: tuple[str, datetime | None] = ("", None)


def _timestamp(value: object, where: str, key: str) -> datetime:
    """Meta sends Unix seconds as a string; an integer is accepted too."""
    global _last_timestamp
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _digits(text, _TIMESTAMP_DIGITS):
        raise PayloadError(f"{where}{key}: expected Unix seconds")
    last = _last_timestamp
    if last[0] == text and last[1] is not None:
        return last[1]
    try:
        at = datetime.fromtimestamp(int(text), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise PayloadError(f"{where}{key}: Unix seconds out of range") from None
    _last_timestamp = (text, at)
    return at


# --- outgoing bodies (section 4.1) -----------------------------------------------------------


def envelope(guest_id: str, body: Mapping[str, object]) -> dict[str, object]:
    """The full send body: Meta's envelope around a message object (SendMessage.body).

    A phone wa_id (digits) is sent as `to: "+<digits>"` (always with `+`, section 4.1);
    a business-scoped user id (e.g. `US.1349...`) as `recipient: <user_id>` (section 1.2).

    Raises:
        ValueError: the guest id is empty or the body already carries envelope fields.
    """
    if not guest_id or guest_id != guest_id.strip():
        raise ValueError("guest id must be a non-empty id without surrounding spaces")
    if not ENVELOPE_KEYS.isdisjoint(body):
        clash = ENVELOPE_KEYS.intersection(body)
        raise ValueError(f"message body must not carry envelope fields: {sorted(clash)}")
    full: dict[str, object] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    digits = guest_id[1:] if guest_id[0] == "+" else guest_id
    if _digits(digits, _PHONE_ID_DIGITS):
        full["to"] = "+" + digits
    else:
        full["recipient"] = guest_id
    full.update(body)
    return full


def mark_read_body(wamid: str) -> dict[str, object]:
    """The body that marks an inbound message read (blue ticks), section 4.1.

    Raises:
        ValueError: the wamid is empty.
    """
    if not wamid:
        raise ValueError("wamid must be non-empty")
    return {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
