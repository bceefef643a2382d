"""Checking one message against a compiled plan: the verdict the pipeline step stores.

Which schema applies:
    track           plan.events[event]; an event not listed is *unplanned* (a violation
                    of rule "unplanned_event" unless the plan allows unplanned events)
    page, screen    plan.page
    identify        plan.traits (on the traits)
    group, alias    nothing ("unchecked")

Modes:
    observe   store everything, record violations and unplanned properties
    strip     remove unplanned properties (not named by the schema) before validating,
              record them; everything is stored
    block     like observe, but a message with any violation goes to footpath.quarantine
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.plans.model import Plan, Schema

MAX_VIOLATIONS = 20  # per message: a row stays small however broken the sender is
MAX_MESSAGE = 200
_RULE_NAMES = {"oneOfNotValid": "oneOf", "oneOfMultipleValid": "oneOf", "falseSchema": "false"}


@dataclass(slots=True)
class Verdict:
    status: str  # planned | unplanned | unchecked
    violations: list[dict[str, str]] = field(default_factory=list)  # {rule, property, message}
    unplanned: list[str] = field(default_factory=list)  # top-level properties the schema does not name
    stripped: dict[str, Any] | None = None  # the properties (traits) to store instead, strip mode
    blocked: bool = False
    target: str = "properties"  # which field the schema applied to: properties | traits


def _join(path: list[Any], last: str | None = None) -> str:
    parts = [str(p) for p in path] + ([last] if last is not None else [])
    return ".".join(parts)


def violations(schema: Schema, data: dict[str, Any]) -> list[dict[str, str]]:
    """Every error of `data` as {rule, property, message}: rule is the JSON Schema keyword
    that failed (type, required, enum, pattern, minimum, format, ...), property the dotted
    path to the offending value (for `required`, the missing property)."""
    out: list[dict[str, str]] = []
    for e in schema.validator.iter_errors(data):
        kind = e.kind
        rule = _RULE_NAMES.get(kind.name, kind.name)
        path = list(e.instance_path)
        msg = e.message if len(e.message) <= MAX_MESSAGE else e.message[:MAX_MESSAGE - 1] + "…"
        if rule == "required":
            out.append({"rule": rule, "property": _join(path, str(kind.property)), "message": msg})
        elif rule == "additionalProperties":
            for name in kind.unexpected:
                out.append({"rule": rule, "property": _join(path, str(name)),
                            "message": f"{name!r} is not allowed by the plan"})
        else:
            out.append({"rule": rule, "property": _join(path), "message": msg})
        if len(out) >= MAX_VIOLATIONS:
            break
    return out[:MAX_VIOLATIONS]


def schema_for(plan: Plan, msg_type: str, event: str) -> tuple[Schema | None, str, str]:
    """(schema, status, target) for a message."""
    if msg_type == "track":
        s = plan.events.get(event)
        return s, ("planned" if s is not None else "unplanned"), "properties"
    if msg_type in ("page", "screen"):
        return plan.page, ("planned" if plan.page is not None else "unchecked"), "properties"
    if msg_type == "identify":
        return plan.traits, ("planned" if plan.traits is not None else "unchecked"), "traits"
    return None, "unchecked", "properties"


def check(plan: Plan, mode: str, msg_type: str, event: str, properties: dict[str, Any] | None,
          traits: dict[str, Any] | None) -> Verdict:
    schema, status, target = schema_for(plan, msg_type, event)
    if schema is None:
        v = Verdict(status, target=target)
        if status == "unplanned" and not plan.allow_unplanned:
            v.violations.append({"rule": "unplanned_event", "property": "",
                                 "message": f"event {event!r} is not in the tracking plan"})
            v.blocked = mode == "block"
        return v
    data = (traits if target == "traits" else properties) or {}
    v = Verdict(status, target=target)
    v.unplanned = schema.unplanned(data)
    if v.unplanned and mode == "strip":
        drop = set(v.unplanned)
        data = {k: val for k, val in data.items() if k not in drop}
        v.stripped = data
    if not schema.validator.is_valid(data):  # the fast path: no error objects for valid data
        v.violations = violations(schema, data)
        v.blocked = mode == "block"
    return v


def summary(violations_: list[dict[str, str]], limit: int = 3) -> str:
    """A short human reason: 'type total: "12" is not of type "number"; required currency'."""
    parts = []
    for v in violations_[:limit]:
        where = f" {v['property']}" if v["property"] else ""
        parts.append(f"{v['rule']}{where}: {v['message']}")
    more = len(violations_) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
