"""Background writer: drains the write-ahead buffer into footpath.events in batches
(every flush_ms, or sooner when a megabyte is waiting), each insert under a deduplication
token derived from the exact buffer ranges it carries, so a replay after a crash cannot
duplicate rows.  Storage failures back off and retry the same batch; the buffer keeps
accepting meanwhile.

Batch size: each insert takes what is waiting, up to batch_bytes of buffered rows (64 MiB,
~90,000 typical rows in the compact layout, collector/buffer/layouts.py) or
max(flush_rows, batch_rows) rows.  An insert has a fixed cost
that the rows do not amortise when batches are small: ~15 ms for footpath.events alone and
~50 ms with the materialized views (part creation, fsync, one insert pipeline per view),
i.e. ~10 us per row at 5,000 rows, against ~20 us of CPU per row of actual work (loadtests/
writer_bench.py, BENCHMARKS.md): a backlog is drained in large inserts.

Compact records (collector/buffer/layouts.py) go in as Native blocks that
collector/write/native.py builds from them, so the engine has nothing left to parse; a
payload with a row outside that converter's grammar goes in as JSON, as before.  While one
batch is inserted, the next is read and converted on a second thread: a backlog drains at
the pace of the inserts (BENCHMARKS.md, Writer)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from collector.buffer import layouts
from collector.buffer.drain import Batch, BufferReader
from collector.ops import metrics
from collector.write import native as _native
from collector.write.store import Store

log = logging.getLogger("footpath.writer")


INSERT_SETTINGS = {
    "date_time_input_format": "best_effort",
    "input_format_skip_unknown_fields": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "insert_deduplicate": 1,
}

# Per destination table, on top of INSERT_SETTINGS.
#
# footpath.events, optimize_on_insert = 0: ReplacingMergeTree would otherwise run its merge
# over every inserted block to collapse rows with equal sorting keys (the same message_id
# twice in one insert), copying all ~55 columns row by row: ~2 of the ~4.5 CPU us per row
# of writing the part (BENCHMARKS.md, Writer).  Such a pair can only come from a client
# re-send that the message-id cache missed (with --workers N, one landing on another edge
# worker), which RELIABILITY.md already documents as collapsed at merge time only; the
# insert's deduplication token (exactly-once through crashes) is unaffected.  The views'
# target tables are unaffected too: each view groups by its target's full sorting key (or
# the target is a plain MergeTree), so their blocks have no equal keys to collapse.
TABLE_SETTINGS: dict[str, dict[str, object]] = {
    "footpath.events": {"optimize_on_insert": 0},
}


@dataclass
class _Insert:
    key: str  # the buffer record key (layouts.record_key): names the insert's token
    table: str
    columns: tuple[str, ...] | None
    fmt: str
    data: bytes | memoryview


@dataclass
class _Ready:
    """A batch read from the buffer with its inserts prepared."""

    batch: Batch
    inserts: list[_Insert]


class Writer:
    def __init__(self, store: Store, buffer_dir: Path, flush_rows: int, flush_ms: int,
                 batch_bytes: int = 64 << 20, batch_rows: int = 500_000, native: bool = True):
        self.store = store
        self.reader = BufferReader(buffer_dir)
        self.flush_rows = flush_rows
        self.flush_s = flush_ms / 1000
        self.batch_rows = max(flush_rows, batch_rows)
        self.batch_bytes = batch_bytes
        self.insert_settings = dict(INSERT_SETTINGS)
        self.table_settings = {t: dict(v) for t, v in TABLE_SETTINGS.items()}
        self.read_seconds = 0.0  # reading the buffer into batches (Python)
        self.insert_seconds = 0.0  # ClickHouse inserts (parse, parts, materialized views)
        self.wakeup = threading.Event()
        self._busy = False
        self.flush_now = threading.Event()  # skip the flush_ms age wait (shutdown, admin flush)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.healthy = False
        self.last_error = ""
        self.inserted_rows = 0
        self.after_insert: list = []  # callbacks(batch) run after each committed insert
        # compact layouts go in as Native blocks (collector/write/native.py) when compiled;
        # per (table, layout): how, or None when the table's column types rule it out
        self.native_on = native and _native.COMPILED  # plain Python converts ~170x slower: JSON then
        self._plans: dict[tuple[str, str], _native.Plan | None] = {}
        self.native_inserts = 0  # payloads inserted as Native (the others as JSON)
        self._suspect: set[str] = set()  # tables whose last Native insert failed
        self._native_off: set[str] = set()  # tables that took as JSON what failed as Native
        self._ahead: ThreadPoolExecutor | None = None  # the read-ahead thread, from start() to stop()

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self._ahead = ThreadPoolExecutor(1, thread_name_prefix="footpath-writer-read")
        self._thread = threading.Thread(target=self._run, name="footpath-writer", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Flush what is buffered (bounded by drain_timeout), then stop."""
        deadline = time.monotonic() + drain_timeout
        self.flush_now.set()
        while time.monotonic() < deadline and self.healthy and self.reader.backlog_bytes() > 0:
            self.wakeup.set()
            time.sleep(0.05)
        self._stop.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=drain_timeout)
        if self._ahead is not None:
            self._ahead.shutdown(wait=False, cancel_futures=True)

    # -- loop ----------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                self.store.writer()  # connects and migrates on first success
                if not self.healthy:
                    log.info("storage reachable: %s", _redact(self.store.url))
                self.healthy, self.last_error = True, ""
                metrics.STORAGE_UP.set(1)
                self._drain_once()
                backoff = 0.2
            except Exception as e:  # noqa: BLE001 - any storage failure: report, back off, retry
                self.healthy, self.last_error = False, f"{type(e).__name__}: {str(e)[:300]}"
                metrics.STORAGE_UP.set(0)
                metrics.INSERT_ERRORS.inc()
                log.warning("storage unavailable, retrying in %.1fs: %s", backoff, self.last_error)
                self.store.reset()
                self._plans.clear()  # the tables may have changed while storage was away
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _drain_once(self) -> None:
        pending = self.reader.pending_inflight()
        if pending is not None:
            self._insert(self._prepare(pending))
        while not self._stop.is_set():
            # Sleep a flush interval (or until woken: enough bytes waiting, shutdown, an
            # admin flush), then insert everything that is there, in batches (module doc).
            self.wakeup.wait(0.01 if self.flush_now.is_set() else self.flush_s)
            self.wakeup.clear()
            ready = self._read(None)
            while ready is not None and not self._stop.is_set():
                # the next batch is read and converted on another thread while this one is
                # inserted (the engine releases the GIL, native.py's loops too): a backlog
                # drains at the pace of the inserts alone
                assert self._ahead is not None  # _drain_once runs on the thread start() began
                ahead = self._ahead.submit(self._read, ready.batch)
                try:
                    self._insert(ready)
                except BaseException:
                    ahead.cancel()  # dropped: the checkpoint did not move, the retry re-reads
                    raise
                ready = ahead.result()

    def _read(self, after: Batch | None) -> _Ready | None:
        t = time.perf_counter()
        batch = self.reader.next_batch(self.batch_rows, self.batch_bytes, after=after)
        ready = self._prepare(batch, ahead=after is not None) if batch is not None else None
        self.read_seconds += time.perf_counter() - t
        return ready

    def _prepare(self, batch: Batch, ahead: bool = False) -> _Ready:
        """The batch's inserts: per record key (a table, or a table and a compact layout,
        each its own insert and token), the table, columns, format and data.  ahead: on the
        read-ahead thread, which never touches the connection (the insert may be using it):
        a layout whose plan is not known yet goes as JSON this once."""
        client = None if ahead else self.store.writer()
        inserts = []
        for key, payload in sorted(batch.payloads.items()):
            table, layout = layouts.split_key(key)
            # JSONEachRow names its columns; a compact layout names them in the insert.  Either
            # way an omitted column takes the table's default, so a migration can add one
            # without touching this.
            if not layout:
                inserts.append(_Insert(key, table, None, "JSONEachRow", payload))
                continue
            if table in self._suspect:  # its last Native insert failed: this batch goes as JSON
                p = None
            else:
                p = self._plan(client, table, layout) if client is not None else self._plans.get((table, layout))
            block = _native.to_native(payload, p, batch.rows_by_key.get(key, -1)) if p is not None else None
            if p is not None and block is None:
                metrics.NATIVE_FALLBACKS.inc()
                log.info("%s: a row outside the Native writer's grammar; this insert goes as JSON", table)
            if block is not None and not self.store.embedded:
                block = bytes(block)  # an HTTP body: clickhouse-connect sends bytes with the INSERT before them
            fmt, data = ("Native", block) if block is not None else ("JSONCompactEachRow", payload)
            inserts.append(_Insert(key, table, layouts.columns(layout), fmt, data))
        return _Ready(batch, inserts)

    def _insert(self, ready: _Ready) -> None:
        self._busy = True  # until the after_insert hooks ran too: wait_idle counts them in
        try:
            self._insert_locked(ready)
        finally:
            self._busy = False

    def _insert_locked(self, ready: _Ready) -> None:
        batch = ready.batch
        self.reader.begin(batch)
        client = self.store.writer()
        t = time.perf_counter()
        # One insert per table, each under its own token: a retry after a partial failure
        # re-inserts everything and ClickHouse drops what already landed (the same rows,
        # as JSON or Native: the token, not the bytes, identifies them).
        for ins in ready.inserts:
            try:
                client.raw_insert(ins.table, ins.columns, insert_block=ins.data, fmt=ins.fmt,
                                  settings={**self.insert_settings, **self.table_settings.get(ins.table, {}),
                                            "insert_deduplication_token": f"{batch.token}:{ins.key}"})
            except DatabaseError as e:
                if ins.fmt == "Native" and not isinstance(e, OperationalError):
                    self._suspect.add(ins.table)  # the server refused it: the retry sends JSON
                else:
                    self._suspect.discard(ins.table)  # storage, not the format: Native again
                raise
            if ins.fmt == "Native":
                self.native_inserts += 1
            elif ins.table in self._suspect and ins.columns is not None:
                # the same rows went in as JSON where Native failed: a server that refuses
                # these blocks (e.g. one without input_format_native_allow_types_conversion),
                # not storage being away; Native stays off for this table until restart
                self._suspect.discard(ins.table)
                self._native_off.add(ins.table)
                log.warning("%s: a Native insert failed and the same rows then went in as JSON; "
                            "inserting JSON into it from now on (restart to try Native again)", ins.table)
        dt = time.perf_counter() - t
        self.insert_seconds += dt
        metrics.INSERT_LATENCY.observe(dt)
        self.reader.commit(batch)
        for cb in self.after_insert:
            cb(batch)
        self.inserted_rows += batch.rows
        metrics.INSERTED.inc(batch.rows)

    def _plan(self, client: Any, table: str, layout: str) -> _native.Plan | None:
        """How a layout's rows go into table as Native, or None: not compiled, or a column
        type native.py does not write.  Asked once per (table, layout) and connection."""
        if not self.native_on or table in self._native_off:
            return None
        if (table, layout) not in self._plans:
            db, _, name = table.rpartition(".")
            types = dict(client.query("SELECT name, type FROM system.columns WHERE database = {d:String} "
                                      "AND table = {t:String}", parameters={"d": db or "default", "t": name}
                                      ).result_rows)
            self._plans[(table, layout)] = _native.plan(layouts.columns(layout), types)
            if self._plans[(table, layout)] is None:
                log.warning("%s: a column type the Native writer does not handle; inserting JSON", table)
        return self._plans[(table, layout)]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything buffered so far is in ClickHouse (tests, `flush`)."""
        deadline = time.monotonic() + timeout
        self.flush_now.set()
        try:
            while time.monotonic() < deadline:
                if (self.healthy and self.reader.backlog_bytes() == 0 and not self.reader.inflight
                        and not self._busy):
                    return True
                self.wakeup.set()
                time.sleep(0.02)
            return False
        finally:
            self.flush_now.clear()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
