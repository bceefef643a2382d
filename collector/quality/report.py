"""The quality report (`GET /v1/quality?site=&from=&to=`), from the hourly aggregates.

Per event (type + name): volume by hour, violation rate (violating / checked against the
plan), unplanned and blocked counts, the top violations with an example, and property
fill rates; per site: the totals, what waits in quarantine, and the loss figures the
browser tag reported, turned into an estimated completeness
    browser events received / (browser events received + events the tag dropped).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from collector.plans.model import Plan
from collector.quality.alerts import label
from collector.when import parse_when
from collector.write.store import Store

MAX_RANGE = timedelta(days=93)
TOP_VIOLATIONS = 10
MAX_EVENTS = 200


class ReportError(ValueError):
    pass


def parse_range(start: str | None, end: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """ISO dates or datetimes (UTC unless zoned); default: the last 24 hours."""
    now = now or datetime.now(UTC)

    def one(v: str, name: str) -> datetime:
        try:
            return parse_when(v)[0]
        except ValueError as e:
            raise ReportError(f"'{name}' {e}, got {v!r}") from None

    e = one(end, "to") if end else now
    b = one(start, "from") if start else e - timedelta(hours=24)
    if b >= e:
        raise ReportError("'from' must be before 'to'")
    if e - b > MAX_RANGE:
        raise ReportError(f"the range may span at most {MAX_RANGE.days} days")
    return b, e


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 6) if n else None


def _planned(plan: Plan | None, t: str, e: str) -> bool | None:
    if plan is None:
        return None
    if t == "track":
        return e in plan.events
    if t in ("page", "screen"):
        return plan.page is not None
    if t == "identify":
        return plan.traits is not None
    return False


def quality_report(store: Store, site_id: str, start: datetime, end: datetime,
                   plan: Plan | None = None) -> dict[str, Any]:
    c = store.admin()
    p = {"s": site_id, "b": start.replace(minute=0, second=0, microsecond=0), "e": end}
    where = "site_id = {s:String} AND hour >= {b:DateTime('UTC')} AND hour < {e:DateTime('UTC')}"
    hourly = c.query(
        f"SELECT type, event, toString(hour), sum(events), sum(checked), sum(violating), sum(unplanned), "
        f"sum(blocked), sumIf(events, source = 'browser') FROM footpath.quality_events_hourly WHERE {where} "
        f"GROUP BY type, event, hour ORDER BY type, event, hour", parameters=p).result_rows
    events: dict[tuple[str, str], dict[str, Any]] = {}
    browser = 0
    for t, e, hour, n, checked, violating, unplanned, blocked, from_browser in hourly:
        x = events.get((t, e))
        if x is None:
            x = events[(t, e)] = {"type": t, "event": e, "label": label(f"{t}:{e}"), "planned": _planned(plan, t, e),
                                  "events": 0, "checked": 0, "violating": 0, "unplanned": 0, "blocked": 0,
                                  "hourly": [], "violations": [], "fill_rates": []}
        x["events"] += n
        x["checked"] += checked
        x["violating"] += violating
        x["unplanned"] += unplanned
        x["blocked"] += blocked
        browser += from_browser
        x["hourly"].append({"hour": hour.replace(" ", "T") + "Z", "events": n, "violating": violating})
    top = c.query(
        f"SELECT type, event, rule, property, sum(violations) AS n, any(example), any(example_message_id) "
        f"FROM footpath.quality_violations_hourly WHERE {where} GROUP BY type, event, rule, property "
        f"ORDER BY n DESC, rule, property LIMIT {TOP_VIOLATIONS} BY type, event", parameters=p).result_rows
    for t, e, rule, prop, n, example, mid in top:
        if (t, e) in events:
            events[(t, e)]["violations"].append({"rule": rule, "property": prop, "count": n, "example": example,
                                                 "example_message_id": mid})
    fill = c.query(
        f"SELECT type, event, property, sum(present) AS n FROM footpath.quality_fill_hourly WHERE {where} "
        f"GROUP BY type, event, property ORDER BY n DESC, property", parameters=p).result_rows
    for t, e, prop, n in fill:
        x = events.get((t, e))
        if x is not None:
            x["fill_rates"].append({"property": prop, "present": n, "rate": _rate(n, x["events"])})
    tag = c.query("SELECT sum(dropped), sum(retried), sum(queued) FROM footpath.quality_tag_hourly "
                  f"WHERE {where}", parameters=p).result_rows
    dropped, retried, queued = (int(v or 0) for v in tag[0]) if tag else (0, 0, 0)
    q = dict(c.query("SELECT status, count() FROM footpath.quarantine FINAL WHERE site_id = {s:String} "
                     "GROUP BY status", parameters={"s": site_id}).result_rows)
    ordered = sorted(events.values(), key=lambda x: (-x["events"], x["type"], x["event"]))[:MAX_EVENTS]
    for x in ordered:
        x["violation_rate"] = _rate(x["violating"], x["checked"])
    tot = {k: sum(x[k] for x in events.values()) for k in ("events", "checked", "violating", "unplanned", "blocked")}
    tot["violation_rate"] = _rate(tot["violating"], tot["checked"])
    return {
        "site": site_id, "from": start.isoformat(), "to": end.isoformat(),
        "totals": tot,
        "quarantine": {"quarantined": q.get("quarantined", 0), "replayed": q.get("replayed", 0)},
        "completeness": {"browser_events": browser, "dropped": dropped, "retried": retried, "queued": queued,
                         "estimated": _rate(browser, browser + dropped)},
        "events": ordered,
    }
