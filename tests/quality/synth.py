"""Synthetic hourly series: daily profile, weekly seasonality (weekends at 55 %), Poisson
noise, a baseline violation rate; plus the view an evaluator has at a moment (hours
before `now` complete, the current hour partly arrived)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from collector.quality.alerts import Series, hour_index

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
RATES = {"page:": 900.0, "track:Order Completed": 200.0, "track:Product Viewed": 400.0}


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def profile(ts: datetime) -> float:
    h = ts.hour + 0.5
    daily = 0.3 + 0.7 * max(0.0, math.sin(math.pi * (h - 6) / 16)) if 6 <= h <= 22 else 0.3
    return daily * (0.55 if ts.weekday() >= 5 else 1.0)


Change = Callable[[str, datetime], float]  # (key, hour start) -> multiplier of the rate


def synth(weeks: int = 5, seed: int = 1, rates: dict[str, float] | None = None, change: Change | None = None,
          violation_rate: Callable[[str, datetime], float] = lambda k, t: 0.01) -> dict[str, Series]:
    rng = random.Random(seed)
    out: dict[str, Series] = {}
    for key, rate in (rates or RATES).items():
        s: Series = {}
        for i in range(weeks * 168):
            ts = START + timedelta(hours=i)
            lam = rate * profile(ts) * (change(key, ts) if change else 1.0)
            n = poisson(rng, lam)
            bad = sum(rng.random() < violation_rate(key, ts) for _ in range(n)) if n < 2000 else 0
            s[hour_index(ts)] = (float(n), float(n), float(bad))
        out[key] = s
    return out


def visible(series: dict[str, Series], now: datetime, days: int = 29) -> dict[str, Series]:
    """What storage holds at `now`: complete hours before it, the current hour pro rata."""
    cur = hour_index(now)
    f = (now.timestamp() - cur * 3600) / 3600
    lo = cur - days * 24 - 2
    out: dict[str, Series] = {}
    for key, s in series.items():
        v = {h: c for h, c in s.items() if lo <= h < cur}
        if cur in s and f > 0:
            e, c, b = s[cur]
            v[cur] = (round(e * f), round(c * f), round(b * f))
        out[key] = v
    return out


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)
