"""Path (flow) SQL and result shaping.

Per container: its steps in [from, to) ordered by (time, sequence number, label) -- pages
labelled by path, screens by name, tracks by event; only the kinds in `include` (tag-
internal events and bots left out unless asked for), plus the events that match the
anchor step.  collapse_repeats keeps the first step of each run of identical steps.
Then the sequence is cut: from the first `start` forward, from the last `end` backward,
or from the container's first step; depth+1 steps, '(exit)' / '(entry)' where it ran out.

Nodes are (depth, label).  Layer by layer, each node keeps its `top` most frequent next
labels (count desc, then label) and the rest go to '(other)', which goes on like any
node; '(exit)' and '(entry)' are always shown and end a path.  All of it is one query:
the distinct cut sequences with their counts, then one grouping stage per depth.
"""

from __future__ import annotations

from typing import Any

from collector.reports.sources import (
    KIND,
    Params,
    event_rows,
    ms,
    range_condition,
    segment_condition,
    step_condition,
)
from collector.reports.spec import PathsSpec

EXIT, ENTRY, OTHER, ROOT = "\x00exit", "\x00entry", "\x00other", "\x00root"
SHOW = {EXIT: "(exit)", ENTRY: "(entry)", OTHER: "(other)"}
ANCHOR_BIT = 4  # flags bit 4 (16): the step matches start/end
END_RANK, OTHER_RANK = 4294967295, 4294967294  # the markers among label ranks (UInt32)


def build(spec: PathsSpec, variant: str, client: Any) -> tuple[str, dict[str, Any]]:
    p = Params()
    person = spec.container == "person"
    site = p.add(spec.site, "String")
    rows = event_rows(variant, person or spec.segment is not None, client, prewhere=f"site_id = {site}")
    anchor = step_condition(spec.anchor, p) if spec.anchor else "0"
    # Only the rows a path can show (the included kinds, tag-internal events and bots left
    # out unless asked for) and the anchor's matches reach the grouping.
    visible = f"has({p.add([KIND[k] for k in spec.include], 'Array(UInt8)')}, bitAnd(flags, 3))"
    if not spec.include_internal:
        visible += " AND NOT bitTest(flags, 2)"
    in_range = range_condition(p, ms(spec.start), ms(spec.end), variant)
    where = [f"site_id = {site}", in_range, f"(({anchor}) OR ({visible}))"]
    if not spec.include_bots:
        where.append("NOT bitTest(flags, 3)")
    if spec.segment is not None:
        where.append(segment_condition(spec.segment, spec.site, variant, spec.include_bots, p, client))
    container = "person_key" if person else "ck"
    d = spec.depth
    # Labels: strings on the raw table.  On the view, a label is its rank in the site's
    # sorted list of distinct labels in the date range (one DISTINCT over report_steps'
    # LowCardinality label column, ~0.14 s CPU for 10M events; the rank is computed once per
    # dictionary entry of the column): ranks keep the string order, so sequences, ties and
    # the top-N order are the same, and grouping, sorting and carrying numbers instead of
    # strings saves ~0.9 s CPU at 10M events.  0 stands for no step (as '' does for strings: a step whose label
    # is '' counts as none on both sources), the largest UInt32 values for the markers;
    # ranks are turned back into labels at the very end.  On the raw table the labels are
    # expressions, and their DISTINCT would cost a second pass over footpath.events.
    ranked_labels = variant == "mv"
    if ranked_labels:
        names_sql = (f"(SELECT arraySort(groupArray(toString(label))) FROM (SELECT DISTINCT label FROM "
                     f"footpath.report_steps PREWHERE site_id = {site} WHERE {in_range}) WHERE label != '')")
        label = f"transform(label, {names_sql}, arrayEnumerate({names_sql}), toUInt32(0))"
        # A label inserted after the list was read (a concurrent insert) has no rank: its rows
        # are left out, as if they had arrived after the report, rather than read as no step.
        where.append(f"({label} != 0 OR label = '')")
        empty, ltype = "toUInt32(0)", "UInt32"
        end_marker, other = f"toUInt32({END_RANK})", f"toUInt32({OTHER_RANK})"
    else:
        label, empty, ltype = "label", "''", "String"
        end_marker = p.add(ENTRY if spec.backward else EXIT, "String")
        other = p.add(OTHER, "String")
    if person or spec.segment is not None:
        where.append("person_key != 0")  # last: persons are resolved only for the rows left
    step = f"(t, {label}, toUInt8(flags + 16 * ({anchor})))"
    if spec.anchor is None and not spec.collapse_repeats:
        # From the entry, no merging: the labels of the first depth+1 steps, in (time, label)
        # order.  Two plain arrays sorted by a key cost ~20 % less than one array of tuples;
        # groupArraySorted(depth+1) on tuples measured 4.5x slower than sorting all.
        if ranked_labels:  # (time, rank) packed in one UInt128: a plain numeric sort
            seq = (f"arrayMap(x -> toUInt32(bitAnd(x, 4294967295)), arraySort(groupArray(bitOr(bitShiftLeft("
                   f"toUInt128(t), 32), {label}))))")
        else:
            seq = "arraySort((l, x) -> (x, l), groupArray(label), groupArray(t))"
        source = (f"SELECT {container} AS c, arraySlice({seq}, 1, {d + 1}) AS s "
                  f"FROM {rows} WHERE {' AND '.join(where)} GROUP BY c")
        cut_sql = f"SELECT s FROM ({source})"
        names = "s"
    else:
        # z: the container's steps, (t, label, flags), in order (time, then label)
        source = (f"SELECT {container} AS c, arraySort(groupArray({step})) AS z0 "
                  f"FROM {rows} WHERE {' AND '.join(where)} GROUP BY c")
        if spec.collapse_repeats:
            z = (f"arrayFilter((x, y) -> (x.2, bitAnd(x.3, 3)) != (y.2, bitAnd(y.3, 3)), z0, "
                 f"arraySlice(arrayPushFront(z0, (toUInt64(0), {empty if ranked_labels else p.add(ROOT, 'String')}, "
                 f"toUInt8(255))), 1, "
                 f"length(z0)))")
        else:
            z = "z0"
        if spec.anchor is None:
            cut = f"arraySlice(z, 1, {d + 1}) AS s"
        elif not spec.backward:
            cut = f"arraySlice(z, arrayFirstIndex(x -> bitTest(x.3, {ANCHOR_BIT}), z), {d + 1}) AS s"
        else:
            j = f"arrayLastIndex(x -> bitTest(x.3, {ANCHOR_BIT}), z)"
            cut = f"arrayReverse(arraySlice(z, greatest(1, {j} - {d}), {j} - greatest(1, {j} - {d}) + 1)) AS s"
        anchored = "1" if spec.anchor is None else f"arrayExists(x -> bitTest(x.3, {ANCHOR_BIT}), z)"
        cut_sql = f"SELECT {cut} FROM (SELECT {z} AS z FROM ({source})) WHERE {anchored}"
        names = "arrayMap(x -> x.2, s)"
    seqs = (f"SELECT if(length(s) <= {d}, arrayPushBack({names}, {end_marker}), {names}) AS path "
            f"FROM ({cut_sql}) WHERE length(s) > 0")
    # the distinct paths, grouped on their labels as columns (~0.1 s CPU less at 10M events
    # than on the Array(String))
    labels = ", ".join(f"path[{k + 1}] AS l{k}" for k in range(d + 1))
    names_ = ", ".join(f"l{k}" for k in range(d + 1))
    stage = (f"SELECT c, toUInt64(0) AS q, {empty} AS np, CAST([], 'Array(Tuple(UInt8, {ltype}, {ltype}, UInt64))') "
             f"AS em, {names_} FROM (SELECT {names_}, count() AS c FROM (SELECT {labels} FROM ({seqs})) "
             f"GROUP BY {names_})")
    ends = f"({end_marker}, {empty})"
    # One stage per depth k over the distinct paths: they are grouped by (q, the hash of
    # their depth-(k-1) node; the hash of their depth-k label), the (node, label) pairs, a
    # few per node, with the rest of each path in an array; the top-N rank is a window over
    # those pairs only (ties: label); ARRAY JOIN gives every path its node n<k> back (its
    # hash q, its text np).  Each pair's link (k, parent node, node, count) is appended to
    # the `em` array of its first path only, so the links are summed from those arrays at
    # the end, and a path carries only the labels still to come, not the nodes so far.
    # Measured at 10M events (~450k distinct paths): ~0.55 s CPU less than two window sorts
    # over all distinct paths per depth (strings in the ORDER BY) and a six-link ARRAY JOIN
    # of every path.  Nodes are identified by their labels' 64-bit hashes within one depth,
    # as the window partitions were (a collision needs two labels of one layer with the same
    # cityHash64).
    for k in range(d + 1):
        rest = ["c"] + [f"l{j}" for j in range(k + 1, d + 1)] + ["em"]
        hk = f"l{k}" if ranked_labels else f"cityHash64(l{k})"
        grouped = (f"SELECT q AS pq, {hk} AS hk, any(l{k}) AS lk, any(np) AS pn, sum(c) AS g, "
                   f"groupArray(tuple({', '.join(rest)})) AS rows FROM ({stage}) GROUP BY pq, hk")
        ranked = (f"SELECT rows, pn, g, multiIf(lk = {empty}, lk, lk = {end_marker}, lk, dense_rank() OVER (PARTITION BY pq, "
                  f"lk IN {ends} ORDER BY g DESC, lk) <= {spec.top}, lk, {other}) AS nk FROM ({grouped})")
        cols = "".join(f"r.{i + 1} AS {x}, " for i, x in enumerate(rest[:-1]))
        q = "toUInt64(nk)" if ranked_labels else "cityHash64(nk)"  # ranks: the node itself
        stage = (f"SELECT {cols}nk AS np, {q} AS q, "
                 f"if(i = 1, arrayPushBack(r.{len(rest)}, ({k}, pn, nk, g)), r.{len(rest)}) AS em "
                 f"FROM ({ranked}) ARRAY JOIN rows AS r, arrayEnumerate(rows) AS i")
    links = (f"SELECT h.1 AS depth, h.2 AS src, h.3 AS dst, sum(h.4) AS value FROM ({stage}) "
             f"ARRAY JOIN em AS h WHERE h.3 != {empty} GROUP BY depth, src, dst")
    if ranked_labels:
        end_s = p.add(ENTRY if spec.backward else EXIT, "String")
        other_s = p.add(OTHER, "String")

        def text(x: str) -> str:
            return (f"multiIf({x} = 0, '', {x} = {END_RANK}, {end_s}, {x} = {OTHER_RANK}, {other_s}, "
                    f"arrayElement({names_sql}, {x}))")
        links = f"SELECT depth, {text('src')} AS src, {text('dst')} AS dst, value FROM ({links})"
    sql = f"SELECT depth, src, dst, value FROM ({links}) ORDER BY depth, value DESC, dst, src"
    return sql, p.values


def shape(spec: PathsSpec, rows: list[Any]) -> dict[str, Any]:
    sign = -1 if spec.backward else 1
    nodes: dict[str, dict[str, Any]] = {}
    links = []

    def node(depth: int, label: str) -> str:
        lab = SHOW.get(label, label)
        nid = f"{sign * depth}:{lab}"
        if nid not in nodes:
            nodes[nid] = {"id": nid, "depth": sign * depth, "label": lab, "count": 0}
        return nid

    for depth, src, dst, value in rows:
        target = node(depth, dst)
        nodes[target]["count"] += int(value)
        if depth > 0:
            source = node(depth - 1, src)
            if spec.backward:
                links.append({"source": target, "target": source, "value": int(value)})
            else:
                links.append({"source": source, "target": target, "value": int(value)})
    ordered = sorted(nodes.values(), key=lambda n: (n["depth"], -n["count"], n["label"]))
    links.sort(key=lambda lk: (nodes[lk["source"]]["depth"], -lk["value"], lk["source"], lk["target"]))
    total = sum(n["count"] for n in ordered if n["depth"] == 0)
    return {"nodes": ordered, "links": links, "containers": total}
