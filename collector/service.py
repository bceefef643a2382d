"""The collector's long-lived parts, built once from Settings and shared by the routes:
key ring, pipeline services, write-ahead buffer, storage and the background writer."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path

from collector.buffer import layouts
from collector.buffer.wal import BufferFull, WriteAheadBuffer, list_segments, read_records, split_record
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.ops import metrics
from collector.pipeline import Services
from collector.quality.service import QualityService
from collector.query.sql import sql_limits
from collector.receive.auth import KeyRing
from collector.settings import Settings
from collector.validate.dedup import RecentIds, SharedRecentIds
from collector.validate.limits import Limits
from collector.validate.rejected import Keeper
from collector.write.store import ClusterRender, Store
from collector.write.writer import Writer
from identity.service import IdentityService

log = logging.getLogger("footpath.collector")

ROOT = Path(__file__).resolve().parents[1]
TAG_DIST = ROOT / "sdk_js" / "dist"
DEMO_DIR = ROOT / "sdk_js" / "demo"


# `serve --workers`: the file of the message-id cache its processes share (dedup.py), set by
# the supervising process (cli._serve_workers) in its children's environment.
SHARED_IDS_ENV = "FOOTPATH_RECENT_IDS"


def _recent_ids(capacity: int) -> RecentIds:
    path = os.environ.get(SHARED_IDS_ENV)
    return SharedRecentIds(path, capacity) if path else RecentIds(capacity)


class Collector:
    def __init__(self, settings: Settings, series: str = "w0", run_writer: bool = True):
        self.settings = settings
        self.keyring = KeyRing(settings.sites)
        self.sites = {s.id: s for s in settings.sites}
        self.services = Services(
            limits=Limits(settings.max_message_bytes, settings.max_depth, settings.max_keys, settings.max_string),
            geo=GeoIP(settings.geoip_city_db, settings.geoip_asn_db),
            ua=UAClassifier(settings.ua_cache_size),
            recent=_recent_ids(settings.dedup_capacity),
            max_past_days=settings.max_past_days,
            max_future_seconds=settings.max_future_seconds,
            keeper=Keeper(settings.rejected_keep_per_minute),
        )
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.wal = WriteAheadBuffer(settings.buffer_dir, series=series, fsync=settings.fsync,
                                    fsync_ms=settings.fsync_ms, segment_bytes=settings.segment_bytes,
                                    max_bytes=settings.buffer_max_bytes)
        self.store = Store(settings.effective_clickhouse_url,
                           sql_limits(settings.sql_max_seconds, settings.sql_max_rows, settings.sql_max_memory,
                                      settings.sql_max_result_bytes),
                           {s.id: s.retention_days for s in settings.sites},
                           {"rejected_messages": settings.rejected_keep_days},
                           ClusterRender(settings.clickhouse_cluster))
        self.writer: Writer | None = None
        if run_writer:
            self.writer = Writer(self.store, settings.buffer_dir, settings.flush_rows, settings.flush_ms,
                                 native=settings.insert_format == "native")
            self.wal.wakeup = self.writer.wakeup
        # The backlog gauge is computed when scraped: always current, even while storage is down.
        metrics.BUFFER_BACKLOG.set_function(
            self.writer.reader.backlog_bytes if self.writer is not None else self.wal.disk_bytes)
        # Identity: keeps footpath.identity_person_dict fresh after inserts (identity/service.py).
        self.identity = IdentityService(self.store, {s.id: s.shared_device_threshold for s in settings.sites},
                                        self.writer)
        if self.writer is not None:
            self.writer.after_insert.append(self.identity.after_insert)
        self.quality = QualityService(settings, self.sites, self.store, self.wal,
                                      lambda: self.writer is not None and self.writer.healthy)
        self._warmed = threading.Event()
        self._stopping = threading.Event()
        self._ids_ready = False
        self._gate_until = time.monotonic() + self.WARM_GATE_S

    def start(self) -> None:
        self._gate_until = time.monotonic() + self.WARM_GATE_S
        self.services.ua("Mozilla/5.0")  # load the parser's rules now, not on the first request
        self._warm_from_buffer()
        self.quality.start()  # every process: tag figures; alerts only where the writer runs
        if self.writer is not None:
            self.writer.start()
            self.identity.start()
            threading.Thread(target=self._warm_from_storage, name="footpath-warm", daemon=True).start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Everything acknowledged so far is in ClickHouse and visible to reports: inserted,
        and the identity dictionary reloaded for any links it brought (person views)."""
        if self.writer is None:
            return False
        return self.writer.wait_idle(timeout) and self.identity.wait_fresh(timeout)

    def stop(self) -> None:
        """The server has stopped accepting: seal the buffer, drain it, drop what is done."""
        self._stopping.set()
        self.quality.stop()  # first: its last figures go through the buffer
        self.wal.close()
        if self.writer is not None:
            self.writer.stop()
            self.writer.reader.collect_garbage(closed_series=self.wal.series)
        self.identity.stop()
        self.store.close()
        self.services.geo.close()

    # -- readiness -------------------------------------------------------------------------
    def readiness(self) -> tuple[bool, list[str]]:
        problems = []
        if self.writer is not None and not self.writer.healthy:
            problems.append(f"storage unreachable: {self.writer.last_error or 'connecting'}")
        elif self.writer is not None and not self._warmed.is_set():
            # Until recent message ids are loaded a re-send could be stored twice.
            problems.append("loading recent message ids")
        try:
            self.wal.check_capacity()
        except BufferFull as e:
            problems.append(str(e))
        return not problems, problems

    # -- dedup cache warm-up ---------------------------------------------------------------
    def _warm_from_buffer(self) -> None:
        n = 0
        for _series, _num, path in list_segments(self.settings.buffer_dir):
            for rec in read_records(path):
                try:
                    rows = list(layouts.row_dicts(*split_record(rec.payload)))
                except ValueError:
                    continue  # a layout from a newer version: the writer reports it
                n += self.services.recent.seen_or_add_many((row.get("site_id", ""), row.get("message_id", ""))
                                                           for row in rows)
        if n:
            log.info("remembered %d message ids from the buffer", n)

    # Ingestion waits this long after start for the ids already stored (ids_ready): a client's
    # re-send arriving meanwhile was stored again (found in QA, after restarts).  Not longer,
    # so that storage down at start never stops ingestion (the buffer's purpose).
    WARM_GATE_S = 10.0

    def ids_ready(self) -> bool:
        """Whether a message can be checked against the ids stored before this start: once
        they are in the cache (by this process's writer, or under --workers by the writer
        process), or the gate's time has passed."""
        if self._ids_ready:
            return True
        self._ids_ready = self.services.recent.warmed or time.monotonic() > self._gate_until
        return self._ids_ready

    async def wait_ids_ready(self) -> None:
        while not self.ids_ready():
            await asyncio.sleep(0.02)

    def _warm_from_storage(self) -> None:
        assert self.writer is not None
        while not self.writer.healthy:  # however long storage is down at start (no cap: it was
            if self._stopping.wait(0.5):  # 5 min, and then readiness said "loading" for good)
                return
        try:
            cap = self.services.recent.half * 2
            res = self.store.admin().query(
                "SELECT site_id, message_id FROM footpath.events "
                "WHERE received_at > now64(3) - INTERVAL 1 DAY ORDER BY received_at DESC LIMIT {cap:UInt64}",
                parameters={"cap": cap})
            self.services.recent.seen_or_add_many(reversed(res.result_rows))
            log.info("remembered %d recent message ids from storage", len(res.result_rows))
        except Exception as e:  # noqa: BLE001 - a cold cache is not fatal; the engine dedupes later
            log.warning("could not warm the message-id cache: %s", e)
        finally:
            self.services.recent.mark_warmed()
            self._warmed.set()

