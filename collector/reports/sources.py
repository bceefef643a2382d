"""Where report rows come from, and the shared SQL pieces: bound parameters, step
conditions, container keys, the person of each row, segments.

Two variants of every source, with the same columns and the same definitions:
  mv  -- footpath.report_events / report_sequences (migrations 0020-0023)
  raw -- footpath.events (or footpath.events_person for persons), the source of truth,
         with the views' expressions applied on the fly.
The expressions below are the ones the views store; tests/reports check both variants
give identical numbers."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from collector.reports.spec import MV_DIMENSIONS, Filter, Segment, Step

SEP = "char(31)"
SEP_CHAR = "\x1f"
INTERNAL_EVENTS = ("Page Engaged", "Consent Updated")
SEQ_BITS = 21  # t = unix ms << 21 | min(seq, 2^20 - 1): time order, then the tag's sequence
SEQ_CAP = (1 << (SEQ_BITS - 1)) - 1
KIND = {"page": 0, "screen": 1, "track": 2}
CK_EXPR = ("reinterpretAsUInt128(sipHash128(session_id, anonymous_id, "
           "if(session_id = '' AND anonymous_id = '', user_id, '')))")
KEY_EXPR = f"concat(type, {SEP}, if(type = 'track', event, name), {SEP}, path)"
LABEL_EXPR = "multiIf(type = 'page', path, type = 'screen', name, event)"
T_EXPR = f"(bitShiftLeft(toUInt64(toUnixTimestamp64Milli(timestamp)), {SEQ_BITS}) + least(seq, {SEQ_CAP}))"
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


def person_select(client: Any) -> str:
    """footpath.events_person's own SELECT (identity's definition, read from the server),
    re-targeted at footpath.report_events: the same person_id / person_key for the same
    rows, without copying identity's rules.  Cached for a minute."""
    with _PERSON_LOCK:
        hit = _PERSON_CACHE.get("q")
        if hit and time.monotonic() - hit[0] < 60:
            return hit[1]
    rows = client.query("SELECT as_select FROM system.tables WHERE database = 'footpath' "
                        "AND name = 'events_person'").result_rows
    if not rows:
        raise SourceError("footpath.events_person does not exist (identity migrations not applied)")
    text = str(rows[0][0]).strip().rstrip(";")
    if not _FROM_EVENTS.search(text) or "person_key" not in text:
        raise SourceError("footpath.events_person is not a plain SELECT over footpath.events")
    sql = _FROM_EVENTS.sub("FROM footpath.report_events", text)
    with _PERSON_LOCK:
        _PERSON_CACHE["q"] = (time.monotonic(), sql)
    return sql


def has_person_view(client: Any) -> bool:
    return bool(client.query("SELECT count() FROM system.tables WHERE database = 'footpath' "
                             "AND name = 'events_person'").result_rows[0][0])


# -- event rows ------------------------------------------------------------------------------
RAW_COLUMNS = ("site_id", "timestamp", "seq", "is_bot", "properties", "anonymous_id", "user_id")


def event_rows(variant: str, person: bool, client: Any, dims: tuple[str, ...] = ()) -> str:
    """A FROM item with one row per report event: site_id, ck, t, timestamp, is_bot, key,
    label, properties, the named dimensions, and person_key/person_id when person is set."""
    if variant == "mv":
        bad = [d for d in dims if d not in MV_DIMENSIONS]
        if bad:
            raise SourceError(f"dimension {bad[0]} is not stored in footpath.report_events")
        base = f"({person_select(client)})" if person else "footpath.report_events"
        extra = ", person_key, person_id" if person else ""
        return (f"(SELECT site_id, ck, {T_EXPR} AS t, timestamp, is_bot, key, label, properties"
                f"{''.join(', ' + d for d in dims)}{extra} FROM {base})")
    table = "footpath.events_person" if person else "footpath.events"
    extra = ", person_key, person_id" if person else ""
    cols = ", ".join(dict.fromkeys(RAW_COLUMNS + dims))
    return (f"(SELECT {cols}, {CK_EXPR} AS ck, {T_EXPR} AS t, {KEY_EXPR} AS key, {LABEL_EXPR} AS label"
            f"{extra} FROM {table} WHERE {ROWS_WHERE})")


def range_condition(p: Params, start_ms: int, end_ms: int, column: str = "timestamp") -> str:
    lo = p.add(start_ms, "Int64")
    hi = p.add(end_ms, "Int64")
    return (f"{column} >= fromUnixTimestamp64Milli({lo}, 'UTC') AND "
            f"{column} < fromUnixTimestamp64Milli({hi}, 'UTC')")


def ms(dt: Any) -> int:
    return int(dt.timestamp() * 1000)


def segment_condition(seg: Segment, site: str, variant: str, include_bots: bool, p: Params,
                      client: Any) -> str:
    """Row condition: the row's person (person_key) is in the segment.  Each filter is a set
    of persons that did the step in its range; `did not` is NOT IN that set, so persons
    with no events at all in the range qualify for it."""
    from collector.reports.score_filters import ScoreSegmentFilter, score_filter_condition
    src = event_rows(variant, True, client)
    parts = []
    for f in seg.filters:
        if isinstance(f, ScoreSegmentFilter):  # person scores (RFM, lead score)
            parts.append(score_filter_condition(f, site, p))
            continue
        parts.append(f"person_key {'IN' if f.did else 'NOT IN'} ({_filter_set(f, site, src, include_bots, p)})")
    return "(" + (" AND " if seg.match == "all" else " OR ").join(parts) + ")"


def _filter_set(f: Filter, site: str, src: str, include_bots: bool, p: Params) -> str:
    where = [f"site_id = {p.add(site, 'String')}", "person_key != 0", step_condition(f.step, p)]
    if not include_bots:
        where.append("NOT is_bot")
    if f.since is not None:
        where.append(f"timestamp >= fromUnixTimestamp64Milli({p.add(ms(f.since), 'Int64')}, 'UTC')")
    if f.until is not None:
        where.append(f"timestamp < fromUnixTimestamp64Milli({p.add(ms(f.until), 'Int64')}, 'UTC')")
    return f"SELECT person_key FROM {src} WHERE " + " AND ".join(where)
