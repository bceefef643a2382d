"""The collector's identity companion: keeps the person dictionary fresh and the shared
device gauge current.

The writer calls ``after_insert(batch)`` after every committed insert (Writer.after_insert).
That only queues the batch; a background thread reads the queued rows, and when they
bring something new -- a (site, anonymous id, user id) pair not seen before, an earlier
first time for a known pair, or a server-side alias -- it recomputes the canonical map of
the sites that got an alias (identity.canonical) and reloads footpath.identity_person_dict.
Reloads coalesce: however many batches arrive during one reload, one more follows.

``wait_fresh()`` blocks until everything inserted so far is reflected: it waits for the
writer to drain, then asks for a reload that also re-syncs the canonical map of every site
whose aliases changed (found from the tables, not from the hook, so it cannot race the
writer's callbacks).  A check every minute does the same for rows written behind the
collector's back; the embedded engine does not reload dictionaries by their LIFETIME.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from collector.buffer import layouts
from collector.ops import metrics
from collector.write.store import MIGRATIONS_DIR, ClusterRender, Store, render
from identity import canonical

log = logging.getLogger("footpath.identity")

PERSON_DICT = "footpath.identity_person_dict"
KNOWN_PAIRS_MAX = 200_000  # hashed (site, anonymous id, user id) -> earliest timestamp seen
QUEUE_MAX = 64  # batches waiting to be read; beyond, reload without reading them
PERIODIC_S = 60.0  # this often: reload if links changed behind our back, recount shared devices
GAUGE_AFTER_S = 2.0  # recount shared devices this soon after a reload (at most once per interval)

# Changes whenever links, aliases or canonical rows are written (by anyone).
MERGE_SIGNATURES_SQL = ("SELECT toString(site_id), count(), max(first_seen), sum(messages) "
                        "FROM footpath.identity_merges GROUP BY site_id")
SIGNATURE_SQL = ("SELECT (SELECT (count(), max(last_seen)) FROM footpath.identity_links), "
                 "(SELECT (count(), max(first_seen)) FROM footpath.identity_merges), "
                 "(SELECT (count(), max(generation)) FROM footpath.identity_canonical)")

SHARED_DEVICES_SQL = """
SELECT toString(site_id), persons, count() FROM (
    SELECT site_id, anonymous_id,
           uniqExact(dictGetOrDefault('footpath.identity_person_dict', 'person_key',
                                      cityHash64(site_id, user_id), cityHash64(site_id, user_id))) AS persons
    FROM footpath.identity_links
    GROUP BY site_id, anonymous_id
    HAVING persons > {floor:UInt32})
GROUP BY site_id, persons
"""


class IdentityService:
    def __init__(self, store: Store, thresholds: Mapping[str, int], writer: Any = None):
        self.store = store
        self.thresholds = dict(thresholds)  # site id -> shared_device_threshold
        self.writer = writer
        self._known: dict[int, str] = {}
        self._queue: deque[tuple[str, bytes] | None] = deque()  # (record key, rows)
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._merge_sites: set[str] = set()
        self._reload = False
        self._check = False  # find the sites whose aliases changed from the tables
        self._merge_sig: dict[str, Any] = {}  # MERGE_SIGNATURES_SQL per site as of the last sync
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_gauge = 0.0
        self._last_periodic = time.monotonic()
        self._signature: Any = None  # SIGNATURE_SQL as of the last reload
        self._gauge_due = 0.0  # monotonic time of a recount owed after a reload; 0: none
        self.started = threading.Event()  # start-up done: view checked, canonical synced, reloaded
        self.last_error = ""
        self.reloads = 0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="footpath-identity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- hooks -----------------------------------------------------------------------------
    def after_insert(self, batch: Any) -> None:
        """Writer hook (writer thread): queue the footpath.events rows, never block."""
        payloads = getattr(batch, "payloads", None)
        if not isinstance(payloads, dict):
            return
        events = [(key, p) for key, p in payloads.items() if p and layouts.split_key(key)[0] == layouts.EVENTS_TABLE]
        if not events:
            return
        with self._cond:
            if len(self._queue) + len(events) > QUEUE_MAX:
                self._queue.clear()
                self._queue.append(None)  # None: "something may have changed", reload
            else:
                self._queue.extend(events)
            self._requested += 1
            self._cond.notify_all()

    def request(self, merge_sites: set[str] | frozenset[str] = frozenset(), reload: bool = True,
                check: bool = False) -> int:
        """Ask for a canonical recomputation (of merge_sites, and with check of every site
        whose aliases changed) and a reload; returns a ticket."""
        with self._cond:
            self._merge_sites |= set(merge_sites)
            self._reload = self._reload or reload
            self._check = self._check or check
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def forget(self) -> None:
        """Drop the memory of seen pairs (after an erasure: a re-created link must reload)."""
        with self._cond:
            self._known.clear()

    def wait_fresh(self, timeout: float = 10.0) -> bool:
        """Everything inserted so far (and asked for so far) is in the dictionary."""
        deadline = time.monotonic() + timeout
        if not self.started.wait(timeout):
            return False
        if self.writer is not None and not self.writer.wait_idle(timeout):
            return False
        self.request(check=True)
        with self._cond:
            target = self._requested
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._cond.wait(left)
        return True

    # -- the refresher thread ----------------------------------------------------------------
    def _run(self) -> None:
        # The writer connects and applies the migrations; start once it has.
        backoff = 0.2
        while not self._stop.is_set() and not (self.store.migrated and self._safely(self._start_up)):
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)
        while not self._stop.is_set():
            with self._cond:
                if self._done == self._requested:
                    due = self._gauge_due or self._last_periodic + PERIODIC_S
                    self._cond.wait(max(due - time.monotonic(), 0.01))
                ticket = self._requested
                payloads = list(self._queue)
                self._queue.clear()
                merge_sites, self._merge_sites = self._merge_sites, set()
                reload, self._reload = self._reload, False
                check, self._check = self._check, False
            if self._stop.is_set():
                return
            new_links, alias_sites = self._scan(payloads)
            merge_sites |= alias_sites
            if self._safely(self._refresh, merge_sites, reload or new_links or bool(merge_sites), check):
                with self._cond:
                    self._done = max(self._done, ticket)
                    self._cond.notify_all()
            else:  # storage trouble: keep the work for the next round
                with self._cond:
                    self._merge_sites |= merge_sites
                    self._reload = True
                    self._check = self._check or check
                self._stop.wait(1.0)
            now = time.monotonic()
            if now >= self._last_periodic + PERIODIC_S:
                self._safely(self.periodic)
            elif self._gauge_due and now >= self._gauge_due:
                self._safely(self.update_gauge)

    def _safely(self, fn: Any, *args: Any) -> bool:
        try:
            fn(*args)
            self.last_error = ""
            return True
        except Exception as e:  # noqa: BLE001 - never kill the thread; report and retry later
            self.last_error = f"{type(e).__name__}: {str(e)[:300]}"
            log.warning("identity refresh failed: %s", self.last_error)
            return False

    def _start_up(self) -> None:
        ensure_view_columns(self.store.admin())
        self.refresh_now()
        self.started.set()

    def _reload_dict(self, client: Any) -> None:
        signature = client.query(SIGNATURE_SQL).result_rows
        client.command(f"SYSTEM RELOAD DICTIONARY {PERSON_DICT}")
        self._signature = signature
        self.reloads += 1

    def periodic(self) -> None:
        """Safety net for rows this process did not see inserted (another writer, a manual
        INSERT): the embedded engine does not reload dictionaries by their LIFETIME."""
        self._last_periodic = time.monotonic()
        if self.store.admin().query(SIGNATURE_SQL).result_rows != self._signature:
            self._refresh(set(), True, True)
        self.update_gauge()

    def _scan(self, payloads: list[tuple[str, bytes] | None]) -> tuple[bool, set[str]]:
        """Did these rows bring a new link or an alias?  (sites with aliases)"""
        new_links = False
        alias_sites: set[str] = set()
        known = self._known
        for item in payloads:
            if item is None:
                new_links = True
                continue
            for row in layouts.row_dicts(*item, with_user_only=True):
                site, user, ts = row.get("site_id", ""), row.get("user_id", ""), row.get("timestamp") or ""
                if row.get("type") == "alias" and row.get("source") == "server":
                    alias_sites.add(site)
                    anon_ids = (row.get("anonymous_id", ""), row.get("previous_id", ""))
                else:
                    anon_ids = (row.get("anonymous_id", ""),)
                for anon in anon_ids:
                    if not anon:
                        continue
                    k = hash((site, anon, user))
                    seen = known.get(k)
                    if seen is None or ts < seen:
                        new_links = True
                        if len(known) >= KNOWN_PAIRS_MAX:
                            known.clear()
                        known[k] = ts
        return new_links, alias_sites

    def _refresh(self, merge_sites: set[str], reload: bool, check: bool = False) -> None:
        client = self.store.admin()
        if check:
            sigs = dict((r[0], r[1:]) for r in client.query(MERGE_SIGNATURES_SQL).result_rows)
            merge_sites = merge_sites | {site for site in sigs.keys() | self._merge_sig.keys()
                                         if sigs.get(site) != self._merge_sig.get(site)}
        if merge_sites:
            canonical.sync(client, merge_sites)
        if check:
            self._merge_sig = sigs  # read before the sync: an alias landing meanwhile is synced next time
        if reload:
            self._reload_dict(client)
            if not self._gauge_due:
                self._gauge_due = max(time.monotonic(), self._last_gauge + GAUGE_AFTER_S)

    def refresh_now(self) -> None:
        """Synchronous full refresh (erasure): canonical map of every site, then reload."""
        client = self.store.admin()
        sigs = dict((r[0], r[1:]) for r in client.query(MERGE_SIGNATURES_SQL).result_rows)
        canonical.sync(client)
        self._merge_sig = sigs
        self._reload_dict(client)
        self.update_gauge()

    def update_gauge(self) -> None:
        """footpath_shared_devices{site}: anonymous ids linked to more persons than the
        site's shared_device_threshold."""
        self._last_gauge = time.monotonic()
        self._gauge_due = 0.0
        if not self.thresholds:
            return
        floor = max(min(self.thresholds.values()), 1)
        rows = self.store.admin().query(SHARED_DEVICES_SQL, parameters={"floor": floor}).result_rows
        counts = dict.fromkeys(self.thresholds, 0)
        for site, persons, n in rows:
            if site in self.thresholds and persons > self.thresholds[site]:
                counts[site] += int(n)
        for site, n in counts.items():
            metrics.SHARED_DEVICES.labels(site).set(n)


def ensure_view_columns(client: Any) -> bool:
    """footpath.events_person lists footpath.events' columns as they were when it was made;
    re-create it (same definition, from its migration) when the table changed since."""
    rows = client.query("SELECT table, name FROM system.columns WHERE database = 'footpath' "
                        "AND table IN ('events', 'events_person') ORDER BY table, position").result_rows
    events = [n for t, n in rows if t == "events"]
    view = [n for t, n in rows if t == "events_person"]
    if view[: len(events)] == events and len(view) == len(events) + 2:
        return False
    path = next(MIGRATIONS_DIR.glob("0017_events_person.sql"))
    sql = render(path.read_text("utf-8"), ClusterRender())
    sql = sql.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW").rstrip().rstrip(";")
    client.command(sql)
    log.info("re-created footpath.events_person for the current columns of footpath.events")
    return True
