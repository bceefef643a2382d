"""Writer throughput: rows/s from the write-ahead buffer into the embedded engine, with every
migration applied, once with the materialized views on footpath.events detached, once with
only the report view (`report_steps_mv`: what the reports' views add to ingestion) and once
with all of them, in one run (same buffer, same machine load).

    .venv/bin/python -m loadtests.writer_bench [--rows 200000] [--repeat 3] [--profile]

The buffer is filled once (the ingestion pipeline's own records, ~0.7 KB compact rows:
user agent, URL, properties, context) and copied for each run; the writer inserts them as
Native blocks (collector/write/native.py) and reads the next batch while one is inserted.  Each run is a fresh process
(chDB allows one engine path per process) driving collector.write.writer.Writer; it prints
wall rows/s, the process's CPU time per row (all threads: chDB's included; the machine's
2 cores bound rows/s at 2e6 / CPU-us-per-row), and the Python share (buffer reading).

--profile adds ClickHouse's side alone, on the same rows, from files (no Python): parsing
only (a Null-engine copy of footpath.events), footpath.events alone, and each view's own
cost (events + that one view, minus events alone), once from the writer's JSONEachRow and
once from ClickHouse's Native format (no parsing: the MergeTree and view costs alone)."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def fill_buffer(directory: Path, rows: int) -> None:
    from collector import pipeline
    from collector.buffer.wal import WriteAheadBuffer
    from collector.enrich.geo import GeoIP
    from collector.enrich.useragent import UAClassifier
    from collector.sites import Site
    from collector.validate.dedup import RecentIds
    from collector.validate.limits import Limits
    from loadtests.enrich_bench import messages

    sv = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP(), UAClassifier(), RecentIds(4_000_000), 400, 86400)
    rq = pipeline.RequestContext(Site(id="bench", public_key="pk_bench"), "server", datetime.now(UTC),
                                 "127.0.0.1", "", False, None, False)
    wal = WriteAheadBuffer(directory, fsync="off", segment_bytes=8 << 20, max_bytes=1 << 40)
    msgs = messages(rows, False, random.Random(2))
    for i in range(0, rows, 20):  # server-library batches of 20: one record per request
        out = pipeline.run(rq, sv, msgs[i:i + 20], timed=False)
        wal.append_nowait(pipeline.buffer_records(out))
    wal.close()


def event_views(client) -> list[str]:
    return [r[0] for r in client.query(
        "SELECT name FROM system.tables WHERE database = 'footpath' AND engine = 'MaterializedView' "
        "AND match(create_table_query, 'FROM footpath\\\\.events\\\\b') ORDER BY name").result_rows]


# run kind -> the views on footpath.events left attached (None: all of them)
KEEP_VIEWS: dict[str, tuple[str, ...] | None] = {"events": (), "views": None, "report": ("report_steps_mv",)}


def child_writer(tmp: Path, kind: str, flush_rows: int, batch_bytes: int, settings: dict) -> dict:
    from collector.write.store import Store
    from collector.write.writer import Writer

    store = Store("chdb://" + str(tmp / "ch"), {})
    client = store.writer()  # migrates
    keep = KEEP_VIEWS[kind]
    if keep is not None:
        for v in event_views(client):
            if v not in keep:
                client.command(f"DETACH TABLE footpath.{v}")
    native = settings.pop("_insert_format", "native") == "native"  # --json-too
    try:
        w = Writer(store, tmp / "buffer", flush_rows, 10, batch_bytes=batch_bytes,
                   **({} if native else {"native": False}))
        w.insert_settings.update(settings)
        for per_table in w.table_settings.values():  # a variant overrides those too
            per_table.update({k: v for k, v in settings.items() if k in per_table})
    except TypeError:  # an older writer (comparing checkouts): fixed flush_rows batches
        w = Writer(store, tmp / "buffer", flush_rows, 10)
    c0, t0 = _cpu(), time.perf_counter()
    w.start()
    assert w.wait_idle(1200)
    dt, cpu = time.perf_counter() - t0, _cpu() - c0
    w.stop()
    n = client.query("SELECT count() FROM footpath.events").result_rows[0][0]
    return {"rows": n, "wall": dt, "cpu": cpu, "read": getattr(w, "read_seconds", 0.0)}


# --formats: what ClickHouse's parse alone costs for the same rows in other input formats
OTHER_FORMATS = ("JSONCompactEachRow", "TabSeparated", "CSV", "RowBinary")


def child_profile(tmp: Path, batch_rows: int, reps: int, view_sql: str,
                  formats: bool = False) -> list[tuple[str, float, float]]:
    """ClickHouse alone: INSERT ... FROM INFILE of the buffer's rows, per configuration."""
    from collector.buffer.drain import BufferReader
    from collector.write import store as st
    from collector.write import writer

    INSERT_SETTINGS, TABLE_SETTINGS = writer.INSERT_SETTINGS, getattr(writer, "TABLE_SETTINGS", {})  # noqa: N806

    from collector.buffer import layouts

    key = layouts.record_key(layouts.EVENTS_TABLE, layouts.CURRENT)  # what the pipeline buffers
    buffered_cols = ", ".join(layouts.columns(layouts.CURRENT))
    reader = BufferReader(tmp / "buffer")
    buffered, n = [], 0
    while (b := reader.next_batch(batch_rows)) is not None:
        reader.positions = dict(b.positions)
        p = tmp / f"batch{len(buffered)}.compact"
        p.write_bytes(b.payloads[key])
        buffered.append(p)
        n += b.rows
    c = st.connect("chdb://" + str(tmp / "ch"))
    st.apply_migrations(c)
    views = event_views(c)
    tables = [r[0] for r in c.query("SELECT name FROM system.tables WHERE database = 'footpath' "
                                    "AND engine LIKE '%MergeTree%'").result_rows]
    c.command("CREATE TABLE footpath.bench_null AS footpath.events ENGINE = Null")
    if view_sql:  # candidate views to compare, measured like the others
        before = set(event_views(c))
        for stmt in st.split_statements(st.render(Path(view_sql).read_text(), st.ClusterRender())):
            c.command(stmt)
        views = sorted(set(event_views(c)) - before) + views
    attached = set(views)

    def use(want: set[str]) -> None:
        for v in views:
            if v in attached and v not in want:
                c.command(f"DETACH TABLE footpath.{v}")
                attached.discard(v)
            elif v not in attached and v in want:
                c.command(f"ATTACH TABLE footpath.{v}")
                attached.add(v)

    # Native: the same rows as ClickHouse's own columnar format, so no parsing is left
    use(set())
    events_settings = {**INSERT_SETTINGS, **TABLE_SETTINGS.get("footpath.events", {})}  # as the writer
    for i, p in enumerate(buffered):
        c.command(f"INSERT INTO footpath.events ({buffered_cols}) FROM INFILE '{p}' FORMAT JSONCompactEachRow",
                  settings={**events_settings, "insert_deduplication_token": f"native:{i}"})

    def export(fmt: str) -> list[Path]:
        """The inserted rows again, batch by batch, as files in another input format."""
        paths = []
        for i in range(len(buffered)):
            p = tmp / f"batch{i}.{fmt}"
            c.command(f"INSERT INTO FUNCTION file('{p}', '{fmt}') SELECT * FROM footpath.events "
                      f"ORDER BY message_id LIMIT {batch_rows} OFFSET {i * batch_rows}")
            paths.append(p)
        return paths

    native = export("Native")
    files = export("JSONEachRow")  # the rows as the buffer held them before layouts.py

    compact_fmt = f"JSONCompactEachRow ({buffered_cols})"  # INSERT INTO t (cols) ... FORMAT
    configs: list[tuple[str, str, set[str], str, list[Path], dict]] = [
        ("buffered JSONCompactEachRow: parse only (Null engine)", "footpath.bench_null", set(), compact_fmt,
         buffered, {}),
        ("buffered JSONCompactEachRow: events + all views", "footpath.events", set(views), compact_fmt, buffered, {}),
        ("JSONEachRow: parse only (Null engine)", "footpath.bench_null", set(), "JSONEachRow", files, {}),
        ("JSONEachRow: parse only, 1 thread", "footpath.bench_null", set(), "JSONEachRow", files, {"max_threads": 1}),
        ("JSONEachRow: footpath.events alone", "footpath.events", set(), "JSONEachRow", files, {}),
        ("JSONEachRow: events + all views", "footpath.events", set(views), "JSONEachRow", files, {}),
        ("Native: parse only (Null engine)", "footpath.bench_null", set(), "Native", native, {}),
        ("Native: footpath.events alone", "footpath.events", set(), "Native", native, {}),
    ]
    if formats:
        for fmt in OTHER_FORMATS:
            configs.append((f"{fmt}: parse only (Null engine)", "footpath.bench_null", set(), fmt, export(fmt), {}))
    configs += [(f"Native: + {v}", "footpath.events", {v}, "Native", native, {}) for v in views]
    configs.append(("Native: events + all views", "footpath.events", set(views), "Native", native, {}))
    configs.append(("Native: events alone, optimize_on_insert = 1", "footpath.events", set(), "Native", native,
                    {"optimize_on_insert": 1}))
    best = {cfg[0]: (1e9, 1e9) for cfg in configs}
    for rep in range(reps):  # repetitions interleaved: a burst of load hits every configuration alike
        for label, table, want, fmt, paths, extra in configs:
            use(want)
            for t in tables:
                c.command(f"TRUNCATE TABLE footpath.{t}")
            c0, t0 = _cpu(), time.perf_counter()
            for i, p in enumerate(paths):
                s = {**events_settings, **extra, "insert_deduplication_token": f"{time.time_ns()}:{rep}:{i}"}
                if fmt.startswith("JSONCompactEachRow ("):  # with its column list
                    fmt_name, cols = fmt.split(" ", 1)
                    c.command(f"INSERT INTO {table} {cols} FROM INFILE '{p}' FORMAT {fmt_name}", settings=s)
                else:
                    c.command(f"INSERT INTO {table} FROM INFILE '{p}' FORMAT {fmt}", settings=s)
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            best[label] = min(best[label], (cpu / n * 1e6, wall / n * 1e6))
    base = best["Native: footpath.events alone"]
    out = []
    for label, *_ in configs:
        cpu, wall = best[label]
        if label.startswith("Native: + "):
            label, cpu, wall = label + " (its own cost)", cpu - base[0], wall - base[1]
        out.append((label, cpu, wall))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--flush-rows", type=int, default=5000, help="the writer's flush_rows (default as shipped)")
    ap.add_argument("--batch-mib", type=int, default=64, help="the writer's batch_bytes, MiB")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                    help="also run with all views and these extra insert settings (repeatable), "
                         "e.g. 'no parallel parsing={\"input_format_parallel_parsing\": 0}'")
    ap.add_argument("--profile", action="store_true", help="also ClickHouse's own costs, per view")
    ap.add_argument("--profile-rows", type=int, default=50_000, help="rows per insert in --profile")
    ap.add_argument("--view-sql", default="", help="--profile: also measure the views this SQL file creates")
    ap.add_argument("--formats", action="store_true",
                    help="--profile: also the parse-only cost of " + ", ".join(OTHER_FORMATS))
    ap.add_argument("--json-too", action="store_true",
                    help="also run each configuration with insert_format = json (ClickHouse parses the rows)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=1, help="run the writer runs this many times, interleaved")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, tmp = args.child.split(":", 1)
        if kind == "profile":
            res = child_profile(Path(tmp), args.profile_rows, args.reps, args.view_sql, args.formats)
        else:
            res = child_writer(Path(tmp), kind, args.flush_rows, args.batch_mib << 20, json.loads(args.settings))
        print("RESULT " + json.dumps(res))
        return
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "src"
        fill_buffer(src, args.rows)
        size = sum(p.stat().st_size for p in src.glob("*.wal"))
        print(f"buffer: {args.rows} rows, {size / args.rows:.0f} bytes per row as stored")
        print(f"{'run':30} {'rows':>8} {'wall s':>7} {'rows/s':>9} {'CPU us/row':>11} {'Python us/row':>14}")
        runs = [("footpath.events alone", "events", "{}"), ("with the report view", "report", "{}"),
                ("with all views", "views", "{}")]
        runs += [(f"with all views, {v.partition('={')[0]}", "views", "{" + v.partition("={")[2]) for v in args.variant]
        if args.json_too:  # each configuration twice in a row: Native blocks, then JSON
            runs = [r for label, kind, st in runs for r in (
                (label, kind, st), (label + ", JSON", kind, json.dumps({**json.loads(st), "_insert_format": "json"})))]
        for label, kind, settings in runs * args.repeat:  # repeats interleaved: load hits every run alike
            run = Path(d) / "run"
            shutil.copytree(src, run / "buffer")
            res = _child(args, f"{kind}:{run}", settings)
            print(f"{label:30} {res['rows']:8} {res['wall']:7.2f} {res['rows'] / res['wall']:9.0f} "
                  f"{res['cpu'] / res['rows'] * 1e6:11.2f} {res['read'] / res['rows'] * 1e6:14.2f}", flush=True)
            shutil.rmtree(run)
        if args.profile:
            run = Path(d) / "profile"
            shutil.copytree(src, run / "buffer")
            print(f"\nClickHouse alone, {args.profile_rows}-row inserts from files, best of {args.reps}:")
            print(f"{'what':52} {'CPU us/row':>10} {'wall us/row':>11}")
            for name, cpu, wall in _child(args, f"profile:{run}", "{}"):
                print(f"{name:52} {cpu:10.2f} {wall:11.2f}")
    print(f"load average after: {os.getloadavg()}")


def _child(args, spec: str, settings: str):
    cmd = [sys.executable, "-m", "loadtests.writer_bench", "--child", spec, "--flush-rows", str(args.flush_rows),
           "--batch-mib", str(args.batch_mib), "--settings", settings, "--reps", str(args.reps),
           "--profile-rows", str(args.profile_rows), "--view-sql", args.view_sql, *(["--formats"] if args.formats else [])]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{spec} failed:\n{proc.stderr[-3000:]}")
    out = proc.stdout
    return json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[7:])


if __name__ == "__main__":
    main()
