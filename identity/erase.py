"""Right to erasure: delete every event of a person, its identity links, alias merges and
canonical rows, and rows keyed by its ids in other Footpath tables; leave an audit row
without personal data.

Deletes are ALTER TABLE ... DELETE with mutations_sync = 2: when the call returns, the
rows are gone from every part that held them (not just masked as with a lightweight
DELETE).  On a shared device only the events the person owns under the time-ordered
rules are deleted; the other persons' events and links stay."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from identity.persons import Person, event_condition, resolve

log = logging.getLogger("footpath.identity")

MUTATION = {"mutations_sync": 2}
OWN_TABLES = frozenset({"events", "identity_links", "identity_merges", "identity_canonical", "erasure_audit",
                        "schema_migrations"})
NOTES = [
    "message ids stay in the collector's duplicate cache: a re-sent copy of an erased message is "
    "dropped until the cache forgets it (or the collector restarts)",
    "a browser that still holds the erased anonymous id or user id and keeps sending creates a new "
    "person; call reset() in the page or stop sending for the user",
    "ClickHouse removes the replaced data parts after old_parts_lifetime (8 minutes by default)",
]


def _count(client: Client, table: str, cond: str, params: dict[str, Any]) -> int:
    return int(client.query(f"SELECT count() FROM {table} WHERE {cond}", parameters=params).result_rows[0][0])


def _delete(client: Client, table: str, cond: str, params: dict[str, Any]) -> None:
    client.command(f"ALTER TABLE {table} DELETE WHERE {cond}", parameters=params, settings=MUTATION)


def other_tables(client: Client) -> dict[str, frozenset[str]]:
    """MergeTree tables in database footpath (beyond identity's own) with a site_id column
    and an id column, or a `row` column holding a footpath.events row as JSON: what else
    may hold a person's rows (report aggregates, scores, the quarantine)."""
    rows = client.query(
        "SELECT c.table, groupArray(c.name) FROM system.columns AS c "
        "INNER JOIN (SELECT name FROM system.tables WHERE database = 'footpath' AND engine LIKE '%MergeTree') AS t "
        "ON c.table = t.name WHERE c.database = 'footpath' GROUP BY c.table").result_rows
    out = {}
    for table, cols in rows:
        names = frozenset(cols)
        if table in OWN_TABLES or "site_id" not in names:
            continue
        if names & {"user_id", "anonymous_id", "person_id"} or {"row", "timestamp"} <= names:
            out[table] = names
    return out


ROW_JSON = {c: f"JSONExtractString(row, '{c}')" for c in ("user_id", "anonymous_id", "previous_id")}


def example_tables(client: Client) -> list[tuple[str, bool]]:
    """Aggregates that keep one example message per row by its message id, not by person
    (quality_violations_hourly: its `example` is the offending value, which may be the
    person's email): (table, whether it has the example text too)."""
    rows = client.query(
        "SELECT table, groupArray(name) FROM system.columns WHERE database = 'footpath' "
        "AND table IN (SELECT name FROM system.tables WHERE database = 'footpath' AND engine LIKE '%MergeTree') "
        "GROUP BY table HAVING has(groupArray(name), 'example_message_id') AND has(groupArray(name), 'site_id')"
    ).result_rows
    return sorted((t, "example" in cols) for t, cols in rows)


def _scrub_examples(client: Client, site: str, ev_cond: str, ev_params: dict[str, Any], dry_run: bool
                    ) -> dict[str, int]:
    """Blanks the examples taken from the person's messages (before those are deleted): the
    counts stay, the text and the message id go.  Rows per table."""
    ids = [r[0] for r in client.query(f"SELECT DISTINCT message_id FROM footpath.events WHERE {ev_cond}",
                                      parameters=ev_params).result_rows]
    out: dict[str, int] = {}
    if not ids:
        return out
    params = {"x_site": site, "x_ids": ids}
    cond = "site_id = {x_site:String} AND example_message_id IN {x_ids:Array(String)}"
    for table, has_text in example_tables(client):
        name = f"footpath.`{table}`"
        n = _count(client, name, cond, params)
        if n:
            out[table] = n
            if not dry_run:
                blank = "example = '', example_message_id = ''" if has_text else "example_message_id = ''"
                client.command(f"ALTER TABLE {name} UPDATE {blank} WHERE {cond}", parameters=params,
                               settings=MUTATION)
    return out


def _other_condition(person: Person, cols: frozenset[str]) -> tuple[str, dict[str, Any]]:
    if {"user_id", "anonymous_id", "timestamp"} <= cols:
        return event_condition(person, cols)
    if {"row", "timestamp"} <= cols and not cols & {"user_id", "anonymous_id"}:
        # A whole footpath.events row kept as JSON text (the quarantine): match its ids.
        return event_condition(person, frozenset({"user_id", "anonymous_id", "previous_id", "timestamp"}), ROW_JSON)
    params: dict[str, Any] = {"id_site": person.site_id}
    parts = []
    if "person_id" in cols:
        params["id_persons"] = [person.person_id]
        parts.append("person_id IN {id_persons:Array(String)}")
    if "user_id" in cols and person.user_ids:
        params["id_users"] = person.user_ids
        parts.append("user_id IN {id_users:Array(String)}")
    if "anonymous_id" in cols and person.exclusive_anonymous_ids:
        params["id_anons"] = person.exclusive_anonymous_ids
        parts.append("anonymous_id IN {id_anons:Array(String)}")
    if not parts:
        return "0", params
    return "site_id = {id_site:String} AND (" + " OR ".join(parts) + ")", params


def erase(client: Client, site: str, ref: str, dry_run: bool = False) -> dict[str, Any]:
    """Erase the person named by ref ('u:..', 'a:..' or a bare id).  Raises PersonError."""
    person = resolve(client, site, ref)
    ev_cond, ev_params = event_condition(person)
    users = {"id_site": site, "id_users": person.user_ids}
    link_cond = "site_id = {id_site:String} AND user_id IN {id_users:Array(String)}"
    merge_cond = ("site_id = {id_site:String} AND (previous_id IN {id_users:Array(String)} "
                  "OR user_id IN {id_users:Array(String)})")
    canon_cond = ("site_id = {id_site:String} AND (user_id IN {id_users:Array(String)} "
                  "OR canonical_id IN {id_users:Array(String)})")
    counts = {
        "events": _count(client, "footpath.events", ev_cond, ev_params),
        "links": int(client.query("SELECT count() FROM (SELECT DISTINCT anonymous_id, user_id FROM "
                                  f"footpath.identity_links WHERE {link_cond})", parameters=users).result_rows[0][0]),
        "merges": int(client.query("SELECT count() FROM (SELECT DISTINCT previous_id, user_id FROM "
                                   f"footpath.identity_merges WHERE {merge_cond})", parameters=users).result_rows[0][0]),
    }
    other: dict[str, int] = {}
    failed: list[dict[str, str]] = []
    plans = []
    for table, cols in sorted(other_tables(client).items()):
        cond, params = _other_condition(person, cols)
        if cond == "0":
            continue
        name = f"footpath.`{table}`"
        try:
            n = _count(client, name, cond, params)
        except Exception as e:  # noqa: BLE001 - a table we cannot read is reported, not fatal
            failed.append({"table": table, "reason": str(e).split("\n")[0][:300]})
            continue
        if n:
            other[table] = n
            plans.append((table, name, cond, params))
    result: dict[str, Any] = {
        "site": site, "person_id": person.person_id, "kind": person.kind, "dry_run": dry_run,
        "user_ids": person.user_ids, "anonymous_ids": person.anonymous_ids,
        "shared_anonymous_ids": person.shared, "deleted": {**counts, "other": other},
        "not_erased": failed, "notes": NOTES,
    }
    try:  # before the events go: they name the examples' message ids
        result["examples_blanked"] = _scrub_examples(client, site, ev_cond, ev_params, dry_run)
    except Exception as e:  # noqa: BLE001 - reported, as for the other tables
        failed.append({"table": "(examples)", "reason": str(e).split("\n")[0][:300]})
    if dry_run:
        return result
    _delete(client, "footpath.events", ev_cond, ev_params)
    if person.user_ids:
        _delete(client, "footpath.identity_links", link_cond, users)
        _delete(client, "footpath.identity_merges", merge_cond, users)
        _delete(client, "footpath.identity_canonical", canon_cond, users)
    for table, name, cond, params in plans:
        try:
            _delete(client, name, cond, params)
        except Exception as e:  # noqa: BLE001 - report what could not be erased
            other.pop(table, None)
            failed.append({"table": table, "reason": str(e).split("\n")[0][:300]})
    erasure_id = uuid.uuid4()
    client.insert("footpath.erasure_audit",
                  [[erasure_id, site, datetime.now(UTC), person.kind, len(person.user_ids),
                    len(person.anonymous_ids), counts["events"], counts["links"], counts["merges"], other]],
                  column_names=["erasure_id", "site_id", "erased_at", "person_kind", "user_ids", "anonymous_ids",
                                "events_deleted", "links_deleted", "merges_deleted", "other_deleted"])
    log.info("erased a person on site %s: %d events, %d links, %d merges (audit %s)",
             site, counts["events"], counts["links"], counts["merges"], erasure_id)
    result["erasure_id"] = str(erasure_id)
    return result
