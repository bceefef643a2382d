"""Person reports on the views: the person of each streamed row, resolved in the collector.

The stream then reads report_steps' stored identity key (0045) instead of
footpath.events_person's person_key, and resolve.py applies events_person's rule to it,
once per run of equal keys, from the entries of identity_person_dict (0016) read for the
report (~10 ms for the benchmark's 233k entries).  Person fallout and paths at 10M events:
the engine's ~165 ms of CPU for the lookups becomes ~45 ms here, −6 to −9 % of the
report's CPU (BENCHMARKS.md, Reports).

Only while the server's events_person is the one resolve.py was written for (RULE: its
SELECT, re-targeted at report_steps by sources.person_select, word for word) and the
dictionary holds at most MAX_ENTRIES entries (reading and building cost ~40 ns and 50 to
100 bytes per entry, held for the report; the engine's lookups ~23 ns per row); otherwise,
and for segments (their sets are persons the engine resolves), the stream asks the engine
for person_key as before.  Both give the same person keys (tests/reports/test_resolve.py)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from clickhouse_connect.driver.exceptions import ClickHouseError

from collector.reports import resolve
from collector.reports.sources import SourceError, person_select

log = logging.getLogger("footpath.reports")

DICTIONARY = "footpath.identity_person_dict"
# the table takes 24 bytes a slot, 2 to 4 slots an entry, plus the filter: at this size
# ~50 MiB held for each person report running at once (counted against its memory limit)
MAX_ENTRIES = 1_000_000

# footpath.events_person's SELECT (0017) as sources.person_select gives it: the rule
# resolve.py implements.  A change to identity's rule, or to how the server prints it,
# makes the stream ask the engine again (slower, same numbers) until this is checked and
# updated; tests/reports/test_resolve.py fails meanwhile.
RULE = (
    "WITH identity_key AS identity_key_, arrayLastIndex(x -> (x <= toUnixTimestamp64Milli(timestamp)), "
    "dictGet('footpath.identity_person_dict', 'froms', identity_key_)) AS identity_range_ SELECT *, "
    "if((dictGetOrDefault('footpath.identity_person_dict', 'person_id', identity_key_, multiIf(user_id != '', "
    "concat('u:', user_id), anonymous_id != '', concat('a:', anonymous_id), '')) AS identity_found_) != char(0), "
    "identity_found_, dictGet('footpath.identity_person_dict', 'persons', identity_key_)[identity_range_]) "
    "AS person_id, if((dictGetOrDefault('footpath.identity_person_dict', 'person_key', identity_key_, "
    "identity_key_) AS identity_found_key_) != 1, identity_found_key_, cityHash64(site_id, "
    "substring(dictGet('footpath.identity_person_dict', 'persons', identity_key_)[identity_range_], 3))) "
    "* (identity_key != 0) AS person_key FROM footpath.report_steps"
)

_warned: set[str] = set()


class Resolver:
    """One report's snapshot of the dictionary, as resolve.py's table: call it on a block's
    identity keys and packed times for their person keys."""

    def __init__(self, keys: np.ndarray, values: np.ndarray, ranges: np.ndarray, starts: np.ndarray,
                 froms: np.ndarray, pkeys: np.ndarray, before: int):
        self.table = np.zeros(3 * resolve.slots_for(len(keys)), dtype=np.uint64)
        self.bits = np.zeros(resolve.filter_words_for(len(keys)), dtype=np.uint64)
        resolve.build(keys, values, ranges, self.table, self.bits)
        self.starts, self.froms, self.pkeys, self.before = starts, froms, pkeys, before
        self.nbytes = sum(a.nbytes for a in (self.table, self.bits, starts, froms, pkeys))

    def __call__(self, ids: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, int]:
        """The person key of each row (written over ids where the array allows it), and the
        number of rows with none (0)."""
        out = ids if ids.flags.writeable else np.empty_like(ids)
        zeros = resolve.resolve(ids, ts, self.table, self.bits, self.starts, self.froms, self.pkeys, self.before, out)
        return out, int(zeros)


def for_report(spec: Any, client: Any) -> Resolver | None:
    """The Resolver of a person report on the views, or None where the engine resolves
    persons: a session report, a segment (its sets are persons the engine resolves, so the
    rows' persons must be the engine's too), a rule or dictionary this module cannot take."""
    if spec.container != "person" or spec.segment is not None:
        return None
    try:
        return resolver(client, spec.site) if usable(client) else None
    except ClickHouseError as e:  # e.g. the dictionary failed to load: the engine's path says why
        log.warning("person dictionary not readable for resolving in the collector: %s", str(e).split("\n")[0])
        return None


def usable(client: Any) -> bool:
    """Whether resolve.py's rule is the server's (RULE) and the dictionary is small enough."""
    try:
        rule = " ".join(person_select(client).split())
    except SourceError:
        return False
    if rule != RULE:
        _warn("rule", "footpath.events_person is not the rule collector/reports/resolve.py implements; "
                      "person reports on the views ask the engine for each row's person (slower, same numbers)")
        return False
    rows = client.query("SELECT element_count FROM system.dictionaries WHERE database = 'footpath' "
                        "AND name = 'identity_person_dict'").result_rows
    if rows and rows[0][0] > MAX_ENTRIES:
        _warn("size", f"{DICTIONARY} holds {rows[0][0]:,} entries (> {MAX_ENTRIES:,}); person reports "
                      "on the views ask the engine for each row's person")
        return False
    return True


def resolver(client: Any, site: str) -> Resolver | None:
    """The dictionary's entries as a Resolver for the rows of `site` (the ranges' person
    keys hash the site, as events_person does): every key and person key (~6 ms at 233k
    entries), then the ranges of the few whose person depends on the time, looked up by
    key.  None when the dictionary kept reloading between the two reads (the caller asks
    the engine instead)."""
    before = int(client.query("SELECT cityHash64({site:String}, substring(CAST([], 'Array(String)')[0], 3))",
                              parameters={"site": site}).result_rows[0][0])
    for _ in range(3):
        key, value = _columns(client, (np.uint64, np.uint64), f"SELECT key, person_key FROM {DICTIONARY}", {})
        ranged = value == 1
        several = key[ranged]
        if not len(several):
            return Resolver(key, value, np.full(len(key), -1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64), before)
        # one row per range, one for an entry without any; in the order of `several`
        k, now, n, f, pk = _columns(
            client, (np.uint64, np.uint64, np.uint64, np.int64, np.uint64),
            f"SELECT k, dictGet('{DICTIONARY}', 'person_key', k), length(froms_), f, "
            "cityHash64({site:String}, substring(p, 3)) "
            f"FROM (SELECT arrayJoin({{keys:Array(UInt64)}}) AS k, dictGet('{DICTIONARY}', 'froms', k) AS froms_, "
            f"dictGet('{DICTIONARY}', 'persons', k) AS persons_) LEFT ARRAY JOIN froms_ AS f, persons_ AS p",
            {"site": site, "keys": several.tolist()})
        first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        if len(first) == len(several) and (k[first] == several).all() and (now == 1).all():
            break
    else:
        return None
    valid = n > 0
    starts = np.r_[0, np.cumsum(valid)][np.r_[first, len(k)]].astype(np.int64)
    ranges = np.full(len(key), -1, dtype=np.int64)
    ranges[ranged] = np.arange(len(several), dtype=np.int64)
    return Resolver(key, value, ranges, starts, np.ascontiguousarray(f[valid]), np.ascontiguousarray(pk[valid]),
                    before)


def _columns(client: Any, dtypes: tuple[Any, ...], sql: str, params: dict[str, Any]) -> list[np.ndarray]:
    parts: list[list[np.ndarray]] = []
    with client.query_column_block_stream(sql, parameters=params) as blocks:
        for block in blocks:
            parts.append([np.frombuffer(c, dtype=dt) for c, dt in zip(block, dtypes, strict=True)])
    if not parts:
        return [np.zeros(0, dtype=dt) for dt in dtypes]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(dtypes))]


def _warn(kind: str, message: str) -> None:
    if kind not in _warned:
        _warned.add(kind)
        log.warning(message)
