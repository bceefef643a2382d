"""The paths report's walk over the views' sorted rows (collector/reports/pathwalk.py, driven
by paths.reduce), against a reference written here from the report's definition: each
container's steps in (time, label) order, repeats collapsed, cut from its entry, its first
`start` or its last `end`; then, depth by depth, each node's `top` next labels by count
(then label) and the rest as (other).  Rows arrive in blocks cut anywhere."""

from __future__ import annotations

import array
import dataclasses
import itertools
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from collector.reports import paths, pathwalk
from collector.reports.spec import PathsSpec, Step
from tests.reports.conftest import as_plain_python, as_runs

SEQ = 21
T0 = 1_767_225_600_000
NAMES = [f"/p{i:02d}" for i in range(1, 13)]  # ranks 1..12, sorted as strings
KINDS = ("page", "screen", "track")
Row = tuple[int, int, int, int]  # key, packed time, label rank, flags (kind | anchor bit 16)


def spec(depth: int, top: int, collapse: bool, anchor: str | None) -> PathsSpec:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = Step(path="/p0*")
    return PathsSpec(site="s", start=start, end=start, container="session", include_bots=False, source="mv",
                     anchor=step if anchor else None, backward=anchor == "end", depth=depth, top=top,
                     collapse_repeats=collapse)


def journeys(rng: random.Random, containers: int) -> list[Row]:
    rows = []
    for key in sorted(rng.sample(range(1, 1 << 40), containers)):
        ms = T0
        for _ in range(rng.randint(1, 12)):
            ms += rng.choice([0, 1000, 5000])  # equal times happen
            rank = min(len(NAMES), int(rng.expovariate(0.35)) + 1)  # a few popular pages
            kind = rng.choice([0, 0, 0, 2])
            anchor = 16 if NAMES[rank - 1].startswith("/p0") and rng.random() < 0.5 else 0
            rows.append((key, ms << SEQ | rng.choice([0, 1]), rank, kind | anchor))
    rng.shuffle(rows)
    return sorted(rows, key=lambda r: (r[0], r[1]))


def reference(rows: list[Row], s: PathsSpec) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    end_label = "(entry)" if s.backward else "(exit)"
    cut: list[list[str]] = []
    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        seq = [(NAMES[r[2] - 1], r[3] & 3, bool(r[3] & 16)) for r in sorted(group, key=lambda r: (r[1], r[2], r[3]))]
        if s.collapse_repeats:
            seq = [x for i, x in enumerate(seq) if i == 0 or x[:2] != seq[i - 1][:2]]
        marks = [i for i, x in enumerate(seq) if x[2]]
        if s.anchor is None:
            labels = [x[0] for x in seq[: s.depth + 1]]
        elif not marks:
            continue
        elif not s.backward:
            labels = [x[0] for x in seq[marks[0]: marks[0] + s.depth + 1]]
        else:
            labels = [seq[i][0] for i in range(marks[-1], max(-1, marks[-1] - s.depth - 1), -1)]
        cut.append(labels + [end_label] if len(labels) <= s.depth else labels)
    chains: list[list[str]] = [[] for _ in cut]
    for d in range(s.depth + 1):
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for i, p in enumerate(cut):
            if d < len(p):
                counts[chains[i][d - 1] if d else ""][p[d]] += 1
        for i, p in enumerate(cut):
            if d < len(p):
                c = counts[chains[i][d - 1] if d else ""]
                top = sorted((x for x in c if x != end_label), key=lambda x: (-c[x], x))[: s.top]
                chains[i].append(p[d] if p[d] == end_label or p[d] in top else "(other)")
    sign = -1 if s.backward else 1
    nodes: Counter[str] = Counter()
    links: Counter[tuple[str, str]] = Counter()
    for chain in chains:
        for d, lab in enumerate(chain):
            nodes[f"{sign * d}:{lab}"] += 1
            if d:
                a, b = f"{sign * (d - 1)}:{chain[d - 1]}", f"{sign * d}:{lab}"
                links[(b, a) if s.backward else (a, b)] += 1
    return dict(nodes), dict(links)


def blocks(rows: list[Row], cuts: list[int], split: bool = False) -> list[list[Any]]:
    """The rows as the engine's column blocks; with split, ending in the split column of a
    session stream with session-less rows (visits.py; 0 here: every row has a session id)."""
    out = []
    for a, b in itertools.pairwise([0, *cuts, len(rows)]):
        part = rows[a:b]
        out.append([array.array("Q", [r[0] for r in part]), array.array("Q", [r[1] for r in part]),
                    array.array("I", [r[2] for r in part]), array.array("B", [r[3] for r in part])])
        if split:
            out[-1].append(array.array("B", bytes(len(part))))
    return out


def as_maps(doc: dict[str, Any]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    return ({n["id"]: n["count"] for n in doc["nodes"]},
            {(lk["source"], lk["target"]): lk["value"] for lk in doc["links"]})


CASES = [(5, 5, False, None), (3, 2, True, None), (4, 3, False, "start"), (4, 3, True, "end"), (2, 1, False, "end")]


@pytest.mark.parametrize(("depth", "top", "collapse", "anchor"), CASES)
def test_walk_matches_the_reference_with_blocks_cut_anywhere(depth: int, top: int, collapse: bool,
                                                             anchor: str | None) -> None:
    rng = random.Random(depth * 100 + top)
    rows = journeys(rng, 400)
    s = spec(depth, top, collapse, anchor)
    expect = reference(rows, s)
    assert any(k.endswith("(other)") for k in expect[0])  # the data reaches top/other grouping
    assert sum(v for k, v in expect[0].items() if k in ("0:(exit)", "0:(entry)")) == 0
    assert paths.shape(s, paths.reduce(s, blocks(rows, []), NAMES)) and \
        as_maps(paths.shape(s, paths.reduce(s, blocks(rows, []), NAMES))) == expect
    for _ in range(5):
        cuts = sorted(rng.sample(range(len(rows) + 1), rng.randint(1, 60)) + [7, 7])
        assert as_maps(paths.shape(s, paths.reduce(s, blocks(rows, cuts), NAMES))) == expect
        # the same stream with the split column (a site with session-less rows elsewhere)
        assert as_maps(paths.shape(s, paths.reduce(s, blocks(rows, cuts, split=True), NAMES, None, True))) == expect


@pytest.mark.parametrize(("depth", "top", "collapse", "anchor"), CASES)
def test_persons_whose_rows_come_as_interleaved_sessions_give_the_reference(depth: int, top: int, collapse: bool,
                                                                            anchor: str | None) -> None:
    """A person report's rows come as runs (sessions), in any order (stream.walk_persons):
    the same paths as the person's rows sorted."""
    rng = random.Random(depth * 10 + top)
    rows = journeys(rng, 400)
    s = dataclasses.replace(spec(depth, top, collapse, anchor), container="person")
    expect = reference(rows, s)
    for _ in range(3):
        arrived = as_runs(rows, rng)
        assert arrived != rows  # persons with several runs are exercised
        cuts = sorted(rng.sample(range(len(arrived) + 1), rng.randint(0, 40)))
        assert as_maps(paths.shape(s, paths.reduce(s, blocks(arrived, cuts), NAMES))) == expect


def test_layers_counted_in_two_halves_on_two_threads_give_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = journeys(random.Random(4), 300)
    s = spec(5, 3, False, None)
    monkeypatch.setattr(paths, "PARALLEL_LAYER_PATHS", 0)
    assert as_maps(paths.shape(s, paths.reduce(s, blocks(rows, [50]), NAMES))) == reference(rows, s)


@pytest.mark.parametrize("anchor", [None, "end"])
def test_layers_counted_by_numpy_or_by_sorting_give_the_compiled_answer(monkeypatch: pytest.MonkeyPatch,
                                                                        anchor: str | None) -> None:
    """Sites with many labels count each depth's (node, label) pairs with numpy (dense, then
    by sorting when even that is too large), not in the compiled dense pass."""
    rows = journeys(random.Random(3), 300)
    s = spec(5, 3, False, anchor)
    compiled = paths.reduce(s, blocks(rows, []), NAMES)
    assert as_maps(paths.shape(s, compiled)) == reference(rows, s)
    monkeypatch.setattr(paths, "DENSE_LAYER_CELLS", 0)
    assert paths.reduce(s, blocks(rows, []), NAMES) == compiled
    monkeypatch.setattr(paths, "DENSE_CELLS", 0)
    monkeypatch.setattr(paths, "DENSE_PER_ROW", 0)
    assert paths.reduce(s, blocks(rows, []), NAMES) == compiled


def test_plain_python_source_gives_the_compiled_answers() -> None:
    plain = as_plain_python(pathwalk)
    assert not plain.COMPILED  # paths.reduce then counts its layers with numpy, not this loop
    rows = journeys(random.Random(9), 60)
    keys = np.array([r[0] for r in rows], dtype=np.uint64)
    ranks = np.array([r[2] for r in rows], dtype=np.uint32)
    flags = np.array([r[3] for r in rows], dtype=np.uint8)
    for depth, _, collapse, anchor in CASES:
        got = []
        for mod in (pathwalk, plain):
            out, at, z = mod.outputs(len(rows), depth)
            used, count = mod.walk(keys, ranks, flags, depth, collapse, {None: 0, "start": 1, "end": 2}[anchor],
                                   True, out, at, z)
            got.append((int(used), int(count), out[:count].tolist(), at[:count].tolist()))
        assert got[0] == got[1]
        assert got[0][1] > 10
        starts = got[0][3]  # each path's container's first row
        assert starts == sorted(starts) and all(a == 0 or keys[a] != keys[a - 1] for a in starts)
        out = np.ascontiguousarray(out[:count])
        width = len(NAMES) + 3
        layers = []
        for mod in (pathwalk, plain):  # the first two depths' pair counts
            pair = np.zeros(count, dtype=np.int64)
            shown = np.arange(width * width, dtype=np.int64) % width  # every pair shown as its label
            got_layers = []
            for k in range(2):
                counts = np.zeros(width * width, dtype=np.int64)
                mod.layer(out, k, width, width - 2, shown, pair, counts)
                got_layers.append((counts.tolist(), pair.tolist()))
            layers.append(got_layers)
        assert layers[0] == layers[1]
        first = Counter(width - 2 if x == pathwalk.END else int(x) for x in out[:, 0])
        assert {i: c for i, c in enumerate(layers[0][0][0]) if c} == dict(first)


def test_no_rows_and_no_anchor_give_no_paths() -> None:
    s = spec(3, 2, False, None)
    assert paths.reduce(s, [], NAMES) == []
    assert paths.shape(s, paths.reduce(s, blocks([], []), NAMES))["nodes"] == []
    # with a start step, a container that never does it has no path
    anchored = spec(3, 2, False, "start")
    assert paths.reduce(anchored, blocks([(1, T0 << SEQ, 12, 0), (1, (T0 + 1) << SEQ, 11, 0)], [1]), NAMES) == []
    assert paths.reduce(s, blocks([(1, T0 << SEQ, 12, 0), (1, (T0 + 1) << SEQ, 11, 0)], [1]), NAMES) == [
        (0, "", "/p12", 1), (1, "/p12", "/p11", 1), (2, "/p11", paths.EXIT, 1)]
