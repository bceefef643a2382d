"""Validation of an attribution request body; every 400 names the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.attribution.channels import CHANNEL_KINDS
from collector.attribution.errors import RequestError
from collector.attribution.steps import step_sql
from collector.when import parse_when

MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay",
          "markov", "shapley", "shapley_rate")
CONTAINERS = ("person", "session")
KEYS = {"site", "conversion", "value_property", "channel", "lookback_days", "container", "models",
        "half_life_days", "markov_order", "from", "to", "top_paths"}
MAX_RANGE_DAYS = 3 * 366


@dataclass(frozen=True)
class AttributionRequest:
    site: str
    conversion_sql: str
    conversion_params: dict[str, Any] = field(hash=False)
    value_property: str | None
    channel: str
    lookback_days: int
    container: str
    models: tuple[str, ...]
    half_life_days: float
    markov_order: int
    date_from: datetime
    date_to: datetime
    top_paths: int


def _int(doc: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    v = doc.get(key, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise RequestError(key, f"must be an integer from {lo} to {hi}")
    return v


def _choice(doc: dict[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    v = doc.get(key, default)
    if v is None:
        return default
    if v not in choices:
        raise RequestError(key, f"must be one of {', '.join(choices)}")
    return v


def parse_time(v: Any, key: str, end: bool = False) -> datetime:
    """ISO date or date-time (when.py).  A bare date as ``to`` means the end of that day:
    the range is [from, to)."""
    try:
        t, bare = parse_when(v)
    except ValueError as e:
        raise RequestError(key, str(e)) from None
    return t + timedelta(days=1) if end and bare else t


def parse_request(doc: Mapping[str, Any], sites: Mapping[str, Any]) -> AttributionRequest:
    unknown = set(doc) - KEYS
    if unknown:
        raise RequestError(sorted(unknown)[0], f"unknown field (known: {', '.join(sorted(KEYS))})")
    site = doc.get("site")
    if not isinstance(site, str) or not site:
        raise RequestError("site", "is required: the site id")
    if site not in sites:
        raise RequestError("site", f"unknown site {site!r}", 404)
    conv_sql, conv_params = step_sql(doc.get("conversion"), "conversion")
    vp = doc.get("value_property")
    if vp is not None and (not isinstance(vp, str) or not vp or len(vp) > 200):
        raise RequestError("value_property", "must be a property name (string) or null")
    models = doc.get("models")
    if models is None:
        models = list(MODELS)
    if not isinstance(models, list) or not models:
        raise RequestError("models", f"must be a non-empty list of: {', '.join(MODELS)}")
    for m in models:
        if m not in MODELS:
            raise RequestError("models", f"unknown model {m!r} (known: {', '.join(MODELS)})")
    half = doc.get("half_life_days", 7)
    if isinstance(half, bool) or not isinstance(half, (int, float)) or not math.isfinite(half) \
            or not 0 < half <= 3650:
        raise RequestError("half_life_days", "must be a number of days, more than 0 and at most 3650")
    to = parse_time(doc["to"], "to", end=True) if doc.get("to") is not None else datetime.now(UTC)
    frm = parse_time(doc["from"], "from") if doc.get("from") is not None else to - timedelta(days=30)
    if frm >= to:
        raise RequestError("from", "must be before 'to'")
    if to - frm > timedelta(days=MAX_RANGE_DAYS):
        raise RequestError("to", f"the range may span at most {MAX_RANGE_DAYS} days")
    return AttributionRequest(
        site=site, conversion_sql=conv_sql, conversion_params=conv_params, value_property=vp,
        channel=_choice(doc, "channel", "default", CHANNEL_KINDS),
        lookback_days=_int(doc, "lookback_days", 30, 1, 365),
        container=_choice(doc, "container", "person", CONTAINERS),
        models=tuple(dict.fromkeys(models)), half_life_days=float(half),
        markov_order=_int(doc, "markov_order", 1, 1, 4),
        date_from=frm, date_to=to, top_paths=_int(doc, "top_paths", 100, 0, 100_000))
