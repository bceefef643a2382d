"""Session reports: rows without a session id are cut into visits at 30-minute gaps.

The tag sends a session id with every event; analytics.js and Segment's app and server
libraries send none.  Their rows' container key (sources.CK_EXPR) is then the device (the
anonymous id, else the user id), so without this a "session" of such a device spanned its
whole history.  Here a device's session-less rows make a new visit wherever more than
VISIT_GAP_MS pass between one row and the next -- the rows the report reads before it
chooses its steps: in the range, bots only with include_bots, in the segment.  Those rows
are the report's "activity": a page view that a paths report leaves out (include = page
only, and a track in between) or that matches no fallout step still keeps the visit alive.
The same gap as attribution's and profiles' visits (collector/query/visits.py).

Two implementations with one definition, as everywhere in the reports: on the raw table a
window over each device's rows (split_rows, SQL); on the views the stream carries the
activity rows too, marked, and split_blocks re-keys the visits before the walk and drops
them (the walks themselves are unchanged)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from collector.query.visits import VISIT_GAP_MS
from collector.reports.sources import SEQ_BITS

SESSIONLESS = 1  # the stream's split column: bit 0, the row has no session id
ACTIVITY_ONLY = 2  # bit 1: read for the visit's bounds only, not a row of the report


def split_column(selection: str) -> str:
    """The stream's split column (UInt8), given the report's own row condition."""
    return f"CAST(sessionless + {ACTIVITY_ONLY} * NOT ({selection}) AS UInt8)"


def split_rows(rows: str, activity: str) -> str:
    """FROM item: `rows` under the `activity` condition, where each session-less row's ck is
    made its visit's (cityHash64(ck, visit number within the device)); rows with a session
    id pass unchanged, without the window's sort."""
    ms = f"bitShiftRight(t, {SEQ_BITS})"
    frame = "OVER (PARTITION BY ck ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    return (f"(SELECT * FROM {rows} WHERE ({activity}) AND NOT sessionless UNION ALL "
            f"SELECT * EXCEPT (nv, vn) REPLACE (cityHash64(ck, vn) AS ck) FROM ("
            f"SELECT *, sum(nv) {frame} AS vn FROM ("
            f"SELECT *, {ms} - lagInFrame({ms}, 1, {ms}) {frame} > {VISIT_GAP_MS} AS nv "
            f"FROM {rows} WHERE ({activity}) AND sessionless)))")


class Splitter:
    """split_blocks' state between blocks: the last session-less device of the previous
    block, its last time and its visit number, for a device whose rows go on."""

    def __init__(self) -> None:
        self.key = -1  # none (a key is a UInt64, so never -1)
        self.ms = 0
        self.visit = 0

    def __call__(self, cols: list[np.ndarray], split: np.ndarray) -> list[np.ndarray]:
        """The block's columns with each session-less row's key made key + visit number
        (keys are compared only with their neighbours', and a device's rows are together,
        sorted by time), the activity-only rows left out."""
        keys, ts = cols[0], cols[1]
        at = np.flatnonzero(split & SESSIONLESS)
        if len(at):
            k = keys[at]
            ms = ts[at] >> np.uint64(SEQ_BITS)
            same = np.empty(len(at), dtype=bool)
            same[0] = k[0] == self.key
            same[1:] = k[1:] == k[:-1]
            gap = np.empty(len(at), dtype=bool)
            gap[0] = same[0] and int(ms[0]) - self.ms > VISIT_GAP_MS
            gap[1:] = (ms[1:] - ms[:-1]) > VISIT_GAP_MS
            new_visit = same & gap
            counted = np.cumsum(new_visit, dtype=np.int64)
            # a device's visit number: the new visits since its first row (here or before)
            first = np.maximum.accumulate(np.where(same, 0, np.arange(len(at))))
            visit = counted - counted[first] + new_visit[first] + np.where(same[first], self.visit, 0)
            keys = keys.copy()
            keys[at] = k + visit.astype(np.uint64)
            self.key, self.ms, self.visit = int(k[-1]), int(ms[-1]), int(visit[-1])
            cols = [keys, *cols[1:]]
        elif len(keys):
            self.key = -1
        if split.any():
            kept = (split & ACTIVITY_ONLY) == 0
            if not kept.all():
                cols = [c[kept] for c in cols]
        return cols


def split_blocks(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any]) -> Iterator[list[np.ndarray]]:
    """A session report's stream with its visits keyed (Splitter), for stream.walk_blocks:
    each block's last column is the split column (split_column), which is consumed here."""
    splitter = Splitter()
    for block in blocks:
        cols = [np.frombuffer(c, dtype=dt) for c, dt in zip(block, (*dtypes, np.uint8), strict=True)]
        yield splitter(cols[:-1], cols[-1])
