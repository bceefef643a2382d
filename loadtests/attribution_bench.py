"""Attribution at scale: every model for 1M persons (issue goal: under 10 s).

    .venv/bin/python loadtests/attribution_bench.py [--scale 1.0] [--runs 3] [--url chdb:///tmp/x]
                                                    [--order 1] [--container person]

Builds a synthetic site on a fresh embedded engine (default: a temporary chDB directory)
with every migration, then drops the report and quality materialized views (they cost
ingest time and are not read here; the identity views stay):
  * 1M x scale persons; each has 1-4 visits (sessions) spread over 60 days, two page views
    per visit, the landing page carrying one of the ten default channels (skewed: Direct
    25 %, Organic Search 20 %, Paid Search 12 %, ... Other 3 %);
  * 10 % of persons are known users on two devices (alternating anonymous ids, every event
    carrying the user id), so footpath.events_person resolves them across devices;
  * the person's last visit converts ('Order Completed', revenue 10-209) with a rate that
    depends on its channel (2-14 %).
Then runs the report exactly as POST /v1/reports/attribution does (the collector's read-only
client with its default limits: 20 s, 2 GiB), all nine models, 30 days, lookback 30, after a
warm-up, and prints the timings (min / median over the runs) per stage, the wall and process
CPU totals (the embedded engine runs in this process, so CPU is measurable on a busy machine)
and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector.attribution.report import run_report  # noqa: E402
from collector.attribution.request import parse_request  # noqa: E402
from collector.query.sql import sql_limits  # noqa: E402
from collector.write.store import Store, apply_migrations, connect  # noqa: E402

SITE = "bench"
CHANNELS = [  # (share %, utm_source, utm_medium, click_id_type, referrer_class, referrer_host, conv %)
    (25, "", "", "", "direct", "", 6), (20, "", "", "", "search", "www.google.com", 8),
    (12, "google", "cpc", "gclid", "search", "www.google.com", 12), (8, "", "", "", "social", "www.facebook.com", 3),
    (7, "facebook", "paid_social", "fbclid", "social", "l.facebook.com", 5),
    (10, "newsletter", "email", "", "email", "", 14), (7, "", "", "", "referral", "blog.example.org", 7),
    (4, "partner", "affiliate", "", "referral", "partner.example", 9), (4, "dv360", "display", "", "direct", "", 2),
    (3, "flyer", "print", "", "direct", "", 3),
]

EVENTS_SQL = """
INSERT INTO footpath.events (message_id, site_id, type, event, timestamp, received_at, anonymous_id, user_id,
    session_id, url, path, referrer_host, referrer_class, utm_source, utm_medium, click_id, click_id_type,
    properties, source, consent_analytics)
SELECT
    concat('m', toString(p), '-', toString(s), '-', toString(e)), '{site}',
    if(e = 2, 'track', 'page'), if(e = 2, 'Order Completed', ''),
    start + toIntervalSecond(e * 150), start + toIntervalSecond(e * 150),
    if(known, concat('a', toString(p), '-', toString(s % 2)), concat('a', toString(p))),
    if(known, concat('u', toString(p)), ''),
    concat('s', toString(p), '-', toString(s)),
    'https://shop.example/', if(e = 0, '/', '/product'),
    if(e = 0, ch.5, ''), if(e = 0, ch.4, 'internal'), if(e = 0, ch.1, ''), if(e = 0, ch.2, ''),
    if(e = 0 AND ch.3 != '', 'x', ''), if(e = 0, ch.3, ''),
    if(e = 2, concat('{{"revenue": ', toString(10 + cityHash64(p, 7) % 200), '}}'), '{{}}'),
    'browser', 'granted'
FROM (
    SELECT p, s, known, start, ch, arrayJoin(if(s = k - 1 AND cityHash64(p, 9) % 100 < ch.6, [0, 1, 2], [0, 1])) AS e
    FROM (
        SELECT number AS p, 1 + cityHash64(number, 1) % 4 AS k, number % 10 = 0 AS known,
               arrayJoin(range(k)) AS s,
               toDateTime64('{t0}', 3, 'UTC') - toIntervalMillisecond(cityHash64(number, s, 2) % (60 * 86400000)) AS start,
               {channel_expr} AS ch
        FROM numbers({persons})
    )
)
"""


def channel_expr() -> str:
    """The session's channel tuple, drawn by the cumulative shares."""
    branches, acc = [], 0
    for share, *attrs, conv in CHANNELS[:-1]:
        acc += share
        branches.append(f"cityHash64(number, s, 3) % 100 < {acc}, "
                        f"tuple({', '.join(repr(a) for a in attrs)}, {conv})")
    *attrs, conv = CHANNELS[-1][1:]
    return f"multiIf({', '.join(branches)}, tuple({', '.join(repr(a) for a in attrs)}, {conv}))"


def drop_unread_views(admin: Any) -> None:
    """Every migration applies (later ones alter the report and quality tables, so a subset
    would not apply); then the materialized views attribution does not read are dropped, so
    loading the data pays only for the identity views."""
    views = admin.query("SELECT name FROM system.tables WHERE database = 'footpath' "
                        "AND engine = 'MaterializedView' AND NOT startsWith(name, 'identity_')").result_rows
    for (name,) in views:
        admin.command(f"DROP VIEW footpath.`{name}`")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="persons = 1M x scale")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--url", default="", help="engine URL (default: a fresh temporary chDB directory); "
                    "an engine that already holds the bench site is reused as it is")
    ap.add_argument("--order", type=int, default=1, help="markov_order")
    ap.add_argument("--container", default="person", choices=["person", "session"])
    args = ap.parse_args()
    persons = int(1_000_000 * args.scale)
    tmp = Path(tempfile.mkdtemp(prefix="attr-bench-"))
    url = args.url or f"chdb://{tmp / 'data'}"
    t0 = datetime.now(UTC).replace(microsecond=0)
    admin = connect(url)
    apply_migrations(admin)
    drop_unread_views(admin)
    started = time.perf_counter()
    loaded = admin.query("SELECT max(timestamp) FROM footpath.events WHERE site_id = {s:String} "
                         "HAVING count() > 0", parameters={"s": SITE}).result_rows
    if loaded:  # --url of an engine that already holds the bench site: reuse its data
        t0 = loaded[0][0].replace(tzinfo=UTC, microsecond=0)
    else:
        admin.command(EVENTS_SQL.format(site=SITE, persons=persons, t0=t0.strftime("%Y-%m-%d %H:%M:%S"),
                                        channel_expr=channel_expr()))
        admin.command("OPTIMIZE TABLE footpath.identity_links FINAL")
    admin.command("SYSTEM RELOAD DICTIONARY footpath.identity_person_dict")
    rows, conversions = admin.query(
        "SELECT count(), countIf(event = 'Order Completed') FROM footpath.events WHERE site_id = {s:String}",
        parameters={"s": SITE}).result_rows[0]
    load_s = time.perf_counter() - started
    print(f"{persons:,} persons, {rows:,} events ({conversions:,} conversions) loaded in {load_s:.1f} s", flush=True)

    reader = Store(url, sql_limits(20, 100_000, 2 << 30)).new_reader(True)
    req = parse_request({"site": SITE, "conversion": {"event": "Order Completed"}, "value_property": "revenue",
                         "from": (t0 - timedelta(days=30)).isoformat(), "to": (t0 + timedelta(seconds=1)).isoformat(),
                         "markov_order": args.order, "container": args.container}, {SITE: None})
    run_report(reader, req, ())  # warm-up: dictionary, caches
    timings: dict[str, list[float]] = {}
    totals, cpus, result = [], [], {}
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        result = run_report(reader, req, ())
        totals.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)  # the embedded engine's threads are this process's
        for k, v in result["timings_ms"].items():
            timings.setdefault(k, []).append(v / 1000)
    print(f"report: {result['conversions']:,} conversions, {result['nulls']:,} non-converting paths, "
          f"{result['paths_total']:,} distinct paths, {len(result['channels'])} channels")
    print("| stage | min s | median s |\n| --- | --- | --- |")
    for k, v in timings.items():
        print(f"| {k} | {min(v):.3f} | {statistics.median(v):.3f} |")
    print(f"| **total (wall)** | **{min(totals):.3f}** | **{statistics.median(totals):.3f}** |")
    print(f"| total (process CPU) | {min(cpus):.3f} | {statistics.median(cpus):.3f} |")
    print(json.dumps({"persons": persons, "events": rows, "conversions": result["conversions"],
                      "paths": result["paths_total"], "total_s": round(statistics.median(totals), 3),
                      "cpu_s": round(statistics.median(cpus), 3),
                      "stages_s": {k: round(statistics.median(v), 3) for k, v in timings.items()}}))
    if not args.url:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
