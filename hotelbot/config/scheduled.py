"""A hotel file's scheduler part: `scheduled_messages`, `quiet_hours`, `pms_token_env`.

Owns: reading and checking them into flows.proactive's model, every fault at its YAML path
(so `hotelbot check-config` prints file, line and reason): unknown keys, a bad trigger, an
unknown department, flow or WhatsApp template, a reply flow the sending department does not
offer, unknown {variables}, missing translations, texts over WhatsApp's limit. Must never do
I/O (the loader hands it the parsed file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

from hotelbot.config.checks import text_faults
from hotelbot.config.source import (
    Source,
    boolean,
    ident,
    integer,
    join,
    mapping,
    string,
    text,
)
from hotelbot.flows import (
    SCHEDULED_VARIABLES,
    Category,
    Department,
    Flow,
    MessageTemplate,
    QuietHours,
    ScheduledTemplate,
    Trigger,
    TriggerKind,
)
from hotelbot.typedefs import Dept, FlowId
from hotelbot.whatsapp import limits

__all__ = ["SchedulerPart", "parse_scheduler_part"]

_KEYS = frozenset({"trigger", "text", "department", "active", "category", "template",
                   "reply_flow"})
_TRIGGERS = {
    "hours_before_checkout": (TriggerKind.BEFORE_CHECKOUT, 60),
    "minutes_before_checkout": (TriggerKind.BEFORE_CHECKOUT, 1),
    "hours_after_check_in": (TriggerKind.AFTER_CHECK_IN, 60),
    "minutes_after_check_in": (TriggerKind.AFTER_CHECK_IN, 1),
}
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_ENV = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
MAX_OFFSET_MINUTES = 60 * 24 * 60  # 60 days: further is a mistake, not a reminder


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerPart:
    scheduled: Mapping[str, ScheduledTemplate] = field(default_factory=dict)
    quiet_hours: Mapping[Category, QuietHours] = field(default_factory=dict)
    pms_token_env: str | None = None


def parse_scheduler_part(
    src: Source, *, languages: tuple[str, ...], departments: Mapping[Dept, Department],
    flows: Mapping[FlowId, Flow], templates: Mapping[str, MessageTemplate],
    variables: frozenset[str],
) -> SchedulerPart:
    """Read the hotel file's scheduler keys (src.data is the whole file, already checked
    to be a mapping); faults go to `src`."""
    raw = src.data if isinstance(src.data, dict) else {}
    env = raw.get("pms_token_env")
    token_env = None
    if env is not None:
        token_env = string(src, env, "pms_token_env")
        if token_env is not None and not _ENV.fullmatch(token_env):
            src.fault("pms_token_env", "expected an environment variable name such as "
                      "HOTELBOT_DEMO_PMS_TOKEN (capitals, digits, _)")
            token_env = None
    quiet = _quiet_hours(src, raw.get("quiet_hours", {}))
    found: dict[str, ScheduledTemplate] = {}
    table = raw.get("scheduled_messages", {})
    if not isinstance(table, dict):
        src.fault("scheduled_messages", "expected a mapping of message type -> message")
        table = {}
    context = _Context(src, languages, departments, flows, templates,
                       variables | SCHEDULED_VARIABLES)
    for message_type, spec in table.items():
        parsed = context.message(str(message_type), spec)
        if parsed is not None:
            found[parsed.id] = parsed
    return SchedulerPart(scheduled=found, quiet_hours=quiet, pms_token_env=token_env)


@dataclass(frozen=True, slots=True)
class _Context:
    src: Source
    languages: tuple[str, ...]
    departments: Mapping[Dept, Department]
    flows: Mapping[FlowId, Flow]
    templates: Mapping[str, MessageTemplate]
    variables: frozenset[str]

    def message(self, message_type: str, spec: object) -> ScheduledTemplate | None:
        src = self.src
        path = join("scheduled_messages", message_type)
        fields = mapping(src, spec, path, allowed=_KEYS, what="a scheduled message",
                         required=("trigger", "text", "department"))
        if fields is None or ident(src, message_type, path, "message type") is None:
            return None
        trigger = _trigger(src, fields.get("trigger"), join(path, "trigger"), self.flows)
        body = text(src, fields.get("text"), join(path, "text"), self.languages[0])
        if body is not None:
            for reason in text_faults(body, limits.TEXT_BODY_MAX, self.languages, self.variables):
                src.fault(join(path, "text"), reason)
        dept = self._department(fields.get("department"), join(path, "department"))
        category = self._category(fields.get("category", "service"), join(path, "category"))
        active = boolean(src, fields.get("active", True), join(path, "active"))
        template = self._template(fields.get("template"), join(path, "template"))
        reply = self._reply_flow(fields.get("reply_flow"), join(path, "reply_flow"), dept)
        if None in (trigger, body, dept, category, active) or template is False \
                or reply is False:
            return None
        assert trigger is not None and body is not None and dept is not None
        assert category is not None and active is not None
        return ScheduledTemplate(
            id=message_type, trigger=trigger, text=body, department=dept, active=active,
            category=category, template=template if isinstance(template, str) and template
            else None, reply_flow=FlowId(reply) if isinstance(reply, str) and reply else None)

    def _department(self, value: object, path: str) -> Dept | None:
        name = string(self.src, value, path)
        if name is None:
            return None
        if name not in self.departments:
            self.src.fault(path, f"unknown department '{name}' (this hotel has: "
                           f"{', '.join(sorted(self.departments))})")
            return None
        return Dept(name)

    def _category(self, value: object, path: str) -> Category | None:
        if value not in {c.value for c in Category}:
            self.src.fault(path, "expected service or marketing")
            return None
        return Category(str(value))

    def _template(self, value: object, path: str) -> str | bool:
        """The message template id; "" when none is named; False after a fault."""
        if value is None:
            return ""
        name = string(self.src, value, path)
        if name is None:
            return False
        if name not in self.templates:
            known = ", ".join(sorted(self.templates)) or "none"
            self.src.fault(path, f"unknown WhatsApp template '{name}' (message_templates of "
                           f"this hotel: {known})")
            return False
        return name

    def _reply_flow(self, value: object, path: str, dept: Dept | None) -> FlowId | bool:
        """The reply flow; "" when none; False after a fault."""
        if value is None:
            return FlowId("")
        name = string(self.src, value, path)
        if name is None:
            return False
        if name not in self.flows:
            self.src.fault(path, f"unknown flow '{name}' (flows this hotel runs: "
                           f"{', '.join(sorted(self.flows))})")
            return False
        department = self.departments.get(dept) if dept is not None else None
        if department is not None and name not in department.flows \
                and name != department.main_flow:
            self.src.fault(path, f"the department '{department.id}' does not offer flow "
                           f"'{name}' (add it to its flows)")
            return False
        return FlowId(name)


def _trigger(src: Source, value: object, path: str,
             flows: Mapping[FlowId, Flow]) -> Trigger | None:
    allowed = {*_TRIGGERS, "daily_at", "after_request", "broadcast"}
    fields = mapping(src, value, path, allowed=allowed, what="a trigger")
    if fields is None:
        return None
    if len(fields) != 1:
        src.fault(path, f"expected exactly one trigger, one of: {', '.join(sorted(allowed))}")
        return None
    [(key, raw)] = fields.items()
    sub = join(path, key)
    if key in _TRIGGERS:
        kind, unit = _TRIGGERS[key]
        amount = integer(src, raw, sub, low=0)
        if amount is None:
            return None
        if amount * unit > MAX_OFFSET_MINUTES:
            src.fault(sub, f"at most {MAX_OFFSET_MINUTES // 1440} days")
            return None
        return Trigger(kind=kind, minutes=amount * unit)
    if key == "daily_at":
        at = _time(src, raw, sub)
        return None if at is None else Trigger(kind=TriggerKind.DAILY, at=at)
    if key == "broadcast":
        if raw is not True:
            src.fault(sub, "expected true (the message goes out only when broadcast)")
            return None
        return Trigger(kind=TriggerKind.BROADCAST)
    return _after_request(src, raw, sub, flows)


def _after_request(src: Source, value: object, path: str,
                   flows: Mapping[FlowId, Flow]) -> Trigger | None:
    fields = mapping(src, value, path, allowed={"flow", "status", "hours", "minutes"},
                     required=("flow",), what="an after_request trigger")
    if fields is None:
        return None
    flow = string(src, fields.get("flow"), join(path, "flow"))
    if flow is not None and flow not in flows:
        src.fault(join(path, "flow"), f"unknown flow '{flow}'")
        flow = None
    status = fields.get("status", "done")
    if status not in ("acknowledged", "done", "cancelled"):
        src.fault(join(path, "status"), "expected acknowledged, done or cancelled")
        return None
    hours = integer(src, fields.get("hours", 0), join(path, "hours"), low=0)
    minutes = integer(src, fields.get("minutes", 0), join(path, "minutes"), low=0)
    if flow is None or hours is None or minutes is None:
        return None
    total = hours * 60 + minutes
    if total > MAX_OFFSET_MINUTES:
        src.fault(path, f"at most {MAX_OFFSET_MINUTES // 1440} days")
        return None
    return Trigger(kind=TriggerKind.AFTER_REQUEST, minutes=total, flow=FlowId(flow),
                   status=str(status))


def _quiet_hours(src: Source, value: object) -> dict[Category, QuietHours]:
    fields = mapping(src, value, "quiet_hours", allowed={c.value for c in Category},
                     what="quiet hours per category")
    found: dict[Category, QuietHours] = {}
    for name, spec in (fields or {}).items():
        path = join("quiet_hours", name)
        window = mapping(src, spec, path, allowed={"from", "to"}, required=("from", "to"),
                         what="quiet hours")
        if window is None or "from" not in window or "to" not in window:
            continue
        start = _time(src, window["from"], join(path, "from"))
        end = _time(src, window["to"], join(path, "to"))
        if start is not None and end is not None:
            if start == end:
                src.fault(path, "from and to are the same time (an empty window)")
                continue
            found[Category(name)] = QuietHours(start=start, end=end)
    return found


def _time(src: Source, value: object, path: str) -> time | None:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        src.fault(path, 'expected a local time "HH:MM" (24-hour, quoted)')
        return None
    return time(int(match.group(1)), int(match.group(2)))
