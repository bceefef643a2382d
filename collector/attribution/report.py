"""The attribution report: paths from ClickHouse, every requested model, one JSON answer."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from collector.attribution.markov import markov
from collector.attribution.models import RULE_MODELS
from collector.attribution.paths import PathData, load_paths
from collector.attribution.request import AttributionRequest
from collector.attribution.shapley import shapley_rate


def _credits(pd: PathData, conv: np.ndarray, val: np.ndarray) -> dict[str, dict[str, float]]:
    return {ch: {"conversions": float(conv[i]), "value": float(val[i])} for i, ch in enumerate(pd.channels)}


def top_paths(pd: PathData, limit: int) -> list[dict[str, Any]]:
    """Paths by conversions, then non-converting count (both descending), then path text."""
    if pd.n == 0 or limit == 0:
        return []
    order = np.lexsort((-pd.nulls, -pd.conv))
    if pd.n > limit:  # everything tied with the last one kept competes on the path text
        bc, bn = pd.conv[order[limit - 1]], pd.nulls[order[limit - 1]]
        order = np.flatnonzero((pd.conv > bc) | ((pd.conv == bc) & (pd.nulls >= bn)))
    names = [list(map(pd.channels.__getitem__, pd.flat[pd.offsets[i]:pd.offsets[i + 1]])) for i in order]
    ranked = sorted(zip(order.tolist(), names, strict=True), key=lambda t: (-pd.conv[t[0]], -pd.nulls[t[0]], t[1]))
    return [{"path": path, "conversions": int(pd.conv[i]), "value": float(pd.value[i]), "nulls": int(pd.nulls[i])}
            for i, path in ranked[:limit]]


def compute(pd: PathData, models: tuple[str, ...], markov_order: int = 1, paths_limit: int = 100) -> dict[str, Any]:
    """Every requested model over the distinct paths (TooManyStates for an oversized chain)."""
    result: dict[str, Any] = {"conversions": int(round(pd.conv.sum())), "value": float(pd.value.sum()),
                              "nulls": int(round(pd.nulls.sum())), "channels": list(pd.channels), "models": {}}
    notes: list[str] = []
    timings: dict[str, float] = {}
    for m in models:
        t0 = time.perf_counter()
        if m in RULE_MODELS:
            conv, val = RULE_MODELS[m](pd)
        elif m == "markov":
            (conv, val), info = markov(pd, markov_order)
            result["markov"] = info
        else:
            (conv, val), info = shapley_rate(pd)
            if "note" in info:
                notes.append(str(info["note"]))
        result["models"][m] = _credits(pd, conv, val)
        timings[m] = round((time.perf_counter() - t0) * 1000, 1)
    result["paths"] = top_paths(pd, paths_limit)
    result["paths_total"] = pd.n
    result["timings_ms"] = timings
    if notes:
        result["notes"] = notes
    return result


def run_report(client: Any, req: AttributionRequest, rules: tuple[Any, ...]) -> dict[str, Any]:
    t0 = time.perf_counter()
    pd = load_paths(client, req, rules)
    sql_ms = round((time.perf_counter() - t0) * 1000, 1)
    result = compute(pd, req.models, req.markov_order, req.top_paths)
    result["timings_ms"] = {"paths_sql": sql_ms, **result["timings_ms"]}
    return result
