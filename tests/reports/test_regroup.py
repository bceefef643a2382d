"""Person reports read report_steps in session order and group each person's rows
themselves (collector/reports/regroup.py, stream.regrouped and stream.walk_persons):
whatever order the runs come in and however the blocks cut them, every person's rows end
up together and in time order, no row lost or doubled, compiled and as plain Python alike;
walk_persons walks exactly the containers regrouped() lays out, on two threads; walk_blocks
and ties_ordered work on containers that are grouped but not sorted by key."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from collector.reports import regroup, stream
from collector.reports.stream import regrouped, ties_ordered, walk_blocks, walk_persons
from tests.reports.conftest import as_plain_python

Row = tuple[int, int, int]  # key, time, payload


def sessions(rng: random.Random, persons: int) -> list[list[Row]]:
    """Each person's rows split into 1-4 sessions (runs in rising time) whose times
    interleave; some times repeat inside a person (equal times from two devices)."""
    runs: list[list[Row]] = []
    for _ in range(persons):
        key = rng.getrandbits(64) or 1
        rows = sorted((rng.randrange(50), rng.randrange(1000)) for _i in range(rng.randrange(1, 12)))
        cut = [[] for _ in range(rng.randrange(1, 5))]
        for t, payload in rows:
            rng.choice(cut).append((key, t, payload))
        runs += [r for r in cut if r]
    rng.shuffle(runs)
    return runs


def blocks_of(rows: list[Row], rng: random.Random) -> list[list[np.ndarray]]:
    """The rows as engine blocks cut anywhere (inside runs too), some empty."""
    out, a = [], 0
    while a < len(rows):
        b = a + rng.randrange(0, 40)
        part = rows[a:b]
        out.append([np.array([r[i] for r in part], dtype=np.uint64) for i in range(3)])
        a = b
    return out


def collect(chunks: Any) -> list[Row]:
    return [row for c in chunks for row in zip(*(x.tolist() for x in c), strict=True)]


@pytest.mark.parametrize("seed", range(6))
def test_every_persons_rows_end_up_together_and_in_time_order(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rng = random.Random(seed)
    runs = sessions(rng, rng.choice([1, 5, 60, 400]))
    rows = [r for run in runs for r in run]
    blocks = blocks_of(rows, rng)
    got = collect(regrouped(blocks, (np.uint64,) * 3, chunk=rng.choice([1, 7, 64, 100_000])))
    assert sorted(got) == sorted(rows)  # no row lost, none doubled
    # each key once as a contiguous stretch, its times never going back
    stretches = [k for i, (k, _, _) in enumerate(got) if i == 0 or got[i - 1][0] != k]
    assert len(stretches) == len(set(stretches)) == len({r[0] for r in rows})
    by_key: dict[int, list[int]] = defaultdict(list)
    for k, t, _ in got:
        by_key[k].append(t)
    assert all(ts == sorted(ts) for ts in by_key.values())
    # persons whose rows came as one run (same key, time never going back) lead, as they
    # came; the others follow
    run_count: dict[int, int] = defaultdict(int)
    for i, (k, t, _) in enumerate(rows):
        if i == 0 or rows[i - 1][0] != k or rows[i - 1][1] > t:
            run_count[k] += 1
    one_run = {k for k, n in run_count.items() if n == 1}
    assert one_run or len(run_count) < 10  # both kinds are exercised
    assert got[:sum(len(by_key[k]) for k in one_run)] == [r for r in rows if r[0] in one_run]
    # plain Python gives the same order
    monkeypatch.setattr(stream, "regroup", as_plain_python(regroup))
    assert collect(regrouped(blocks, (np.uint64,) * 3, chunk=50)) == got


def test_a_run_ends_where_the_person_changes_or_time_goes_back() -> None:
    keys = np.array([7, 7, 7, 3, 3, 7, 7], dtype=np.uint64)
    ts = np.array([1, 5, 5, 2, 1, 0, 9], dtype=np.uint64)
    for mod in (regroup, as_plain_python(regroup)):
        out = np.zeros(len(keys) + 1, dtype=np.int64)
        assert mod.run_starts(keys, ts, out) == 4
        assert out[:5].tolist() == [0, 3, 4, 5, 7]
        assert mod.run_starts(keys[:0], ts[:0], out) == 0 and out[0] == 0


def test_no_rows_give_no_blocks() -> None:
    empty = [np.zeros(0, dtype=np.uint64)] * 3
    assert list(regrouped([empty, empty], (np.uint64,) * 3)) == []


def test_walk_blocks_carries_a_container_across_blocks_when_keys_are_not_sorted() -> None:
    seen: list[tuple[int, list[int]]] = []

    def walk(cols: list[Any], final: bool) -> int:
        keys, ts = cols[0].tolist(), cols[1].tolist()
        a = 0
        while a < len(keys):
            b = a
            while b < len(keys) and keys[b] == keys[a]:
                b += 1
            if b == len(keys) and not final:
                return a
            seen.append((keys[a], ts[a:b]))
            a = b
        return len(keys)

    blocks = [[np.array(k, dtype=np.uint64), np.array(t, dtype=np.uint64)] for k, t in
              (([9, 5, 5], [1, 1, 2]), ([5, 5], [3, 4]), ([5, 2, 2], [5, 1, 2]), ([2], [3]), ([8], [1]))]
    walk_blocks(blocks, (np.uint64, np.uint64), walk)
    assert seen == [(9, [1]), (5, [1, 2, 3, 4, 5]), (2, [1, 2, 3]), (8, [1])]


def test_tied_rows_are_ordered_inside_their_container_which_keeps_its_place() -> None:
    keys = np.array([3, 3, 1, 1, 2], dtype=np.uint64)
    ts = np.array([5, 5, 5, 5, 4], dtype=np.uint64)
    mask = np.array([2, 1, 2, 1, 1], dtype=np.uint16)
    out = ties_ordered([keys, ts, mask], (2,))
    assert [x.tolist() for x in out] == [[3, 3, 1, 1, 2], [5, 5, 5, 5, 4], [1, 2, 1, 2, 1]]


def test_the_query_memory_limit_bounds_the_rows_held() -> None:
    """The rows are held here instead of in the engine's sort, so the report query's memory
    limit comes along: 100 rows of three 8-byte columns (3 copies + 16 bytes of indexes
    each, 8,800 bytes) pass under 8,800 bytes and not under 8,799."""
    rows = [np.arange(100, dtype=np.uint64)] * 3
    assert len(collect(regrouped([rows], (np.uint64,) * 3, max_bytes=8_800))) == 100
    with pytest.raises(stream.TooLarge, match="100 rows"):
        list(regrouped([rows], (np.uint64,) * 3, max_bytes=8_799))


class Recorder:
    """A stream.Walker whose result per container is the container itself: its key and
    its rows, as the walk saw them."""

    def __init__(self) -> None:
        self.results: list[list[tuple[int, tuple[Row, ...]]]] = []
        self.at: list[np.ndarray] = []

    def __call__(self, cols: list[Any], final: bool) -> int:
        keys = cols[0].tolist()
        rows = list(zip(*(c.tolist() for c in cols), strict=True))
        out, at, a = [], [], 0
        while a < len(keys):
            b = a
            while b < len(keys) and keys[b] == keys[a]:
                b += 1
            if b == len(keys) and not final:
                break
            out.append((keys[a], tuple(rows[a:b])))
            at.append(a)
            a = b
        self.results.append(out)
        self.at.append(np.array(at, dtype=np.int64))
        return a

    def fresh(self) -> Recorder:
        return Recorder()

    def keep(self, mask: np.ndarray) -> None:
        flat = [r for res in self.results for r in res]
        self.results = [[r for r, m in zip(flat, mask.tolist(), strict=True) if m]]
        self.at = [np.concatenate([*self.at, np.zeros(0, dtype=np.int64)])[mask]]

    def extend(self, other: Recorder) -> None:
        self.results += other.results
        self.at += other.at

    def containers(self) -> list[tuple[int, tuple[Row, ...]]]:
        return sorted(r for res in self.results for r in res)


@pytest.mark.parametrize("seed", range(8))
def test_walk_persons_walks_each_person_once_as_regrouped_lays_it_out(monkeypatch: pytest.MonkeyPatch,
                                                                      seed: int) -> None:
    rng = random.Random(100 + seed)
    runs = sessions(rng, rng.choice([1, 3, 60, 500]))
    rows = [r for run in runs for r in run]
    blocks = blocks_of(rows, rng)
    chunk = rng.choice([1, 5, 64, 100_000])
    reference = Recorder()
    walk_blocks(regrouped(blocks, (np.uint64,) * 3), (np.uint64,) * 3, reference)
    for mod in (regroup, as_plain_python(regroup)):
        monkeypatch.setattr(stream, "regroup", mod)
        got = Recorder()
        walk_persons(blocks, (np.uint64,) * 3, got, chunk=chunk)
        assert got.containers() == reference.containers()
    # and independently of regrouped(): each person once, all its rows, in time order
    by_key: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        by_key[r[0]].append(r)
    walked = got.containers()
    assert [k for k, _ in walked] == sorted(by_key)
    for key, walked_rows in walked:
        assert sorted(walked_rows) == sorted(by_key[key])
        assert [r[1] for r in walked_rows] == sorted(r[1] for r in walked_rows)


@pytest.mark.parametrize("seed", range(4))
def test_walk_persons_makes_identity_keys_persons_first(seed: int) -> None:
    """With resolve (persons.Resolver in reports), column 0 comes as identity keys: a
    person's runs carry several (anonymous, then logged in mid-run too), which become one
    container; rows whose person is 0 are left out."""
    rng = random.Random(300 + seed)
    runs = sessions(rng, rng.choice([3, 60, 500]))
    ids: dict[int, int] = {}  # identity key -> person key
    raw, want = [], []
    for run in runs:
        person = run[0][0] if rng.random() < 0.9 else 0
        own = [rng.getrandbits(64) | 1 for _ in range(2)]
        ids.update({k: person for k in own})
        login = rng.randrange(len(run) + 1)
        raw += [(own[i >= login], t, payload) for i, (_, t, payload) in enumerate(run)]
        want += [(person, t, payload) for _, t, payload in run if person]

    class Resolve:
        nbytes = 0

        def __call__(self, keys: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, int]:
            out = np.array([ids[k] for k in keys.tolist()], dtype=np.uint64)
            return out, int((out == 0).sum())

    reference = Recorder()
    walk_persons(blocks_of(want, rng), (np.uint64,) * 3, reference)
    got = Recorder()
    walk_persons(blocks_of(raw, rng), (np.uint64,) * 3, got, chunk=rng.choice([1, 7, 100_000]), resolve=Resolve())
    assert got.containers() == reference.containers()
    assert len(got.containers()) == len({r[0] for r in want})


def test_walk_persons_holds_no_more_rows_than_the_query_memory_limit() -> None:
    rows = [np.arange(100, dtype=np.uint64)] * 3
    got = Recorder()
    walk_persons([rows], (np.uint64,) * 3, got, max_bytes=8_800)
    assert len(got.containers()) == 100
    with pytest.raises(stream.TooLarge, match="100 rows"):
        walk_persons([rows], (np.uint64,) * 3, Recorder(), max_bytes=8_799)


def test_a_resolvers_table_counts_against_the_query_memory_limit() -> None:
    class Same:
        nbytes = 1

        def __call__(self, keys: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, int]:
            return keys, 0

    rows = [np.arange(1, 101, dtype=np.uint64)] * 3
    walk_persons([rows], (np.uint64,) * 3, Recorder(), max_bytes=8_801, resolve=Same())
    with pytest.raises(stream.TooLarge, match="100 rows"):
        walk_persons([rows], (np.uint64,) * 3, Recorder(), max_bytes=8_800, resolve=Same())


def test_walk_persons_with_no_rows_walks_nothing() -> None:
    got = Recorder()
    walk_persons([[np.zeros(0, dtype=np.uint64)] * 3], (np.uint64,) * 3, got)
    assert got.containers() == []


def test_an_error_of_the_second_thread_reaches_the_caller() -> None:
    class Failing(Recorder):
        def fresh(self) -> Recorder:
            return Broken()

    class Broken(Recorder):
        def __call__(self, cols: list[Any], final: bool) -> int:
            raise RuntimeError("walk failed")

    rows = [np.array([1, 2, 1], dtype=np.uint64), np.array([1, 1, 2], dtype=np.uint64)]
    with pytest.raises(RuntimeError, match="walk failed"):
        walk_persons([rows], (np.uint64, np.uint64), Failing())


def test_merged_marks_and_merges_only_the_keys_with_several_runs() -> None:
    # runs: [0,2) key 5, [2,3) key 9, [3,5) key 5 (times interleave with the first run)
    keys = np.array([5, 5, 9, 5, 5], dtype=np.uint64)
    ts = np.array([1, 4, 2, 2, 4], dtype=np.uint64)
    starts = np.array([0, 2, 3, 5], dtype=np.int64)
    run_keys = keys[starts[:-1]]
    order = np.argsort(run_keys, kind="stable").astype(np.int64)
    for mod in (regroup, as_plain_python(regroup)):
        perm, shared = np.full(5, -1, dtype=np.int64), np.zeros(5, dtype=np.uint8)
        rows = mod.merged(ts, starts, order, np.ascontiguousarray(run_keys[order]), perm,
                          np.empty(5, dtype=np.int64), shared)
        assert rows == 4
        assert perm[:4].tolist() == [0, 3, 1, 4]  # t 1, 2, 4 (first run's row first), 4
        assert shared.tolist() == [1, 1, 0, 1, 1]


@pytest.mark.parametrize("keys", [
    [9, 3, 9, 1, 3, 3],  # distinct in their high bits: one np.sort
    [3, 2, 3, 2, 6, 7, 6],  # differing only in the low bits that hold the positions: argsort's turn
    [5],
])
def test_runs_are_put_in_key_order_with_equal_keys_in_arrival_order(keys: list[int]) -> None:
    a = np.array(keys, dtype=np.uint64)
    order, ordered = stream._by_key(a)
    expect = sorted(range(len(keys)), key=lambda i: (keys[i], i))
    assert order.tolist() == expect
    assert ordered.tolist() == [keys[i] for i in expect]


def test_key_order_sorts_hashed_keys_stably_and_gives_up_on_crowded_buckets() -> None:
    """regroup.key_order (scatter by the top 16 bits, insertion sort per bucket) against a
    stable argsort: hashed keys with repeats (a person's runs), keys sharing a bucket, and
    keys all in one bucket in falling order, where it must give up (False) rather than
    spend n^2 moves -- and _by_key still orders those (its numpy path)."""
    rng = np.random.default_rng(7)
    hashed = rng.integers(0, 2**63, 50_000, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    hashed[::5] = hashed[11]  # one key with 10,000 runs
    hashed[1::97] = hashed[3]
    crowded = (np.uint64(0xABCD) << np.uint64(48)) | rng.integers(0, 50, 300).astype(np.uint64)  # one bucket
    for keys in (hashed, np.concatenate((hashed, crowded)), np.zeros(0, dtype=np.uint64)):
        n = len(keys)
        order, ordered = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.uint64)
        assert regroup.key_order(keys, order, ordered, np.empty(65537, dtype=np.int64))
        expect = np.argsort(keys, kind="stable")
        assert order.tolist() == expect.tolist()
        assert ordered.tolist() == keys[expect].tolist()
    falling = np.arange(20_000, 0, -1, dtype=np.uint64)  # one bucket, every pair inverted
    order, ordered = np.empty(20_000, dtype=np.int64), np.empty(20_000, dtype=np.uint64)
    assert not regroup.key_order(falling, order, ordered, np.empty(65537, dtype=np.int64))
    order, ordered = stream._by_key(falling)
    assert order.tolist() == list(range(19_999, -1, -1)) and ordered.tolist() == sorted(falling.tolist())
