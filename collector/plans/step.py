"""The pipeline step "plan": check each message against its site's tracking plan.

It runs after "consent", the last of the enrichers, for two reasons: a blocked message
must keep everything it would have been stored with (so replay can move the very row
into footpath.events), and it must keep nothing more (what consent strips never reaches
the quarantine either).  It never rejects nor drops: a blocked message counts as
accepted in the batch response (the sender must not retry it) and is diverted to
footpath.quarantine by setting `w.table`; the writer inserts it under its own
deduplication token, from the same durable buffer record as the request's other rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client.core import CounterMetricFamily

from collector.ops import metrics
from collector.plans.check import Verdict, check, summary
from collector.plans.registry import REGISTRY

if TYPE_CHECKING:
    from collector.pipeline import RequestContext, Services, Work

QUARANTINE = "footpath.quarantine"
# Per-message tally as plain ints (a prometheus Counter.inc takes a lock: ~3 us per call,
# measured); exported at scrape time as footpath_plan_checked_total{site,status}.
_checked: defaultdict[tuple[str, str], int] = defaultdict(int)


class _CheckedCollector:
    def collect(self) -> Iterator[CounterMetricFamily]:
        fam = CounterMetricFamily("footpath_plan_checked", "Messages checked against a tracking plan, by plan status",
                                  labels=["site", "status"])
        for (site, status), n in list(_checked.items()):
            fam.add_metric([site, status], n)
        yield fam


metrics.REGISTRY.register(_CheckedCollector())


def step_plan(rq: RequestContext, sv: Services, w: Work) -> None:
    site = rq.site
    if not site.tracking_plan:
        return None
    plan = REGISTRY.get(site.tracking_plan)
    if plan is None:  # never loaded (file vanished since start-up): store unchecked
        return None
    m = w.msg
    assert m is not None
    v = check(plan, site.plan_mode, m.type, m.event or "", m.properties, m.traits)
    row = w.row
    row["plan_version"] = plan.version
    row["plan_status"] = v.status
    _checked[(site.id, v.status)] += 1
    if v.unplanned:
        row["unplanned_properties"] = v.unplanned
        if v.stripped is not None:
            row[v.target] = orjson.dumps(v.stripped).decode()
            metrics.PLAN_STRIPPED.labels(site.id).inc(len(v.unplanned))
    if v.violations:
        row["violations"] = v.violations
        for x in v.violations:
            metrics.PLAN_VIOLATIONS.labels(site.id, x["rule"]).inc()
    if v.blocked:
        w.row = quarantine_row(row, v)
        w.table = QUARANTINE
        metrics.PLAN_BLOCKED.labels(site.id).inc()
    return None


def quarantine_row(row: dict[str, Any], v: Verdict) -> dict[str, Any]:
    """A footpath.quarantine row: the searchable fields plus the whole events row as JSON."""
    return {
        "site_id": row["site_id"], "message_id": row["message_id"], "type": row["type"],
        "event": row["event"], "source": row.get("source", ""), "timestamp": row["timestamp"],
        "received_at": row["received_at"], "plan_version": row["plan_version"],
        "plan_status": row["plan_status"], "violations": v.violations,
        "unplanned_properties": v.unplanned, "reason": summary(v.violations),
        "properties": row.get(v.target, "{}"), "row": orjson.dumps(row).decode(),
    }
