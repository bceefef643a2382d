"""Path (flow) SQL and result shaping.

Per container: its steps in [from, to) ordered by (time, sequence number, label) -- pages
labelled by path, screens by name, tracks by event, '(none)' where that is empty (a
server-side page call without a URL, a screen without a name); only the kinds in `include` (tag-
internal events and bots left out unless asked for), plus the events that match the
anchor step.  collapse_repeats keeps the first step of each run of identical steps.
Then the sequence is cut: from the first `start` forward, from the last `end` backward,
or from the container's first step; depth+1 steps, '(exit)' / '(entry)' where it ran out.

Nodes are (depth, label).  Layer by layer, each node keeps its `top` most frequent next
labels (count desc, then label) and the rest go to '(other)', which goes on like any
node; '(exit)' and '(entry)' are always shown and end a path.  On the raw table all of it
is one query (build): the distinct cut sequences with their counts, then one grouping stage
per depth.  On the views the engine streams the rows sorted by container and time
(stream), pathwalk.walk cuts each container's sequence in compiled code, and reduce()
groups the layers in numpy, with the same definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from collector.reports import labels, pathwalk, persons, visits
from collector.reports.sources import (
    KIND,
    Params,
    event_rows,
    month_ids,
    ms,
    range_condition,
    segment_condition,
    step_condition,
)
from collector.reports.spec import PathsSpec
from collector.reports.stream import Results, stream_order, ties_ordered, walk_stream

EXIT, ENTRY, OTHER, ROOT = "\x00exit", "\x00entry", "\x00other", "\x00root"
SHOW = {EXIT: "(exit)", ENTRY: "(entry)", OTHER: "(other)"}
SHOWN = frozenset(SHOW.values())
NO_LABEL = "(none)"  # the label of a step whose path, name or event is empty (as for breakdown values)
ANCHOR_BIT = 4  # flags bit 4 (16): the step matches start/end
END_RANK = 4294967295  # the end marker among label ranks (UInt32); pathwalk.END
# reduce() counts (node, label) pairs in a dense array when it has at most this many cells
DENSE_CELLS, DENSE_PER_ROW = 1 << 16, 4
# reduce() walks the layers in compiled code over a dense array of all (node, label) pairs
# when there are at most this many (2,045 labels: 32 MiB of counts), and no more than the
# dense rule of _pairs allows for the number of paths
DENSE_LAYER_CELLS = 1 << 22
PARALLEL_LAYER_PATHS = 200_000  # paths from which _Layers counts in two halves on two threads


class Source:
    """The rows a path report reads, shared by the SQL (build) and the streamed walk
    (stream): `rows` (a FROM item), the conditions on them (`where`), the anchor test,
    the container column."""

    def __init__(self, spec: PathsSpec, variant: str, client: Any, resolved: bool = False):
        """resolved: the views' stream resolves persons in the collector (persons.for_report):
        its container is the stored identity key."""
        self.p = p = Params()
        self.spec = spec
        person = spec.container == "person"
        self.resolved = resolved = resolved and variant == "mv"
        self.site = site = p.add(spec.site, "String")
        self.rows = event_rows(variant, (person and not resolved) or spec.segment is not None, client,
                               prewhere=f"site_id = {site}", identity=resolved)
        self.anchor = step_condition(spec.anchor, p) if spec.anchor else "0"
        # Only the rows a path can show (the included kinds, tag-internal events and bots
        # left out unless asked for) and the anchor's matches reach the grouping.
        visible = f"has({p.add([KIND[k] for k in spec.include], 'Array(UInt8)')}, bitAnd(flags, 3))"
        if not spec.include_internal:
            visible += " AND NOT bitTest(flags, 2)"
        self.in_range = range_condition(p, ms(spec.start), ms(spec.end), variant)
        # the rows a path shows or is anchored by; the other conditions are the rows a
        # session's visits are cut by (visits.py)
        self.selection = f"(({self.anchor}) OR ({visible}))"
        self.where = [f"site_id = {site}", self.in_range, self.selection]
        if not spec.include_bots:
            self.where.append("NOT bitTest(flags, 3)")
        if spec.segment is not None:
            self.where.append(segment_condition(spec.segment, spec.site, variant, spec.include_bots, p, client))
        self.person = (person and not resolved) or spec.segment is not None
        self.container = "identity_key" if resolved else "person_key" if person else "ck"

    def ranked(self, client: Any) -> tuple[str, list[str]]:
        """The label's rank as an expression, and the labels the ranks name (rank k is
        names[k - 1]).  names are the site's distinct labels as shown ('' as
        NO_LABEL), sorted, so ranks keep the strings' order; the stored labels are those of
        the whole months the range touches (sources.month_ids: labels with no row in the
        range name nothing, and their ranks keep the strings' order), read once per part of
        report_steps (labels.py), and the rank of each is bound
        into the query (transform runs once per dictionary entry of the column, where a
        per-row if(label = '', ...) cost ~80 ms at 10M rows).  A label inserted after the
        list was read (a concurrent insert) has no rank, and its rows are left out, as if
        they had arrived after the report."""
        ids = month_ids(client, ms(self.spec.start), ms(self.spec.end))
        if ids is not None:
            stored = labels.site_labels(client, self.spec.site, ids)
        else:  # not partitioned by month as 0024 made it: the range's own rows
            stored = list(client.query(f"SELECT arraySort(groupArray(toString(label))) FROM (SELECT DISTINCT label "
                                       f"FROM footpath.report_steps PREWHERE site_id = {self.site} "
                                       f"WHERE {self.in_range})", parameters=self.p.values).result_rows[0][0])
        names = sorted({x or NO_LABEL for x in stored})
        rank = {x: i + 1 for i, x in enumerate(names)}
        label = (f"transform(label, {self.p.add(stored, 'Array(String)')}, "
                 f"{self.p.add([rank[x or NO_LABEL] for x in stored], 'Array(UInt32)')}, toUInt32(0))")
        self.where.append(f"{label} != 0")
        return label, names

    def finish(self) -> str:
        if self.resolved:
            self.where.append("identity_key != 0")  # a row with no user or anonymous id has no person
        elif self.person:
            self.where.append("person_key != 0")  # last: persons are resolved only for the rows left
        return " AND ".join(self.where)

    def activity(self) -> str:
        """The conditions but the selection (after finish)."""
        return " AND ".join(w for w in self.where if w is not self.selection)


def stream(spec: PathsSpec, client: Any) -> tuple[str, dict[str, Any], list[str], persons.Resolver | None, bool]:
    """The views' rows for reduce(), by container and time (persons grouped and, where the
    engine allows it, resolved by reduce, as in fallout.stream): c, t, the label's rank
    in the site's sorted labels (read first, bound into the query, and returned: the same
    list names the ranks at the end) and the flags with the anchor bit (16)."""
    resolver = persons.for_report(spec, client)
    s = Source(spec, "mv", client, resolved=resolver is not None)
    label, names = s.ranked(client)
    where = s.finish()
    where, column, split = visits.stream_where(client, spec, s.site, s.in_range, s.p.values, where, s.activity(),
                                               s.selection)
    sql = (f"SELECT {s.container} AS c, t, CAST({label} AS UInt32) AS r, CAST(flags + 16 * ({s.anchor}) AS UInt8) AS fl"
           f"{column} FROM {s.rows} WHERE {where}{stream_order(spec)}")
    return sql, s.p.values, names, resolver, split


def build(spec: PathsSpec, variant: str, client: Any) -> tuple[str, dict[str, Any]]:
    """The whole report as one SQL query on string labels: the raw table's answer (the views
    are streamed and walked instead, with the same definitions; tests compare the two)."""
    s = Source(spec, variant, client)
    p, rows, anchor = s.p, s.rows, s.anchor
    container = s.container
    d = spec.depth
    # '' stands for no step (the padding of a path that ended); an empty label is NO_LABEL
    label, empty, ltype = f"if(label = '', {p.add(NO_LABEL, 'String')}, label)", "''", "String"
    end_marker = p.add(ENTRY if spec.backward else EXIT, "String")
    other = p.add(OTHER, "String")
    where = s.finish()
    if spec.container == "session":  # session-less rows: one container per visit (visits.py)
        rows = visits.split_rows(rows, s.activity())
    step = f"(t, {label}, toUInt8(flags + 16 * ({anchor})))"
    if spec.anchor is None and not spec.collapse_repeats:
        # From the entry, no merging: the labels of the first depth+1 steps, in (time, label)
        # order.  Two plain arrays sorted by a key cost ~20 % less than one array of tuples;
        # groupArraySorted(depth+1) on tuples measured 4.5x slower than sorting all.
        seq = f"arraySort((l, x) -> (x, l), groupArray({label}), groupArray(t))"
        source = (f"SELECT {container} AS c, arraySlice({seq}, 1, {d + 1}) AS s "
                  f"FROM {rows} WHERE {where} GROUP BY c")
        cut_sql = f"SELECT s FROM ({source})"
        names = "s"
    else:
        # z: the container's steps, (t, label, flags), in order (time, then label)
        source = (f"SELECT {container} AS c, arraySort(groupArray({step})) AS z0 "
                  f"FROM {rows} WHERE {where} GROUP BY c")
        if spec.collapse_repeats:
            z = (f"arrayFilter((x, y) -> (x.2, bitAnd(x.3, 3)) != (y.2, bitAnd(y.3, 3)), z0, "
                 f"arraySlice(arrayPushFront(z0, (toUInt64(0), {p.add(ROOT, 'String')}, "
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
        hk = f"cityHash64(l{k})"
        grouped = (f"SELECT q AS pq, {hk} AS hk, any(l{k}) AS lk, any(np) AS pn, sum(c) AS g, "
                   f"groupArray(tuple({', '.join(rest)})) AS rows FROM ({stage}) GROUP BY pq, hk")
        ranked = (f"SELECT rows, pn, g, multiIf(lk = {empty}, lk, lk = {end_marker}, lk, dense_rank() OVER (PARTITION BY pq, "
                  f"lk IN {ends} ORDER BY g DESC, lk) <= {spec.top}, lk, {other}) AS nk FROM ({grouped})")
        cols = "".join(f"r.{i + 1} AS {x}, " for i, x in enumerate(rest[:-1]))
        q = "cityHash64(nk)"
        stage = (f"SELECT {cols}nk AS np, {q} AS q, "
                 f"if(i = 1, arrayPushBack(r.{len(rest)}, ({k}, pn, nk, g)), r.{len(rest)}) AS em "
                 f"FROM ({ranked}) ARRAY JOIN rows AS r, arrayEnumerate(rows) AS i")
    links = (f"SELECT h.1 AS depth, h.2 AS src, h.3 AS dst, sum(h.4) AS value FROM ({stage}) "
             f"ARRAY JOIN em AS h WHERE h.3 != {empty} GROUP BY depth, src, dst")
    sql = f"SELECT depth, src, dst, value FROM ({links}) ORDER BY depth, value DESC, dst, src"
    return sql, p.values


class _Walk(Results):
    """Collects pathwalk.walk's cut sequences over the blocks of one stream.  A path
    dropped by keep() becomes all 0 (no label), as the padding after a path's end: reduce
    counts it only in (no label, no label) pairs, which are never ranked or linked."""

    PARTS = ("paths", "at")
    MARKED = "paths"
    paths: list[np.ndarray]
    at: list[np.ndarray]  # each path's container's first row (stream.Walker)

    def __init__(self, spec: PathsSpec):
        super().__init__(spec)
        self.depth = spec.depth
        self.collapse = spec.collapse_repeats
        self.anchor = 0 if spec.anchor is None else 2 if spec.backward else 1

    def __call__(self, cols: list[Any], final: bool) -> int:
        cols = ties_ordered(cols, (2, 3))  # equal times: by label, then flags, as the SQL's sort
        out, at, z = pathwalk.outputs(len(cols[0]), self.depth)
        used, count = pathwalk.walk(cols[0], cols[2], cols[3], self.depth, self.collapse, self.anchor, final,
                                    out, at, z)
        self.paths.append(out[:count])
        self.at.append(at[:count])
        return int(used)



def reduce(spec: PathsSpec, blocks: Iterable[Sequence[Any]], names: list[str],
           resolver: persons.Resolver | None = None, split: bool = False,
           max_bytes: int | None = None) -> list[tuple[int, str, str, int]]:
    """The rows build()'s SQL returns (depth, source label, target label, count), from
    stream()'s blocks: pathwalk.walk cuts each container's sequence, then the layers are
    grouped here, depth by depth, as the SQL's stages do (names, resolver, split: stream()'s)."""
    walk = _Walk(spec)
    dtypes = (np.uint64, np.uint64, np.uint32, np.uint8)
    walk_stream(spec, blocks, dtypes, walk, max_bytes, resolver, split)
    paths = np.concatenate(walk.paths) if walk.paths else np.zeros((0, spec.depth + 1), dtype=np.uint32)
    # ranks 1..R name labels, 0 is no label; the markers become R+1 (end) and R+2 (other)
    n = len(names)
    end, other = n + 1, n + 2
    width = n + 3
    text = ["", *names, ENTRY if spec.backward else EXIT, OTHER]
    # each layer counts (node, label) pairs: compiled, in a dense array of all pairs when that
    # is small against the paths (one pass over them per depth, ~6x less than numpy's passes
    # at 1.25M paths), else by numpy (_pairs, which sorts when the pairs are too many; also
    # where pathwalk runs as plain Python, whose loop would be far slower than numpy)
    dense = pathwalk.COMPILED and width * width <= DENSE_LAYER_CELLS and _fits_dense(width * width, len(paths))
    if dense:
        layers = _Layers(paths, width, end)
        shown = np.zeros(1, dtype=np.int64)  # each pair's shown label at the last depth
    else:
        cells = paths.astype(np.int64)
        cells[paths == END_RANK] = end
        node = np.zeros(len(cells), dtype=np.int64)  # each path's node at the previous depth
    out: list[tuple[int, str, str, int]] = []
    for k in range(spec.depth + 1):
        if dense:
            counts = layers.count(k, shown)
            pairs = np.flatnonzero(counts)
            g = counts[pairs]
        else:
            pairs, which, g = _pairs(node, cells[:, k], width)
        parent, label = pairs // width, pairs % width
        ends = (label == 0) | (label == end)  # always shown, and not ranked with the others
        order = np.lexsort((label, -g, ends, parent))
        group = parent[order] * 2 + ends[order]
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        nk = np.where(ends | (rank < spec.top), label, other)
        if dense:
            shown = np.zeros(width * width, dtype=np.int64)
            shown[pairs] = nk
        else:
            node = nk[which]
        keep = nk != 0  # a link into no label is not drawn
        links, _, value = _pairs(parent[keep], nk[keep], width, g[keep])
        out += [(k, text[s], text[t], int(v)) for s, t, v in zip(links // width, links % width, value, strict=True)]
    return out


class _Layers:
    """reduce()'s dense count of each depth's (node, label) pairs (pathwalk.layer), in two
    halves of the paths on two threads when they are many (the pass releases the GIL):
    ~31 -> ~17 ms for 1.4M paths of depth 5."""

    def __init__(self, paths: np.ndarray, width: int, end: int):
        self.width, self.end = width, end
        keys = np.zeros(len(paths), dtype=np.int64)  # each path's pair at the last depth
        h = len(paths) // 2
        self.halves = [(paths[:h], keys[:h]), (paths[h:], keys[h:])] if len(paths) >= PARALLEL_LAYER_PATHS \
            else [(paths, keys)]

    def count(self, k: int, shown: np.ndarray) -> np.ndarray:
        counts = [np.zeros(self.width * self.width, dtype=np.int64) for _ in self.halves]
        if len(self.halves) == 1:
            pathwalk.layer(self.halves[0][0], k, self.width, self.end, shown, self.halves[0][1], counts[0])
            return counts[0]
        with ThreadPoolExecutor(1, thread_name_prefix="report") as pool:
            other = pool.submit(pathwalk.layer, self.halves[1][0], k, self.width, self.end, shown,
                                self.halves[1][1], counts[1])
            pathwalk.layer(self.halves[0][0], k, self.width, self.end, shown, self.halves[0][1], counts[0])
            other.result()
        return counts[0] + counts[1]


def _fits_dense(cells: int, rows: int) -> bool:
    """Whether counting rows into a dense array of `cells` is cheaper than sorting them."""
    return cells <= DENSE_CELLS + DENSE_PER_ROW * rows


def _pairs(a: np.ndarray, b: np.ndarray, width: int, weights: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs (as a * width + b, sorted), each row's pair index, and each
    pair's count (or sum of weights): a dense count when the pairs' space is small, which
    it is for most sites (nodes at a depth times labels), else a sort."""
    key = a * width + b
    if len(key) and _fits_dense((int(a.max()) + 1) * width, len(key)):
        seen = np.bincount(key)
        pairs = np.flatnonzero(seen)
        index = np.zeros(len(seen), dtype=np.int64)
        index[pairs] = np.arange(len(pairs))
        total = seen[pairs] if weights is None else np.bincount(key, weights=weights)[pairs].astype(np.int64)
        return pairs, index[key], total
    pairs, which = np.unique(key, return_inverse=True)
    return pairs, which, np.bincount(which, weights=weights, minlength=len(pairs)).astype(np.int64)


def shape(spec: PathsSpec, rows: list[Any]) -> dict[str, Any]:
    sign = -1 if spec.backward else 1
    nodes: dict[str, dict[str, Any]] = {}
    links = []

    def node(depth: int, label: str) -> str:
        # a page or event really named (exit), (entry) or (other) is shown in quotes, so it
        # neither merges with the synthetic node of that name nor is drawn as one (QA)
        lab = SHOW.get(label) or (f'"{label}"' if label in SHOWN else label)
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
