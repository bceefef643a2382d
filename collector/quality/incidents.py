"""Incidents: one per (site, family, key) while its condition lasts.

`IncidentBook.update` is a pure state machine over the evaluator's findings:
  * a finding with no open incident opens one           -> a "firing" notification
  * a finding for an open incident updates it (a drop that becomes "stopped" is the same
    incident: same family "volume")                       -> nothing sent
  * an open incident without a finding starts clearing; once clear for `resolve_after`
                                                         -> a "resolved" notification
A site_dip finding keeps the per-event volume incidents it covers open (they are part of
the outage, not resolved by it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collector.quality.alerts import Finding, label


@dataclass
class Incident:
    id: str
    site: str
    family: str
    kind: str
    key: str
    opened_at: datetime
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    state: str = "open"
    resolved_at: datetime | None = None
    clear_since: datetime | None = None

    def payload(self, state: str, sent_at: datetime) -> dict[str, Any]:
        """The webhook body (also fine for Slack-style hooks: "text")."""
        event = None if self.key == "*" else label(self.key)
        text = ("RESOLVED " if state == "resolved" else "") + f"[footpath {self.site}] {self.summary}"
        return {"type": "footpath.quality.alert", "state": state, "incident_id": self.id,
                "delivery_id": f"{self.id}:{state}", "site": self.site, "kind": self.kind,
                "family": self.family, "key": self.key, "event": event, "summary": self.summary,
                "text": text, "opened_at": self.opened_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "details": self.details, "sent_at": sent_at.isoformat()}

    def record(self, version: int) -> dict[str, Any]:
        """A footpath.quality_incidents row."""
        return {"site_id": self.site, "incident_id": self.id, "family": self.family, "kind": self.kind,
                "key": self.key, "state": self.state, "opened_at": self.opened_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "summary": self.summary, "details": _json(self.details), "version": version}


def _json(d: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(d).decode()


@dataclass
class Notification:
    state: str  # firing | resolved
    incident: Incident


class IncidentBook:
    def __init__(self, resolve_after: timedelta = timedelta(minutes=15)):
        self.resolve_after = resolve_after
        self.open: dict[tuple[str, str, str], Incident] = {}
        self.changed: list[Incident] = []  # incidents whose stored state is stale (to persist)

    def restore(self, incidents: list[Incident]) -> None:
        for i in incidents:
            if i.state == "open":
                self.open[(i.site, i.family, i.key)] = i

    def update(self, site: str, findings: list[Finding], now: datetime) -> list[Notification]:
        out: list[Notification] = []
        active: dict[tuple[str, str, str], Finding] = {}
        for f in findings:
            active[(site, f.family, f.key)] = f
        covered = {(site, "volume", k) for f in findings for k in f.covers}
        for ident, f in active.items():
            inc = self.open.get(ident)
            if inc is None:
                digest = hashlib.sha256(f"{site}|{f.family}|{f.key}|{now.isoformat()}".encode()).hexdigest()[:20]
                inc = Incident(digest, site, f.family, f.kind, f.key, now, f.summary, dict(f.details))
                self.open[ident] = inc
                self.changed.append(inc)
                out.append(Notification("firing", inc))
                continue
            if inc.clear_since is not None or inc.kind != f.kind or inc.summary != f.summary:
                inc.kind, inc.summary, inc.details, inc.clear_since = f.kind, f.summary, dict(f.details), None
                self.changed.append(inc)
        for ident, inc in list(self.open.items()):
            if ident[0] != site or ident in active or ident in covered:
                continue
            if inc.clear_since is None:
                inc.clear_since = now
            if now - inc.clear_since >= self.resolve_after:
                inc.state, inc.resolved_at = "resolved", now
                del self.open[ident]
                self.changed.append(inc)
                out.append(Notification("resolved", inc))
        return out

    def take_changed(self) -> list[Incident]:
        changed, self.changed = self.changed, []
        seen: dict[str, Incident] = {}
        for i in changed:
            seen[i.id] = i
        return list(seen.values())
