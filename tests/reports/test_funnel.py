"""The fallout's walk over the views' sorted rows (collector/reports/funnel.py, driven by
fallout.reduce), against a brute-force reference written here from the report's
definition: every chain of step events is enumerated, the longest counts, the chain behind
the medians is the one whose last step happens first (then the latest start time, of
equal times the first event, then each step at its earliest).  Rows arrive in blocks cut
anywhere, as the engine streams them."""

from __future__ import annotations

import array
import dataclasses
import itertools
import random
import statistics
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from collector.reports import fallout, funnel
from collector.reports.spec import FalloutSpec, Step
from tests.reports.conftest import as_plain_python, as_runs

SEQ = 21
VALUES = ["", "v0", "v1", "v2", "v3"]  # the breakdown values stream() would have read first
T0 = 1_767_225_600_000  # 2026-01-01, ms


def spec(n: int, window_s: int, strict: bool, breakdown: str | None = None, limit: int = 20) -> FalloutSpec:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return FalloutSpec(site="s", start=start, end=start, container="session", include_bots=False, source="mv",
                       steps=tuple(Step(event=f"e{i}") for i in range(n)), window_seconds=window_s,
                       mode="strict" if strict else "eventual", breakdown=breakdown, breakdown_limit=limit)


def journeys(rng: random.Random, containers: int, n: int, strict: bool) -> list[tuple[int, int, int, str]]:
    """Rows (key, packed time, mask, value), sorted by key and time as the engine sends them
    (equal times in any order).  Times are drawn from a few seconds so that windows,
    repeats and exact ties all happen."""
    rows = []
    for key in sorted(rng.sample(range(1, 1 << 40), containers)):
        for _ in range(rng.randint(1, 7)):
            ms = T0 + rng.choice([0, 0, 1000, 2000, 2000, 3000, 5000, 9000]) + rng.randint(0, 1)
            seq = rng.choice([0, 0, 1, 2])
            mask = rng.randint(0 if strict else 1, (1 << n) - 1)
            if rng.random() < 0.5:  # mostly one step per event, as on a real site
                mask = (1 << rng.randrange(n)) if mask else 0
            rows.append((key, (ms << SEQ) | seq, mask, f"v{ms % 4}"))  # equal times: equal values
    rng.shuffle(rows)
    return sorted(rows, key=lambda r: (r[0], r[1]))


def all_chains(seq: list[tuple[int, int, int, str]], n: int, window_ms: int, strict: bool) -> list[tuple[int, ...]]:
    """Every chain of positions: step k's event after step k-1's (strict: right after it),
    within the window of the first."""
    chains: list[tuple[int, ...]] = []

    def extend(chain: tuple[int, ...]) -> None:
        chains.append(chain)
        k = len(chain)
        if k == n:
            return
        for i in ([chain[-1] + 1] if strict else range(chain[-1] + 1, len(seq))):
            if i < len(seq) and seq[i][2] >> k & 1 and (seq[i][1] >> SEQ) - (seq[chain[0]][1] >> SEQ) <= window_ms:
                extend(chain + (i,))

    for i, r in enumerate(seq):
        if r[2] & 1:
            extend((i,))
    return chains


def reference(rows: list[tuple[int, int, int, str]], s: FalloutSpec) -> list[list[Any]]:
    n = len(s.steps)
    strict = s.mode == "strict"
    window_ms = s.window_seconds * 1000
    found = []  # (value, level, step times in ms)
    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        seq = sorted(group, key=lambda r: (r[1], r[2]))
        chains = all_chains(seq, n, window_ms, strict)
        if not chains:
            continue
        level = max(len(c) for c in chains)
        best = min((c for c in chains if len(c) == level), key=lambda c: (c[-1], -seq[c[0]][1], c))
        value = next(r[3] for r in seq if r[2] & 1)
        found.append((value, level, [seq[i][1] >> SEQ for i in best]))

    def row(label: str, total: int, items: list[tuple[str, int, list[int]]]) -> list[Any]:
        counts = [sum(1 for _, lv, _ in items if lv >= k) for k in range(1, n + 1)]
        medians = []
        for k in range(1, n):
            gaps = [tm[k] - tm[k - 1] for _, lv, tm in items if lv > k]
            medians.append(float(statistics.median(gaps)) if gaps else None)
        return [label, total, *counts, *medians]

    if not found:
        return []
    out = [row("", 1, found)]
    if s.breakdown:
        entered: dict[str, int] = {}
        for value, _, _ in found:
            entered[value] = entered.get(value, 0) + 1
        ranked = sorted(entered, key=lambda v: (-entered[v], v))
        top = set(ranked[:s.breakdown_limit])
        groups: dict[str, list[Any]] = {}
        for item in found:
            groups.setdefault(item[0] if item[0] in top else fallout.OTHER, []).append(item)
        out += sorted((row(k, 0, v) for k, v in groups.items()), key=lambda r: (-r[2], r[0]))
    return out


def blocks(rows: list[tuple[int, int, int, str]], cuts: list[int], breakdown: bool,
           split: bool = False) -> list[list[Any]]:
    """The rows as the engine's column blocks (array.array, as clickhouse-connect gives them);
    with split, ending in the split column of a session stream with session-less rows
    (visits.py; 0 here: every row has a session id)."""
    out = []
    for a, b in itertools.pairwise([0, *cuts, len(rows)]):
        part = rows[a:b]
        cols: list[Any] = [array.array("Q", [r[0] for r in part]), array.array("Q", [r[1] for r in part]),
                           array.array("H", [r[2] for r in part])]
        if breakdown:  # the value's number in VALUES (from 1) on step-1 rows, as stream() asks for
            cols.append(array.array("I", [VALUES.index(r[3]) + 1 if r[2] & 1 else 0 for r in part]))
        if split:
            cols.append(array.array("B", bytes(len(part))))
        out.append(cols)
    return out


CASES = [
    (1, 60, False), (2, 1, False), (3, 2, False), (4, 5, False), (4, 3600, False),
    (2, 1, True), (3, 2, True), (4, 9, True),
]


@pytest.mark.parametrize(("n", "window", "strict"), CASES)
def test_walk_matches_the_brute_force_reference_with_blocks_cut_anywhere(n: int, window: int, strict: bool) -> None:
    rng = random.Random(n * 1000 + window + strict)
    rows = journeys(rng, 300, n, strict)
    for breakdown, limit in ((None, 20), ("utm_source", 2)):
        s = spec(n, window, strict, breakdown, limit)
        expect = reference(rows, s)
        assert expect and expect[0][2] > 50  # the data reaches the funnel
        assert expect[0][1 + n] > 0 or n == 1  # ... and its last step
        whole = fallout.reduce(s, blocks(rows, [], bool(breakdown)), VALUES)
        assert whole == expect
        for _ in range(6):  # cuts inside containers, one-row blocks, empty blocks
            cuts = sorted(rng.sample(range(len(rows) + 1), rng.randint(1, 40)) + [5, 5])
            assert fallout.reduce(s, blocks(rows, cuts, bool(breakdown)), VALUES) == expect
        # the same stream with the split column (a site with session-less rows elsewhere)
        assert fallout.reduce(s, blocks(rows, cuts, bool(breakdown), split=True), VALUES, None, True) == expect


@pytest.mark.parametrize(("n", "window", "strict"), [(3, 2, False), (4, 3600, False), (3, 2, True)])
def test_persons_whose_rows_come_as_interleaved_sessions_give_the_reference(n: int, window: int,
                                                                            strict: bool) -> None:
    """A person report's rows come as runs (sessions), in any order (stream.walk_persons):
    the same answer as the person's rows sorted, breakdown values included (a person walked
    where one of its sessions came, and dropped, must not count its value)."""
    rng = random.Random(7 * n + window + strict)
    rows = journeys(rng, 300, n, strict)
    for breakdown, limit in ((None, 20), ("utm_source", 2), ("utm_source", 20)):
        s = dataclasses.replace(spec(n, window, strict, breakdown, limit), container="person")
        expect = reference(rows, s)
        for _ in range(3):
            arrived = as_runs(rows, rng)
            assert arrived != rows  # persons with several runs are exercised
            cuts = sorted(rng.sample(range(len(arrived) + 1), rng.randint(0, 30)))
            assert fallout.reduce(s, blocks(arrived, cuts, bool(breakdown)), VALUES) == expect


def test_a_persons_other_session_does_not_bring_its_own_breakdown_value() -> None:
    """Person 7's later session (value v2) arrives first and is walked where it came before
    the person's sessions are found to be several; the person enters with its first step-1
    event's value, v1, and v2 is no breakdown row."""
    rows = [(7, (T0 + 100) << SEQ, 1, "v2"), (9, (T0 + 50) << SEQ, 1, "v1"),
            (7, (T0 + 10) << SEQ, 1, "v1"), (7, (T0 + 20) << SEQ, 2, "v1")]
    s = dataclasses.replace(spec(2, 3600, False, "utm_source"), container="person")
    got = fallout.shape(s, fallout.reduce(s, blocks(rows, [], True), VALUES))
    assert [x["entered"] for x in got["steps"]] == [2, 1]
    assert {k: [x["entered"] for x in v["steps"]] for k, v in got["breakdown"].items()} == {"v1": [2, 1]}
    assert fallout.reduce(s, blocks(rows, [], True), VALUES) == reference(sorted(rows), s)


def test_medians_picked_on_two_threads_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports with many containers pick each step's gaps on two threads (fallout._medians)."""
    rows = journeys(random.Random(5), 300, 4, False)
    for breakdown in (None, "utm_source"):
        s = spec(4, 3600, False, breakdown, 2)
        monkeypatch.setattr(fallout, "PARALLEL_MEDIANS", 0)
        got = fallout.reduce(s, blocks(rows, [17, 99], bool(breakdown)), VALUES)
        assert got == reference(rows, s)
        assert all(m is not None for m in got[0][2 + 4:])  # every step's median is exercised


def test_a_container_spanning_many_blocks_is_walked_once() -> None:
    rows = [(7, ((T0 + i) << SEQ), 1 << (i % 3), "v1") for i in range(50)]
    rows += [(9, (T0 << SEQ), 1, "v2")]
    s = spec(3, 3600, False, "utm_source")
    expect = reference(rows, s)
    assert expect[0][2:5] == [2, 1, 1]
    assert fallout.reduce(s, blocks(rows, list(range(1, 50, 3)), True), VALUES) == expect


def test_no_rows_give_no_rows() -> None:
    assert fallout.reduce(spec(2, 60, False), []) == []
    assert fallout.reduce(spec(2, 60, False), blocks([], [], False)) == []
    # containers without a step-1 event never enter
    assert fallout.reduce(spec(2, 60, False), blocks([(1, T0 << SEQ, 2, "")], [], False)) == []


def test_plain_python_source_gives_the_compiled_answers() -> None:
    """Without a C compiler the module runs as Python: same results (it is the definition)."""
    plain = as_plain_python(funnel)
    rng = random.Random(5)
    for n, window, strict in CASES:
        rows = journeys(rng, 40, n, strict)
        keys = np.array([r[0] for r in rows], dtype=np.uint64)
        ts = np.array([r[1] for r in rows], dtype=np.uint64)
        ms = np.array([r[2] for r in rows], dtype=np.uint16)
        packed = (window * 1000 << SEQ) + (1 << (SEQ - 1)) - 1
        got = []
        for mod in (funnel, plain):
            out = mod.outputs(len(rows), n)
            used, count = mod.walk(keys, ts, ms, n, packed, strict, True, *out)
            got.append((int(used), int(count), out[0][:count].tolist(), out[1][:, :count].tolist(), out[2][:count].tolist()))
        assert got[0] == got[1]
        assert got[0][1] > 5
