"""Path assembly in ClickHouse: touches (visits), conversions, and one row per distinct
path with its conversions, value, non-converting count and time-decay weight sums.

Definitions (README.md):
* touch: a visit of the container, at the visit's start (its first event), labelled from
  its first page view (its first event if it has no page view);
* visit: a session_id; page and screen views without one, per device (anonymous id, else
  user id), split where more than VISIT_GAP_MS pass between two views;
* conversion: an event matching the conversion step, counted when it falls in [from, to);
* a conversion's path: the container's touches that started after its previous conversion
  and at most lookback_days before it, plus the visit the conversion happened in; a
  conversion with no touch at all (a server-side event without a visit) gets ["Direct"];
* non-converting path: the container's touches started in [from, to) after its last
  conversion (all of them when it never converted);
* time-decay weight of a touch: 2^(-(conversion - visit start) / half-life), normalised
  per conversion; summed per path position over the path's conversions (and times value).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from collector.attribution.channels import DIRECT, VISIT_FIELDS, channel_sql, needed_fields
from collector.attribution.request import AttributionRequest
from collector.attribution.steps import value_sql
from collector.query.visits import DEVICE, VIEWLESS, VISIT_GAP_MS

_NEG_INF = "toInt64(-9223372036854775807)"


@dataclass
class PathData:
    """Distinct paths: path i is channels[flat[offsets[i]:offsets[i+1]]]."""

    channels: list[str]
    flat: np.ndarray  # int64 channel index per touch
    offsets: np.ndarray  # int64, len = paths + 1
    conv: np.ndarray  # float64 conversions per path
    value: np.ndarray  # float64 value per path
    nulls: np.ndarray  # float64 non-converting occurrences per path
    td_w: np.ndarray  # float64 per touch: sum over the path's conversions of normalised decay weight
    td_v: np.ndarray  # float64 per touch: the same weights times each conversion's value

    @property
    def n(self) -> int:
        return len(self.conv)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def path_of_touch(self) -> np.ndarray:
        return np.repeat(np.arange(self.n), self.lengths)

    def position(self) -> np.ndarray:
        return np.arange(len(self.flat)) - np.repeat(self.offsets[:-1], self.lengths)


def build_sql(req: AttributionRequest, rules: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    ch_expr, params = channel_sql(req.channel, rules)
    params.update(req.conversion_params)
    lookback_ms = req.lookback_days * 86_400_000
    params.update({
        "site": req.site,
        "lo": (req.date_from - timedelta(days=req.lookback_days + 1)).replace(tzinfo=None),
        "to": req.date_to.replace(tzinfo=None),
        "from_ms": int(req.date_from.timestamp() * 1000),
        "lb": lookback_ms, "hl": req.half_life_days * 86_400_000.0, "direct": DIRECT,
    })
    if req.value_property:
        params["vp"] = req.value_property
        value = value_sql("properties", "vp")
    else:
        value = "toFloat64(0)"
    # The channel is computed once per distinct combination of the visit fields it reads (a
    # scalar subquery: fields hash -> label), not once per visit: visits carry the hash of
    # their first page view's fields (first by an Int64 key: page views first, then time).
    wanted = [col for col in VISIT_FIELDS if col in needed_fields(req.channel, rules)]
    fk = f"cityHash64({', '.join(f'toString({col})' for col in wanted)})"
    firsts = ", ".join(f"any(toString({col})) AS {alias}" if col in wanted else f"'' AS {alias}"
                       for col, alias in VISIT_FIELDS.items())
    first = f"toUnixTimestamp64Milli(timestamp) + toInt64(type != 'page') * {1 << 62}"
    in_range = ("site_id = {site:String} AND timestamp >= {lo:DateTime64(3)} AND timestamp < {to:DateTime64(3)} "
                "AND NOT is_bot")
    labels = (f"(SELECT tuple(groupArray(fk), groupArray({ch_expr})) FROM "
              f"(SELECT {fk} AS fk, {firsts} FROM footpath.events WHERE {in_range} GROUP BY fk))")
    # Visits as collector/query/visits.py defines them (VIEWLESS rows are cut per DEVICE).
    if req.container == "person":
        source, container, ok, group = "footpath.events_person", "person_key", "person_key != 0", "c"
    else:
        # Each visit is its own container; rows in no visit take no part.
        source, container, ok, group = "footpath.events", "toUInt64(0)", f"(session_id != '' OR {VIEWLESS})", "sid"
    # Both branches give the same narrow rows; views without a session read as a second scan
    # that only those rows pass (a window per device numbers their visits).
    columns = (f"toUnixTimestamp64Milli(timestamp) AS ts, {first} AS first, {fk} AS fk, is_conv, "
               f"if(is_conv, {value}, 0.) AS value")
    scan = f"(SELECT *, {req.conversion_sql} AS is_conv FROM {source})"
    rows = f"""
                    SELECT {container} AS c, session_id, toUInt64(0) AS visit, {columns}
                    FROM {scan} WHERE {in_range} AND {ok} AND NOT {VIEWLESS}
                    UNION ALL
                    SELECT c, '' AS session_id,
                           cityHash64(dev, sum(gap) OVER (PARTITION BY c, dev ORDER BY ts, first
                                                          ROWS UNBOUNDED PRECEDING)) AS visit,
                           ts, first, fk, is_conv, value
                    FROM (
                        SELECT {container} AS c, {DEVICE} AS dev, {columns},
                               ts - lagInFrame(ts, 1, ts) OVER (PARTITION BY c, dev ORDER BY ts, first
                                   ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) > {VISIT_GAP_MS} AS gap
                        FROM {scan} WHERE {in_range} AND {ok} AND {VIEWLESS}
                    )"""
    # One row of arrays: the reader's max_result_rows limits rows, and a report may have
    # more distinct paths than that.
    sql = f"""
SELECT groupArray(path), groupArray(conversions), groupArray(value), groupArray(nulls), groupArray(td_w),
       groupArray(td_v)
FROM (
SELECT p.1 AS path, countIf(p.2 = 1) AS conversions, sumIf(p.3, p.2 = 1) AS value, countIf(p.2 = 0) AS nulls,
       sumForEachIf(p.4, p.2 = 1) AS td_w, sumForEachIf(arrayMap(w -> w * p.3, p.4), p.2 = 1) AS td_v
FROM (
    SELECT
        arrayMap(k -> k.1, cv) AS conv_times,
        arrayPopBack(arrayPushFront(conv_times, {_NEG_INF})) AS prevs,
        arrayMap((k, prev) -> arrayFilter(x -> x.1 <= k.1 AND ((x.1 > prev AND x.1 >= k.1 - {{lb:Int64}}) OR x.3 = k.3),
                                          touches), cv, prevs) AS conv_touches,
        arrayMap(tk -> if(empty(tk), [0.], arrayMap((x, last) -> exp2((x.1 - last) / {{hl:Float64}}), tk,
                                                      arrayWithConstant(length(tk), tk[-1].1))),
                 conv_touches) AS raw_w,
        arrayMap((ws, s) -> arrayMap(w -> w / s, ws), raw_w, arrayMap(ws -> if(arraySum(ws) > 0, arraySum(ws), 1.), raw_w)) AS dw,
        arrayFilter(q -> q.5 >= {{from_ms:Int64}},
            arrayMap((k, tk, w) -> tuple(if(empty(tk), [{{direct:String}}], arrayMap(x -> x.2, tk)), toUInt8(1), k.2,
                                         if(empty(tk), [1.], w), k.1),
                     cv, conv_touches, dw)) AS conv_paths,
        if(empty(cv), {_NEG_INF}, conv_times[-1]) AS last_conv,
        arrayFilter(x -> x.1 > last_conv AND x.1 >= {{from_ms:Int64}}, touches) AS tail,
        arrayConcat(conv_paths,
                     if(empty(tail), [], [tuple(arrayMap(x -> x.2, tail), toUInt8(0), toFloat64(0),
                                                CAST([], 'Array(Float64)'), toInt64(0))])) AS all_paths
    FROM (
        SELECT
            arrayMap(x -> tuple(x.1, x.3, x.2), arraySort(groupArrayIf(tuple(start, sid, ch), has_sid))) AS touches,
            arraySort(arrayFlatten(groupArray(arrayMap(v -> tuple(v.1, v.2, sid), convs)))) AS cv
        FROM (
            WITH {labels} AS labels
            SELECT c, sid, has_sid, start, transform(fk, labels.1, labels.2, '') AS ch, convs
            FROM (
                SELECT
                    c,
                    if(visit = 0, cityHash64(session_id), visit) AS sid,
                    session_id != '' OR visit != 0 AS has_sid,
                    min(ts) AS start,
                    argMin(fk, first) AS fk,
                    groupArrayIf(tuple(ts, value), is_conv) AS convs
                FROM ({rows}
                )
                GROUP BY c, session_id, visit
            )
        )
        GROUP BY {group}
    )
)
ARRAY JOIN all_paths AS p
GROUP BY path
)
"""
    return sql, params


def load_paths(client: Any, req: AttributionRequest, rules: tuple[Any, ...]) -> PathData:
    sql, params = build_sql(req, rules)
    rows = client.query(sql, parameters=params).result_rows
    if not rows or not rows[0][0]:
        return empty_paths()
    return from_lists(*rows[0])


def empty_paths() -> PathData:
    z = np.zeros(0)
    return PathData([], np.zeros(0, np.int64), np.zeros(1, np.int64), z, z, z, z, z)


def from_lists(paths: list[list[str]], conv: Any, value: Any, nulls: Any, td_w: list[list[float]],
               td_v: list[list[float]]) -> PathData:
    """Arrays from per-path lists (the query's columns, or hand-built paths in tests)."""
    index: dict[str, int] = {}
    lengths = np.fromiter((len(p) for p in paths), np.int64, len(paths))
    offsets = np.zeros(len(paths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((index.setdefault(ch, len(index)) for p in paths for ch in p), np.int64, int(offsets[-1]))
    total = int(offsets[-1])
    w = np.zeros(total)
    v = np.zeros(total)
    for i, (a, b) in enumerate(zip(td_w, td_v, strict=True)):
        if len(a):
            w[offsets[i]:offsets[i + 1]] = a
            v[offsets[i]:offsets[i + 1]] = b
    # Channel indices sorted by name so results never depend on row order.
    names = sorted(index)
    remap = np.zeros(len(index), np.int64)
    for new, name in enumerate(names):
        remap[index[name]] = new
    return PathData(names, remap[flat], offsets, np.asarray(conv, float), np.asarray(value, float),
                    np.asarray(nulls, float), w, v)
