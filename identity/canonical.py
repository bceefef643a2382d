"""Keep footpath.identity_canonical in step with footpath.identity_merges.

Alias merges are few, so a site's whole edge set is read, its components computed in
Python (identity.rules.canonical_map) and only the rows that changed are written, with a
higher generation.  Idempotent: running it twice writes nothing the second time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from clickhouse_connect.driver.client import Client

from identity.rules import Edge, canonical_map

_gen_lock = threading.Lock()
_last_gen = 0


def _next_generation() -> int:
    global _last_gen
    with _gen_lock:
        _last_gen = max(_last_gen + 1, time.time_ns() // 1000)
        return _last_gen


def merge_sites(client: Client) -> list[str]:
    rows = client.query("SELECT DISTINCT toString(site_id) FROM footpath.identity_merges "
                        "UNION DISTINCT SELECT DISTINCT toString(site_id) FROM footpath.identity_canonical").result_rows
    return sorted(r[0] for r in rows)


def read_edges(client: Client, site_id: str) -> list[Edge]:
    rows = client.query(
        "SELECT previous_id, user_id, toUnixTimestamp64Milli(min(first_seen)) FROM footpath.identity_merges "
        "WHERE site_id = {s:String} GROUP BY previous_id, user_id", parameters={"s": site_id}).result_rows
    return [Edge(p, u, int(ms)) for p, u, ms in rows]


def current_map(client: Client, site_id: str) -> dict[str, str]:
    rows = client.query(
        "SELECT user_id, argMax(canonical_id, generation) FROM footpath.identity_canonical "
        "WHERE site_id = {s:String} GROUP BY user_id", parameters={"s": site_id}).result_rows
    return {u: c for u, c in rows}


def sync_site(client: Client, site_id: str) -> int:
    """Bring one site's canonical rows up to date; returns how many rows changed."""
    want = canonical_map(read_edges(client, site_id))
    have = current_map(client, site_id)
    changed = [(u, c) for u, c in sorted(want.items()) if have.get(u) != c]
    stale = sorted(set(have) - set(want))  # merges deleted out of band (erasure, retention)
    if changed:
        gen = _next_generation()
        client.insert("footpath.identity_canonical", [[site_id, u, c, gen] for u, c in changed],
                      column_names=["site_id", "user_id", "canonical_id", "generation"])
    if stale:
        client.command("ALTER TABLE footpath.identity_canonical DELETE WHERE site_id = {s:String} "
                       "AND user_id IN {ids:Array(String)}", parameters={"s": site_id, "ids": stale},
                       settings={"mutations_sync": 2})
    return len(changed) + len(stale)


def sync(client: Client, site_ids: Iterable[str] | None = None) -> int:
    """Sync the given sites (all sites with merges when None)."""
    sites = merge_sites(client) if site_ids is None else sorted(set(site_ids))
    return sum(sync_site(client, s) for s in sites)
