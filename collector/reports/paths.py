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
the distinct cut sequences with their counts, then one window-function stage per depth.
"""

from __future__ import annotations

from typing import Any

from collector.reports.sources import (
    KIND,
    Params,
    SourceError,
    event_rows,
    glob_to_like,
    ms,
    packed,
    segment_condition,
    step_condition,
)
from collector.reports.spec import PathsSpec, Step

EXIT, ENTRY, OTHER, ROOT = "\x00exit", "\x00entry", "\x00other", "\x00root"
SHOW = {EXIT: "(exit)", ENTRY: "(entry)", OTHER: "(other)"}
ANCHOR_BIT = 4  # flags bit 4 (16): the step matches start/end


def sequence_anchor(step: Step, p: Params) -> str:
    """Anchor test on report_sequences elements (f: flags, l: label), or SourceError when
    the step needs more than kind and label (properties, a page name, a track's path)."""
    if step.properties:
        raise SourceError("anchor with property filters")
    if step.type == "page" and step.event is None:
        return f"(bitAnd(f, 3) = 0 AND l LIKE {p.add(glob_to_like(step.path or '*'), 'String')})"
    if step.type in ("track", "screen") and step.path is None:
        cond = f"bitAnd(f, 3) = {KIND[step.type]}"
        return f"({cond} AND l = {p.add(step.event, 'String')})" if step.event is not None else f"({cond})"
    raise SourceError("anchor needs the event rows (type with name and path)")


def _from_sequences(spec: PathsSpec, p: Params) -> tuple[str, str, str]:
    anchor = sequence_anchor(spec.anchor, p) if spec.anchor else "0"
    lo, hi = p.add(packed(ms(spec.start)), "UInt64"), p.add(packed(ms(spec.end)), "UInt64")
    return (f"SELECT ck AS c, t AS ts, arrayMap((f, l) -> toUInt8(f + 16 * {anchor}), flags, label) AS fl, label AS lb "
            f"FROM footpath.report_sequences FINAL WHERE site_id = {p.add(spec.site, 'String')} "
            f"AND t_max >= {lo} AND t_min < {hi}"), lo, hi


def _from_events(spec: PathsSpec, variant: str, p: Params, client: Any) -> tuple[str, str, str]:
    person = spec.container == "person"
    rows = event_rows(variant, person or spec.segment is not None, client)
    sep = "\x1f"
    kinds = (f"multiIf(key LIKE {p.add('page' + sep + '%', 'String')}, 0, "
             f"key LIKE {p.add('screen' + sep + '%', 'String')}, 1, 2)")
    internal = " OR ".join(f"key LIKE {p.add(f'track{sep}{e}{sep}%', 'String')}"
                           for e in ("Page Engaged", "Consent Updated"))
    anchor = step_condition(spec.anchor, p) if spec.anchor else "0"
    flags = f"toUInt8({kinds} + 4 * ({internal}) + 8 * is_bot + 16 * ({anchor}))"
    lo, hi = p.add(packed(ms(spec.start)), "UInt64"), p.add(packed(ms(spec.end)), "UInt64")
    where = [f"site_id = {p.add(spec.site, 'String')}", f"t >= {lo}", f"t < {hi}"]
    if person or spec.segment is not None:
        where.append("person_key != 0")
    if spec.segment is not None:
        where.append(segment_condition(spec.segment, spec.site, variant, spec.include_bots, p, client))
    container = "person_key" if person else "ck"
    return (f"SELECT {container} AS c, groupArray(t) AS ts, groupArray({flags}) AS fl, groupArray(label) AS lb "
            f"FROM {rows} WHERE {' AND '.join(where)} GROUP BY c"), lo, hi


def build(spec: PathsSpec, variant: str, client: Any) -> tuple[str, dict[str, Any]]:
    p = Params()
    use_sequences = variant == "mv" and spec.container == "session" and spec.segment is None
    if use_sequences:
        try:
            source, lo, hi = _from_sequences(spec, p)
        except SourceError:
            p = Params()
            use_sequences = False
    if not use_sequences:
        source, lo, hi = _from_events(spec, variant, p, client)
    kinds = [KIND[k] for k in spec.include]
    keep = [f"x.1 >= {lo}", f"x.1 < {hi}"]
    if not spec.include_bots:
        keep.append("NOT bitTest(x.3, 3)")
    visible = f"has({kinds}, bitAnd(x.3, 3))" + ("" if spec.include_internal else " AND NOT bitTest(x.3, 2)")
    keep.append(f"(bitTest(x.3, {ANCHOR_BIT}) OR ({visible}))")
    # z: the container's steps, (t, label, flags), in order
    z = f"arrayFilter(x -> {' AND '.join(keep)}, arraySort(arrayZip(ts, lb, fl)))"
    if spec.collapse_repeats:
        z = (f"arrayFilter((x, y) -> (x.2, bitAnd(x.3, 3)) != (y.2, bitAnd(y.3, 3)), z0, "
             f"arraySlice(arrayPushFront(z0, (toUInt64(0), {p.add(ROOT, 'String')}, toUInt8(255))), 1, length(z0)))")
        zdef = f"arrayFilter(x -> {' AND '.join(keep)}, arraySort(arrayZip(ts, lb, fl))) AS z0, {z} AS z"
    else:
        zdef = f"{z} AS z"
    d = spec.depth
    if spec.anchor is None:
        cut = f"arraySlice(z, 1, {d + 1}) AS s"
        anchored = "length(z) > 0"
    elif not spec.backward:
        cut = f"arraySlice(z, arrayFirstIndex(x -> bitTest(x.3, {ANCHOR_BIT}), z), {d + 1}) AS s"
        anchored = f"arrayExists(x -> bitTest(x.3, {ANCHOR_BIT}), z)"
    else:
        j = f"arrayLastIndex(x -> bitTest(x.3, {ANCHOR_BIT}), z)"
        cut = f"arrayReverse(arraySlice(z, greatest(1, {j} - {d}), {j} - greatest(1, {j} - {d}) + 1)) AS s"
        anchored = f"arrayExists(x -> bitTest(x.3, {ANCHOR_BIT}), z)"
    end_marker = p.add(ENTRY if spec.backward else EXIT, "String")
    seqs = (f"SELECT if(length(s) <= {d}, arrayPushBack(arrayMap(x -> x.2, s), {end_marker}), "
            f"arrayMap(x -> x.2, s)) AS path FROM (SELECT {zdef}, {cut} FROM ({source})) WHERE {anchored}")
    stage = f"SELECT path, count() AS c FROM ({seqs}) GROUP BY path"
    ends = f"({end_marker}, '')"
    other, root = p.add(OTHER, "String"), p.add(ROOT, "String")
    carried = ["path", "c"]
    for k in range(d + 1):
        parent = root if k == 0 else f"n{k - 1}"
        lab = f"path[{k + 1}]"
        stage = (f"SELECT {', '.join(carried)}, {lab} AS l{k}, sum(c) OVER (PARTITION BY {parent}, l{k}) AS g{k} "
                 f"FROM ({stage})")
        stage = (f"SELECT {', '.join(carried)}, multiIf(l{k} = '', '', l{k} = {end_marker}, l{k}, "
                 f"dense_rank() OVER (PARTITION BY {parent}, l{k} IN {ends} ORDER BY g{k} DESC, l{k}) <= {spec.top}, "
                 f"l{k}, {other}) AS n{k} FROM ({stage})")
        carried.append(f"n{k}")
    hops = ", ".join(f"({k}, {'n' + str(k - 1) if k else chr(39) * 2}, n{k})" for k in range(d + 1))
    sql = (f"SELECT h.1 AS depth, h.2 AS src, h.3 AS dst, sum(c) AS value FROM ({stage}) "
           f"ARRAY JOIN [{hops}] AS h WHERE h.3 != '' GROUP BY depth, src, dst ORDER BY depth, value DESC, dst, src")
    return sql, p.values


def shape(spec: PathsSpec, result: Any) -> dict[str, Any]:
    sign = -1 if spec.backward else 1
    nodes: dict[str, dict[str, Any]] = {}
    links = []

    def node(depth: int, label: str) -> str:
        lab = SHOW.get(label, label)
        nid = f"{sign * depth}:{lab}"
        if nid not in nodes:
            nodes[nid] = {"id": nid, "depth": sign * depth, "label": lab, "count": 0}
        return nid

    for depth, src, dst, value in result.result_rows:
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
