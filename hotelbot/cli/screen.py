"""The guest's screen in `hotelbot say`: what a typed line means, the webhook it becomes, and
how the bot's replies read. Pure.

Owns: parsing a typed line (text, `#N` and `/tap` taps, `/help`, `/quit`) against the last
menu shown, building the Meta-shaped `messages[]` item and webhook body for it
(docs/whatsapp-cloud-api.md 1.3-1.5), and rendering a sent message body as plain lines: text
bodies, buttons as `[1] Title  [2] Title`, list rows as `1. Title — description`, header and
footer (4.2-4.5). Also `SayError`, the one error of `say`. say.py (beside it) re-exports all of
it. Must never do I/O, sign or send anything (say.py does), read the clock (the timestamp
arrives as `now`) or run anything at import.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TextIO

import orjson

from hotelbot.errors import HotelbotError

__all__ = [
    "DISPLAY_NUMBER",
    "Choice",
    "Help",
    "Line",
    "Quit",
    "SayError",
    "SayErrorKind",
    "Screen",
    "Send",
    "SendTap",
    "SendText",
    "format_reply",
    "message_item",
    "obj_of",
    "objs_of",
    "parse_line",
    "screen_of",
    "str_of",
    "typed_sends",
    "webhook_body",
]

DISPLAY_NUMBER = "15550783881"  # what Meta shows as the business number; cosmetic here
_TAP_NUMBER = re.compile(r"#\s*([0-9]{1,3})")

SayErrorKind = Literal["input", "target", "unreachable", "refused", "graph"]


class SayError(HotelbotError):
    """`say` cannot go on: `kind` says why (for branching), `detail` what to do (for people)."""

    def __init__(self, kind: SayErrorKind, detail: str) -> None:
        self.kind: SayErrorKind = kind
        self.detail = detail
        super().__init__(detail)


# --- what a line means -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """One tappable button or list row, as the bot sent it."""

    reply_id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Screen:
    """The last interactive message shown to the guest: what `#N` taps."""

    kind: Literal["button", "list"]
    choices: tuple[Choice, ...]
    wamid: str = ""  # the message carrying the choices (the tap's `context.id`)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendText:
    """Send `text` as the guest's message."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTap:
    """Tap `choice` of a button or list message (`context_wamid`: the message tapped)."""

    kind: Literal["button", "list"]
    choice: Choice
    context_wamid: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Help:
    """Print the help."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Quit:
    """Leave."""


Line = SendText | SendTap | Help | Quit
Send = SendText | SendTap


async def typed_sends(lines: AsyncIterable[str], screen: Callable[[], Screen | None],
                      out: TextIO, help_text: str,
                      before: Callable[[], Awaitable[object]] | None = None
                      ) -> AsyncIterator[Send]:
    """What the person at the keyboard sends, line by line: `before` runs ahead of each line
    (replies that came late, a configuration reload) so the line is read against the screen
    as it is now; a line that cannot be read is told on `out` and skipped; /help prints
    `help_text`; /quit ends the lines."""
    async for raw in lines:
        if before is not None:
            await before()
        try:
            line = parse_line(raw, screen())
        except SayError as exc:
            out.write(f"  ({exc.detail})\n")
            out.flush()
            continue
        if isinstance(line, Quit):
            return
        if isinstance(line, Help):
            out.write(help_text + "\n")
            out.flush()
        elif line is not None:
            yield line


def parse_line(line: str, screen: Screen | None) -> Line | None:
    """What a typed line asks for; None for a blank line.

    Raises:
        SayError(kind="input"): `#N` names no option on screen, or an unknown /command.
    """
    text = line.strip()
    if not text:
        return None
    if text.startswith("\\"):
        return SendText(text=text[1:])
    if match := _TAP_NUMBER.fullmatch(text):
        return _tap_number(int(match.group(1)), screen)
    if not text.startswith("/"):
        return SendText(text=text)
    command, _, arg = text.partition(" ")
    arg = arg.strip()
    if command in ("/help", "/?"):
        return Help()
    if command in ("/quit", "/exit"):
        return Quit()
    if command == "/tap" and arg.isdigit():
        return _tap_number(int(arg), screen)
    if command == "/tap" and arg:
        return _tap_id(arg, screen)
    raise SayError("input", f"unknown command {command!r}: try /help (\\{text} sends it as text)")


def _tap_number(number: int, screen: Screen | None) -> Line:
    if screen is None:
        return SendText(text=str(number))  # a numbered text menu: the engine takes numbers
    if not 1 <= number <= len(screen.choices):
        raise SayError("input", f"no option {number} on screen (1-{len(screen.choices)})")
    choice = screen.choices[number - 1]
    return SendTap(kind=screen.kind, choice=choice, context_wamid=screen.wamid)


def _tap_id(reply_id: str, screen: Screen | None) -> SendTap:
    if screen is not None:
        for choice in screen.choices:
            if choice.reply_id == reply_id:
                return SendTap(kind=screen.kind, choice=choice, context_wamid=screen.wamid)
    return SendTap(kind="button", choice=Choice(reply_id=reply_id, title=reply_id))


# --- the webhook Meta would send (docs/whatsapp-cloud-api.md 1.3-1.5) -----------------------------


def message_item(
    line: SendText | SendTap, *, guest: str, wamid: str, now: int
) -> dict[str, object]:
    """The `messages[]` item for one text or tap from `guest`."""
    item: dict[str, object] = {"from": guest, "id": wamid, "timestamp": str(now)}
    if isinstance(line, SendText):
        item.update(type="text", text={"body": line.text})
        return item
    reply: dict[str, str] = {"id": line.choice.reply_id, "title": line.choice.title}
    if line.kind == "list" and line.choice.description:
        reply["description"] = line.choice.description
    reply_type = "button_reply" if line.kind == "button" else "list_reply"
    if line.context_wamid:
        item["context"] = {"from": DISPLAY_NUMBER, "id": line.context_wamid}
    item.update(type="interactive", interactive={"type": reply_type, reply_type: reply})
    return item


def webhook_body(
    phone_number_id: str, guest: str, item: Mapping[str, object], name: str = "Demo Guest"
) -> bytes:
    """The raw POST body of a webhook carrying one message from `guest` to the number."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": name}, "wa_id": guest}],
        "messages": [item],
    }
    change = {"field": "messages", "value": value}
    return orjson.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [change]}]}
    )


# --- how a reply reads (docs/whatsapp-cloud-api.md 4.2-4.5) ---------------------------------------


def format_reply(body: Mapping[str, object]) -> str:
    """A sent message body as a person would read it on the phone, in plain lines."""
    kind = body.get("type")
    if kind == "text":
        return str_of(obj_of(body.get("text")).get("body"))
    if kind == "interactive":
        return _format_interactive(obj_of(body.get("interactive")))
    if kind == "template":
        template = obj_of(body.get("template"))
        language = str_of(obj_of(template.get("language")).get("code"))
        return f"[template {str_of(template.get('name'))} ({language})]"
    return f"[{kind} message]"


def _format_interactive(interactive: Mapping[str, object]) -> str:
    lines: list[str] = []
    if header := str_of(obj_of(interactive.get("header")).get("text")):
        lines.append(f"*{header}*")
    lines.append(str_of(obj_of(interactive.get("body")).get("text")))
    action = obj_of(interactive.get("action"))
    kind = interactive.get("type")
    choices = _choices(interactive)
    if kind == "button":
        lines.append("  ".join(f"[{i}] {c.title}" for i, c in enumerate(choices, 1)))
    elif kind == "list":
        lines.append(f"≡ {str_of(action.get('button'))}")
        lines.extend(_list_rows(action))
    else:
        lines.append(f"[interactive {kind}]")
    if footer := str_of(obj_of(interactive.get("footer")).get("text")):
        lines.append(f"_{footer}_")
    return "\n".join(lines)


def _list_rows(action: Mapping[str, object]) -> list[str]:
    lines: list[str] = []
    number = 0
    for section in objs_of(action.get("sections")):
        if title := str_of(section.get("title")):
            lines.append(f"{title}:")
        for row in objs_of(section.get("rows")):
            number += 1
            description = str_of(row.get("description"))
            suffix = f" — {description}" if description else ""
            lines.append(f"{number}. {str_of(row.get('title'))}{suffix}")
    return lines


def screen_of(body: Mapping[str, object], wamid: str = "") -> Screen | None:
    """What `#N` taps after this message: its buttons or rows; None for anything else."""
    if body.get("type") != "interactive":
        return None
    interactive = obj_of(body.get("interactive"))
    kind = interactive.get("type")
    choices = _choices(interactive)
    if kind not in ("button", "list") or not choices:
        return None
    return Screen(kind="button" if kind == "button" else "list", choices=choices, wamid=wamid)


def _choices(interactive: Mapping[str, object]) -> tuple[Choice, ...]:
    action = obj_of(interactive.get("action"))
    if interactive.get("type") == "button":
        replies = [obj_of(b.get("reply")) for b in objs_of(action.get("buttons"))]
        return tuple(Choice(reply_id=str_of(r.get("id")), title=str_of(r.get("title")))
                     for r in replies)
    sections = objs_of(action.get("sections"))
    rows = [row for section in sections for row in objs_of(section.get("rows"))]
    return tuple(
        Choice(reply_id=str_of(r.get("id")), title=str_of(r.get("title")),
               description=str_of(r.get("description")))
        for r in rows
    )


def obj_of(value: object) -> Mapping[str, object]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def objs_of(value: object) -> list[Mapping[str, object]]:
    """The JSON objects of `value` if it is a list, else none."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def str_of(value: object) -> str:
    """`value` if it is a string, else ""."""
    return value if isinstance(value, str) else ""
