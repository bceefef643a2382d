"""A site's experiments and the weights currently served (bandit weights replace the
configured ones once computed; collector/experiments/bandit.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from collector.experiments.assign import assign
from collector.experiments.config import Experiment

_LOCK = threading.Lock()
_WEIGHTS: dict[tuple[str, str], tuple[float, ...]] = {}


def experiments(site: Any) -> tuple[Experiment, ...]:
    return site.extra.get("experiment", ()) if site is not None else ()


def find(site: Any, key: str) -> Experiment | None:
    return next((e for e in experiments(site) if e.key == key), None)


def set_weights(site_id: str, key: str, weights: tuple[float, ...]) -> None:
    with _LOCK:
        _WEIGHTS[(site_id, key)] = weights


def weights(site_id: str, exp: Experiment) -> tuple[float, ...]:
    if exp.allocation == "bandit":
        with _LOCK:
            w = _WEIGHTS.get((site_id, exp.key))
        if w is not None and len(w) == len(exp.variants):
            return w
    return exp.weights


def variant_for(site_id: str, exp: Experiment, unit: str, now: datetime | None = None) -> tuple[str, bool]:
    """(variant key, exposed): outside its dates or status the experiment serves its winner
    (or the control) and records no exposure."""
    if not exp.active(now or datetime.now(UTC)):
        return exp.winner or exp.variants[0].key, False
    if not unit:
        return exp.variants[0].key, False
    return exp.variants[assign(exp.key, unit, weights(site_id, exp))].key, True


def public_config(site: Any) -> dict[str, Any]:
    """What the tag needs, in the site settings: per experiment the variant keys, the weights
    served now, and whether it is running (else the served variant)."""
    now = datetime.now(UTC)
    out = {}
    for e in experiments(site):
        d: dict[str, Any] = {"variants": list(e.keys), "weights": list(weights(site.id, e))}
        if not e.active(now):
            d["serve"] = e.winner or e.variants[0].key
        out[e.key] = d
    return {"experiments": out} if out else {}
