"""Writes each site's score settings into footpath.score_settings (0041) once storage is
up and migrated, so the RFM and lead-score views score the way the config says.  Runs
only in the process that owns the writer (edge workers have none)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from collector.attribution.steps import glob_to_like
from collector.scores.config import ScoreConfig

log = logging.getLogger("footpath.scores")

COLUMNS = ["site_id", "rfm_event", "rfm_value_property", "lead_rule_types", "lead_rule_events",
           "lead_rule_paths", "lead_rule_weights", "lead_decay", "version"]


def settings_row(site_id: str, cfg: ScoreConfig | None, version: int) -> list[Any]:
    cfg = cfg or ScoreConfig()
    rules = cfg.all_lead_rules
    return [site_id, cfg.rfm_event, cfg.rfm_value_property,
            [r.type for r in rules], [glob_to_like(r.event) if r.event else "" for r in rules],
            [glob_to_like(r.path) if r.path else "" for r in rules], [r.weight for r in rules],
            list(cfg.lead_decay), version]


def write_settings(client: Any, sites: Iterable[Any]) -> int:
    version = time.time_ns() // 1000
    rows = [settings_row(s.id, s.scores, version) for s in sites]
    if rows:
        client.insert("footpath.score_settings", rows, column_names=COLUMNS)
    return len(rows)


class ScoreSync:
    """Background writer of the settings rows; `wait()` blocks until they are written."""

    def __init__(self, collector: Any):
        self.c = collector
        self.done = threading.Event()
        self._stop = threading.Event()
        self.last_error = ""

    def start(self) -> None:
        if self.c.writer is None:  # an edge worker: the writer process syncs
            self.done.set()
            return
        threading.Thread(target=self._run, name="footpath-scores", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float = 10.0) -> bool:
        return self.done.wait(timeout)

    def _run(self) -> None:
        delay = 0.05
        while not self._stop.is_set():
            store = self.c.store
            if store.migrated:
                try:
                    n = write_settings(store.admin(), self.c.settings.sites)
                    log.info("score settings written for %d site(s)", n)
                    self.done.set()
                    return
                except Exception as e:  # noqa: BLE001 - storage may be down; retry
                    self.last_error = str(e)[:500]
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)
