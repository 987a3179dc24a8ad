"""The one table of WhatsApp's limits on outgoing messages, and the check of a send body.

Owns: the documented limits of Graph API send bodies (docs/whatsapp-cloud-api.md 4.1-4.5), used by
the renderer (hotelbot/flows/render.py), the configuration checks (hotelbot/config/checks.py)
and the fake Graph server; and `check_message`, which lists every violation of a full send
body (envelope included), so the fake Graph server refuses what Meta would refuse and the
project's tests can assert that what the renderer produces is sendable.
Must never: import anything beyond the standard library (the pure runtime imports this
table), do I/O, raise on bad input (bad input is the answer), or fix a body up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

__all__ = [
    "BUTTONS_MAX", "BUTTON_ID_MAX", "BUTTON_TITLE_MAX", "FOOTER_TEXT_MAX", "HEADER_TEXT_MAX",
    "INTERACTIVE_BODY_MAX", "LIST_BUTTON_MAX", "OPAQUE_DATA_MAX", "ROWS_MAX", "ROW_DESCRIPTION_MAX",
    "ROW_ID_MAX", "ROW_TITLE_MAX", "SECTIONS_MAX", "SECTION_TITLE_MAX", "TEMPLATE_NAME_MAX",
    "TEXT_BODY_MAX", "check_message",
]

# Characters unless said otherwise; the section of docs/whatsapp-cloud-api.md in brackets.
TEXT_BODY_MAX: Final = 4096  # text.body (4.2)
INTERACTIVE_BODY_MAX: Final = 1024  # interactive body.text; the list page says 4096, older
#                                     docs and BSPs 1024: the smaller is safe (4.3, 4.4)
HEADER_TEXT_MAX: Final = 60  # interactive header.text (4.3, 4.4)
FOOTER_TEXT_MAX: Final = 60  # interactive footer.text (4.3, 4.4)
BUTTONS_MAX: Final = 3  # reply buttons per message (4.3)
BUTTON_TITLE_MAX: Final = 20  # reply.title (4.3)
BUTTON_ID_MAX: Final = 256  # reply.id (4.3)
LIST_BUTTON_MAX: Final = 20  # action.button, the label that opens a list (4.4)
SECTIONS_MAX: Final = 10  # sections per list (4.4)
SECTION_TITLE_MAX: Final = 24  # section title (4.4)
ROWS_MAX: Final = 10  # rows per list, all sections together (4.4)
ROW_TITLE_MAX: Final = 24  # row title (4.4)
ROW_ID_MAX: Final = 200  # row id (4.4)
ROW_DESCRIPTION_MAX: Final = 72  # row description (4.4)
TEMPLATE_NAME_MAX: Final = 512  # template.name (4.5)
OPAQUE_DATA_MAX: Final = 512  # biz_opaque_callback_data (4.1)

_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]*")
_MEDIA = ("image", "audio", "video", "document", "sticker")
_COMPONENTS = ("header", "body", "footer", "button")
_SPACES = re.compile(r" {5,}")

Violations = list[str]


def check_message(body: Mapping[str, object]) -> list[str]:
    """Every way `body` breaks the documented send shape; an empty list means valid.

    Accepts text, interactive (button, list), template, media and mark-as-read bodies.
    """
    out: Violations = []
    if body.get("messaging_product") != "whatsapp":
        out.append("messaging_product: must be 'whatsapp'")
    if "status" in body:
        _mark_read(body, out)
        return out
    _recipient(body, out)
    kind = body.get("type", "text")  # Meta's default type is text
    check = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if check is None or not isinstance(kind, str):
        out.append(f"type: unsupported message type {kind!r}")
        return out
    content = body.get(kind)
    if not isinstance(content, Mapping):
        out.append(f"{kind}: required object")
    else:
        check(content, kind, out)
    _optional_extras(body, out)
    return out


def _mark_read(body: Mapping[str, object], out: Violations) -> None:
    if body.get("status") != "read":
        out.append("status: only 'read' can be set")
    _text(body.get("message_id"), "message_id", out, limit=None)


def _recipient(body: Mapping[str, object], out: Violations) -> None:
    to, recipient = body.get("to"), body.get("recipient")
    if to is None and recipient is None:
        out.append("to: required (or recipient for a business-scoped user id)")
    if to is not None and (not isinstance(to, str) or not _PHONE.fullmatch(to)):
        out.append("to: expected a phone number with country code")
    if recipient is not None and (not isinstance(recipient, str) or not recipient.strip()):
        out.append("recipient: expected a non-empty user id")
    if body.get("recipient_type", "individual") not in ("individual", "group"):
        out.append("recipient_type: expected 'individual' or 'group'")


def _optional_extras(body: Mapping[str, object], out: Violations) -> None:
    context = body.get("context")
    if context is not None:
        if not isinstance(context, Mapping):
            out.append("context: expected an object")
        else:
            _text(context.get("message_id"), "context.message_id", out, limit=None)
    opaque = body.get("biz_opaque_callback_data")
    if opaque is not None:
        _text(opaque, "biz_opaque_callback_data", out, limit=OPAQUE_DATA_MAX)


def _text(
    value: object, path: str, out: Violations, *, limit: int | None, required: bool = True
) -> str | None:
    """Check one string field; returns it when it is a string."""
    if value is None:
        if required:
            out.append(f"{path}: required")
        return None
    if not isinstance(value, str):
        out.append(f"{path}: expected a string")
        return None
    if not value.strip():
        out.append(f"{path}: must not be empty")
    elif limit is not None and len(value) > limit:
        out.append(f"{path}: {len(value)} characters, limit {limit}")
    return value


def _items(value: object, path: str, out: Violations) -> list[Mapping[str, object]]:
    """A list of objects; each non-object item is reported and dropped."""
    if not isinstance(value, list):
        out.append(f"{path}: expected a list")
        return []
    items: list[Mapping[str, object]] = []
    for i, item in enumerate(value):
        if isinstance(item, Mapping):
            items.append(item)
        else:
            out.append(f"{path}[{i}]: expected an object")
    return items


# --- per type ----------------------------------------------------------------------------------


def _text_message(content: Mapping[str, object], path: str, out: Violations) -> None:
    _text(content.get("body"), f"{path}.body", out, limit=TEXT_BODY_MAX)
    if not isinstance(content.get("preview_url", False), bool):
        out.append(f"{path}.preview_url: expected a boolean")


def _media(content: Mapping[str, object], path: str, out: Violations) -> None:
    given = [key for key in ("id", "link") if content.get(key) is not None]
    if len(given) != 1:
        out.append(f"{path}: exactly one of id or link required")
    for key in given:
        _text(content.get(key), f"{path}.{key}", out, limit=None)


def _interactive(content: Mapping[str, object], path: str, out: Violations) -> None:
    kind = content.get("type")
    if kind not in ("button", "list"):
        out.append(f"{path}.type: expected 'button' or 'list'")
        return
    body = content.get("body")
    text = body.get("text") if isinstance(body, Mapping) else None
    _text(text, f"{path}.body.text", out, limit=INTERACTIVE_BODY_MAX)
    _header(content.get("header"), f"{path}.header", out, text_only=kind == "list")
    footer = content.get("footer")
    if footer is not None:
        ftext = footer.get("text") if isinstance(footer, Mapping) else None
        _text(ftext, f"{path}.footer.text", out, limit=FOOTER_TEXT_MAX)
    action = content.get("action")
    if not isinstance(action, Mapping):
        out.append(f"{path}.action: required object")
    elif kind == "button":
        _buttons(action, f"{path}.action", out)
    else:
        _sections(action, f"{path}.action", out)


def _header(header: object, path: str, out: Violations, *, text_only: bool) -> None:
    if header is None:
        return
    if not isinstance(header, Mapping):
        out.append(f"{path}: expected an object")
        return
    kind = header.get("type")
    if kind == "text":
        _text(header.get("text"), f"{path}.text", out, limit=HEADER_TEXT_MAX)
    elif not text_only and kind in ("image", "video", "document"):
        media = header.get(kind)
        if isinstance(media, Mapping):
            _media(media, f"{path}.{kind}", out)
        else:
            out.append(f"{path}.{kind}: required object")
    else:
        allowed = "'text'" if text_only else "'text', 'image', 'video' or 'document'"
        out.append(f"{path}.type: expected {allowed}")


def _buttons(action: Mapping[str, object], path: str, out: Violations) -> None:
    buttons = _items(action.get("buttons"), f"{path}.buttons", out)
    if not 1 <= len(buttons) <= BUTTONS_MAX:
        out.append(f"{path}.buttons: {len(buttons)} buttons, expected 1-{BUTTONS_MAX}")
    titles: set[str] = set()
    ids: set[str] = set()
    for i, button in enumerate(buttons):
        where = f"{path}.buttons[{i}]"
        if button.get("type") != "reply":
            out.append(f"{where}.type: expected 'reply'")
        reply = button.get("reply")
        if not isinstance(reply, Mapping):
            out.append(f"{where}.reply: required object")
            continue
        title = _text(reply.get("title"), f"{where}.reply.title", out, limit=BUTTON_TITLE_MAX)
        ident = _text(reply.get("id"), f"{where}.reply.id", out, limit=BUTTON_ID_MAX)
        _unique(title, titles, f"{where}.reply.title", out)
        _unique(ident, ids, f"{where}.reply.id", out)


def _sections(action: Mapping[str, object], path: str, out: Violations) -> None:
    _text(action.get("button"), f"{path}.button", out, limit=LIST_BUTTON_MAX)
    sections = _items(action.get("sections"), f"{path}.sections", out)
    if not 1 <= len(sections) <= SECTIONS_MAX:
        out.append(f"{path}.sections: {len(sections)} sections, expected 1-{SECTIONS_MAX}")
    rows = 0
    ids: set[str] = set()
    for i, section in enumerate(sections):
        where = f"{path}.sections[{i}]"
        title = section.get("title")
        if title is not None or len(sections) > 1:
            _text(title, f"{where}.title", out, limit=SECTION_TITLE_MAX)
        for j, row in enumerate(_items(section.get("rows"), f"{where}.rows", out)):
            rows += 1
            _row(row, f"{where}.rows[{j}]", ids, out)
    if not 1 <= rows <= ROWS_MAX:
        out.append(f"{path}.sections: {rows} rows in total, expected 1-{ROWS_MAX}")


def _row(row: Mapping[str, object], where: str, ids: set[str], out: Violations) -> None:
    ident = _text(row.get("id"), f"{where}.id", out, limit=ROW_ID_MAX)
    _unique(ident, ids, f"{where}.id", out)
    _text(row.get("title"), f"{where}.title", out, limit=ROW_TITLE_MAX)
    limit = ROW_DESCRIPTION_MAX
    _text(row.get("description"), f"{where}.description", out, limit=limit, required=False)


def _unique(value: str | None, seen: set[str], path: str, out: Violations) -> None:
    if value is None:
        return
    if value in seen:
        out.append(f"{path}: {value!r} is not unique")
    seen.add(value)


def _template(content: Mapping[str, object], path: str, out: Violations) -> None:
    _text(content.get("name"), f"{path}.name", out, limit=TEMPLATE_NAME_MAX)
    language = content.get("language")
    if not isinstance(language, Mapping):
        out.append(f"{path}.language: required object with a code")
    else:
        _text(language.get("code"), f"{path}.language.code", out, limit=None)
        if language.get("policy", "deterministic") != "deterministic":
            out.append(f"{path}.language.policy: expected 'deterministic'")
    components = content.get("components")
    if components is None:
        return
    for i, component in enumerate(_items(components, f"{path}.components", out)):
        _component(component, f"{path}.components[{i}]", out)


def _component(component: Mapping[str, object], where: str, out: Violations) -> None:
    kind = component.get("type")
    if kind not in _COMPONENTS:
        out.append(f"{where}.type: expected one of {', '.join(_COMPONENTS)}")
    if kind == "button":
        _text(component.get("sub_type"), f"{where}.sub_type", out, limit=None)
        index = component.get("index")
        if not (isinstance(index, str) and index.isdigit()) and not (
            isinstance(index, int) and not isinstance(index, bool) and index >= 0
        ):
            out.append(f"{where}.index: expected a button index")
    parameters = component.get("parameters")
    if parameters is None:
        return
    for j, parameter in enumerate(_items(parameters, f"{where}.parameters", out)):
        _parameter(parameter, f"{where}.parameters[{j}]", out)


def _parameter(parameter: Mapping[str, object], where: str, out: Violations) -> None:
    kind = parameter.get("type")
    if not isinstance(kind, str) or not kind:
        out.append(f"{where}.type: required")
    elif kind == "text":
        text = _text(parameter.get("text"), f"{where}.text", out, limit=None)
        # Meta rejects "new-line/tab characters or more than 4 consecutive spaces" (4.5).
        if text is not None and ("\n" in text or "\t" in text or _SPACES.search(text)):
            out.append(f"{where}.text: no newlines, tabs or more than 4 consecutive spaces")
    elif kind == "payload":
        _text(parameter.get("payload"), f"{where}.payload", out, limit=None)
    elif kind not in parameter:
        out.append(f"{where}.{kind}: required for a {kind!r} parameter")


_Check = Callable[[Mapping[str, object], str, Violations], None]
_BY_TYPE: Mapping[str, _Check] = {
    "text": _text_message,
    "interactive": _interactive,
    "template": _template,
    **{kind: _media for kind in _MEDIA},
}
