"""Thompson sampling allocation: each arm's weight is the posterior probability that it is
the best (Beta(1 + conversions, 1 + persons - conversions) on the goal), estimated from
draws; every arm keeps a floor (default 1 %), and with `control_share` the control keeps a
fixed share while the other arms split the rest.  Unlike top-two sampling, traffic moves
between any two arms as evidence builds.  Already-assigned persons keep their variant (the
tag stores the first assignment; the analysis uses each person's first exposure)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from collector.experiments import registry

log = logging.getLogger("footpath.experiments")


def thompson_weights(persons: Sequence[float], conversions: Sequence[float], floor: float = 0.01,
                     control_share: float | None = None, draws: int = 20_000,
                     rng: np.random.Generator | None = None) -> list[float]:
    rng = rng or np.random.default_rng()
    n = np.asarray(persons, float)
    x = np.asarray(conversions, float)
    k = len(n)
    samples = rng.beta(1 + x[:, None], 1 + (n - x)[:, None], (k, draws))
    arms = slice(1, None) if control_share is not None else slice(None)
    best = np.argmax(samples[arms], axis=0)
    share = np.bincount(best, minlength=samples[arms].shape[0]) / draws
    m = len(share)
    if control_share is None:
        w = floor + (1 - m * floor) * share
    else:
        rest = 1 - control_share
        f = min(floor, rest / m)
        w = np.concatenate([[control_share], f + (rest - m * f) * share])
    return [float(v) for v in w]


class BanditScheduler:
    """Recomputes bandit weights on every experiment's `bandit_interval`, in the process
    that owns the engine.  Weights live in memory (registry); the tag gets them with the
    site settings."""

    def __init__(self, collector: Any, report: Any):
        self.c = collector
        self.report = report  # (store, site, exp, start, end) -> results dict
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.due: dict[tuple[str, str], float] = {}

    def bandits(self) -> list[tuple[Any, Any]]:
        return [(s, e) for s in self.c.sites.values() for e in registry.experiments(s) if e.allocation == "bandit"]

    def start(self) -> None:
        if not self.bandits() or self.c.writer is None:
            return
        self.thread = threading.Thread(target=self.run, name="bandit", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        while not self.stop_event.wait(1.0):
            self.tick(time.monotonic())

    def tick(self, now: float) -> None:
        for site, exp in self.bandits():
            k = (site.id, exp.key)
            if self.due.get(k, 0) > now or not exp.active(datetime.now(UTC)):
                continue
            self.due[k] = now + exp.bandit_interval
            try:
                self.update(site, exp)
            except Exception as e:  # noqa: BLE001 - a failed run keeps the last weights
                log.warning("bandit %s/%s: %s", site.id, exp.key, e)

    def update(self, site: Any, exp: Any) -> list[float]:
        end = datetime.now(UTC) + timedelta(seconds=1)
        start = exp.start or end - timedelta(days=90)
        r = self.report(self.c.store, site, exp, start, end)
        n = [v["persons"] for v in r["variants"]]
        x = [v["conversions"] for v in r["variants"]]
        w = thompson_weights(n, x, exp.bandit_floor, exp.control_share)
        registry.set_weights(site.id, exp.key, tuple(w))
        return w
