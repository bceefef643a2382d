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
from collector.reports import visitkeys
from collector.reports.sources import SEQ_BITS

SESSIONLESS = 1  # the stream's split column: bit 0, the row has no session id
ACTIVITY_ONLY = 2  # bit 1: read for the visit's bounds only, not a row of the report


def present(client: Any, site: str, in_range: str, params: dict[str, Any]) -> bool:
    """Whether the views hold a session-less row of the site in the range (site and range as
    the report's SQL spells them, with its params).  Only then does a session stream carry
    the split column and its activity rows: without, the stream stays the plain one (the
    extra column and condition cost ~5-10 % of a session report's CPU).  Reads the
    sessionless column under the site's PREWHERE: ~3 ms at 10M rows."""
    return bool(client.query(f"SELECT count() FROM (SELECT 1 FROM footpath.report_steps PREWHERE site_id = {site} "
                             f"AND sessionless WHERE {in_range} LIMIT 1)", parameters=params).result_rows[0][0])


def stream_where(client: Any, spec: Any, site: str, in_range: str, params: dict[str, Any], where: str,
                 activity: str, selection: str, chosen: str | None = None) -> tuple[str, str, bool]:
    """A report stream's WHERE, its extra split column (', ... AS sx' or '') and whether it
    has one: a session report of a site with session-less rows in the range (present) reads
    their activity rows too; `chosen` is `selection` as the SELECT may spell it (default:
    the same text)."""
    if spec.container != "session" or not present(client, site, in_range, params):
        return where, "", False
    return f"{activity} AND ({selection} OR sessionless)", f", {split_column(chosen or selection)} AS sx", True


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
    """split_blocks' work on one block, with the state of a device whose rows go on into
    the next (visitkeys.rekey)."""

    def __init__(self) -> None:
        self.state = np.zeros(4, dtype=np.uint64)

    def __call__(self, cols: list[np.ndarray], split: np.ndarray) -> list[np.ndarray]:
        """The block's columns with each session-less row's key made key + visit number
        (keys are compared only with their neighbours', and a device's rows are together,
        sorted by time), the activity-only rows left out."""
        if not split.any():  # every row has a session id (all the tag's): nothing to do
            if len(split):  # (an empty block ends no device)
                self.state[0] = 0
            return cols
        keys = cols[0].copy()  # the client's buffer is read-only
        dropped = visitkeys.rekey(keys, cols[1], split, self.state, VISIT_GAP_MS)
        cols = [keys, *cols[1:]]
        if dropped:  # np.take of the kept rows' positions: half the time of a boolean mask per column
            kept = np.flatnonzero((split & ACTIVITY_ONLY) == 0)
            cols = [np.take(c, kept) for c in cols]
        return cols


def split_blocks(blocks: Iterable[Sequence[Any]], dtypes: Sequence[Any]) -> Iterator[list[np.ndarray]]:
    """A session report's stream with its visits keyed (Splitter), for stream.walk_blocks:
    each block's last column is the split column (split_column), which is consumed here."""
    splitter = Splitter()
    for block in blocks:
        cols = [np.frombuffer(c, dtype=dt) for c, dt in zip(block, (*dtypes, np.uint8), strict=True)]
        yield splitter(cols[:-1], cols[-1])
