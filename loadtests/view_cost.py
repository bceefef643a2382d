"""What each materialized view on footpath.events adds to an insert, measured in place.

    .venv/bin/python -m loadtests.view_cost [--rows 500000] [--block 50000] [--reps 9]

Every view the migrations leave on footpath.events is re-created, with its own SELECT
(system.tables.as_select), on a MergeTree copy of footpath.events and into a copy of its
target table, and kept detached.  Then the same rows are inserted, in blocks of --block rows
with the writer's insert settings, once with no view attached, once with each view alone
and once with all of them, --reps times interleaved (a burst of load hits every
configuration alike); printed: CPU µs per row (the process's: the engine runs in it), the
median over the repetitions, and a view's own cost: its median minus that of no view.

The rows: the report benchmark's synthetic shop traffic (loadtests/reports_bench.py, pages
and tracks of ~8-event sessions, a quarter of persons logged in) with the properties a page
view and a product event carry (4 keys: path, url, title, referrer; sku, price, category,
quantity), no violations (no tracking plan).  Not a test: run it by hand, and for a before /
after, run it from an export of the older commit (the views are whatever its migrations
make)."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
from typing import Any

from collector.write import writer
from collector.write.store import apply_migrations, connect
from loadtests.reports_bench import cpu, generate_sql

PROPERTIES = """if(type = 'page',
    concat('{"path":"', path, '","url":"', url, '","title":"Shop","referrer":"https://www.google.com/"}'),
    concat('{"sku":"S', toString(cityHash64(message_id) % 100), '","price":35.5,"category":"yoga","quantity":1}'))"""


def views_on_events(c: Any) -> list[tuple[str, str, str]]:
    """(view, its SELECT, its target table) for every view reading footpath.events."""
    out = []
    for name, select, create in c.query(
            "SELECT name, as_select, create_table_query FROM system.tables WHERE database = 'footpath' "
            "AND engine = 'MaterializedView' ORDER BY name").result_rows:
        if re.search(r"\bFROM footpath\.events\b", select):
            target = re.search(r"\bTO (footpath\.\w+)", create)
            assert target, create
            out.append((name, select, target.group(1)))
    return out


def prepare(c: Any, rows: int, block: int) -> tuple[list[str], list[str]]:
    """The copies (database vc), the views detached, and the rows in Memory tables of one
    block each: (views, blocks)."""
    c.command("DROP DATABASE IF EXISTS vc")
    c.command("CREATE DATABASE vc")
    c.command(c.query("SHOW CREATE TABLE footpath.events").result_rows[0][0].replace("footpath.events", "vc.src", 1))
    c.command("CREATE TABLE vc.mem ENGINE = Memory AS SELECT * FROM footpath.events LIMIT 0")
    c.command(generate_sql("vc.mem", max(1, rows // 8), max(1, rows // 10)))
    c.command(f"ALTER TABLE vc.mem UPDATE properties = {PROPERTIES} WHERE type IN ('page', 'track')")
    total = c.query("SELECT count() FROM vc.mem").result_rows[0][0]
    blocks = []
    for i in range(max(1, min(rows, total) // block)):
        c.command(f"CREATE TABLE vc.b{i} ENGINE = Memory AS SELECT * FROM vc.mem ORDER BY message_id "
                  f"LIMIT {block} OFFSET {i * block}")
        blocks.append(f"vc.b{i}")
    views = []
    for name, select, target in views_on_events(c):
        copy = f"vc.t_{name}"
        c.command(f"CREATE TABLE {copy} AS {target}")
        select = re.sub(r"\bfootpath\.events\b", "vc.src", select)
        c.command(f"CREATE MATERIALIZED VIEW vc.{name} TO {copy} AS {select}")
        c.command(f"DETACH TABLE vc.{name}")
        views.append(name)
    return views, blocks


def measure(c: Any, views: list[str], blocks: list[str], reps: int) -> dict[str, list[float]]:
    settings = {**writer.INSERT_SETTINGS, **writer.TABLE_SETTINGS.get("footpath.events", {})}
    rows = sum(c.query(f"SELECT count() FROM {b}").result_rows[0][0] for b in blocks)
    configs = {"(no view)": [], **{v: [v] for v in views}, "(all views)": list(views)}
    out: dict[str, list[float]] = {k: [] for k in configs}
    tables = ["vc.src"] + [f"vc.t_{v}" for v in views]
    for rep in range(reps):
        for label, attach in configs.items():
            for v in attach:
                c.command(f"ATTACH TABLE vc.{v}")
            for t in tables:
                c.command(f"TRUNCATE TABLE {t}")
            c0 = cpu()
            for i, b in enumerate(blocks):
                c.command(f"INSERT INTO vc.src SELECT * FROM {b}",
                          settings={**settings, "insert_deduplication_token": f"{rep}:{label}:{i}"})
            out[label].append((cpu() - c0) / rows * 1e6)
            for v in attach:
                c.command(f"DETACH TABLE vc.{v}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--block", type=int, default=50_000, help="rows per insert (the writer's are ~50-90k)")
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()
    c = connect("chdb://" + tempfile.mkdtemp(prefix="footpath-views-"))
    apply_migrations(c)
    views, blocks = prepare(c, args.rows, args.block)
    res = measure(c, views, blocks, args.reps)
    base = statistics.median(res["(no view)"])
    print(f"{len(blocks)} inserts of {args.block} rows, {args.reps} repetitions; load average {os.getloadavg()}")
    print(f"{'configuration':40} {'CPU us/row':>11} {'own cost':>9}")
    for label, xs in res.items():
        m = statistics.median(xs)
        print(f"{label:40} {m:11.2f} {m - base:9.2f}")


if __name__ == "__main__":
    main()
