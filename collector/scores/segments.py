"""Person-score segment filters for the fallout and paths reports (and anything else that
groups rows by footpath.events_person's person_key).

A filter object (all keys given must hold):

    {"rfm_segment": ["Champions", "Loyal"]}          named RFM segments (any of)
    {"rfm": {"r": [4, 5], "f": [3, 5], "m": [1, 5]}}  score ranges, inclusive
    {"lead_tier": ["hot", "warm"]}                    lead-score tiers (any of)
    {"lead_score": {"min": 60, "max": 100}}           lead-score range, inclusive

Use from a report builder (``p`` is anything with ``add(value, type) -> "{name:Type}"``,
such as collector.reports.sources.Params):

    f = parse_score_filter(doc["scores"], "segment.scores")      # ScoreFilterError -> 400
    where.append(score_condition(f, site_id, p))                # "person_key IN (...)"

The persons come from the views footpath.person_rfm and footpath.person_lead_score
(clickhouse/0042, 0043), always restricted to the report's own site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RFM_SEGMENTS = ("Champions", "Loyal", "Potential Loyalists", "New Customers", "Promising", "Need Attention",
                "About to Sleep", "Can't Lose Them", "At Risk", "Hibernating")
LEAD_TIERS = ("hot", "warm", "cool", "cold")
KEYS = ("rfm_segment", "rfm", "lead_tier", "lead_score")


class ScoreFilterError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ScoreFilter:
    rfm_segments: tuple[str, ...] = ()
    rfm_ranges: tuple[tuple[str, int, int], ...] = ()  # (r|f|m, lo, hi)
    lead_tiers: tuple[str, ...] = ()
    lead_range: tuple[int, int] | None = None


def _names(v: Any, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    vals = v if isinstance(v, list) else [v]
    if not vals or any(x not in allowed for x in vals):
        raise ScoreFilterError(where, f"must be one or a list of: {', '.join(allowed)}")
    return tuple(dict.fromkeys(vals))


def _range(v: Any, where: str, lo: int, hi: int) -> tuple[int, int]:
    if isinstance(v, dict):
        unknown = set(v) - {"min", "max"}
        if unknown:
            raise ScoreFilterError(f"{where}.{sorted(unknown)[0]}", "unknown key (min, max)")
        pair = [v.get("min", lo), v.get("max", hi)]
    elif isinstance(v, list) and len(v) == 2:
        pair = list(v)
    else:
        raise ScoreFilterError(where, f"must be [min, max] or {{\"min\": .., \"max\": ..}} within {lo}-{hi}")
    if any(isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi for x in pair) or pair[0] > pair[1]:
        raise ScoreFilterError(where, f"must be integers with {lo} <= min <= max <= {hi}")
    return pair[0], pair[1]


def parse_score_filter(doc: Any, where: str = "scores") -> ScoreFilter:
    if not isinstance(doc, dict) or not doc:
        raise ScoreFilterError(where, f"must be an object with one or more of {', '.join(KEYS)}")
    for k in doc:
        if k not in KEYS:
            raise ScoreFilterError(f"{where}.{k}", f"unknown key ({', '.join(KEYS)})")
    ranges = []
    if "rfm" in doc:
        rfm = doc["rfm"]
        if not isinstance(rfm, dict) or not rfm or set(rfm) - {"r", "f", "m"}:
            raise ScoreFilterError(f"{where}.rfm", "must be an object with r, f and/or m ranges")
        ranges = [(k, *_range(rfm[k], f"{where}.rfm.{k}", 1, 5)) for k in ("r", "f", "m") if k in rfm]
    return ScoreFilter(
        rfm_segments=_names(doc["rfm_segment"], f"{where}.rfm_segment", RFM_SEGMENTS) if "rfm_segment" in doc else (),
        rfm_ranges=tuple(ranges),
        lead_tiers=_names(doc["lead_tier"], f"{where}.lead_tier", LEAD_TIERS) if "lead_tier" in doc else (),
        lead_range=_range(doc["lead_score"], f"{where}.lead_score", 0, 100) if "lead_score" in doc else None)


def score_condition(f: ScoreFilter, site: str, p: Any, column: str = "person_key") -> str:
    """SQL condition: the row's person passes the filter (every value a bound parameter)."""
    parts = []
    rfm = []
    if f.rfm_segments:
        rfm.append(f"segment IN {p.add(list(f.rfm_segments), 'Array(String)')}")
    for k, lo, hi in f.rfm_ranges:
        rfm.append(f"{k}_score BETWEEN {p.add(lo, 'UInt8')} AND {p.add(hi, 'UInt8')}")
    if rfm:
        parts.append(f"{column} IN (SELECT person_key FROM footpath.person_rfm WHERE site_id = "
                     f"{p.add(site, 'String')} AND {' AND '.join(rfm)})")
    lead = []
    if f.lead_tiers:
        lead.append(f"tier IN {p.add(list(f.lead_tiers), 'Array(String)')}")
    if f.lead_range is not None:
        lead.append(f"score BETWEEN {p.add(f.lead_range[0], 'UInt8')} AND {p.add(f.lead_range[1], 'UInt8')}")
    if lead:
        parts.append(f"{column} IN (SELECT person_key FROM footpath.person_lead_score WHERE site_id = "
                     f"{p.add(site, 'String')} AND {' AND '.join(lead)})")
    return "(" + " AND ".join(parts) + ")"


class SimpleParams:
    """A minimal parameter collector with the same ``add`` as collector.reports.sources.Params."""

    def __init__(self, prefix: str = "sc") -> None:
        self.prefix = prefix
        self.values: dict[str, Any] = {}

    def add(self, value: Any, typ: str) -> str:
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{typ}}}"
