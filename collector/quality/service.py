"""The data-quality scheduler inside the collector: one background thread that

  * every minute, writes the browser tag's loss figures (dropped, retried, queued, as
    counted from each batch's `stats` into footpath_tag_reported_total) as increments to
    footpath.quality_tag_hourly, through the durable buffer;
  * every `quality_interval_s` seconds (0: never), reads each site's hourly counts from
    footpath.quality_events_hourly, runs the pure evaluator (alerts.py), updates the
    incidents (incidents.py), stores their changes in footpath.quality_incidents and hands
    notifications to the webhook sender (webhook.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from collector.buffer.wal import WriteAheadBuffer, table_record
from collector.ops import metrics
from collector.plans.registry import REGISTRY
from collector.quality.alerts import AlertConfig, Series, evaluate, hour_index
from collector.quality.incidents import Incident, IncidentBook, Notification
from collector.quality.webhook import WebhookSender
from collector.settings import Settings
from collector.sites import Site
from collector.write.store import Store

log = logging.getLogger("footpath.quality")
HISTORY_DAYS = 29  # four weeks of same-weekday references, plus a day
TAG_INTERVAL = 60.0
TAG_TABLE = "footpath.quality_tag_hourly"


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="milliseconds")


class QualityService:
    def __init__(self, settings: Settings, sites: dict[str, Site], store: Store | None,
                 wal: WriteAheadBuffer | None, ready: Callable[[], bool] = lambda: True):
        REGISTRY.interval = settings.plan_reload_ms / 1000
        self.sites = sites
        self.store = store
        self.wal = wal
        self.ready = ready
        self.interval = float(settings.quality_interval_s)
        self.book = IncidentBook(timedelta(minutes=settings.alert_resolve_minutes))
        self.sender = WebhookSender(give_up_after=settings.webhook_retry_minutes * 60.0)
        self._tag_last = self._tag_values()
        self._restored = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gauges: set[tuple[str, str]] = set()
        self.last_evaluation: str | None = None
        self.last_error: str | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self.sender.start()
        self._thread = threading.Thread(target=self._run, name="footpath-quality", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Before the buffer closes: the last tag increments still go through it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sample_tags()
        self.sender.stop()

    def _run(self) -> None:
        tag_every = min(TAG_INTERVAL, self.interval) if self.interval > 0 else TAG_INTERVAL
        next_tags = time.monotonic() + tag_every
        next_eval = time.monotonic() + min(self.interval, 30.0)
        while not self._stop.wait(min(1.0, tag_every)):
            now = time.monotonic()
            if now >= next_tags:
                next_tags = now + tag_every
                self.sample_tags()
            if self.interval > 0 and now >= next_eval and self.ready():
                next_eval = now + self.interval
                self.run_once()

    def run_once(self, now: datetime | None = None) -> list[Notification]:
        now = now or datetime.now(UTC)
        try:
            notes = self.evaluate_all(now)
        except Exception as e:  # noqa: BLE001 - storage trouble: report it, try again next time
            self.last_error = f"{type(e).__name__}: {str(e)[:300]}"
            metrics.QUALITY_EVALUATIONS.labels("error").inc()
            log.warning("quality evaluation failed: %s", self.last_error)
            return []
        self.last_evaluation, self.last_error = now.isoformat(timespec="seconds"), None
        metrics.QUALITY_EVALUATIONS.labels("ok").inc()
        return notes

    # -- alerts --------------------------------------------------------------------------
    def evaluate_all(self, now: datetime) -> list[Notification]:
        if not self._restored and self.store is not None:
            self.book.restore(self.load_open_incidents())
            self._restored = True
        notes: list[Notification] = []
        for site in self.sites.values():
            notes += self.evaluate_site(site, now, self.load_series(site.id, now), *self.load_rejected(site.id, now))
        self.persist()
        self._update_gauges()
        return notes

    def evaluate_site(self, site: Site, now: datetime, series: dict[str, Series], rejected: Series | None = None,
                      rejected_fields: tuple[str, ...] = ()) -> list[Notification]:
        cfg = AlertConfig(violation_threshold=site.alert_violation_percent / 100)
        notes = self.book.update(site.id, evaluate(series, now, cfg, rejected, rejected_fields), now)
        for n in notes:
            metrics.QUALITY_ALERTS.labels(site.id, n.incident.kind, n.state).inc()
            log.warning("quality alert %s: %s", n.state, n.incident.summary)
            if site.alert_webhook:
                self.sender.send(site.alert_webhook, n.incident.payload(n.state, now))
        return notes

    def load_series(self, site_id: str, now: datetime) -> dict[str, Series]:
        assert self.store is not None
        cur = hour_index(now)
        rows = self.store.admin().query(
            "SELECT concat(type, ':', event) AS key, intDiv(toUnixTimestamp(hour), 3600) AS h, "
            "sum(events), sum(checked), sum(violating) FROM footpath.quality_events_hourly "
            "WHERE site_id = {s:String} AND hour >= {lo:DateTime('UTC')} AND hour <= {hi:DateTime('UTC')} "
            "GROUP BY key, h",
            parameters={"s": site_id, "lo": datetime.fromtimestamp((cur - HISTORY_DAYS * 24 - 2) * 3600, UTC),
                        "hi": datetime.fromtimestamp(cur * 3600, UTC)}).result_rows
        out: dict[str, Series] = {}
        for key, h, e, c, v in rows:
            out.setdefault(key, {})[int(h)] = (float(e), float(c), float(v))
        return out

    def load_rejected(self, site_id: str, now: datetime) -> tuple[Series, tuple[str, ...]]:
        """Rejected messages of the current and the previous hour (all the rule's window
        reads), and the three fields most often at fault."""
        assert self.store is not None
        cur = hour_index(now)
        p = {"s": site_id, "lo": datetime.fromtimestamp((cur - 1) * 3600, UTC)}
        c = self.store.admin()
        rows = c.query("SELECT intDiv(toUnixTimestamp(received_at), 3600) AS h, count() FROM footpath.rejected_messages "
                       "WHERE site_id = {s:String} AND received_at >= {lo:DateTime('UTC')} GROUP BY h",
                       parameters=p).result_rows
        if not rows:
            return {}, ()
        top = c.query("SELECT if(field = '', '(message)', field) AS f, count() AS n FROM footpath.rejected_messages "
                      "WHERE site_id = {s:String} AND received_at >= {lo:DateTime('UTC')} GROUP BY f "
                      "ORDER BY n DESC, f LIMIT 3", parameters=p).result_rows
        return {int(h): (float(n), 0.0, 0.0) for h, n in rows}, tuple(r[0] for r in top)

    def persist(self) -> None:
        changed = self.book.take_changed()
        if not changed or self.store is None:
            return
        base = time.time_ns()
        payload = b"\n".join(orjson.dumps(i.record(base + n)) for n, i in enumerate(changed))
        try:
            self.store.admin().raw_insert("footpath.quality_incidents", None, insert_block=payload,
                                          fmt="JSONEachRow", settings={"date_time_input_format": "best_effort"})
        except Exception:
            self.book.changed[:0] = changed  # stored on the next run, in order
            raise

    def load_open_incidents(self) -> list[Incident]:
        assert self.store is not None
        rows = self.store.admin().query(
            "SELECT incident_id, site_id, family, kind, key, opened_at, summary, details "
            "FROM footpath.quality_incidents FINAL WHERE state = 'open' AND site_id IN {s:Array(String)}",
            parameters={"s": list(self.sites)}).result_rows
        return [Incident(r[0], r[1], r[2], r[3], r[4], _utc(r[5]), r[6], orjson.loads(r[7] or "{}")) for r in rows]

    def incidents(self, site_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Incidents of a site that overlap [start, end), newest first (for the report)."""
        assert self.store is not None
        rows = self.store.admin().query(
            "SELECT incident_id, kind, key, state, opened_at, resolved_at, summary "
            "FROM footpath.quality_incidents FINAL WHERE site_id = {s:String} AND opened_at < {e:DateTime64(3)} "
            "AND (resolved_at IS NULL OR resolved_at >= {b:DateTime64(3)}) ORDER BY opened_at DESC LIMIT 100",
            parameters={"s": site_id, "b": start, "e": end}).result_rows
        keys = ("id", "kind", "key", "state", "opened_at", "resolved_at", "summary")
        # times as everywhere else in the API and the webhook: ISO 8601 with the offset (QA)
        return [dict(zip(keys, (*r[:4], _iso(r[4]), _iso(r[5]), r[6]), strict=True)) for r in rows]

    def _update_gauges(self) -> None:
        counts: dict[tuple[str, str], int] = {}
        for inc in self.book.open.values():
            counts[(inc.site, inc.kind)] = counts.get((inc.site, inc.kind), 0) + 1
        for labels in self._gauges | set(counts):
            metrics.QUALITY_OPEN.labels(*labels).set(counts.get(labels, 0))
        self._gauges |= set(counts)

    # -- the tag's loss figures ----------------------------------------------------------
    @staticmethod
    def _tag_values() -> dict[tuple[str, str], float]:
        out = {}
        for m in metrics.TAG_LOSS.collect():
            for s in m.samples:
                if s.name.endswith("_total"):
                    out[(s.labels["site"], s.labels["counter"])] = s.value
        return out

    def sample_tags(self, now: datetime | None = None) -> int:
        """Writes the increments since the last call; returns the rows written."""
        cur = self._tag_values()
        hour = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0).isoformat()
        rows: dict[str, dict[str, Any]] = {}
        for (site, counter), value in cur.items():
            delta = value - self._tag_last.get((site, counter), 0.0)
            if site in self.sites and delta > 0 and counter in ("dropped", "retried", "queued"):
                rows.setdefault(site, {"site_id": site, "hour": hour})[counter] = int(delta)
        if rows and self.wal is not None:
            try:
                self.wal.append_nowait(table_record(TAG_TABLE, b"\n".join(orjson.dumps(r) for r in rows.values())))
            except (OSError, ValueError) as e:
                log.warning("could not buffer tag loss figures: %s", e)
                return 0
        self._tag_last = cur
        return len(rows)


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
