"""What identity resolution costs a report: person-level vs anonymous-id-keyed.

    .venv/bin/python loadtests/identity_bench.py [--events 1000000] [--runs 5] [--url chdb:///tmp/x]

Builds a synthetic site on a fresh engine (default: a temporary chDB directory): persons
with 1-3 devices, 40% of them log in on each device at some point (events after the
login carry the user id, an identify marks it), 2% of devices shared by two persons, 1%
of known users renamed by a server-side alias.  The events go in through footpath.events
like the writer's, so the identity materialized views see them as in production.

Then times, in interleaved rounds after a warm-up (wall min/median, and process CPU for the
embedded engine, which runs in this process and so is measurable on a busy machine):
  * a 3-step funnel (windowFunnel, 7-day window, 30 days) keyed by anonymous_id,
  * the same funnel keyed by person_key, then by person_id, from footpath.events_person
    (the person dictionary),
  * the same funnel keyed by a person id computed with an ASOF JOIN on
    footpath.identity_link_ranges and LEFT JOINs on the canonical map (no dictionary),
  * unique visitors per day, by anonymous_id and by person_key,
and the time to (re)load the person dictionary.  The three person funnels must agree
(exit status 1 otherwise).  Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.write.store import apply_migrations, connect  # noqa: E402
from identity import canonical  # noqa: E402

SITE = "bench"
DAY_MS = 86_400_000
START = "2026-01-01 00:00:00.000"

EVENTS_SQL = """
INSERT INTO footpath.events (message_id, site_id, type, event, timestamp, received_at, anonymous_id, user_id,
                             source, consent_analytics)
SELECT
    concat('m', toString(number)) AS message_id, '{site}', 'track',
    multiIf(r < 60, 'Product Viewed', r < 85, 'Product Added', r < 95, 'Checkout Started', 'Order Completed'),
    ts, ts, anon, if(known AND toUnixTimestamp64Milli(ts) >= login_ms, concat('u', toString(p)), ''),
    'browser', 'granted'
FROM (
    SELECT number,
        cityHash64(number, 1) % {persons} AS p,
        cityHash64(number, 2) % (1 + p % 3) AS k,
        cityHash64(number, 5) % 100 AS r,
        (p % 10) < 4 AS known,
        if(p % 50 = 1 AND k = 0, concat('a', toString(p - 1), '_0'), concat('a', toString(p), '_', toString(k))) AS anon,
        toDateTime64('{start}', 3, 'UTC') + toIntervalMillisecond(cityHash64(number, 3) % (30 * {day})) AS ts,
        toUnixTimestamp64Milli(toDateTime64('{start}', 3, 'UTC')) + cityHash64(p, k, 4) % (30 * {day}) AS login_ms
    FROM numbers({events})
)
"""

IDENTIFY_SQL = """
INSERT INTO footpath.events (message_id, site_id, type, event, timestamp, received_at, anonymous_id, user_id,
                             source, consent_analytics)
SELECT concat('i', toString(p), '_', toString(k)), '{site}', 'identify', '', ts, ts,
       if(p % 50 = 1 AND k = 0, concat('a', toString(p - 1), '_0'), concat('a', toString(p), '_', toString(k))),
       concat('u', toString(p)), 'browser', 'granted'
FROM (
    SELECT intDiv(number, 3) AS p, number % 3 AS k,
           fromUnixTimestamp64Milli(toInt64(toUnixTimestamp64Milli(toDateTime64('{start}', 3, 'UTC'))
                                            + cityHash64(p, k, 4) % (30 * {day})), 'UTC') AS ts
    FROM numbers({persons} * 3)
    WHERE (p % 10) < 4 AND k < 1 + p % 3
)
"""

ALIAS_SQL = """
INSERT INTO footpath.events (message_id, site_id, type, event, timestamp, received_at, anonymous_id, user_id,
                             previous_id, source, consent_analytics)
SELECT concat('al', toString(number)), '{site}', 'alias', '', toDateTime64('{start}', 3, 'UTC'),
       toDateTime64('{start}', 3, 'UTC'), '', concat('v', toString(number)), concat('u', toString(number)),
       'server', 'granted'
FROM numbers({persons}) WHERE number % 100 = 3
"""

RANGE = ("site_id = '{site}' AND timestamp >= toDateTime64('{start}', 3, 'UTC') "
         "AND timestamp < toDateTime64('{start}', 3, 'UTC') + INTERVAL 30 DAY")

FUNNEL = """
SELECT level, count() FROM (
    SELECT {key} AS k,
           windowFunnel(604800)(toDateTime(timestamp), event = 'Product Viewed', event = 'Product Added',
                                event = 'Order Completed') AS level
    FROM {source} WHERE {range} AND {key} != {none} GROUP BY k)
GROUP BY level ORDER BY level
"""

JOINED = """(
    SELECT e.timestamp AS timestamp, e.event AS event,
           multiIf(e.user_id != '', concat('u:', if(c1.canonical_id = '', e.user_id, c1.canonical_id)),
                   e.anonymous_id = '', '',
                   r.linked = '', concat('a:', e.anonymous_id),
                   concat('u:', if(c2.canonical_id = '', r.linked, c2.canonical_id))) AS person_id
    FROM (SELECT * FROM footpath.events WHERE {range}) AS e
    ASOF LEFT JOIN (SELECT anonymous_id, user_id AS linked, valid_from FROM footpath.identity_link_ranges
                    WHERE site_id = '{site}') AS r
        ON e.anonymous_id = r.anonymous_id AND toUnixTimestamp64Milli(e.timestamp) >= r.valid_from
    LEFT JOIN (SELECT user_id, argMax(canonical_id, generation) AS canonical_id FROM footpath.identity_canonical
               WHERE site_id = '{site}' GROUP BY user_id) AS c1 ON e.user_id = c1.user_id
    LEFT JOIN (SELECT user_id, argMax(canonical_id, generation) AS canonical_id FROM footpath.identity_canonical
               WHERE site_id = '{site}' GROUP BY user_id) AS c2 ON r.linked = c2.user_id
) AS joined"""

# The alternatives measured before choosing the layout (--variants): the same lookup in a
# COMPLEX_KEY_RANGE_HASHED dictionary on (site_id, anonymous_id) -- the "natural fit" -- and
# in a COMPLEX_KEY_HASHED one, against the production HASHED_ARRAY on a UInt64 key.
VARIANT_DICTS = [
    """CREATE OR REPLACE DICTIONARY footpath_bench.range_complex
       (site_id String, anonymous_id String, user_id String, valid_from Int64, valid_to Int64)
       PRIMARY KEY site_id, anonymous_id
       SOURCE(CLICKHOUSE(QUERY 'SELECT toString(site_id) AS site_id, anonymous_id, user_id, valid_from, valid_to
                                FROM footpath.identity_link_ranges'))
       LAYOUT(COMPLEX_KEY_RANGE_HASHED(range_lookup_strategy 'max')) RANGE(MIN valid_from MAX valid_to) LIFETIME(0)""",
    """CREATE OR REPLACE DICTIONARY footpath_bench.hashed_complex (site_id String, anonymous_id String, user_id String)
       PRIMARY KEY site_id, anonymous_id
       SOURCE(CLICKHOUSE(QUERY 'SELECT toString(site_id) AS site_id, anonymous_id, any(user_id) AS user_id
                                FROM footpath.identity_link_ranges GROUP BY site_id, anonymous_id'))
       LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)""",
]
LOOKUP = "SELECT sum(length(toString({expr}))) FROM footpath.events WHERE {range}"
VARIANT_LOOKUPS = {
    "lookup_range_complex": "dictGetOrDefault('footpath_bench.range_complex', 'user_id', (toString(site_id), "
                            "anonymous_id), toUnixTimestamp64Milli(timestamp), '')",
    "lookup_hashed_complex": "dictGetOrDefault('footpath_bench.hashed_complex', 'user_id', (toString(site_id), "
                             "anonymous_id), '')",
    "lookup_hashed_uint64": "dictGetOrDefault('footpath.identity_person_dict', 'person_key', bitXor(cityHash64("
                            "site_id, ''), cityHash64(anonymous_id)), toUInt64(0))",
}
RANGE_PERSON = """multiIf(user_id != '', concat('u:', user_id), anonymous_id = '', '',
    (dictGetOrDefault('footpath_bench.range_complex', 'user_id', (toString(site_id), anonymous_id),
                      toUnixTimestamp64Milli(timestamp), '') AS lu) = '', concat('a:', anonymous_id), concat('u:', lu))"""

DAILY = """
SELECT toDate(timestamp) AS d, uniqExact({key}) FROM {source} WHERE {range} AND {key} != {none} GROUP BY d ORDER BY d
"""


def fmt(sql: str, **kw: Any) -> str:
    base = {"site": SITE, "start": START, "day": DAY_MS}
    base.update(kw)
    return sql.format(**base)


def build(client: Any, events: int, persons: int) -> dict[str, float]:
    t = time.perf_counter()
    client.command(fmt(EVENTS_SQL, events=events, persons=persons))
    client.command(fmt(IDENTIFY_SQL, persons=persons))
    client.command(fmt(ALIAS_SQL, persons=persons))
    loaded = time.perf_counter() - t
    t = time.perf_counter()
    canonical.sync(client, [SITE])
    synced = time.perf_counter() - t
    return {"insert_s": loaded, "canonical_sync_s": synced}


def measure(client: Any, cases: dict[str, str], runs: int) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Rounds of every case in turn (interleaved, so load from elsewhere hits all alike).
    Wall seconds (min, median) and, for the embedded engine, process CPU seconds (median):
    chDB runs in this process, so CPU time is what the query cost even on a busy machine."""
    results = {name: client.query(sql).result_rows for name, sql in cases.items()}  # warm-up
    wall: dict[str, list[float]] = {n: [] for n in cases}
    cpu: dict[str, list[float]] = {n: [] for n in cases}
    for _ in range(runs):
        for name, sql in cases.items():
            w, c = time.perf_counter(), time.process_time()
            client.query(sql)
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    stats = {n: {"wall_min": min(wall[n]), "wall_median": statistics.median(wall[n]),
                 "cpu_median": statistics.median(cpu[n])} for n in cases}
    return stats, results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--persons", type=int, default=0, help="default: events / 10")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-variants", action="store_true", help="skip the layouts not chosen (range, complex key)")
    ap.add_argument("--url", default="", help="ClickHouse URL (default: a fresh temporary chDB engine)")
    args = ap.parse_args(argv)
    persons = args.persons or max(args.events // 10, 10)
    url = args.url or "chdb://" + tempfile.mkdtemp(prefix="footpath-identity-bench-")
    client = connect(url)
    apply_migrations(client)
    client.command("ALTER TABLE footpath.events DELETE WHERE site_id = {s:String}", parameters={"s": SITE},
                   settings={"mutations_sync": 2})
    client.command("TRUNCATE TABLE footpath.identity_links")
    client.command("TRUNCATE TABLE footpath.identity_merges")
    client.command("TRUNCATE TABLE footpath.identity_canonical")
    out: dict[str, Any] = {"events": args.events, "persons": persons, **build(client, args.events, persons)}
    out["stored_events"] = client.query(f"SELECT count() FROM footpath.events WHERE site_id = '{SITE}'").result_rows[0][0]
    out["links"] = client.query("SELECT count() FROM footpath.identity_link_ranges").result_rows[0][0]
    t = time.perf_counter()
    client.command("SYSTEM RELOAD DICTIONARY footpath.identity_person_dict")
    out["dict_reload_s"] = time.perf_counter() - t
    rng = fmt(RANGE)
    cases = {
        "funnel_anonymous_id": fmt(FUNNEL, key="anonymous_id", source="footpath.events", range=rng, none="''"),
        "funnel_person_key": fmt(FUNNEL, key="person_key", source="footpath.events_person", range=rng, none="0"),
        "funnel_person_id": fmt(FUNNEL, key="person_id", source="footpath.events_person", range=rng, none="''"),
        "funnel_person_join": fmt(FUNNEL, key="person_id", source=fmt(JOINED, range=rng), range="1", none="''"),
        "daily_anonymous_id": fmt(DAILY, key="anonymous_id", source="footpath.events", range=rng, none="''"),
        "daily_person_key": fmt(DAILY, key="person_key", source="footpath.events_person", range=rng, none="0"),
    }
    if not args.no_variants:
        client.command("CREATE DATABASE IF NOT EXISTS footpath_bench")
        for ddl in VARIANT_DICTS:
            client.command(ddl)
        for name, expr in VARIANT_LOOKUPS.items():
            cases[name] = fmt(LOOKUP, expr=expr, range=rng)
        cases["funnel_person_range_complex"] = fmt(FUNNEL, key="person_id", range=rng, none="''",
                                                   source=f"(SELECT *, {RANGE_PERSON} AS person_id FROM footpath.events)")
    stats, results = measure(client, cases, args.runs)
    funnels = {n: results[n] for n in ("funnel_person_key", "funnel_person_id", "funnel_person_join")}
    if len({repr(v) for v in funnels.values()}) != 1:
        print("MISMATCH: person funnels differ", funnels, file=sys.stderr)
        out["mismatch"] = True
    out["cases"] = stats
    for metric in ("wall_min", "wall_median", "cpu_median"):
        out[f"ratio_{metric}"] = {
            "funnel_person_key": stats["funnel_person_key"][metric] / stats["funnel_anonymous_id"][metric],
            "funnel_person_id": stats["funnel_person_id"][metric] / stats["funnel_anonymous_id"][metric],
            "funnel_join": stats["funnel_person_join"][metric] / stats["funnel_anonymous_id"][metric],
            "daily_person_key": stats["daily_person_key"][metric] / stats["daily_anonymous_id"][metric]}
    if not args.no_variants:
        n = out["stored_events"]
        out["lookup_ns_per_row_cpu"] = {k: round(stats[k]["cpu_median"] / n * 1e9) for k in VARIANT_LOOKUPS}
        out["ratio_cpu_median"]["funnel_range_complex"] = (stats["funnel_person_range_complex"]["cpu_median"]
                                                          / stats["funnel_anonymous_id"]["cpu_median"])
    out["funnel_levels"] = {"anonymous_id": results["funnel_anonymous_id"], "person": results["funnel_person_key"]}
    for k, v in out.items():
        if k == "cases":
            print(f"{'case':<22} {'wall min':>9} {'wall med':>9} {'cpu med':>9}")
            for n, st in stats.items():
                print(f"{n:<22} {st['wall_min']:9.3f} {st['wall_median']:9.3f} {st['cpu_median']:9.3f}")
        elif isinstance(v, dict) and (k.startswith("ratio") or k.startswith("lookup")):
            print(f"{k:<22} " + "  ".join(f"{n}={r:.2f}" if isinstance(r, float) else f"{n}={r}"
                                           for n, r in v.items()))
        else:
            print(f"{k:<22} {v:.3f}" if isinstance(v, float) else f"{k:<22} {v}")
    print(json.dumps(out, default=str))
    return 1 if out.get("mismatch") else 0


if __name__ == "__main__":
    sys.exit(main())
