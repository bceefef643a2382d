"""Person-score filters in report segments (fallout and paths).

A segment filter is either an event filter ({"event": ..., "did": ..., "since": ...}) or a
score filter: an object with one or more of these keys, all of which must hold:

    {"rfm_segment": "Champions"}                      named RFM segment, or a list (any of);
                                                      names match case-insensitively
    {"rfm": {"r": [4, 5], "f": {"min": 3}}}          RFM score ranges 1-5, inclusive
    {"lead_tier": ["hot", "warm"]}                    lead-score tiers (any of)
    {"lead_score": {"min": 50}}                       lead score range 0-100, inclusive
                                                      ([min, max] or {"min", "max"})

e.g. {"segment": {"match": "all", "filters": [{"rfm_segment": ["Champions", "Loyal"]},
                                              {"event": "Order Completed", "did": false,
                                               "since": "2026-05-01"}]}}

Persons come from footpath.person_rfm and footpath.person_lead_score (clickhouse/0042,
0043; collector/scores), scored as of the query, restricted to the report's site.  A
person with no purchase is in no RFM segment.  The filter keys and the SQL come from
collector/scores/segments.py; this module only fits them into the report segment (one
parse function, one condition function) so the report builders stay untouched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.reports.spec import SpecError
from collector.scores.segments import (
    KEYS,
    RFM_SEGMENTS,
    ScoreFilter,
    ScoreFilterError,
    parse_score_filter,
    score_condition,
)

SCORE_KEYS = KEYS  # a segment filter holding any of these is a score filter
_BY_LOWER = {s.lower(): s for s in RFM_SEGMENTS}


@dataclass(frozen=True)
class ScoreSegmentFilter:
    """A segment filter on person scores (the row's person passes every condition)."""

    scores: ScoreFilter


def is_score_filter(doc: Any) -> bool:
    return isinstance(doc, dict) and any(k in doc for k in KEYS)


def parse_score_segment_filter(doc: dict[str, Any], where: str) -> ScoreSegmentFilter:
    """Parse segment.filters[i] holding score keys; SpecError names the bad field."""
    for k in doc:
        if k not in KEYS:
            raise SpecError(f"{where}.{k}", "a score filter takes only " + ", ".join(KEYS)
                            + " (put event conditions in a filter of their own)")
    doc = dict(doc)
    seg = doc.get("rfm_segment")
    if isinstance(seg, str):
        doc["rfm_segment"] = _BY_LOWER.get(seg.lower(), seg)
    elif isinstance(seg, list):
        doc["rfm_segment"] = [_BY_LOWER.get(s.lower(), s) if isinstance(s, str) else s for s in seg]
    try:
        return ScoreSegmentFilter(parse_score_filter(doc, where))
    except ScoreFilterError as e:
        raise SpecError(e.field, e.reason) from None


def score_filter_condition(f: ScoreSegmentFilter, site: str, p: Any, column: str = "person_key") -> str:
    """Row condition: the row's person passes the score filter (bound parameters)."""
    return score_condition(f.scores, site, p, column)
