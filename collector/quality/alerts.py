"""Alert rules as a pure function over hourly counts: `evaluate(series, now, cfg)`.

series: key ("track:Order Completed", "page:", ...) -> {hour index: (events, checked,
violating)}, hour index = Unix time // 3600, from footpath.quality_events_hourly.

The window judged is the last 60 minutes: the current (partial) hour plus the share
(1 - f) of the previous hour, f being the part of the current hour elapsed; reference
windows are built the same way, so a drop shows before the hour is over.

Rules
  violation_rate  lower Wilson bound (z = 1.96) of violating/checked in the window above
                  the threshold (default 5 %): 1 bad event in 9 gives a bound of 2 %, no page.
  volume_drop /   the window's count against the same window on previous days:
  volume_rise       >= 2 weeks of history: median of the same weekday and hour over up
                    to 4 weeks (weekly seasonality is in the reference itself);
                    >= 7 days: the band [min, max] over the last 7 days at that hour (a
                    full week, so weekends are inside it);
                  then alert below drop_factor x (low) or above rise_factor x (high), less a
                  Poisson allowance of noise_z standard deviations; not judged while the
                  expected count is under min_expected.
  stopped         no event since some hour while the same hours of the previous days
                  (mean of up to 7) add up to >= stopped_expected (P(0) <= e^-10).
  rejected_rate   lower Wilson bound of the messages rejected as invalid (footpath.
                  rejected_messages, per hour: the `rejected` argument) among all received
                  (stored, blocked or rejected) in the window above the same threshold: a
                  sender that breaks its messages pages even though they never reach the
                  events' series.  One finding for the site (key "*").
  site_dip        an event (or the total) is low, the site's total is under dip_ratio of
                  its expected count, and at least site_dip_share of the events judged
                  are down together (low, or under dip_ratio of their own expected
                  count): one finding for the site, which covers (replaces) their
                  per-event volume findings.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Series = dict[int, tuple[float, float, float]]  # hour index -> (events, checked, violating)
FAMILY = {"violation_rate": "violations", "volume_drop": "volume", "volume_rise": "volume",
          "stopped": "volume", "site_dip": "site", "rejected_rate": "rejected"}


@dataclass(frozen=True)
class AlertConfig:
    violation_threshold: float = 0.05
    z: float = 1.96
    drop_factor: float = 0.5
    rise_factor: float = 2.0
    noise_z: float = 3.0
    min_expected: float = 20.0
    stopped_expected: float = 10.0
    min_history_days: int = 7
    site_dip_share: float = 0.5
    dip_ratio: float = 0.65


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str  # event key, or "*" for the whole site
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    covers: tuple[str, ...] = ()  # site_dip: the event keys whose volume findings it replaces

    @property
    def family(self) -> str:
        return FAMILY[self.kind]


def hour_index(ts: datetime) -> int:
    return int(ts.timestamp()) // 3600


def label(key: str) -> str:
    t, _, e = key.partition(":")
    return e if t == "track" else f"({t})"


def wilson_lower(k: float, n: float, z: float) -> float:
    if n <= 0:
        return 0.0
    p = k / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def _count(s: Series, h: int, i: int = 0) -> float:
    v = s.get(h)
    return v[i] if v else 0.0


def _window(s: Series, cur: int, f: float, back: int, i: int = 0) -> float:
    """The last-60-minutes value, `back` hours earlier."""
    return _count(s, cur - back, i) * (1.0 if back == 0 else f) + _count(s, cur - 1 - back, i) * (1 - f)


def _first(s: Series) -> int | None:
    hours = [h for h, v in s.items() if v[0] > 0]
    return min(hours) if hours else None


def _volume(s: Series, cur: int, f: float, cfg: AlertConfig) -> dict[str, Any] | None:
    first = _first(s)
    if first is None:
        return None
    ok = [back for back in range(24, 24 * 28 + 1, 24) if cur - 1 - back >= first]
    observed = _window(s, cur, f, 0)
    weeks = [_window(s, cur, f, b) for b in (168, 336, 504, 672) if b in ok]
    if len(weeks) >= 2:
        expected = statistics.median(weeks)
        low, high = expected * cfg.drop_factor, expected * cfg.rise_factor
        basis = f"same weekday and hour, previous {len(weeks)} weeks"
    else:
        days = [_window(s, cur, f, b) for b in range(24, 24 * 7 + 1, 24) if b in ok]
        if len(days) < cfg.min_history_days:
            return None
        expected = statistics.median(days)
        low, high = min(days) * cfg.drop_factor, max(days) * cfg.rise_factor
        basis = "same hour, previous 7 days"
    low_alarm = low - cfg.noise_z * math.sqrt(low)
    high_alarm = high + cfg.noise_z * math.sqrt(high)
    kind = None
    if expected >= cfg.min_expected:
        if observed < low_alarm:
            kind = "volume_drop"
        elif observed > high_alarm:
            kind = "volume_rise"
    return {"kind": kind, "observed": round(observed, 1), "expected": round(expected, 1),
            "alarm_below": round(max(low_alarm, 0.0), 1), "alarm_above": round(high_alarm, 1), "basis": basis}


def _stopped(s: Series, cur: int, f: float, cfg: AlertConfig) -> dict[str, Any] | None:
    first = _first(s)
    if first is None or _count(s, cur) > 0:
        return None
    expected = 0.0
    h = cur
    while h >= first and _count(s, h) == 0 and cur - h < 24 * 7:
        base = [_count(s, h - 24 * d) for d in range(1, 8) if h - 24 * d >= first]
        if not base:
            break
        expected += statistics.fmean(base) * (f if h == cur else 1.0)
        h -= 1
    if expected < cfg.stopped_expected:
        return None
    since = datetime.fromtimestamp((h + 1) * 3600, UTC)
    return {"kind": "stopped", "since": since.isoformat(), "expected": round(expected, 1)}


def _violations(key: str, s: Series, cur: int, f: float, cfg: AlertConfig) -> Finding | None:
    n = _window(s, cur, f, 0, 1)
    k = _window(s, cur, f, 0, 2)
    if n <= 0 or k <= 0:
        return None
    bound = wilson_lower(k, n, cfg.z)
    if bound <= cfg.violation_threshold:
        return None
    d = {"checked": round(n, 1), "violating": round(k, 1), "rate": round(k / n, 4),
         "lower_bound": round(bound, 4), "threshold": cfg.violation_threshold}
    return Finding("violation_rate", key,
                   f"{label(key)}: {k:.0f} of {n:.0f} events ({k / n:.1%}) violated the tracking plan in the last "
                   f"hour (at least {bound:.1%} at 95 % confidence; threshold {cfg.violation_threshold:.0%})", d)


def _rejections(rejected: Series, total: Series, cur: int, f: float, cfg: AlertConfig,
                fields: tuple[str, ...]) -> Finding | None:
    k = _window(rejected, cur, f, 0)
    n = _window(total, cur, f, 0) + k
    if k <= 0:
        return None
    bound = wilson_lower(k, n, cfg.z)
    if bound <= cfg.violation_threshold:
        return None
    d = {"received": round(n, 1), "rejected": round(k, 1), "rate": round(k / n, 4), "lower_bound": round(bound, 4),
         "threshold": cfg.violation_threshold, "fields": list(fields)}
    top = f"; most often {', '.join(fields)}" if fields else ""
    return Finding("rejected_rate", "*", f"{k:.0f} of {n:.0f} messages ({k / n:.1%}) were rejected as invalid in the "
                                         f"last hour{top} (footpath rejected lists them; at least {bound:.1%} at 95 % "
                                         f"confidence; threshold {cfg.violation_threshold:.0%})", d)


def _volume_finding(key: str, s: Series, cur: int, f: float, cfg: AlertConfig,
                    v: dict[str, Any] | None) -> Finding | None:
    st = _stopped(s, cur, f, cfg)
    if st is not None:
        return Finding("stopped", key, f"{label(key)}: no events since {st['since'][:16].replace('T', ' ')} UTC, "
                                       f"about {st['expected']:.0f} expected by now", st)
    if v is None or v["kind"] is None:
        return None
    word = "below" if v["kind"] == "volume_drop" else "above"
    bound = v["alarm_below"] if word == "below" else v["alarm_above"]
    return Finding(v["kind"], key, f"{label(key)}: {v['observed']:.0f} events in the last hour, expected about "
                                   f"{v['expected']:.0f} ({v['basis']}); alert {word} {bound:.0f}", v)


def evaluate(series: dict[str, Series], now: datetime, cfg: AlertConfig = AlertConfig(),
             rejected: Series | None = None, rejected_fields: tuple[str, ...] = ()) -> list[Finding]:
    """The findings at `now`; rejected: rejected messages per hour (count first), and
    rejected_fields the fields most often at fault, for the summary."""
    cur = hour_index(now)
    f = (now.timestamp() - cur * 3600) / 3600
    out: list[Finding] = []
    volume: dict[str, Finding] = {}
    ratios: dict[str, float] = {}  # observed / expected of every event whose volume is judged
    total: Series = {}
    for key in sorted(series):
        s = series[key]
        for h, (e, c, b) in s.items():
            te, tc, tb = total.get(h, (0.0, 0.0, 0.0))
            total[h] = (te + e, tc + c, tb + b)
        vf = _violations(key, s, cur, f, cfg)
        if vf is not None:
            out.append(vf)
        v = _volume(s, cur, f, cfg)
        if v is not None and v["expected"] >= cfg.min_expected:
            ratios[key] = v["observed"] / v["expected"]
        fv = _volume_finding(key, s, cur, f, cfg, v)
        if fv is not None:
            volume[key] = fv
    if rejected:
        rf = _rejections(rejected, total, cur, f, cfg, rejected_fields)
        if rf is not None:
            out.append(rf)
    tv = _volume(total, cur, f, cfg)
    site = _volume_finding("*", total, cur, f, cfg, tv)
    low = {k for k, x in volume.items() if x.kind in ("volume_drop", "stopped")}
    # Events of one site cross their own alarms minutes apart in an outage (the busiest
    # first): call it a site dip as soon as one event (or the total) is low and most
    # events are down together, by ratio, before each has crossed its own alarm.
    dipping = low | {k for k, r in ratios.items() if r <= cfg.dip_ratio}
    site_low = site is not None and site.kind in ("volume_drop", "stopped")
    site_down = bool(tv) and tv["expected"] > 0 and tv["observed"] <= cfg.dip_ratio * tv["expected"]
    if (low or site_low) and site_down and (len(ratios) >= 2 or not ratios) and \
            len(dipping) >= cfg.site_dip_share * max(len(ratios), 1):
        d = {**(tv or {}), "kind": "site_dip", "events_low": len(dipping), "events_judged": len(ratios)}
        obs, exp = (tv or {}).get("observed", 0), (tv or {}).get("expected", 0)
        out.append(Finding("site_dip", "*", f"the whole site is low: {obs:.0f} events in the last hour, expected "
                                            f"about {exp:.0f}; {len(dipping)} of {len(ratios)} events affected",
                           d, tuple(sorted(dipping))))
        volume = {k: x for k, x in volume.items() if k not in dipping}
    out.extend(volume[k] for k in sorted(volume))
    return out
