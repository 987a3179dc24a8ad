"""The message bodies hotelbot sends, read as the guest reads them (one reader for all tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def message_text(body: Mapping[str, Any]) -> str:
    """Everything a guest reads in one message body: its text, or an interactive message's
    header, body, footer, button titles and list rows (title and description), one a line."""
    if body.get("type") == "text":
        return str(body["text"]["body"])
    interactive: Mapping[str, Any] = body.get("interactive", {})
    parts = [str(interactive[key]["text"]) for key in ("header", "body", "footer")
             if key in interactive]
    action: Mapping[str, Any] = interactive.get("action", {})
    parts += [str(button["reply"]["title"]) for button in action.get("buttons", [])]
    for section in action.get("sections", []):
        parts += [f"{row['title']} {row.get('description', '')}" for row in section["rows"]]
    return "\n".join(parts)


def message_kind(body: Mapping[str, Any]) -> str:
    """"text", "button" or "list"."""
    if body.get("type") == "text":
        return "text"
    return str(body["interactive"]["type"])
