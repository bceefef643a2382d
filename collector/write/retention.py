"""Per-site retention (`retention_days` in a [[site]] table) for every table that holds
per-event or per-person rows: one list, RETAINED, says which tables expire and by what
event time; EXEMPT names the other site tables and why they are kept.  A test
(tests/reliability/test_retention_tables.py) fails when a footpath table with a site_id
column is in neither list, so a new derived table cannot silently escape retention.

Retention is a ClickHouse TTL per table, `<time> + N days DELETE WHERE site_id = '<site>'`
for each site with a retention, applied by ClickHouse when it merges parts (eventually;
OPTIMIZE ... FINAL forces it).  The collector sets it at start-up from the config; the
last config started sets it for the whole engine.  Site ids are validated ([a-z0-9_-]) at
config load, so inlining them in DDL is safe.

What "older than the retention" means per table (the time each row expires by):
  events, quarantine                  the event time (timestamp)
  report_steps                        the event time (t, unix ms << 21)
  identity_links                      the last message that carried both ids (last_seen):
                                      a link expires once no retained event holds it
  identity_merges                     the alias message's time (first_seen): once the alias
                                      event has expired the merge goes too (the canonical
                                      map is then re-synced by identity's periodic check)
  quality_violations_hourly           the hour (it keeps one example message per row)
  rejected_messages                   the time it was received (a rejected message's own
                                      timestamp may be what was wrong with it); also
                                      rejected_keep_days for every site (apply_retention's caps)
Aggregating tables fold partial rows before the TTL is evaluated in a merge, so a link
still seen inside the window keeps its earlier first time."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

log = logging.getLogger("footpath.store")

# table (database footpath) -> DateTime expression of the event time its rows expire by.
# A listed table that does not exist is skipped.  (report_events and report_sequences,
# 0020/0022, were dropped by 0026 before retention is applied; report_steps replaced them.)
RETAINED: dict[str, str] = {
    "events": "toDateTime(timestamp)",
    "report_steps": "toDateTime(intDiv(bitShiftRight(t, 21), 1000))",  # t: unix ms << 21 | seq
    "identity_links": "toDateTime(last_seen)",
    "identity_merges": "toDateTime(first_seen)",
    "quarantine": "toDateTime(timestamp)",
    "quality_violations_hourly": "hour",
    "rejected_messages": "toDateTime(received_at)",  # also capped for every site (caps)
}

# Tables with a site_id column that retention leaves alone, and why.
EXEMPT: dict[str, str] = {
    "identity_canonical": "derived from identity_merges: identity.canonical.sync deletes the rows of expired merges",
    "erasure_audit": "proof that an erasure happened; holds no personal data",
    "quality_events_hourly": "hourly counts per event name: no ids, no values",
    "quality_fill_hourly": "hourly property-presence counts: no ids, no values",
    "quality_tag_hourly": "hourly loss figures reported by the tag: no ids",
    "quality_incidents": "alert history: counts and thresholds only",
    "score_settings": "the site's configuration",
}


def site_tables(client: Client) -> set[str]:
    """MergeTree-family tables of database footpath that have a site_id column."""
    rows = client.query(
        "SELECT t.name FROM system.tables AS t INNER JOIN system.columns AS c "
        "ON c.database = t.database AND c.table = t.name "
        "WHERE t.database = 'footpath' AND t.engine LIKE '%MergeTree' AND c.name = 'site_id'").result_rows
    return {r[0] for r in rows}


def unlisted_tables(client: Client) -> set[str]:
    """Site tables in neither RETAINED nor EXEMPT (the test requires none)."""
    return site_tables(client) - set(RETAINED) - set(EXEMPT)


def _ttl_clause(client: Client, name: str) -> str:
    """The table's TTL clause as ClickHouse prints it ('' when none)."""
    create = str(client.command(f"SHOW CREATE TABLE {name}")).replace("\\n", "\n").split("\nSETTINGS")[0]
    return create.split("\nTTL ", 1)[1].strip() if "\nTTL " in create else ""


def ttl_rules(time_expr: str, retention_days: dict[str, int], cap_days: int = 0) -> list[str]:
    """The TTL rules: one per site with a retention, and one for every row at cap_days."""
    rules = [f"{time_expr} + toIntervalDay({int(d)}) DELETE WHERE site_id = '{sid}'"
             for sid, d in sorted(retention_days.items()) if d > 0]
    return rules + ([f"{time_expr} + toIntervalDay({int(cap_days)}) DELETE"] if cap_days > 0 else [])


def apply_retention(client: Client, retention_days: dict[str, int],
                    caps: dict[str, int] | None = None) -> dict[str, str]:
    """Set (or remove) the per-site TTL on every RETAINED table that exists, plus, for the
    tables named in caps, a limit in days for every site (service.py: rejected_messages at
    rejected_keep_days); returns
    table -> the DDL run ('' where a TTL was removed or none was needed).  A table whose
    DDL fails is logged and skipped, so storage still comes up."""
    present = site_tables(client)
    done: dict[str, str] = {}
    for table, expr in RETAINED.items():
        if table not in present:
            continue
        name = f"footpath.`{table}`"
        rules = ttl_rules(expr, retention_days, (caps or {}).get(table, 0))
        try:
            if rules:
                before = _ttl_clause(client, name)
                ddl = f"ALTER TABLE {name} MODIFY TTL " + ", ".join(rules)
                client.command(ddl, settings={"materialize_ttl_after_modify": 0})
                if _ttl_clause(client, name) != before:
                    # Parts written before a TTL change never learn it by themselves (a
                    # large old part may never merge again): re-evaluate them once, as a
                    # background mutation, only when the rules changed (not every start).
                    client.command(f"ALTER TABLE {name} MATERIALIZE TTL", settings={"mutations_sync": 0})
                done[table] = ddl
                continue
            if _ttl_clause(client, name):
                client.command(f"ALTER TABLE {name} REMOVE TTL")
            done[table] = ""
        except Exception as e:  # noqa: BLE001 - one table must not keep storage down
            log.error("retention: could not set the TTL of footpath.%s: %s", table, str(e).split("\n")[0][:300])
    missed = present - set(RETAINED) - set(EXEMPT)
    if missed and any(d > 0 for d in retention_days.values()):
        log.warning("retention: tables with a site_id not covered by collector/write/retention.py: %s",
                    ", ".join(sorted(missed)))
    return done
