"""Fallout (funnel) SQL and result shaping.

Per container (person or session), over its events in [from, to) ordered by packed time
(milliseconds, then the tag's sequence number):

  level  -- eventual mode: windowFunnel(window, 'strict_once') -- ClickHouse's own funnel:
            the best step-1 start counts, each event serves one step, other events may
            come between steps.  windowFunnel takes no DateTime64, so it gets packed
            UInt64 times and the window converted exactly (sources.window_packed).
            strict mode: each step must be the container's very next event (tag-internal
            events excepted) and the best start counts.  ClickHouse's 'strict_order' gives
            up at the first interruption after the first step-1 event instead, so strict
            levels come from the chain computation below.
  chain  -- the times behind median_seconds_to_next: of all chains reaching the
            container's level, the one whose last step happens first (then the latest
            start, then each step at its earliest).  Computed only where step 2 was
            reached in eventual mode.
  value  -- the breakdown dimension on the container's first step-1 event.
"""

from __future__ import annotations

from typing import Any

from collector.reports.sources import (
    INTERNAL_EVENTS,
    SEP_CHAR,
    SEQ_BITS,
    Params,
    event_rows,
    mask_expr,
    ms,
    range_condition,
    segment_condition,
    window_packed,
)
from collector.reports.spec import FalloutSpec

OTHER = "(other)"
NONE = "(none)"


def chain_layers(n: int, window: int, strict: bool) -> list[list[str]]:
    """Column definitions, layer by layer (each layer one SELECT over the previous, so no
    expression is substituted into the next and planning stays linear), over sorted arrays
    ts, ms of length nn, ending in `ch` (positions of the chosen chain) and `alvl` (its
    level).  Every step-1 start is followed greedily (each next step at its earliest); the
    start with the highest level, then the earliest last step, then the latest start wins:
    the chain whose last step happens first.  Strict mode: steps at consecutive positions."""
    layers = [["arrayEnumerate(ms) AS ix"], ["arrayFilter((i, x) -> bitTest(x, 0), ix, ms) AS p1"]]
    if not strict:
        layers.append([f"arrayPushBack(arrayReverseFill(v -> v <= nn, arrayMap((x, i) -> if(bitTest(x, {k - 1}), i, "
                       f"nn + 1), ms, ix)), nn + 1) AS nx{k}" for k in range(2, n + 1)])
    for k in range(2, n + 1):
        if strict:
            pk = f"arrayMap(p -> p + {k - 1}, p1) AS p{k}"
        else:
            pk = f"arrayMap(p -> if(p > nn, p, nx{k}[p + 1]), p{k - 1}) AS p{k}"
        test = f"bitTest(ms[q], {k - 1}) AND " if strict else ""
        layers.append([pk])
        layers.append([f"arrayMap((q, s) -> q <= nn AND {test}ts[q] <= ts[s] + {window}, p{k}, p1) AS ok{k}"])
    # level of each start: 1 + the number of leading steps reached in time
    levels, acc = "1", ""
    for k in range(2, n + 1):
        acc = f"o{k}" if not acc else f"{acc} AND o{k}"
        levels += f" + ({acc})"
    if n >= 2:
        args = ", ".join(f"o{k}" for k in range(2, n + 1))
        oks = ", ".join(f"ok{k}" for k in range(2, n + 1))
        layers.append([f"arrayMap(({args}) -> toUInt64({levels}), {oks}) AS lv"])
    else:
        layers.append(["arrayMap(p -> toUInt64(1), p1) AS lv"])
    comp = "p1"  # the position of each start's last step
    for k in range(2, n + 1):
        comp = f"arrayMap((l, a, b) -> if(l >= {k}, b, a), lv, {comp}, p{k})"
    layers.append([f"arrayMax(arrayMap((l, c, s) -> l * 1099511627776 + (1048575 - c) * 1048576 + s, lv, {comp}, p1)) "
                   "AS sc"])
    layers.append(["toUInt8(intDiv(sc, 1099511627776)) AS alvl", "indexOf(p1, sc % 1048576) AS cj"])
    layers.append(["[" + ", ".join(f"p{k}[cj]" for k in range(1, n + 1)) + "] AS ch"])
    return layers


def build(spec: FalloutSpec, variant: str, client: Any) -> tuple[str, dict[str, Any]]:
    """One query: rows (breakdown value or '' , is_total, entered_1..n, medians_1..n-1)."""
    p = Params()
    n = len(spec.steps)
    person = spec.container == "person"
    dims: tuple[str, ...] = ()
    bd = spec.breakdown
    bd_expr = "''"
    if bd and bd.startswith("properties."):
        k = p.add(bd[len("properties."):], "String")
        bd_expr = (f"if(JSONType(properties, {k}) = 'String', JSONExtractString(properties, {k}), "
                   f"if(JSONType(properties, {k}) = 'Null', '', JSONExtractRaw(properties, {k})))")
    elif bd:
        dims = (bd,)
        bd_expr = f"toString({bd})"
    rows = event_rows(variant, person or spec.segment is not None, client, dims)
    window = window_packed(spec.window_seconds * 1000)
    where = [f"site_id = {p.add(spec.site, 'String')}", range_condition(p, ms(spec.start), ms(spec.end))]
    if not spec.include_bots:
        where.append("NOT is_bot")
    if person or spec.segment is not None:
        where.append("person_key != 0")
    if spec.segment is not None:
        where.append(segment_condition(spec.segment, spec.site, variant, spec.include_bots, p, client))
    mask = f"(({mask_expr(spec.steps, p)}) AS m)"
    strict = spec.mode == "strict"
    if strict:
        internal = " OR ".join(f"key LIKE {p.add(f'track{SEP_CHAR}{e}{SEP_CHAR}%', 'String')}"
                               for e in INTERNAL_EVENTS)
        where.append(f"({mask} > 0 OR NOT ({internal}))")
    else:
        where.append(f"{mask} > 0")
    container = "person_key" if person else "ck"
    conds = ", ".join(f"bitTest(m, {i})" for i in range(n))
    level_agg = "" if strict else f"windowFunnel({window}, 'strict_once')(t, {conds}) AS wf_level, "
    inner = (f"SELECT {container} AS c, {level_agg}groupArray(bitOr(bitShiftLeft(toUInt128(t), 32), m)) AS ev_, "
             f"argMinIf({bd_expr}, t, bitTest(m, 0)) AS bd "
             f"FROM {rows} WHERE {' AND '.join(where)} GROUP BY c")
    level = "alvl" if strict else "wf_level"
    keep = "1" if strict else "wf_level >= 2"  # chains only where a step was continued
    # one array of (time << 32 | mask): a plain numeric sort orders by time, then mask
    rows_sql = (f"SELECT {level.replace('alvl', '0')} AS lvl0, bd, if({keep}, arraySort(ev_), []) AS ev "
                f"FROM ({inner})")
    rows_sql = (f"SELECT lvl0, bd, arrayMap(x -> toUInt64(bitShiftRight(x, 32)), ev) AS ts, "
                f"arrayMap(x -> toUInt32(bitAnd(x, 4294967295)), ev) AS ms FROM ({rows_sql})")
    carry = ["lvl0", "bd", "ts", "ms"]
    for layer in [["length(ms) AS nn"], *chain_layers(n, window, strict)]:
        rows_sql = f"SELECT {', '.join(carry)}, {', '.join(layer)} FROM ({rows_sql})"
        carry += [d.rsplit(" AS ", 1)[1] for d in layer]
    times = [f"bitShiftRight(ts[ch[{j}]], {SEQ_BITS})" for j in range(1, n + 1)]
    level = "alvl" if strict else "lvl0"
    per_container = (f"SELECT {level} AS lvl, bd, least(lvl, alvl) AS clvl, [{', '.join(times)}] AS tm "
                     f"FROM ({rows_sql}) WHERE lvl >= 1")
    counts = [f"countIf(lvl >= {k}) AS e{k}" for k in range(1, n + 1)]
    states = [f"quantileExactInclusiveIfState(0.5)(toInt64(tm[{k + 1}]) - toInt64(tm[{k}]), clvl >= {k + 1}) AS q{k}"
              for k in range(1, n)]
    by_value = f"SELECT bd, {', '.join(counts + states)} FROM ({per_container}) GROUP BY bd"
    ranked = f"SELECT *, row_number() OVER (ORDER BY e1 DESC, bd) AS rn FROM ({by_value})"
    limit = spec.breakdown_limit if bd else 1
    out = [f"sum(e{k})" for k in range(1, n + 1)] + [f"quantileExactInclusiveIfMerge(0.5)(q{k})" for k in range(1, n)]
    sql = (f"SELECT if(rn <= {limit}, bd, {p.add(OTHER, 'String')}) AS value, grouping(value) AS total, "
           f"{', '.join(out)} FROM ({ranked}) GROUP BY GROUPING SETS ((value), ()) ORDER BY total DESC, "
           f"sum(e1) DESC, value")
    return sql, p.values


def _steps(spec: FalloutSpec, row: list[Any]) -> list[dict[str, Any]]:
    n = len(spec.steps)
    entered = [int(x) for x in row[:n]]
    medians = [None if x is None or x != x else round(float(x) / 1000.0, 3) for x in row[n:]]
    out = []
    for k in range(n):
        cont = entered[k + 1] if k + 1 < n else entered[k]
        out.append({
            "label": spec.steps[k].display,
            "entered": entered[k],
            "continued": cont,
            "fell_out": entered[k] - cont,
            "conversion_from_first": round(entered[k] / entered[0], 6) if entered[0] else 0.0,
            "conversion_from_previous": (round(entered[k] / entered[k - 1], 6) if k and entered[k - 1]
                                         else (1.0 if not k and entered[0] else 0.0)),
            "median_seconds_to_next": medians[k] if k + 1 < n and entered[k + 1] else None,
        })
    return out


def shape(spec: FalloutSpec, result: Any) -> dict[str, Any]:
    n = len(spec.steps)
    total = [0] * n + [None] * (n - 1)
    breakdown: dict[str, Any] = {}
    for value, is_total, *row in result.result_rows:
        if is_total:
            total = row
        elif spec.breakdown:
            breakdown[NONE if value == "" else str(value)] = {"steps": _steps(spec, row)}
    return {"steps": _steps(spec, total), "breakdown": breakdown}
