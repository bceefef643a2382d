"""Reports on the views read the site's rows as the engine streams them, by container key
and time (sessions in storage order; persons put together here, walk_persons), and walk
them in compiled code (funnel.py for fallout, pathwalk.py for paths).  This module is the part
both share: the engine's column blocks as numpy arrays, whole containers per walk (a
container cut by a block boundary is carried into the next block), and equal times put
in the report's order."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from collector.reports import regroup, ties, visits

# walk(columns, final) -> the first row it did not walk: the start of a container that may
# go on in the next block (none is left over when final is set)
Walk = Callable[[list[Any], bool], int]


def _join(a: list[Any], b: list[Any]) -> list[Any]:
    return [np.concatenate((x, y)) if isinstance(x, np.ndarray) else x + y for x, y in zip(a, b, strict=True)]


def walk_blocks(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any], walk: Walk) -> None:
    """Feeds walk whole containers from the blocks: column i is a numpy array of dtypes[i]
    (None: a list, e.g. strings), read in place from the client's array (so the query must
    give plain numeric types: a LowCardinality number comes as a list, and fails here);
    column 0 is the container key: each container's rows together (sorted by key, as the
    engine gives them, or grouped, as walk_persons' merged rows are).  Only the carried
    container's own rows are copied: the next block's leading rows with its key."""
    carry: list[Any] | None = None
    for block in blocks:
        cols = [list(c) if dt is None else np.frombuffer(c, dtype=dt) for c, dt in zip(block, dtypes, strict=True)]
        if not len(cols[0]):
            continue
        if carry is not None:
            other = cols[0] != carry[0][0]
            j = int(other.argmax()) if other.any() else len(cols[0])
            if j == len(cols[0]):  # the carried container fills this block too
                carry = _join(carry, cols)
                continue
            walk(_join(carry, [c[:j] for c in cols]), True)
            cols = [c[j:] for c in cols]
        used = walk(cols, False)
        carry = [c[used:] for c in cols] if used < len(cols[0]) else None
    if carry is not None:
        walk(carry, True)


def stream_order(spec: Any) -> str:
    """The ORDER BY of a report's stream: sessions come off the disk in (ck, t) order, which
    the engine keeps by reading in order; persons are put together by walk_persons instead."""
    return "" if spec.container == "person" else " ORDER BY c, t"


class Walker(Protocol):
    """A report's Walk that keeps its results per call, one per container it counted (the
    fallout's levels, the paths' cut sequences), so walk_persons can run two at once and
    take some results back."""

    at: list[np.ndarray]  # per call: for each result, a row (in that call's columns) of its container

    def __call__(self, cols: list[Any], final: bool) -> int: ...

    def fresh(self) -> Walker:
        """An empty walker for the same report."""

    def keep(self, mask: np.ndarray) -> None:
        """Drops the results mask does not select (one entry per result, in the order of
        the calls), or marks them as no result (cheaper than a copy of the rest)."""

    def extend(self, other: Walker) -> None:
        """Adds other's results to these."""


class Results:
    """The bookkeeping of a report's Walker: lists with one entry per call, named in PARTS
    (`at` among them); fresh() and extend() from those; keep() marks a dropped result as no
    result in the list MARKED (its entry's row set to 0, which the report's aggregation
    never counts), rather than copying the kept ones."""

    PARTS: tuple[str, ...] = ("at",)
    MARKED = "at"

    def __init__(self, spec: Any):
        self.spec = spec
        for name in self.PARTS:
            setattr(self, name, [])

    def fresh(self) -> Any:
        return type(self)(self.spec)

    def keep(self, mask: np.ndarray) -> None:
        a = 0
        for part in getattr(self, self.MARKED):
            part[~mask[a:a + len(part)]] = 0
            a += len(part)

    def extend(self, other: Any) -> None:
        for name in self.PARTS:
            getattr(self, name).extend(getattr(other, name))


class Resolve(Protocol):
    """A person report's identity keys made persons (persons.Resolver)."""

    nbytes: int  # what it holds while the report runs (counted against the memory limit)

    def __call__(self, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, int]:
        """Each row's person key, and the number of rows with none (0)."""


def walk_stream(spec: Any, blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any], walk: Walker,
                max_bytes: int | None = None, resolve: Resolve | None = None, split: bool = False) -> None:
    """Walks a report's stream (see stream_order): walk_persons for persons, else as it comes;
    with split, a session stream ends in the split column and its session-less rows are cut
    into visits first (visits.py)."""
    if spec.container == "person":
        walk_persons(blocks, dtypes, walk, max_bytes, resolve=resolve)
    elif split:
        walk_blocks(visits.split_blocks(blocks, dtypes), dtypes, walk)
    else:
        walk_blocks(blocks, dtypes, walk)


class TooLarge(Exception):
    """The rows a person report would hold pass the memory limit of one report query."""


def _held(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any], max_bytes: int | None,
          chunk: int = 1 << 62) -> list[list[np.ndarray]]:
    """Every block of the stream as numpy columns, in parts of at most chunk rows (views;
    empty ones left out).  Holding them here, not in the engine, takes the query's memory
    limit along: TooLarge once the rows and their copies (blocks, joined, regrouped) and two
    index arrays would pass max_bytes (sql_max_memory), as the engine's sort by person
    would have failed."""
    assert None not in dtypes, "person reports take numeric columns only"
    per_row = 3 * sum(np.dtype(dt).itemsize for dt in dtypes) + 16
    parts, rows = [], 0
    for block in blocks:
        cols = [np.frombuffer(c, dtype=dt) for c, dt in zip(block, dtypes, strict=True)]
        parts += [[c[a:a + chunk] for c in cols] for a in range(0, len(cols[0]), chunk)]
        rows += len(cols[0])
        if max_bytes and rows * per_row > max_bytes:
            raise TooLarge(f"{rows:,} rows need more than {max_bytes:,} bytes to group by person")
    return parts


def _resolved(parts: list[list[np.ndarray]], resolve: Resolve
              ) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """The parts with column 0 (identity keys) made persons by resolve (column 1: the
    times), and the runs of each (for _shared, while the part is in cache), half of them on
    another thread (the lookups release the GIL); rows with no person left out, as the
    engine's person_key != 0 does.  Once the stream has ended, not block by block while it
    runs: on two cores the engine's threads had no CPU to spare for them (measured: ~15 ms
    more per report)."""
    def run(some: list[list[np.ndarray]]) -> list[tuple[list[np.ndarray], np.ndarray]]:
        out = []
        for p in some:
            p[0], none = resolve(p[0], p[1])
            if none:
                kept = p[0] != 0
                p = [c[kept] for c in p]
            if len(p[0]):
                out.append((p, _run_starts(p[0], p[1])))
        return out

    half = len(parts) // 2
    with ThreadPoolExecutor(1, thread_name_prefix="report") as pool:
        other = pool.submit(run, parts[half:])
        done = run(parts[:half]) + other.result()
    return [p for p, _ in done], [r for _, r in done]


def _joined(parts: list[list[np.ndarray]]) -> list[np.ndarray]:
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))] if len(parts) > 1 else parts[0]


def _shared(parts: list[list[np.ndarray]], times: Callable[[], np.ndarray],
            runs: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The persons with several runs (regroup.py) among the rows of parts (blocks, in
    order; column 0 the person key, column 1 the time): the permutation that puts their
    rows together, each person's runs merged by time, and per row 1 where the row's person
    has several runs (else 0).  times() gives the times joined (asked for only once the
    runs are in key order: walk_persons joins them on its other thread meanwhile).  A run
    ends at the end of its block too: a person whose one run a block boundary cuts is
    merged (a few per report), so each block can be walked on its own (walk_persons)."""
    starts, run_keys, base = [], [], 0
    for i, (keys, ts, *_) in enumerate(parts):
        local = runs[i] if runs is not None else _run_starts(keys, ts)
        starts.append(local + base)
        run_keys.append(keys[local])
        base += len(keys)
    starts.append(np.array([base], dtype=np.int64))
    order, sorted_keys = _by_key(np.concatenate(run_keys))
    perm = np.empty(base, dtype=np.int64)
    shared = np.zeros(base, dtype=np.uint8)
    rows = regroup.merged(times(), np.concatenate(starts), order, sorted_keys, perm, np.empty(base, dtype=np.int64),
                          shared)
    return perm[:rows], shared


def _run_starts(keys: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The first row of every run of a part (regroup.run_starts)."""
    local = np.empty(len(keys) + 1, dtype=np.int64)
    return local[:regroup.run_starts(keys, ts, local)]


def _by_key(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions of keys in key order (equal keys in position order), and the keys in
    that order.  Compiled: regroup.key_order, one scatter into buckets by the top 16 bits
    (19 against 60 ms for np.sort below at 900k keys, on the AMD machine of BENCHMARKS.md
    2026-12-08).  Else, or when the keys are too unevenly spread for it: sorting the keys
    with their position in the low bits (np.sort, SIMD) takes ~a third of np.argsort's time
    at 1M keys; it orders them exactly unless two keys differ only in those bits (a chance
    of ~3 % at 1M hashed keys), which the check finds, and then argsort does it."""
    r = len(keys)
    if regroup.COMPILED:
        order, ordered = np.empty(r, dtype=np.int64), np.empty(r, dtype=np.uint64)
        if regroup.key_order(keys, order, ordered, np.empty(65537, dtype=np.int64)):
            return order, ordered
    bits = max(1, (r - 1).bit_length())
    if bits <= 40:
        low = np.uint64((1 << bits) - 1)
        order = (np.sort((keys & ~low) | np.arange(r, dtype=np.uint64)) & low).astype(np.int64)
        ordered = keys[order]
        if not (ordered[1:] < ordered[:-1]).any():
            return order, ordered
    order = np.argsort(keys, kind="stable").astype(np.int64, copy=False)
    return order, np.ascontiguousarray(keys[order])


def _chunks(cols: list[np.ndarray], chunk: int) -> Iterator[list[np.ndarray]]:
    for a in range(0, len(cols[0]), chunk):
        yield [c[a:a + chunk] for c in cols]


def regrouped(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any], chunk: int = 65536,
              max_bytes: int | None = None) -> Iterator[list[Any]]:
    """The blocks of a stream whose rows come as runs of one container in rising time, in
    any order (a person report read in report_steps' session order, with no ORDER BY), as
    blocks for walk_blocks in which each container's rows are together and in time order:
    the one-run persons' rows as they came, then the others' (regroup.py does in the
    collector what the engine's sort by person did).  No report calls it any more:
    walk_persons walks the same containers without laying the rows out again, and this
    plain layout is the definition the tests hold walk_persons to.  Needs every row first: the last block may hold
    another run of the first block's person.  Numeric columns only; column 0 the container
    key, column 1 the time.  TooLarge as _held."""
    parts = _held(blocks, dtypes, max_bytes)
    if not parts:
        return
    cols = _joined(parts)
    del parts
    perm, shared = _shared([cols], lambda: cols[1])
    perm = np.concatenate((np.flatnonzero(shared == 0), perm))
    yield from _chunks([c[perm] for c in cols], chunk)


def walk_persons(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any], walk: Walker,
                 max_bytes: int | None = None, chunk: int = 65536, resolve: Resolve | None = None) -> None:
    """Walks a person report's stream as walk_blocks(regrouped(...)) would, on two threads.

    The rows of a person who came as one run need no moving: they are walked where they
    came, block by block (a container there is a run of equal keys, exactly that person's
    rows), while the second thread finds the persons with several runs and merges their
    rows (_shared; this thread joins the times it needs first), then takes blocks too.
    The merged rows are then walked, half on each thread, with walkers of their own; the
    walks' results for those persons where their rows came are dropped.  The compiled walks and merge release the GIL, as numpy's sort
    and gathers do, so the threads run on both cores.  With resolve, column 0 comes as
    identity keys and is made persons first (_resolved)."""
    if max_bytes and resolve is not None:
        max_bytes -= resolve.nbytes  # a resolver's table is held meanwhile
    parts = _held(blocks, dtypes, max_bytes, chunk)  # the units of work: a large block is cut
    runs = None
    if parts and resolve is not None:
        parts, runs = _resolved(parts, resolve)
    if not parts:
        return
    bases = np.cumsum([0] + [len(p[0]) for p in parts]).tolist()
    unit = itertools.count()  # the next block to walk where it came (next() is atomic)
    walkers = (walk, walk.fresh())  # per thread: in place, then a half of the merged rows
    placed: tuple[list[int], list[int]] = ([], [])
    halves = (walk.fresh(), walk.fresh())

    def in_place(k: int) -> None:
        while (i := next(unit)) < len(parts):
            walkers[k](parts[i], True)
            placed[k].append(bases[i])

    times: Future[np.ndarray] = Future()

    def find() -> tuple[np.ndarray, np.ndarray]:
        found = _shared(parts, times.result, runs)
        in_place(1)
        return found

    with ThreadPoolExecutor(1, thread_name_prefix="report") as pool:
        other = pool.submit(find)
        try:  # the times first: find() needs them once it has put the runs in key order
            times.set_result(_joined([[p[1]] for p in parts])[0])
        except BaseException as e:
            times.set_exception(e)
            raise
        in_place(0)
        rest = _joined([[p[0], *p[2:]] for p in parts])
        perm, shared = other.result()
        cols = [rest[0], times.result(), *rest[1:]]

        def walk_rows(rows: np.ndarray, into: Walker) -> None:
            walk_blocks(_chunks([c[rows] for c in cols], chunk), dtypes, into)

        cut = len(perm) // 2  # moved on to where a person starts
        while 0 < cut < len(perm) and cols[0][perm[cut]] == cols[0][perm[cut - 1]]:
            cut += 1
        first = pool.submit(walk_rows, perm[:cut], halves[0])
        walk_rows(perm[cut:], halves[1])
        first.result()
    for w, at_base in zip(walkers, placed, strict=True):
        rows = [base + at for base, at in zip(at_base, w.at, strict=True)]
        w.keep(shared[np.concatenate(rows)] == 0 if rows else np.zeros(0, dtype=np.bool_))
    for w in (walkers[1], *halves):
        walk.extend(w)


def ties_ordered(cols: list[Any], order_by: Sequence[int]) -> list[Any]:
    """The engine sorts by (container, time) only; rows of one container with equal times
    are put in order of the columns order_by (most significant first), which is cheaper
    here than more sort keys in the engine (ties are rare: one compiled pass per block finds them)."""
    keys, ts = cols[0], cols[1]
    # compiled: one pass that stops at the first tie; plain Python: numpy's vectorised test
    if not (ties.has_ties(keys, ts) if ties.COMPILED else ((keys[1:] == keys[:-1]) & (ts[1:] == ts[:-1])).any()):
        return cols
    # containers stay where they are (by their position, not their key: person reports
    # come unsorted, and walk_blocks carries the block's tail by position)
    at = np.cumsum(np.r_[False, keys[1:] != keys[:-1]])
    order = np.lexsort(tuple(cols[i] for i in reversed(order_by)) + (ts, at))
    return [c[order] if isinstance(c, np.ndarray) else [c[i] for i in order] for c in cols]
