"""`footpath plan infer`: draft a tracking plan from the events already stored.

ClickHouse does the counting (one pass over the site's events of the last N days): per
event, how many messages; per event and top-level property, how often each JSON type
occurs and, for strings, up to `max_enum + 1` distinct values.  `draft_plan` turns those
counts into a plan: every event seen, each property with its JSON type(s), `required` for
the properties present in every message, and an `enum` for strings with few distinct
values that each recur (low cardinality, not just a small sample).  Page and screen views
share the plan's "page" schema; identify traits go to "traits".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson

from collector.write.store import Store

JSON_TYPES = {"String": "string", "Int64": "integer", "UInt64": "integer", "Double": "number",
              "Bool": "boolean", "Null": "null", "Array": "array", "Object": "object"}

_EVENTS_SQL = """
SELECT if(type = 'screen', 'page', type) AS t, if(t = 'track', event, '') AS e, count() AS n
FROM footpath.events
WHERE site_id = {s:String} AND timestamp >= now64(3) - toIntervalDay({d:UInt32})
  AND type IN ('track', 'page', 'screen', 'identify')
GROUP BY t, e
"""

_PROPS_SQL = """
SELECT if(type = 'screen', 'page', type) AS t, if(t = 'track', event, '') AS e, kv.1 AS key,
       JSONType(kv.2) AS jtype, count() AS n, uniqExact(kv.2) AS distinct,
       if(jtype = 'String', groupUniqArray({k:UInt32})(kv.2), []) AS sample
FROM footpath.events
ARRAY JOIN JSONExtractKeysAndValuesRaw(if(type = 'identify', traits, properties)) AS kv
WHERE site_id = {s:String} AND timestamp >= now64(3) - toIntervalDay({d:UInt32})
  AND type IN ('track', 'page', 'screen', 'identify')
GROUP BY t, e, key, jtype
"""


def fetch_stats(store: Store, site_id: str, days: int, max_enum: int = 10) -> tuple[list[tuple], list[tuple]]:
    client = store.admin()
    params = {"s": site_id, "d": days, "k": max_enum + 1}
    events = client.query(_EVENTS_SQL, parameters=params).result_rows
    props = client.query(_PROPS_SQL, parameters=params).result_rows
    return [tuple(r) for r in events], [tuple(r) for r in props]


def _prop_schema(by_type: dict[str, tuple[int, int, list[str]]], max_enum: int, min_support: int) -> dict[str, Any]:
    types = sorted({JSON_TYPES.get(jt, "string") for jt in by_type})
    if "integer" in types and "number" in types:
        types.remove("integer")
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
    non_null = [t for t in types if t != "null"]
    if non_null == ["string"]:
        n, distinct, sample = by_type["String"]
        if distinct <= max_enum and len(sample) == distinct and n >= min_support * distinct:
            values: list[Any] = sorted(orjson.loads(v) for v in sample)
            if "null" in types:
                values.append(None)
            schema["enum"] = values
    return schema


def draft_plan(events: list[tuple], props: list[tuple], max_enum: int = 10, min_support: int = 5,
               note: str = "") -> dict[str, Any]:
    """events: (type, event, n); props: (type, event, key, json_type, n, distinct, sample)."""
    counts = {(t, e): n for t, e, n in events}
    stats: dict[tuple[str, str], dict[str, dict[str, tuple[int, int, list[str]]]]] = defaultdict(
        lambda: defaultdict(dict))
    for t, e, key, jtype, n, distinct, sample in props:
        stats[(t, e)][key][jtype] = (n, distinct, list(sample))
    plan: dict[str, Any] = {"version": 1, "allow_unplanned": False}
    if note:
        plan["description"] = note
    plan["events"] = {}
    for (t, e), n in sorted(counts.items()):
        properties = {}
        required = []
        for key in sorted(stats[(t, e)]):
            by_type = stats[(t, e)][key]
            properties[key] = _prop_schema(by_type, max_enum, min_support)
            if sum(c for c, _, _ in by_type.values()) >= n:
                required.append(key)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if t == "track":
            plan["events"][e] = schema
        elif t == "page":
            plan["page"] = schema
        elif t == "identify":
            plan["traits"] = schema
    return plan


def infer_plan(store: Store, site_id: str, days: int, max_enum: int = 10, min_support: int = 5) -> dict[str, Any]:
    events, props = fetch_stats(store, site_id, days, max_enum)
    total = sum(n for _, _, n in events)
    note = f"Drafted by `footpath plan infer` from {total} events of site {site_id!r} over the last {days} days"
    return draft_plan(events, props, max_enum, min_support, note)
