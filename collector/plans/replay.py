"""Quarantine replay: re-check blocked messages against the plan as it is now and move
those that pass into footpath.events, exactly once however often (or however
interrupted) it runs.

    1. read the site's rows still 'quarantined' (FINAL: the latest version of each),
       a page at a time in message_id order;
    2. re-check each stored row with the current plan and mode (strip applies);
    3. leave out the message_ids footpath.events already holds (a replay that died
       between its insert and step 4 is finished by the next one, not repeated);
    4. insert the rest under insert_deduplication_token = hash of their ids (a retried
       insert of the same page is dropped by ClickHouse), marked replayed = true;
    5. mark the moved rows 'replayed' in footpath.quarantine with a higher version.

One replay per site runs at a time in a collector (a lock); rows that still fail stay
quarantined, with their original reason.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import orjson

from collector.ops import metrics
from collector.plans.check import check
from collector.plans.model import Plan
from collector.sites import Site
from collector.write.store import Store
from collector.write.writer import INSERT_SETTINGS

PAGE = 2000
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(site_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(site_id, threading.Lock())


def recheck(row: dict[str, Any], plan: Plan | None, mode: str) -> dict[str, Any] | None:
    """The events row to store now, or None if the plan still blocks it."""
    out = dict(row)
    out["replayed"] = True
    if plan is None:  # the site no longer has a plan: nothing to block
        out.update(plan_version=0, plan_status="", violations=[], unplanned_properties=[])
        return out
    props = orjson.loads(row.get("properties") or "{}")
    traits = orjson.loads(row.get("traits") or "{}")
    v = check(plan, mode, row.get("type", ""), row.get("event", ""), props, traits)
    if v.blocked:
        return None
    out.update(plan_version=plan.version, plan_status=v.status, violations=v.violations,
               unplanned_properties=v.unplanned)
    if v.stripped is not None:
        out[v.target] = orjson.dumps(v.stripped).decode()
    return out


def replay(store: Store, site: Site, plan: Plan | None, dry_run: bool = False) -> dict[str, Any]:
    with _lock(site.id):
        return _replay(store, site, plan, dry_run)


def _replay(store: Store, site: Site, plan: Plan | None, dry_run: bool) -> dict[str, Any]:
    client = store.admin()
    result = {"site": site.id, "plan_version": plan.version if plan else 0, "mode": site.plan_mode,
              "dry_run": dry_run, "checked": 0, "replayed": 0, "already_present": 0, "still_blocked": 0}
    after = ""
    while True:
        page = client.query(
            "SELECT message_id, row FROM footpath.quarantine FINAL WHERE site_id = {s:String} "
            "AND status = 'quarantined' AND message_id > {after:String} ORDER BY message_id LIMIT {n:UInt32}",
            parameters={"s": site.id, "after": after, "n": PAGE}).result_rows
        if not page:
            break
        after = page[-1][0]
        passing: dict[str, dict[str, Any]] = {}
        for mid, raw in page:
            result["checked"] += 1
            now = recheck(orjson.loads(raw), plan, site.plan_mode)
            if now is None:
                result["still_blocked"] += 1
            else:
                passing[mid] = now
        if not passing:
            continue
        ids = sorted(passing)
        dates = sorted({str(r["timestamp"])[:10] for r in passing.values()})
        present = {r[0] for r in client.query(
            "SELECT DISTINCT message_id FROM footpath.events WHERE site_id = {s:String} "
            "AND toDate(timestamp) IN {d:Array(Date)} AND message_id IN {ids:Array(String)}",
            parameters={"s": site.id, "d": dates, "ids": ids}).result_rows}
        fresh = [m for m in ids if m not in present]
        result["already_present"] += len(present)
        result["replayed"] += len(fresh)
        if dry_run:
            continue
        if fresh:
            token = "replay:" + site.id + ":" + hashlib.sha256("\n".join(fresh).encode()).hexdigest()
            payload = b"\n".join(orjson.dumps(passing[m]) for m in fresh)
            client.raw_insert("footpath.events", None, insert_block=payload, fmt="JSONEachRow",
                              settings={**INSERT_SETTINGS, "insert_deduplication_token": token})
            metrics.QUARANTINE_REPLAYED.labels(site.id).inc(len(fresh))
        # The filter sits in a subquery: REPLACE's aliases would shadow `status` in a WHERE beside them.
        client.command(
            "INSERT INTO footpath.quarantine SELECT * REPLACE ('replayed' AS status, now64(3) AS replayed_at, "
            "toUInt32({v:UInt32}) AS replay_plan_version, toUInt64({ver:UInt64}) AS version) FROM "
            "(SELECT * FROM footpath.quarantine FINAL WHERE site_id = {s:String} "
            "AND message_id IN {ids:Array(String)} AND status = 'quarantined')",
            parameters={"s": site.id, "ids": ids, "v": result["plan_version"], "ver": time.time_ns() // 1000})
    return result


def list_quarantine(store: Store, site_id: str, status: str = "quarantined", limit: int = 100) -> dict[str, Any]:
    """What is in quarantine: counts by state and the latest rows with their reasons."""
    client = store.admin()
    counts = dict(client.query(
        "SELECT status, count() FROM footpath.quarantine FINAL WHERE site_id = {s:String} GROUP BY status",
        parameters={"s": site_id}).result_rows)
    rows = client.query(
        "SELECT message_id, type, event, toString(timestamp), toString(received_at), plan_version, reason, "
        "properties FROM footpath.quarantine FINAL WHERE site_id = {s:String} AND status = {st:String} "
        "ORDER BY received_at DESC, message_id LIMIT {n:UInt32}",
        parameters={"s": site_id, "st": status, "n": limit}).result_rows
    keys = ("message_id", "type", "event", "timestamp", "received_at", "plan_version", "reason", "properties")
    return {"site": site_id, "counts": {"quarantined": counts.get("quarantined", 0),
                                        "replayed": counts.get("replayed", 0)},
            "rows": [dict(zip(keys, r, strict=True)) for r in rows]}
