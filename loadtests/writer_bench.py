"""Writer throughput: rows/s from the write-ahead buffer into the embedded engine, with
every migration (materialized views included) in place, and into a bare events table.

    .venv/bin/python -m loadtests.writer_bench [--rows 300000] [--flush-rows 50000]"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
from pathlib import Path
from datetime import UTC, datetime
from collector import pipeline
from collector.buffer.wal import WriteAheadBuffer
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.sites import Site
from collector.validate.dedup import RecentIds
from collector.validate.limits import Limits
from collector.write.store import Store
from collector.write.writer import Writer
from loadtests.enrich_bench import messages
import random

tmp, rows, flush_rows, only_events = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
sv = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP(), UAClassifier(), RecentIds(4_000_000), 400, 86400)
rq = pipeline.RequestContext(Site(id="bench", public_key="pk_bench"), "server", datetime.now(UTC), "127.0.0.1",
                             "", False, None, False)
wal = WriteAheadBuffer(tmp / "buffer", fsync="off", segment_bytes=64 << 20, max_bytes=1 << 40)
msgs = messages(rows, False, random.Random(2))
for i in range(0, rows, 500):
    out = pipeline.run(rq, sv, msgs[i:i + 500], timed=False)
    wal.append_nowait(pipeline.buffer_records(out))
wal.close()
store = Store("chdb://" + str(tmp / "ch"), {})
if only_events:
    from collector.write import store as st
    c = st.connect(store.url)
    for p in st.migration_files()[:3]:
        for s in st.split_statements(st.render(p.read_text(), st.ClusterRender())):
            c.command(s)
    store.migrated = True
    store._writer = c
w = Writer(store, tmp / "buffer", flush_rows, 10)
store.writer()
t = time.perf_counter()
w.start()
assert w.wait_idle(600)
dt = time.perf_counter() - t
w.stop()
n = store.writer().query("SELECT count() FROM footpath.events").result_rows[0][0]
print(f"{'events table only' if only_events else 'all migrations (MVs)':22} rows {n:>9}  {dt:6.2f} s  {n / dt:10.0f} rows/s")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--flush-rows", type=int, default=50_000)
    args = ap.parse_args()
    for only_events in ("1", "0"):  # one process each: chDB allows one engine path per process
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([sys.executable, "-c", CHILD, d, str(args.rows), str(args.flush_rows), only_events],
                           cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
