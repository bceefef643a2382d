"""Fallout (funnel) SQL and result shaping.

Per container (person or session), over its events in [from, to) ordered by packed time
(milliseconds, then the tag's sequence number):

  level  -- eventual mode: the levels of windowFunnel(window, 'strict_once'): the best
            step-1 start counts, each event serves one step, other events may come between
            steps (tests/reports check it against windowFunnel itself).  Computed by
            funnel_layers below in a few passes over each container's sorted (time, mask)
            array, which also gives the chain start: at 10M events about half the CPU of
            windowFunnel plus a chain per start.  Times are packed UInt64 (ms << 21 | seq)
            and the window is converted exactly (sources.window_packed).
            strict mode: each step must be the container's very next event (tag-internal
            events excepted) and the best start counts.  ClickHouse's 'strict_order' gives
            up at the first interruption after the first step-1 event instead, so strict
            levels come from the chain computation below (chain_layers).
  chain  -- the times behind median_seconds_to_next: of all chains reaching the
            container's level, the one whose last step happens first (then the latest
            start time, of step-1 events at that time the first, then each step at its
            earliest).
  value  -- the breakdown dimension on the container's first step-1 event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from collector.reports import funnel, persons, visits
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
    step_condition,
    window_packed,
)
from collector.reports.spec import FalloutSpec
from collector.reports.stream import Results, stream_order, ties_ordered, walk_stream

OTHER = "(other)"
NONE = "(none)"
PARALLEL_MEDIANS = 200_000  # containers from which _medians picks on two threads


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


def funnel_layers(n: int, window: int) -> list[list[str]]:
    """Eventual mode, layer by layer over the sorted arrays ts (packed times) and ms (step
    masks), ending in `lvl` (the container's level) and `fs` (the start time of its chain).

    One pass per step instead of one chain per start: S<k>[i] is the latest start time of a
    chain that reached step k at or before position i (0: none).  Position i extends the
    chains that reached step k-1 strictly before it (each event serves one step) when it
    matches step k and lies within the window of the latest such start -- the latest start
    is the best one, as every later event can extend it and its window closes last.  So
    C<k>[i] (the start a chain reaching step k at i has; 0: none) is S<k-1>[i-1] when that
    fits, and S<k> fills C<k> forward.  The level is the highest k with any C<k>; the first
    position where the level is reached is the chain whose last step happens first, and its
    start is the latest start for that last step; its steps in between are then found at
    their earliest, from the start on (chain_positions)."""
    layers = [["arrayFill(x -> x > 0, arrayMap((x, m) -> if(bitTest(m, 0), x, 0), ts, ms)) AS S1"]]
    for k in range(2, n + 1):
        layers.append([f"arrayMap((x, m, b) -> if(bitTest(m, {k - 1}) AND b > 0 AND x <= b + {window}, b, 0), "
                       f"ts, ms, arrayShiftRight(S{k - 1}, 1)) AS C{k}"])
        if k < n:
            layers.append([f"arrayFill(x -> x > 0, C{k}) AS S{k}"])
    if n >= 2:
        layers.append([f"arrayFirst(x -> x > 0, C{k}) AS F{k}" for k in range(2, n + 1)])
    reached = "".join(f"F{k} > 0, {k}, " for k in range(n, 1, -1))
    starts = "".join(f"F{k} > 0, F{k}, " for k in range(n, 1, -1))
    fs = f"multiIf({starts}S1[-1])" if n >= 2 else "S1[-1]"
    layers.append([f"toUInt8(multiIf({reached}S1[-1] > 0, 1, 0)) AS lvl", f"{fs} AS fs"])
    return layers


def chain_positions(n: int) -> list[list[str]]:
    """The chain of funnel_layers, as positions q1..qn (0 beyond the level): the first
    step-1 event at the start time (not any event at that time: an event of another step can
    share the millisecond and sort first), then each step at its first match after the
    previous step."""
    layers = [["arrayFirstIndex((x, m) -> x = fs AND bitTest(m, 0), ts, ms) AS q1", "arrayEnumerate(ms) AS ix"]]
    for k in range(2, n + 1):
        layers.append([f"if(lvl >= {k}, arrayFirstIndex((m, i) -> i > q{k - 1} AND bitTest(m, {k - 1}), ms, ix), 0) "
                       f"AS q{k}"])
    return layers


class Source:
    """The rows a fallout reads, shared by the SQL (build) and the streamed walk (stream):
    `rows` (a FROM item), the conditions on them (`where`, which defines the step mask `m`),
    the container column and the breakdown expression."""

    def __init__(self, spec: FalloutSpec, variant: str, client: Any, resolved: bool = False):
        """resolved: the views' stream resolves persons in the collector (persons.for_report):
        its container is the stored identity key."""
        self.p = p = Params()
        person = spec.container == "person"
        resolved = resolved and variant == "mv"
        dims: tuple[str, ...] = ()
        bd = spec.breakdown
        self.bd_expr = "''"
        if bd and bd.startswith("properties."):
            k = p.add(bd[len("properties."):], "String")
            self.bd_expr = (f"if(JSONType(properties, {k}) = 'String', JSONExtractString(properties, {k}), "
                            f"if(JSONType(properties, {k}) = 'Null', '', JSONExtractRaw(properties, {k})))")
        elif bd:
            dims = (bd,)
            self.bd_expr = f"toString({bd})"
        self.site = site = p.add(spec.site, "String")
        self.dims = dims
        self.rows = event_rows(variant, (person and not resolved) or spec.segment is not None, client, dims,
                               prewhere=f"site_id = {site}", identity=resolved)
        self.in_range = range_condition(p, ms(spec.start), ms(spec.end), variant)
        where = [f"site_id = {site}", self.in_range]
        if not spec.include_bots:
            where.append("NOT is_bot")
        mask = f"(({mask_expr(spec.steps, p)}) AS m)"
        if spec.mode == "strict":
            internal = " OR ".join(f"key LIKE {p.add(f'track{SEP_CHAR}{e}{SEP_CHAR}%', 'String')}"
                                   for e in INTERNAL_EVENTS)
            self.selection = f"({mask} > 0 OR NOT ({internal}))"
            self.chosen = f"(m > 0 OR NOT ({internal}))"  # the same, on the alias
        else:
            self.selection, self.chosen = f"{mask} > 0", "m > 0"
        after = []
        if spec.segment is not None:
            after.append(segment_condition(spec.segment, spec.site, variant, spec.include_bots, p, client))
        if resolved:
            after.append("identity_key != 0")  # a row with no user or anonymous id has no person
        elif person or spec.segment is not None:
            after.append("person_key != 0")  # last: persons are resolved only for the rows left
        # the rows a session's visits are cut by (visits.py): all but the step test
        self.activity = " AND ".join(where + after)
        self.where = " AND ".join([*where, self.selection, *after])
        self.container = "identity_key" if resolved else "person_key" if person else "ck"


def stream(spec: FalloutSpec, client: Any) -> tuple[str, dict[str, Any], list[str], persons.Resolver | None, bool]:
    """The views' rows for reduce(), by container and time: c, t, the step mask, and
    with a breakdown the value's number on step-1 rows (its position in the list returned,
    from 1).  Sessions come off the disk in this order (report_steps is sorted by site, ck,
    t; the engine merges its reading threads' runs); persons come in session order and
    reduce puts them together (stream.stream_order, stream.walk_persons).  Rows
    of equal time are put in mask order by reduce, which is cheaper than a third sort key
    here (-20 % of the engine's CPU).

    The breakdown's values are read first (the distinct values on the site's step-1 rows in
    the range) and bound into the stream: one number a row instead of a string, which the
    client would turn into a Python object per row (~0.5 s at 4.4M rows).  A step-1 row
    whose value is not in the list was inserted between the two reads: it is left out, as
    if it had arrived after the report.

    A person report's rows carry their identity key, which reduce() turns into the person
    (persons.for_report), where the engine allows it; else the engine's person_key."""
    resolver = persons.for_report(spec, client)
    s = Source(spec, "mv", client, resolved=resolver is not None)
    values: list[str] = []
    bd = ""
    if spec.breakdown:
        first = step_condition(spec.steps[0], s.p)
        plain = event_rows("mv", False, client, s.dims, prewhere=f"site_id = {s.site}")
        bots = "" if spec.include_bots else " AND NOT is_bot"
        values = list(client.query(f"SELECT arraySort(groupUniqArray({s.bd_expr})) FROM {plain} WHERE "
                                   f"{range_condition(s.p, ms(spec.start), ms(spec.end), 'mv')}{bots} AND {first}",
                                   parameters=s.p.values).result_rows[0][0])
        # a stored dimension as itself: indexOf then runs once per dictionary entry of the
        # LowCardinality column, where toString() would make a string of every row first
        number = f"indexOf({s.p.add(values, 'Array(String)')}, {s.dims[0] if s.dims else s.bd_expr})"
        bd = f", CAST(if(bitTest(m, 0), {number}, 0) AS UInt32) AS bd"
        known = f" AND (NOT bitTest(m, 0) OR {number} != 0)"
    else:
        known = ""
    where, column, split = visits.stream_where(client, spec, s.site, s.in_range, s.p.values, s.where, s.activity,
                                               s.selection, s.chosen)
    # CAST, not toUInt16: a mask of stored columns only (one step on type, name or path) is
    # LowCardinality, which the client hands over as a list, not an array
    sql = (f"SELECT {s.container} AS c, t, CAST(m AS UInt16) AS sm{bd}{column} FROM {s.rows} WHERE {where}{known}"
           f"{stream_order(spec)}")
    return sql, s.p.values, values, resolver, split


class _Walk(Results):
    """Collects funnel.walk's per-container results over the blocks of one stream.  A
    container dropped by keep() gets level 0, which no count or median of _aggregate takes
    (walk gives 1 or more)."""

    PARTS = ("levels", "gaps", "values", "at")
    MARKED = "levels"
    levels: list[np.ndarray]
    gaps: list[np.ndarray]  # per block: step k to k+1 in ms, one row per k
    values: list[np.ndarray]  # the breakdown value's number, per container
    at: list[np.ndarray]  # each container's first step-1 row (stream.Walker)

    def __init__(self, spec: FalloutSpec):
        super().__init__(spec)
        self.n = len(spec.steps)
        self.window = window_packed(spec.window_seconds * 1000)
        self.strict = spec.mode == "strict"
        self.breakdown = bool(spec.breakdown)

    def __call__(self, cols: list[Any], final: bool) -> int:
        cols = ties_ordered(cols, (2,))  # equal times go by mask, as the SQL's array sort does
        lvl, tm, first, s, f = funnel.outputs(len(cols[0]), self.n)
        used, count = funnel.walk(cols[0], cols[1], cols[2], self.n, self.window, self.strict, final,
                                  lvl, tm, first, s, f)
        self.levels.append(lvl[:count])
        self.gaps.append(tm[1:, :count] - tm[:-1, :count])  # while the block's times are in cache
        if self.breakdown:
            self.values.append(cols[3][first[:count]])
        self.at.append(first[:count])
        return int(used)



def reduce(spec: FalloutSpec, blocks: Iterable[Sequence[Any]], values: Sequence[str] = (),
           resolver: persons.Resolver | None = None, split: bool = False,
           max_bytes: int | None = None) -> list[list[Any]]:
    """The rows build()'s SQL returns, from stream()'s blocks: funnel.walk per container,
    then counts and medians per breakdown value in numpy (values, resolver, split: stream()'s;
    max_bytes: the memory limit of grouping persons, stream.walk_persons)."""
    walk = _Walk(spec)
    dtypes = (np.uint64, np.uint64, np.uint16, *([np.uint32] if spec.breakdown else []))
    walk_stream(spec, blocks, dtypes, walk, max_bytes, resolver, split)
    return _aggregate(spec, walk, values)


def _aggregate(spec: FalloutSpec, walk: _Walk, values: Sequence[str]) -> list[list[Any]]:
    """Counts and medians of the walked containers: the total, then (with a breakdown) each
    of the top values by step-1 count (then value), the rest as (other)."""
    n = walk.n
    if not walk.levels or not sum(len(x) for x in walk.levels):
        return []
    lvl = np.concatenate(walk.levels)

    def row(label: str, total: int, lv: Sequence[np.ndarray], d: Sequence[np.ndarray]) -> list[Any]:
        """lv, d: the containers' levels and gaps, in parts (d's row k - 1: step k to k + 1,
        in ms, one column per container)."""
        counts = np.cumsum(sum(np.bincount(x, minlength=n + 1) for x in lv)[::-1])[::-1]  # containers at level >= k
        medians = _medians(lv, d, n, int(counts[0]))
        return [label, total, *(int(c) for c in counts[1:n + 1]), *medians]

    out = [row("", 1, walk.levels, walk.gaps)]
    if spec.breakdown:
        gaps = np.concatenate(walk.gaps, axis=1)
        ids = np.concatenate(walk.values).astype(np.int64) - 1  # positions in values
        entered = np.bincount(ids, weights=lvl > 0, minlength=len(values)).astype(np.int64)  # level 0: dropped
        ranked = sorted(np.flatnonzero(entered).tolist(), key=lambda i: (-entered[i], values[i]))
        labels = [values[i] for i in ranked[:spec.breakdown_limit]] + ([OTHER] if len(ranked) > spec.breakdown_limit
                                                                       else [])
        group = np.zeros(len(values), dtype=np.int64)
        for r, i in enumerate(ranked):  # labels are in rank order, (other) last
            group[i] = min(r, spec.breakdown_limit)
        of = group[ids]  # each container's group; one sort puts each group's containers together
        order = np.argsort(of, kind="stable")
        bounds = np.searchsorted(of[order], np.arange(len(labels) + 1))
        lv, d = lvl[order], gaps.take(order, axis=1)  # C order: each step's gaps one contiguous row
        rows = [row(name, 0, [lv[bounds[g]:bounds[g + 1]]], [d[:, bounds[g]:bounds[g + 1]]])
                for g, name in enumerate(labels)]
        out += sorted(rows, key=lambda r: (-r[2], r[0]))
    return out


def _medians(lv: Sequence[np.ndarray], d: Sequence[np.ndarray], n: int, containers: int) -> list[float | None]:
    """The median gap from step k to k + 1 of the containers above level k, k = 1..n-1: each
    picked from every part in compiled code (funnel.pick, without the GIL) and partitioned
    in place, the steps on two threads when the containers are many (~20 -> ~8 ms at 1M:
    numpy's boolean selection holds the GIL, its partition does not)."""
    def one(k: int) -> float | None:
        x = np.empty(containers, dtype=np.int64)
        at = 0
        for v, g in zip(lv, d, strict=True):
            at = funnel.pick(v, g[k - 1], k, x, at)
        return _median(x[:at]) if at else None

    if n < 3 or containers < PARALLEL_MEDIANS:
        return [one(k) for k in range(1, n)]
    with ThreadPoolExecutor(1, thread_name_prefix="report") as pool:
        first = pool.submit(one, 1)  # the largest: every container past step 1
        rest = [one(k) for k in range(2, n)]
        return [first.result(), *rest]


def _median(x: np.ndarray) -> float:
    """np.median of x, which it reorders (np.median would copy it first)."""
    h = len(x) // 2
    if len(x) % 2:
        x.partition(h)
        return float(x[h])
    x.partition((h - 1, h))
    return (float(x[h - 1]) + float(x[h])) / 2


def build(spec: FalloutSpec, variant: str, client: Any) -> tuple[str, dict[str, Any]]:
    """One query: rows (breakdown value or '' , is_total, entered_1..n, medians_1..n-1)."""
    s = Source(spec, variant, client)
    if spec.container == "session":  # session-less rows: one container per visit (visits.py)
        s.rows = visits.split_rows(s.rows, s.activity)
    p = s.p
    n = len(spec.steps)
    bd = spec.breakdown
    window = window_packed(spec.window_seconds * 1000)
    strict = spec.mode == "strict"
    value = f"argMinIf({s.bd_expr}, t, bitTest(m, 0))" if bd else "''"
    # am: every step the container matched; without step 1 it never enters (HAVING), with
    # step 1 only its level is 1 and (eventual mode) its array is not looked at.
    inner = (f"SELECT {s.container} AS c, groupArray(bitOr(bitShiftLeft(toUInt128(t), 32), m)) AS ev_, "
             f"{value} AS bd, groupBitOr(m) AS am "
             f"FROM {s.rows} WHERE {s.where} GROUP BY c HAVING bitTest(am, 0)")
    if not strict:
        inner = f"SELECT bd, if(am = 1, [], ev_) AS ev_ FROM ({inner})"
    # one array of (time << 32 | mask): a plain numeric sort orders by time, then mask
    rows_sql = (f"SELECT bd, arrayMap(x -> toUInt64(bitShiftRight(x, 32)), arraySort(ev_) AS ev) AS ts, "
                f"arrayMap(x -> toUInt32(bitAnd(x, 4294967295)), ev) AS ms FROM ({inner})")
    carry = ["bd", "ts", "ms"]
    if strict:
        layers = [["length(ms) AS nn"], *chain_layers(n, window, strict)]
    else:
        layers = funnel_layers(n, window)
    for layer in layers:
        rows_sql = f"SELECT {', '.join(carry)}, {', '.join(layer)} FROM ({rows_sql})"
        carry += [d.rsplit(" AS ", 1)[1] for d in layer]
    if strict:
        times = [f"bitShiftRight(ts[ch[{j}]], {SEQ_BITS})" for j in range(1, n + 1)]
        per_container = (f"SELECT alvl AS lvl, bd, lvl AS clvl, [{', '.join(times)}] AS tm "
                         f"FROM ({rows_sql}) WHERE lvl >= 1")
    else:
        rows_sql = f"SELECT bd, ts, ms, greatest(lvl, 1) AS lvl, fs FROM ({rows_sql})"  # step 1: HAVING
        carry = ["bd", "ts", "ms", "lvl", "fs"]
        for layer in chain_positions(n):
            rows_sql = f"SELECT {', '.join(carry)}, {', '.join(layer)} FROM ({rows_sql})"
            carry += [d.rsplit(" AS ", 1)[1] for d in layer]
        times = [f"bitShiftRight(ts[q{j}], {SEQ_BITS})" for j in range(1, n + 1)]
        per_container = f"SELECT lvl, bd, lvl AS clvl, [{', '.join(times)}] AS tm FROM ({rows_sql})"
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


def shape(spec: FalloutSpec, rows: list[Sequence[Any]]) -> dict[str, Any]:
    n = len(spec.steps)
    total: list[Any] = [0] * n + [None] * (n - 1)
    breakdown: dict[str, Any] = {}
    for value, is_total, *row in rows:
        if is_total:
            total = row
        elif spec.breakdown:
            breakdown[NONE if value == "" else str(value)] = {"steps": _steps(spec, row)}
    return {"steps": _steps(spec, total), "breakdown": breakdown}
