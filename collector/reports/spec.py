"""Report requests: parsed and validated once, every error a 400 that names the field.

A request becomes a frozen dataclass; the SQL builders never see raw JSON.  Values that
reach SQL (site ids, event names, paths, property keys and values, dates) are bound as
query parameters by the builders; the only numbers written into SQL text are the ints
validated here (window, depth, top, step counts)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.when import parse_when

CONTAINERS = ("person", "session")
MODES = ("eventual", "strict")
STEP_TYPES = ("page", "screen", "track")
SOURCES = ("auto", "mv", "raw")
MAX_STEPS = 16
MAX_WINDOW_SECONDS = 366 * 86400
MAX_DEPTH = 10
MAX_TOP = 50
# Breakdown dimensions: stored in report_events (answered from the views) or only in
# footpath.events (answered from the raw table).  "properties.<key>" breaks down by a
# property of the step-1 event.
MV_DIMENSIONS = ("country_code", "device_type", "browser", "os", "referrer_class",
                 "utm_source", "utm_medium", "utm_campaign")
RAW_DIMENSIONS = ("region", "city", "browser_version", "os_version", "locale", "source", "library",
                  "referrer_host", "utm_term", "utm_content", "click_id_type", "consent_analytics", "type")
_PROP_KEY = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$ .:-]{0,99}$")
_SEP = "\x1f"


class SpecError(ValueError):
    """A bad request: field is the JSON path of the culprit."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


Scalar = str | int | float | bool


@dataclass(frozen=True)
class Step:
    type: str | None = None
    event: str | None = None
    path: str | None = None  # glob: * any characters, ? one character
    properties: tuple[tuple[str, tuple[Scalar, ...]], ...] = ()
    label: str = ""

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        base = self.event or self.path or self.type or "any event"
        if self.event and self.path:
            base = f"{self.event} on {self.path}"
        if self.properties:
            base += " (" + ", ".join(f"{k}={'|'.join(map(str, v))}" for k, v in self.properties) + ")"
        return base


@dataclass(frozen=True)
class Filter:
    """One segment filter: the person did (or did not) do `step` within [since, until)."""

    step: Step
    did: bool = True
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Segment:
    filters: tuple[Any, ...]  # Filter, or score_filters.ScoreSegmentFilter
    match: str = "all"  # all | any


@dataclass(frozen=True)
class Common:
    site: str
    start: datetime  # inclusive
    end: datetime  # exclusive
    container: str
    include_bots: bool
    source: str


@dataclass(frozen=True)
class FalloutSpec(Common):
    steps: tuple[Step, ...] = ()
    window_seconds: int = 30 * 86400
    mode: str = "eventual"
    breakdown: str | None = None
    breakdown_limit: int = 20
    segment: Segment | None = None


@dataclass(frozen=True)
class PathsSpec(Common):
    anchor: Step | None = None
    backward: bool = False  # True: `end` given, paths run backward from its last occurrence
    depth: int = 5
    top: int = 5
    collapse_repeats: bool = False
    include: tuple[str, ...] = ("page",)
    include_internal: bool = False
    segment: Segment | None = None


# -- helpers ---------------------------------------------------------------------------------
def _obj(doc: Any, where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise SpecError(where, "must be an object")
    return doc


def _known(doc: dict[str, Any], allowed: set[str], where: str) -> None:
    for k in doc:
        if k not in allowed:
            prefix = f"{where}." if where else ""
            raise SpecError(f"{prefix}{k}", f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _str(v: Any, where: str, max_len: int = 1000, empty: bool = False) -> str:
    if not isinstance(v, str):
        raise SpecError(where, "must be a string")
    if not v and not empty:
        raise SpecError(where, "must not be empty")
    if len(v) > max_len:
        raise SpecError(where, f"longer than {max_len} characters")
    if _SEP in v or "\x00" in v:
        raise SpecError(where, "must not contain control characters U+0000 or U+001F")
    return v


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise SpecError(where, "must be an integer")
    v = int(v)
    if not lo <= v <= hi:
        raise SpecError(where, f"must be between {lo} and {hi}")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise SpecError(where, "must be true or false")
    return v


def _choice(v: Any, where: str, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise SpecError(where, f"must be one of {', '.join(choices)}")
    return v


def parse_time(v: Any, where: str) -> datetime:
    """A UTC date (YYYY-MM-DD, midnight) or an ISO datetime (naive means UTC): when.py."""
    try:
        return parse_when(v)[0]
    except ValueError as e:
        raise SpecError(where, str(e)) from None


def parse_step(doc: Any, where: str) -> Step:
    doc = _obj(doc, where)
    _known(doc, {"type", "event", "path", "properties", "label"}, where)
    typ = _choice(doc["type"], f"{where}.type", STEP_TYPES) if doc.get("type") is not None else None
    event = _str(doc["event"], f"{where}.event") if doc.get("event") is not None else None
    path = _str(doc["path"], f"{where}.path") if doc.get("path") is not None else None
    props: list[tuple[str, tuple[Scalar, ...]]] = []
    raw_props = doc.get("properties")
    if raw_props is not None:
        raw_props = _obj(raw_props, f"{where}.properties")
        if len(raw_props) > 10:
            raise SpecError(f"{where}.properties", "at most 10 property filters")
        for k, v in raw_props.items():
            pw = f"{where}.properties.{k}"
            if not isinstance(k, str) or not _PROP_KEY.match(k):
                raise SpecError(pw, "property names: letters, digits, _ $ . : - and space, up to 100")
            values = v if isinstance(v, list) else [v]
            if not values or len(values) > 100:
                raise SpecError(pw, "give a value or a list of 1 to 100 values")
            for x in values:
                if isinstance(x, float) and not math.isfinite(x):
                    raise SpecError(pw, "numbers must be finite")
                if not isinstance(x, (str, int, float, bool)):
                    raise SpecError(pw, "values must be strings, numbers or booleans")
                if isinstance(x, str):
                    _str(x, pw, empty=True)
            props.append((k, tuple(values)))
    if typ is None and event is None and path is None and not props:
        raise SpecError(where, "give at least one of type, event, path, properties")
    label = _str(doc["label"], f"{where}.label", 200) if doc.get("label") is not None else ""
    return Step(typ, event, path, tuple(sorted(props)), label)


def parse_segment(doc: Any, where: str = "segment") -> Segment | None:
    if doc is None:
        return None
    doc = _obj(doc, where)
    _known(doc, {"match", "filters"}, where)
    match = _choice(doc.get("match", "all"), f"{where}.match", ("all", "any"))
    filters = doc.get("filters")
    if not isinstance(filters, list) or not filters:
        raise SpecError(f"{where}.filters", "must be a non-empty array")
    if len(filters) > 10:
        raise SpecError(f"{where}.filters", "at most 10 filters")
    from collector.reports.score_filters import SCORE_KEYS, is_score_filter, parse_score_segment_filter
    out: list[Any] = []
    for i, f in enumerate(filters):
        fw = f"{where}.filters[{i}]"
        f = _obj(f, fw)
        if is_score_filter(f):  # {"rfm_segment": ..., "lead_score": ...}: person scores
            out.append(parse_score_segment_filter(f, fw))
            continue
        _known(f, {"did", "type", "event", "path", "properties", "from", "to", "since", *SCORE_KEYS}, fw)
        did = _bool(f.get("did", True), f"{fw}.did")
        if "since" in f and "from" in f:
            raise SpecError(f"{fw}.since", "give since or from, not both")
        start_key = "since" if "since" in f else "from"
        since = parse_time(f[start_key], f"{fw}.{start_key}") if f.get(start_key) is not None else None
        until = parse_time(f["to"], f"{fw}.to") if f.get("to") is not None else None
        if since and until and until <= since:
            raise SpecError(f"{fw}.to", "must be after from")
        step = parse_step({k: f[k] for k in ("type", "event", "path", "properties") if k in f}, fw)
        out.append(Filter(step, did, since, until))
    return Segment(tuple(out), match)


def _common(doc: dict[str, Any], default_container: str) -> dict[str, Any]:
    site = _str(doc.get("site"), "site", 64) if "site" in doc else None
    if site is None:
        raise SpecError("site", "required")
    end = parse_time(doc["to"], "to") if doc.get("to") is not None else None
    start = parse_time(doc["from"], "from") if doc.get("from") is not None else None
    if end is None:
        today = datetime.now(UTC).date() + timedelta(days=1)
        end = datetime(today.year, today.month, today.day, tzinfo=UTC)
    if start is None:
        start = end - timedelta(days=30)
    if end <= start:
        raise SpecError("to", "must be after from")
    if end - start > timedelta(days=3 * 366):
        raise SpecError("to", "date range longer than 3 years")
    return {
        "site": site, "start": start, "end": end,
        "container": _choice(doc.get("container", default_container), "container", CONTAINERS),
        "include_bots": _bool(doc.get("include_bots", False), "include_bots"),
        "source": _choice(doc.get("source", "auto"), "source", SOURCES),
    }


COMMON_FIELDS = {"site", "from", "to", "container", "include_bots", "source"}


def parse_fallout(doc: Any) -> FalloutSpec:
    doc = _obj(doc, "body")
    _known(doc, COMMON_FIELDS | {"steps", "window_seconds", "mode", "breakdown", "breakdown_limit", "segment"}, "")
    common = _common(doc, "person")
    steps = doc.get("steps")
    if not isinstance(steps, list) or not steps:
        raise SpecError("steps", "must be a non-empty array of steps")
    if len(steps) > MAX_STEPS:
        raise SpecError("steps", f"at most {MAX_STEPS} steps")
    parsed = tuple(parse_step(s, f"steps[{i}]") for i, s in enumerate(steps))
    window = _int(doc.get("window_seconds", 30 * 86400), "window_seconds", 1, MAX_WINDOW_SECONDS)
    breakdown = doc.get("breakdown")
    if breakdown is not None:
        if not isinstance(breakdown, str):
            raise SpecError("breakdown", "must be a dimension name or null")
        if breakdown.startswith("properties."):
            if not _PROP_KEY.match(breakdown[len("properties."):]):
                raise SpecError("breakdown", "properties.<name>: letters, digits, _ $ . : - and space")
        elif breakdown not in MV_DIMENSIONS + RAW_DIMENSIONS:
            raise SpecError("breakdown", "must be one of " + ", ".join(MV_DIMENSIONS + RAW_DIMENSIONS)
                            + " or properties.<name>")
    return FalloutSpec(
        **common, steps=parsed, window_seconds=window,
        mode=_choice(doc.get("mode", "eventual"), "mode", MODES), breakdown=breakdown,
        breakdown_limit=_int(doc.get("breakdown_limit", 20), "breakdown_limit", 1, 200),
        segment=parse_segment(doc.get("segment")))


def parse_paths(doc: Any) -> PathsSpec:
    doc = _obj(doc, "body")
    _known(doc, COMMON_FIELDS | {"start", "end", "depth", "top", "collapse_repeats", "include",
                                 "include_internal", "segment"}, "")
    common = _common(doc, "session")
    start = parse_step(doc["start"], "start") if doc.get("start") is not None else None
    end = parse_step(doc["end"], "end") if doc.get("end") is not None else None
    if start and end:
        raise SpecError("end", "give start or end, not both (start runs forward, end runs backward)")
    include = doc.get("include", ["page"])
    if not isinstance(include, list) or not include:
        raise SpecError("include", 'must be a non-empty array of "page", "screen", "track"')
    for i, k in enumerate(include):
        _choice(k, f"include[{i}]", STEP_TYPES)
    return PathsSpec(
        **common, anchor=start or end, backward=end is not None,
        depth=_int(doc.get("depth", 5), "depth", 1, MAX_DEPTH),
        top=_int(doc.get("top", 5), "top", 1, MAX_TOP),
        collapse_repeats=_bool(doc.get("collapse_repeats", False), "collapse_repeats"),
        include=tuple(sorted(set(include))),
        include_internal=_bool(doc.get("include_internal", False), "include_internal"),
        segment=parse_segment(doc.get("segment")))
