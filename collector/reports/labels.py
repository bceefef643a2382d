"""The labels a path report on the views ranks (paths.Source.ranked), read once per part.

The stream binds the rank of every label the site has in report_steps, in the months the
report's range touches (sources.month_ids).  Reading them was a DISTINCT over every row of
those months: 31-34 ms at 10M rows on the 2-core machine on a slow day, on every report.  A part of a
MergeTree never changes once written (an insert, a merge or a mutation makes a new part
under a new name), so a part's labels for a site are read once and kept here, keyed by the
table's UUID (a re-created table starts its part names again) and the part's name; a
report then reads the active parts' names (~5 ms with that) and the labels of the parts it
has not seen, if any.

Exactly the DISTINCT's set: every row the stream reads is in a part that was active when
the labels were read, or in one a merge made from such parts, and the labels of each of
those were read (a merge's new part is not in the kept names, so it is read itself).  A
part that held none of the site's rows is kept as empty; so is one that a merge retired
between listing and reading (it is never active again).  Rows inserted after the read have
no rank and are left out, as before: as if they had arrived after the report."""

from __future__ import annotations

import threading
from typing import Any

MAX_KEPT = 20_000  # (table, part, site) entries; past it the memory starts over
MAX_ROUNDS = 4  # listings of the parts while merges replace them, before reading the rows instead
_kept: dict[tuple[str, str, str], frozenset[str]] = {}
_lock = threading.Lock()
_NO_UUID = "00000000-0000-0000-0000-000000000000"


def site_labels(client: Any, site: str, partitions: list[str]) -> list[str]:
    """The distinct stored labels of `site` in report_steps' partitions `partitions`
    (partition ids, sources.month_ids), sorted."""
    if not partitions:
        return []
    table, active, wanted = _parts(client, partitions)
    if table == _NO_UUID:  # no UUID (an Ordinary database): part names may come back, keep nothing
        return _rows(client, site, partitions)
    with _lock:
        known = {n: _kept[(table, n, site)] for n in wanted if (table, n, site) in _kept}
    fresh: dict[str, frozenset[str]] = {}
    for _ in range(MAX_ROUNDS):
        missing = [n for n in wanted if n not in known and n not in fresh]
        if not missing:
            break
        read = _read(client, site, missing)
        # a part merged away before it was read answers nothing: kept empty, it is never
        # active again, and the part it went into is listed on the next round
        fresh.update({n: frozenset(read.get(n, ())) for n in missing})
        table, active_now, wanted = _parts(client, partitions)
        active |= active_now
    else:  # parts kept changing under the reads: the rows themselves, this once
        return _rows(client, site, partitions)
    with _lock:
        if len(_kept) + len(fresh) > MAX_KEPT:
            _kept.clear()
        for key in [k for k in _kept if k[0] == table and k[1] not in active]:
            del _kept[key]  # merged away or dropped: never active again
        _kept.update({(table, n, site): v for n, v in fresh.items()})
    return sorted(set().union(*known.values(), *fresh.values()))


def _parts(client: Any, partitions: list[str]) -> tuple[str, set[str], list[str]]:
    """report_steps' UUID, its active parts, and those in `partitions`."""
    rows = client.query(
        "SELECT name, partition_id, (SELECT toString(uuid) FROM system.tables WHERE database = 'footpath' "
        "AND name = 'report_steps') FROM system.parts WHERE database = 'footpath' AND table = 'report_steps' "
        "AND active").result_rows
    return (rows[0][2] if rows else _NO_UUID, {r[0] for r in rows}, [r[0] for r in rows if r[1] in partitions])


def _rows(client: Any, site: str, partitions: list[str]) -> list[str]:
    """The site's distinct labels in the partitions, from their rows, kept nowhere."""
    return sorted(r[0] for r in client.query(
        "SELECT DISTINCT toString(label) FROM footpath.report_steps PREWHERE site_id = {s:String} "
        "WHERE _partition_id IN {ids:Array(String)}", parameters={"s": site, "ids": partitions}).result_rows)


def _read(client: Any, site: str, parts: list[str]) -> dict[str, list[str]]:
    """The site's distinct labels in each of `parts` (one query: a DISTINCT per part, each
    reading its part alone, `_part = name`; grouping by _part instead would make its name a
    value of every row: 6-14x slower on the 10M-event data)."""
    params: dict[str, Any] = {"s": site}
    selects = []
    for i, name in enumerate(parts):
        params[f"p{i}"] = name
        selects.append(f"SELECT {{p{i}:String}} AS part, groupArray(toString(label)) AS labels FROM (SELECT DISTINCT "
                       f"label FROM footpath.report_steps PREWHERE site_id = {{s:String}} WHERE _part = {{p{i}:String}})")
    return dict(client.query(" UNION ALL ".join(selects), parameters=params).result_rows)
