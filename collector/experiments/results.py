"""Experiment results from the per-person rows of query.py: the table, the metrics, the
SRM check, sample size, the sequential (always-valid) figures, cumulative curves and a
plain-language verdict."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from collector.experiments import stats
from collector.experiments.config import Experiment
from collector.experiments.registry import weights as served_weights

SRM_ALPHA = 0.001
ALPHA = 0.05


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _ci(pair: Any) -> list[float | None] | None:
    return None if pair is None else [_num(pair[0]), _num(pair[1])]


def rate_rows(keys: tuple[str, ...], n: Any, x: Any) -> list[dict[str, Any]]:
    out = []
    n, x = [float(v) for v in n], [float(v) for v in x]
    for i, k in enumerate(keys):
        row: dict[str, Any] = {"key": k, "persons": int(n[i]), "conversions": int(x[i]),
                               "rate": float(x[i] / n[i]) if n[i] else None,
                               "rate_ci": list(stats.wilson(x[i], n[i])) if n[i] else None,
                               "uplift": None, "uplift_ci": None, "p_value": None,
                               "chance_to_beat_control": None}
        if i and n[i] and n[0]:
            c = stats.compare_rates(int(x[i]), int(n[i]), int(x[0]), int(n[0]))
            row.update(uplift=_num(c["uplift"]), uplift_ci=_ci(c["uplift_ci"]), p_value=_num(c["p_value"]),
                       chance_to_beat_control=stats.chance_to_beat(int(x[i]), int(n[i]), int(x[0]), int(n[0])))
        out.append(row)
    return out


def value_rows(keys: tuple[str, ...], groups: list[np.ndarray]) -> list[dict[str, Any]]:
    out = []
    c = groups[0]
    for i, k in enumerate(keys):
        g = groups[i]
        mean = float(g.mean()) if len(g) else None
        row: dict[str, Any] = {"key": k, "persons": len(g), "total": float(g.sum()), "mean": mean,
                               "uplift": None, "uplift_ci": None, "p_value": None,
                               "chance_to_beat_control": None}
        if len(g) > 1:
            se = math.sqrt(g.var(ddof=1) / len(g))
            q = stats.t_ppf975(len(g) - 1)
            row["mean_ci"] = [mean - q * se, mean + q * se]
        if i and len(g) > 1 and len(c) > 1:
            w = stats.welch(mean, float(g.var(ddof=1)), len(g), float(c.mean()), float(c.var(ddof=1)), len(c))
            row.update(uplift=_num(w["uplift"]), uplift_ci=_ci(w["uplift_ci"]), p_value=_num(w["p_value"]))
            se = math.sqrt(g.var(ddof=1) / len(g) + c.var(ddof=1) / len(c))
            row["chance_to_beat_control"] = stats.chance_to_beat_normal(mean - float(c.mean()), se)
        out.append(row)
    return out


def tau2_for(mde: float) -> float:
    """mSPRT mixing variance on the log risk ratio scale: effects of about the MDE."""
    return math.log1p(mde) ** 2


def summarize(exp: Experiment, site_id: str, rows: list[list[Any]], start: datetime, end: datetime,
              metric_defs: list[Any]) -> dict[str, Any]:
    keys = exp.keys
    index = {k: i for i, k in enumerate(keys)}
    known = [r for r in rows if r[0] in index]
    var = np.array([index[r[0]] for r in known], dtype=int)
    t0 = np.array([r[1] for r in known], dtype=np.int64)
    conv = np.array([bool(r[2]) for r in known], dtype=bool)
    conv_ms = np.array([int(r[3]) >> 21 for r in known], dtype=np.int64)
    k = len(keys)
    n = np.bincount(var, minlength=k).astype(float)
    x = np.bincount(var, weights=conv, minlength=k).astype(float)
    table = rate_rows(keys, n, x)
    for row, w in zip(table, exp.weights, strict=True):
        row["weight"] = w
    srm = stats.srm_p_value([int(v) for v in n], exp.weights) if exp.allocation == "fixed" else None
    # sequential: cumulative counts at the end of every UTC day of the range
    day0 = datetime(start.year, start.month, start.day, tzinfo=start.tzinfo)
    days = []
    d = day0
    while d < end and len(days) < 400:
        days.append(d)
        d += timedelta(days=1)
    cuts = np.array([int(min(dd + timedelta(days=1), end).timestamp() * 1000) for dd in days], dtype=np.int64)
    # persons exposed, and converted, before each cut: sorted times and searchsorted
    cum_n = np.array([np.searchsorted(np.sort(t0[var == i]), cuts) for i in range(k)], dtype=float).reshape(k, -1)
    cum_x = np.array([np.searchsorted(np.sort(conv_ms[(var == i) & conv]), cuts) for i in range(k)],
                     dtype=float).reshape(k, -1)
    tau2 = tau2_for(exp.mde)
    for i in range(1, k):
        ok = (cum_n[i] > 0) & (cum_n[0] > 0)
        if not ok.any():
            continue
        dd, vv = stats.log_rr_var(cum_x[i][ok], cum_n[i][ok], cum_x[0][ok], cum_n[0][ok])
        pseq = stats.msprt_p_values(dd, vv, tau2)
        lo, hi = stats.msprt_ci(float(dd[-1]), float(vv[-1]), tau2, ALPHA)
        table[i]["sequential_p_value"] = float(pseq[-1])
        table[i]["sequential_uplift_ci"] = [math.expm1(lo), math.expm1(hi)]
    metrics = []
    for j, m in enumerate(metric_defs):
        vals = np.array([float(r[4 + j] or 0) for r in known], dtype=float)
        if m.property:
            mrows = value_rows(keys, [vals[var == i] for i in range(k)])
        else:
            mrows = rate_rows(keys, n, np.bincount(var, weights=vals > 0, minlength=k).astype(float))
        metrics.append({"name": m.name, "kind": "value" if m.property else "conversion",
                        "guardrail": m.guardrail, "step": m.step.display, "property": m.property,
                        "variants": mrows})
    base = x[0] / n[0] if n[0] else None
    per_arm = stats.sample_size(base, exp.mde) if base else None
    sample = {"mde": exp.mde, "baseline_rate": base, "per_variant": per_arm,
              "remaining": (max(0, per_arm - int(n.min())) if per_arm else None)}
    curves = {"days": [dd.date().isoformat() for dd in days],
              "variants": {kk: {"persons": cum_n[i].astype(int).tolist(), "conversions": cum_x[i].astype(int).tolist()}
                            for i, kk in enumerate(keys)}}
    result = {
        "experiment": exp.key, "name": exp.name, "site": site_id, "from": start.isoformat(),
        "to": end.isoformat(), "status": exp.status, "allocation": exp.allocation,
        "goal": [s.display for s in exp.goal], "variants": table, "metrics": metrics,
        "srm_p_value": srm, "srm": srm is not None and srm < SRM_ALPHA,
        "weights_served": list(served_weights(site_id, exp)),
        "unknown_variant_persons": len(rows) - len(known), "sample_size": sample,
        "sequential": {"tau2": tau2, "alpha": ALPHA}, "curves": curves,
    }
    result["verdict"] = verdict(result)
    return result


def verdict(r: dict[str, Any]) -> str:
    """One plain sentence: winner, loser, or no winner yet (from the always-valid p-value, so
    looking every day is safe), with the SRM and guardrail warnings first."""
    parts = []
    empty = [v["key"] for v in r["variants"] if not v["persons"]]
    if len(empty) == len(r["variants"]):
        return "No exposures in this range: nothing to compare yet."
    if r["srm"]:
        parts.append(f"Sample ratio mismatch (p = {r['srm_p_value']:.2g}): the split does not match the "
                     "weights, so these results cannot be trusted; check the assignment and tracking.")
    for m in r["metrics"]:
        if not m["guardrail"]:
            continue
        for v in m["variants"][1:]:
            if v["p_value"] is not None and v["p_value"] < ALPHA and (v["uplift"] or 0) > 0:
                parts.append(f"Guardrail {m['name']!r} is worse in {v['key']!r} (+{v['uplift']:.1%}).")
    control = r["variants"][0]["key"]
    # 0.0 is a p-value (an overwhelming difference: found in QA, read as missing by `or`)
    wins = [v for v in r["variants"][1:] if v.get("sequential_p_value") is not None and v["sequential_p_value"] < ALPHA]
    base = r["variants"][0]["rate"] or 0.0
    # the direction from the rates: the uplift is None while the control has no conversion
    better = [v for v in wins if (v["rate"] or 0.0) > base]
    worse = [v for v in wins if (v["rate"] or 0.0) < base]
    if empty:
        parts.append(f"No exposures of {', '.join(map(repr, empty))} in this range yet: nothing to compare.")
    elif better:
        best = max(better, key=lambda v: v["rate"])
        by = f"{best['uplift']:+.1%}" if best["uplift"] is not None else f"{best['rate']:.1%} against none"
        parts.append(f"{best['key']!r} beats {control!r}: {by} on the goal.")
    elif worse:
        parts.append(f"{', '.join(repr(v['key']) for v in worse)} is worse than {control!r}.")
    else:
        rem = r["sample_size"]["remaining"]
        more = f" About {rem:,} more persons per variant are needed to detect a {r['sample_size']['mde']:.0%} change." if rem else ""
        parts.append("No winner yet: the differences so far are within chance." + more)
    return " ".join(parts)
