"""The plans in force, one per plan file, reloaded when the file changes (no restart).

`get(path)` is called for every message of a site with a plan: it stats the file at most
once per `interval` seconds (setting plan_reload_ms) and recompiles only when the bytes
changed.  A file that stops parsing keeps the last good plan in force; the error is
logged, counted (footpath_plan_loads_total{result="error"}) and shown by the quality
report, so a typo in production never opens the floodgates nor blocks everything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector.ops import metrics
from collector.plans.model import Plan, PlanError, parse_plan, parse_text

log = logging.getLogger("footpath.plans")


@dataclass
class _Entry:
    plan: Plan | None
    stat: tuple[int, int, int] | None  # (mtime_ns, size, inode) of the bytes behind `plan`
    checked: float  # monotonic time of the last stat
    loaded_at: str = ""
    error: str = ""


class PlanRegistry:
    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Plan | None:
        e = self._entries.get(path)
        if e is None or time.monotonic() - e.checked >= self.interval:
            e = self.refresh(path)
        return e.plan

    def refresh(self, path: str, force: bool = False) -> _Entry:
        with self._lock:
            e = self._entries.get(path)
            now = time.monotonic()
            if e is not None and not force and now - e.checked < self.interval:
                return e  # another thread refreshed it meanwhile
            try:
                st = os.stat(path)
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError as err:
                key = None
                reason = f"{path}: {err.strerror or err}"
            if e is not None and key is not None and key == e.stat and not force:
                e.checked = now
                return e
            if e is None:
                e = _Entry(None, None, now)
                self._entries[path] = e
            e.checked = now
            if key is None:
                self._failed(e, path, reason)
                return e
            try:
                with open(path, "rb") as f:
                    data = f.read()
                digest = hashlib.sha256(data).hexdigest()
                e.stat = key
                if e.plan is not None and e.plan.digest == digest:
                    if e.error:  # the plan in force is back in the file: its error is over (QA)
                        e.error = ""
                        log.info("tracking plan %s is version %d again", path, e.plan.version)
                    return e  # touched, not changed
                plan = parse_plan(parse_text(data, path), path, digest)
            except (PlanError, OSError) as err:
                self._failed(e, path, str(err))
                return e
            if e.plan is not None and plan.version == e.plan.version:
                log.warning("tracking plan %s changed but kept version %d: bump 'version' so stored "
                            "events say which plan checked them", path, plan.version)
            e.plan, e.error = plan, ""
            e.loaded_at = datetime.now(UTC).isoformat(timespec="seconds")
            metrics.PLAN_LOADS.labels("ok").inc()
            log.info("tracking plan %s version %d loaded (%d events)", path, plan.version, len(plan.events))
            return e

    def _failed(self, e: _Entry, path: str, reason: str) -> None:
        if reason != e.error:
            metrics.PLAN_LOADS.labels("error").inc()
            log.error("tracking plan %s not (re)loaded, %s: %s", path,
                      f"version {e.plan.version} stays in force" if e.plan else "no plan in force", reason)
        e.error = reason

    def status(self, path: str) -> dict[str, Any]:
        """For the quality report and the plan API: the file checked as get() would (at most
        once per interval), so an edit shows without traffic (it waited for a message; QA)."""
        e = self._entries.get(path)
        if e is None or time.monotonic() - e.checked >= self.interval:
            e = self.refresh(path)
        p = e.plan
        return {"path": path, "version": p.version if p else None, "digest": p.digest[:16] if p else None,
                "events": sorted(p.events) if p else [], "page": bool(p and p.page),
                "traits": bool(p and p.traits), "allow_unplanned": p.allow_unplanned if p else None,
                "loaded_at": e.loaded_at or None, "error": e.error or None}


REGISTRY = PlanRegistry()
