"""The conversation context: the state one guest has with one department number.

Owns: the Context dataclass (the seed's Context Data Structure, plus cooloff and language)
and its plain-dict form for snapshots. Must never do I/O; JSON encoding happens in the store.

Fields:
  current_flow / current_step  where the guest is; both None when idle (next message: main menu)
  step_data                    answers collected in the current flow (cleared when a flow starts)
  accumulated_data             guest-level data shared by a hotel's departments (name, room, ...)
  navigation_stack             StepRefs ("flow.step") of steps the guest came through, oldest first
  error_count                  consecutive invalid answers
  cooloff_until                set when error_count reached the limit; silence until then
  spam_noticed                 reserved for the actor's anti-spam notice (engine leaves it alone)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hotelbot.typedefs import JSONScalar

SNAPSHOT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    hotel_id: str
    guest_id: str  # wa_id (or Meta's user_id when the webhook carries no phone)
    phone_number_id: str
    department: str
    language: str
    current_flow: str | None = None
    current_step: str | None = None
    step_data: Mapping[str, JSONScalar] = field(default_factory=dict)
    accumulated_data: Mapping[str, JSONScalar] = field(default_factory=dict)
    navigation_stack: tuple[str, ...] = ()
    error_count: int = 0
    last_activity: datetime | None = None
    cooloff_until: datetime | None = None

    def evolve(self, **changes: Any) -> Context:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able dict (datetimes as ISO 8601 strings) with a schema version."""
        return {
            "v": SNAPSHOT_VERSION,
            "hotel_id": self.hotel_id,
            "guest_id": self.guest_id,
            "phone_number_id": self.phone_number_id,
            "department": self.department,
            "language": self.language,
            "current_flow": self.current_flow,
            "current_step": self.current_step,
            "step_data": dict(self.step_data),
            "accumulated_data": dict(self.accumulated_data),
            "navigation_stack": list(self.navigation_stack),
            "error_count": self.error_count,
            "last_activity": _iso(self.last_activity),
            "cooloff_until": _iso(self.cooloff_until),
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Context:
        """Inverse of to_dict. Raises ValueError on an unknown snapshot version."""
        if d.get("v") != SNAPSHOT_VERSION:
            raise ValueError(f"unknown context snapshot version {d.get('v')!r}")
        return Context(
            hotel_id=d["hotel_id"],
            guest_id=d["guest_id"],
            phone_number_id=d["phone_number_id"],
            department=d["department"],
            language=d["language"],
            current_flow=d["current_flow"],
            current_step=d["current_step"],
            step_data=dict(d["step_data"]),
            accumulated_data=dict(d["accumulated_data"]),
            navigation_stack=tuple(d["navigation_stack"]),
            error_count=int(d["error_count"]),
            last_activity=_dt(d["last_activity"]),
            cooloff_until=_dt(d["cooloff_until"]),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
