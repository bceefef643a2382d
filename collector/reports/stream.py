"""Reports on the views read the site's rows as the engine streams them, sorted by container
key and time, and walk them in compiled code (funnel.py for fallout, pathwalk.py for
paths).  This module is the part both share: the engine's column blocks as numpy arrays,
whole containers per walk (a container cut by a block boundary is carried into the next
block), and equal times put in the report's order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from collector.reports import ties

# walk(columns, final) -> the first row it did not walk: the start of a container that may
# go on in the next block (none is left over when final is set)
Walk = Callable[[list[Any], bool], int]


def _join(a: list[Any], b: list[Any]) -> list[Any]:
    return [np.concatenate((x, y)) if isinstance(x, np.ndarray) else x + y for x, y in zip(a, b, strict=True)]


def walk_blocks(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any], walk: Walk) -> None:
    """Feeds walk whole containers from the blocks: column i is a numpy array of dtypes[i]
    (None: a list, e.g. strings), read in place from the client's array (so the query must
    give plain numeric types: a LowCardinality number comes as a list, and fails here);
    column 0 is the container key, sorted.  Only the carried
    container's own rows are copied, up to its last row in the next block, which
    searchsorted finds since the keys are sorted."""
    carry: list[Any] | None = None
    for block in blocks:
        cols = [list(c) if dt is None else np.frombuffer(c, dtype=dt) for c, dt in zip(block, dtypes, strict=True)]
        if not len(cols[0]):
            continue
        if carry is not None:
            j = int(np.searchsorted(cols[0], carry[0][0], side="right"))
            if j == len(cols[0]):  # the carried container fills this block too
                carry = _join(carry, cols)
                continue
            walk(_join(carry, [c[:j] for c in cols]), True)
            cols = [c[j:] for c in cols]
        used = walk(cols, False)
        carry = [c[used:] for c in cols] if used < len(cols[0]) else None
    if carry is not None:
        walk(carry, True)


def ties_ordered(cols: list[Any], order_by: Sequence[int]) -> list[Any]:
    """The engine sorts by (container, time) only; rows of one container with equal times
    are put in order of the columns order_by (most significant first), which is cheaper
    here than more sort keys in the engine (ties are rare: one compiled pass per block finds them)."""
    keys, ts = cols[0], cols[1]
    # compiled: one pass that stops at the first tie; plain Python: numpy's vectorised test
    if not (ties.has_ties(keys, ts) if ties.COMPILED else ((keys[1:] == keys[:-1]) & (ts[1:] == ts[:-1])).any()):
        return cols
    order = np.lexsort(tuple(cols[i] for i in reversed(order_by)) + (ts, keys))
    return [c[order] if isinstance(c, np.ndarray) else [c[i] for i in order] for c in cols]
