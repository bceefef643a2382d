"""Reports on the views read the site's rows as the engine streams them, by container key
and time (sessions in storage order; persons grouped here, regrouped()), and walk them in
compiled code (funnel.py for fallout, pathwalk.py for paths).  This module is the part
both share: the engine's column blocks as numpy arrays, whole containers per walk (a
container cut by a block boundary is carried into the next block), and equal times put
in the report's order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from collector.reports import regroup, ties

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
    engine gives them, or grouped as regrouped() gives them).  Only the carried
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
    the engine keeps by reading in order; persons are grouped by regrouped() instead."""
    return "" if spec.container == "person" else " ORDER BY c, t"


class TooLarge(Exception):
    """The rows regrouped() would hold pass the memory limit of one report query."""


def grouped(spec: Any, blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any],
            max_bytes: int | None = None) -> Iterable[Sequence[Any]]:
    """The stream's blocks with each container's rows together (see stream_order)."""
    return regrouped(blocks, dtypes, max_bytes=max_bytes) if spec.container == "person" else blocks


def regrouped(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any], chunk: int = 65536,
              max_bytes: int | None = None) -> Iterator[list[Any]]:
    """The blocks of a stream whose rows come as runs of one container in rising time, in
    any order (a person report read in report_steps' session order, with no ORDER BY), as
    blocks for walk_blocks in which each container's rows are together and in time order
    (regroup.py does in the collector what the engine's sort by person did).  Needs every
    row first: the last block may hold another run of the first block's person.  Numeric
    columns only; column 0 the container key, column 1 the time.

    Holding every row here, not in the engine, takes the query's memory limit along:
    TooLarge once the rows and their copies (blocks, joined, permuted, two index arrays)
    would pass max_bytes (sql_max_memory), as the engine's sort would have failed."""
    assert None not in dtypes, "regrouped() takes numeric columns only"
    per_row = 3 * sum(np.dtype(dt).itemsize for dt in dtypes) + 16
    parts, rows = [], 0
    for block in blocks:
        part = [np.frombuffer(c, dtype=dt) for c, dt in zip(block, dtypes, strict=True)]
        if len(part[0]):
            parts.append(part)
            rows += len(part[0])
            if max_bytes and rows * per_row > max_bytes:
                raise TooLarge(f"{rows:,} rows need more than {max_bytes:,} bytes to group by person")
    if not parts:
        return
    cols = [np.concatenate([p[i] for p in parts]) for i in range(len(dtypes))] if len(parts) > 1 else parts[0]
    del parts  # the engine's blocks: joined now
    n = len(cols[0])
    starts = np.empty(n + 1, dtype=np.int64)
    runs = regroup.run_starts(cols[0], cols[1], starts)
    starts = starts[:runs + 1]
    run_keys = cols[0][starts[:-1]]
    order = np.argsort(run_keys).astype(np.int64, copy=False)
    perm = np.empty(n, dtype=np.int64)
    regroup.permutation(cols[1], starts, order, np.ascontiguousarray(run_keys[order]), perm,
                        np.empty(n, dtype=np.int64))
    del starts, run_keys, order
    cols = [c[perm] for c in cols]
    del perm
    for a in range(0, n, chunk):
        yield [c[a:a + chunk] for c in cols]


def ties_ordered(cols: list[Any], order_by: Sequence[int]) -> list[Any]:
    """The engine sorts by (container, time) only; rows of one container with equal times
    are put in order of the columns order_by (most significant first), which is cheaper
    here than more sort keys in the engine (ties are rare: one compiled pass per block finds them)."""
    keys, ts = cols[0], cols[1]
    # compiled: one pass that stops at the first tie; plain Python: numpy's vectorised test
    if not (ties.has_ties(keys, ts) if ties.COMPILED else ((keys[1:] == keys[:-1]) & (ts[1:] == ts[:-1])).any()):
        return cols
    # containers stay where they are (by their position, not their key: regrouped() gives
    # them unsorted, and walk_blocks carries the block's tail by position)
    at = np.cumsum(np.r_[False, keys[1:] != keys[:-1]])
    order = np.lexsort(tuple(cols[i] for i in reversed(order_by)) + (ts, at))
    return [c[order] if isinstance(c, np.ndarray) else [c[i] for i in order] for c in cols]
