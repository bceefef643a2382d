"""Where report rows come from, and the shared SQL pieces: bound parameters, step
conditions, container keys, the person of each row, segments.

Two variants of every source, with the same columns and the same definitions:
  mv  -- footpath.report_steps (migrations 0024-0025): one narrow row per event, sorted by
         container and time, with the expressions below already stored
  raw -- footpath.events (or footpath.events_person for persons), the source of truth,
         with the view's expressions applied on the fly.
The expressions below are the ones the views store; tests/reports check both variants
give identical numbers."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from collector.reports.spec import MV_DIMENSIONS, Filter, Segment, Step

log = logging.getLogger("footpath.reports")

SEP = "char(31)"
SEP_CHAR = "\x1f"
INTERNAL_EVENTS = ("Page Engaged", "Consent Updated")
SEQ_BITS = 21  # t = unix ms << 21 | min(seq, 2^20 - 1): time order, then the tag's sequence
SEQ_CAP = (1 << (SEQ_BITS - 1)) - 1
KIND = {"page": 0, "screen": 1, "track": 2}
CK_EXPR = "cityHash64(session_id, anonymous_id, if(session_id = '' AND anonymous_id = '', user_id, ''))"
KEY_EXPR = f"concat(type, {SEP}, if(type = 'track', event, name), {SEP}, path)"
LABEL_EXPR = "multiIf(type = 'page', path, type = 'screen', name, event)"
T_EXPR = f"(bitShiftLeft(toUInt64(toUnixTimestamp64Milli(timestamp)), {SEQ_BITS}) + least(seq, {SEQ_CAP}))"
FLAGS_EXPR = ("toUInt8(multiIf(type = 'page', 0, type = 'screen', 1, 2) "
              "+ 4 * (type = 'track' AND event IN ('Page Engaged', 'Consent Updated')) + 8 * is_bot)")
ROWS_WHERE = ("type IN ('page', 'screen', 'track') "
              "AND (session_id != '' OR anonymous_id != '' OR user_id != '')")


class SourceError(Exception):
    """The views cannot answer this request (the caller falls back to the raw table)."""


class Params:
    """Collects bound parameters: add() returns the {name:Type} placeholder."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, typ: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{typ}}}"


def packed(ms: int) -> int:
    return ms << SEQ_BITS


def window_packed(window_ms: int) -> int:
    """A window on packed times that accepts exactly the pairs whose millisecond times are at
    most window_ms apart: (a<<21|r) - (b<<21|s) <= w<<21 | (2^20-1) iff a - b <= w, for
    r, s < 2^20."""
    return (window_ms << SEQ_BITS) + SEQ_CAP


# -- step conditions ---------------------------------------------------------------------------
def like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def glob_to_like(glob: str) -> str:
    """Path globs: * any run of characters (slashes too), ? exactly one character."""
    return "".join("%" if ch == "*" else "_" if ch == "?" else like_escape(ch) for ch in glob)


def key_pattern(step: Step) -> str:
    t = step.type or "%"
    e = like_escape(step.event) if step.event is not None else "%"
    p = glob_to_like(step.path) if step.path is not None else "%"
    return f"{t}\x1f{e}\x1f{p}"


def property_condition(step: Step, p: Params, column: str = "properties") -> str:
    parts = []
    for key, values in step.properties:
        k = p.add(key, "String")
        strs = [v for v in values if isinstance(v, str)]
        bools = [v for v in values if isinstance(v, bool)]
        nums = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        alts = []
        if strs:
            alts.append(f"(JSONType({column}, {k}) = 'String' AND JSONExtractString({column}, {k}) IN "
                        f"{p.add(strs, 'Array(String)')})")
        if nums:
            alts.append(f"(JSONType({column}, {k}) IN ('Int64', 'UInt64', 'Double') AND "
                        f"JSONExtractFloat({column}, {k}) IN {p.add(nums, 'Array(Float64)')})")
        if bools:
            alts.append(f"(JSONType({column}, {k}) = 'Bool' AND JSONExtractBool({column}, {k}) IN "
                        f"{p.add([int(b) for b in bools], 'Array(UInt8)')})")
        parts.append("(" + " OR ".join(alts) + ")")
    return " AND ".join(parts)


def step_condition(step: Step, p: Params, key: str = "key") -> str:
    cond = f"{key} LIKE {p.add(key_pattern(step), 'String')}"
    if step.properties:
        cond = f"({cond} AND {property_condition(step, p)})"
    return cond


def mask_expr(steps: tuple[Step, ...], p: Params) -> str:
    """Bit k set when the row matches step k+1 (one row may match several steps)."""
    return "toUInt32(" + " + ".join(f"{1 << i} * ({step_condition(s, p)})" for i, s in enumerate(steps)) + ")"


# -- person resolution -----------------------------------------------------------------------
_PERSON_CACHE: dict[str, tuple[float, str]] = {}
_PERSON_LOCK = threading.Lock()
_FROM_EVENTS = re.compile(r"\bFROM\s+footpath\.events\s*$", re.S)


# identity's key and its "has an id" test as the server formats events_person's SELECT, and
# the stored column that replaces them on report_steps (0045): the same values without
# reading and hashing both id strings of every row (person reports on the views ~-0.2 s at
# 10M rows).  tests/reports/test_sources.py fails when the server's text stops matching.
STORED_IDENTITY = (
    ("bitXor(cityHash64(site_id, user_id), cityHash64(anonymous_id) * (user_id = ''))", "identity_key"),
    ("((user_id != '') OR (anonymous_id != ''))", "(identity_key != 0)"),
)


def person_select(client: Any, prewhere: str = "") -> str:
    """footpath.events_person's own SELECT (identity's definition, read from the server),
    re-targeted at footpath.report_steps: the same person_id / person_key for the same
    rows, without copying identity's rules; identity's key is read from its stored column
    (STORED_IDENTITY) where the text matches, else computed from the ids as before.
    Cached for a minute."""
    with _PERSON_LOCK:
        hit = _PERSON_CACHE.get("q")
        if hit and time.monotonic() - hit[0] < 60:
            return hit[1] + prewhere
    rows = client.query("SELECT as_select FROM system.tables WHERE database = 'footpath' "
                        "AND name = 'events_person'").result_rows
    if not rows:
        raise SourceError("footpath.events_person does not exist (identity migrations not applied)")
    text = str(rows[0][0]).strip().rstrip(";")
    if not _FROM_EVENTS.search(text) or "person_key" not in text:
        raise SourceError("footpath.events_person is not a plain SELECT over footpath.events")
    sql = stored_identity(_FROM_EVENTS.sub("FROM footpath.report_steps", text), client)
    with _PERSON_LOCK:
        _PERSON_CACHE["q"] = (time.monotonic(), sql)
    return sql + prewhere


def stored_identity(sql: str, client: Any) -> str:
    """sql with identity's key expressions replaced by report_steps.identity_key, when the
    column exists and every expression is found (all or none: the has-id test on the column
    is right only together with the key)."""
    if not all(expr in sql for expr, _ in STORED_IDENTITY):
        log.warning("footpath.events_person no longer spells identity's key as expected; person "
                    "reports on the views compute it from the ids (slower, same numbers)")
        return sql
    if not client.query("SELECT count() FROM system.columns WHERE database = 'footpath' "
                        "AND table = 'report_steps' AND name = 'identity_key'").result_rows[0][0]:
        return sql
    for expr, column in STORED_IDENTITY:
        sql = sql.replace(expr, column)
    return sql


def has_person_view(client: Any) -> bool:
    return bool(client.query("SELECT count() FROM system.tables WHERE database = 'footpath' "
                             "AND name = 'events_person'").result_rows[0][0])


# -- event rows ------------------------------------------------------------------------------
RAW_COLUMNS = ("site_id", "timestamp", "seq", "is_bot", "properties", "anonymous_id", "user_id")
MV_COLUMNS = "site_id, ck, t, flags, key, label, properties, sessionless"


def event_rows(variant: str, person: bool, client: Any, dims: tuple[str, ...] = (), prewhere: str = "",
               identity: bool = False) -> str:
    """A FROM item with one row per report event: site_id, ck, t, flags, is_bot, key, label,
    properties, the named dimensions, person_key/person_id when person is set, and on the
    views the stored identity_key when identity is set (persons.py resolves it in the
    collector).  Filter its time with range_condition (the views compare t, the raw table
    its timestamp).

    prewhere (the site condition) goes on the table read itself, as an explicit PREWHERE:
    left to itself ClickHouse moves the step test and the time range there too, which costs
    more than it saves when, as in reports, a good share of the rows pass (counting a site's
    month of rows: 2.6x the CPU).  Not on the raw person rows: footpath.events_person is a
    view, which takes no PREWHERE."""
    extra = ", person_key, person_id" if person else ""
    pw = f" PREWHERE {prewhere}" if prewhere else ""
    if variant == "mv":
        extra += ", identity_key" if identity else ""
        bad = [d for d in dims if d not in MV_DIMENSIONS]
        if bad:
            raise SourceError(f"dimension {bad[0]} is not stored in footpath.report_steps")
        base = f"({person_select(client, pw)})" if person else f"footpath.report_steps{pw}"
        return (f"(SELECT {MV_COLUMNS}, bitTest(flags, 3) AS is_bot"
                f"{''.join(', ' + d for d in dims)}{extra} FROM {base})")
    table = "footpath.events_person" if person else f"footpath.events{pw}"
    cols = ", ".join(dict.fromkeys(RAW_COLUMNS + dims))
    return (f"(SELECT {cols}, {CK_EXPR} AS ck, {T_EXPR} AS t, {FLAGS_EXPR} AS flags, {KEY_EXPR} AS key, "
            f"{LABEL_EXPR} AS label, session_id = '' AS sessionless{extra} FROM {table} WHERE {ROWS_WHERE})")


def range_condition(p: Params, start_ms: int | None, end_ms: int | None, variant: str = "raw") -> str:
    """[start, end) on event time: the views compare the packed t (t >= ms << 21 exactly when
    the millisecond time is >= ms, the sequence number taking the low 21 bits), the raw
    table its timestamp (so its primary key on the date still prunes)."""
    parts = []
    if variant == "mv":
        if start_ms is not None:
            parts.append(f"t >= {p.add(packed(start_ms), 'UInt64')}")
        if end_ms is not None:
            parts.append(f"t < {p.add(packed(end_ms), 'UInt64')}")
    else:
        if start_ms is not None:
            parts.append(f"timestamp >= fromUnixTimestamp64Milli({p.add(start_ms, 'Int64')}, 'UTC')")
        if end_ms is not None:
            parts.append(f"timestamp < fromUnixTimestamp64Milli({p.add(end_ms, 'Int64')}, 'UTC')")
    return " AND ".join(parts) or "1"


def ms(dt: Any) -> int:
    return int(dt.timestamp() * 1000)


# report_steps' partition key (0024: a month of t); month_ids() relies on it and checks the
# server still has it (tests/reports/test_paths.py fails when 0024 changes it).
PARTITION_KEY = "toYYYYMM(toDateTime(intDiv(bitShiftRight(t, 21), 1000), 'UTC'))"


def month_ids(client: Any, start_ms: int, end_ms: int) -> list[str] | None:
    """report_steps' partitions that hold whole months, those [start, end) touches, as
    partition ids ('YYYYMM'): where a list may hold more than the range needs (the site's
    labels, paths.Source.ranked), read by partition without reading a row's time.  None when
    the table is not partitioned by month as 0024 made it (the caller then filters by time)."""
    key = client.query("SELECT partition_key FROM system.tables WHERE database = 'footpath' "
                       "AND name = 'report_steps'").result_rows
    if not key or key[0][0] != PARTITION_KEY or end_ms <= start_ms:
        return None
    first = datetime.fromtimestamp(start_ms / 1000, UTC)
    last = datetime.fromtimestamp((end_ms - 1) / 1000, UTC)
    ids = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        ids.append(f"{y:04d}{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return ids


def segment_condition(seg: Segment, site: str, variant: str, include_bots: bool, p: Params,
                      client: Any) -> str:
    """Row condition: the row's person (person_key) is in the segment.  Each filter is a set
    of persons that did the step in its range; `did not` is NOT IN that set, so persons
    with no events at all in the range qualify for it."""
    from collector.reports.score_filters import ScoreSegmentFilter, score_filter_condition
    src = event_rows(variant, True, client, prewhere=f"site_id = {p.add(site, 'String')}")
    parts = []
    for f in seg.filters:
        if isinstance(f, ScoreSegmentFilter):  # person scores (RFM, lead score)
            parts.append(score_filter_condition(f, site, p))
            continue
        parts.append(f"person_key {'IN' if f.did else 'NOT IN'} "
                     f"({_filter_set(f, site, src, variant, include_bots, p)})")
    return "(" + (" AND " if seg.match == "all" else " OR ").join(parts) + ")"


def _filter_set(f: Filter, site: str, src: str, variant: str, include_bots: bool, p: Params) -> str:
    where = [f"site_id = {p.add(site, 'String')}", step_condition(f.step, p)]
    if not include_bots:
        where.append("NOT is_bot")
    if f.since is not None or f.until is not None:
        where.append(range_condition(p, ms(f.since) if f.since is not None else None,
                                     ms(f.until) if f.until is not None else None, variant))
    where.append("person_key != 0")  # last: persons are resolved only for the rows left
    return f"SELECT person_key FROM {src} WHERE " + " AND ".join(where)
