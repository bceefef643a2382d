"""The ingestion pipeline as data: receive -> validate -> enrich -> buffer -> write.

Each message of a request runs through STEPS in order.  A step returns None to go on,
a Reject (the sender's fault: named field, reason; counted in the response) or a Drop
(valid but not stored: a closed set of reasons).  Time per step is accumulated per
request and exported as footpath_step_seconds{step}.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson

from collector.buffer import layouts
from collector.buffer.wal import table_record
from collector.enrich import app, campaign, clientip, clock, consent
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.plans.step import step_plan
from collector.receive.body import strict_problem
from collector.sites import Site
from collector.types import JSON, Row, Source
from collector.validate import rejected as rejected_rows
from collector.validate.dedup import RecentIds
from collector.validate.fast import Msg, parse_message
from collector.validate.limits import LimitError, Limits, check_message


@dataclass(frozen=True, slots=True)
class Reject:
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str  # duplicate | consent_denied | consent_pending


class RequestContext:
    """Everything a step may know about the request a message came in.

    A plain slotted class, not a dataclass: one is made per request, and this __init__ is
    compiled with the module where a dataclass's is generated Python code."""

    __slots__ = ("site", "source", "received_at", "peer_ip", "header_ua", "gpc", "batch_sent_at", "body_small",
                 "strict_strings", "received_at_text", "sent_at_text", "ts_bounds", "added_ids")

    def __init__(self, site: Site, source: Source, received_at: datetime, peer_ip: str, header_ua: str, gpc: bool,
                 batch_sent_at: datetime | None, body_small: bool, strict_strings: bool = False,
                 received_at_text: str | None = None):
        self.site = site
        self.source = source
        self.received_at = received_at
        self.peer_ip = peer_ip  # after trusted-proxy resolution
        self.header_ua = header_ua
        self.gpc = gpc
        self.batch_sent_at = batch_sent_at
        self.body_small = body_small
        self.strict_strings = strict_strings  # body needed the fallback parser: check for lone surrogates
        # formatted once per request, not per message (received_now() hands it over ready)
        self.received_at_text: str = received_at_text if received_at_text is not None else _fmt(received_at) or ""
        self.sent_at_text: str | None = _fmt(batch_sent_at)
        self.ts_bounds: tuple[datetime, datetime] | None = None
        self.added_ids: list[str] = []  # message ids step_dedup registered


@dataclass
class Services:
    limits: Limits
    geo: GeoIP
    ua: UAClassifier
    recent: RecentIds
    max_past_days: int
    max_future_seconds: int
    past: timedelta = field(init=False)  # the two as timedeltas, made once
    future: timedelta = field(init=False)
    keeper: rejected_rows.Keeper | None = None  # rejections kept in footpath.rejected_messages

    def __post_init__(self) -> None:
        self.past = timedelta(days=self.max_past_days)
        self.future = timedelta(seconds=self.max_future_seconds)


# Every column the steps give a footpath.events row, in the order of the buffer's current
# compact layout (collector/buffer/layouts.py).  A row starts as a copy of this template (one
# allocation at its final size, where filling an empty dict resized it four times); every
# key is overwritten by its step, none is ever removed, so a row's values are in layout
# order, and tests/collector/test_pipeline_rows.py checks both.
ROW_COLUMNS = layouts.LAYOUTS[layouts.CURRENT]
_N_COLUMNS = len(ROW_COLUMNS)
_ROW_TEMPLATE: dict[str, Any] = dict.fromkeys(ROW_COLUMNS)


class Work:
    """One message in flight (a plain slotted class: one is made per message)."""

    __slots__ = ("raw", "msg", "row", "table", "state", "ip", "dumped")

    def __init__(self, raw: Any):
        self.raw = raw
        self.msg: Msg | None = None
        self.row: Row = _ROW_TEMPLATE.copy()
        self.table = "footpath.events"  # a step may divert the row (e.g. quarantine)
        self.state = "granted"
        self.ip = ""
        self.dumped: dict[str, bytes] = {}  # compact JSON of properties/traits/context


Step = Callable[[RequestContext, Services, Work], "Reject | Drop | None"]


_SECOND_TEXT: dict[int, str] = {}
_MS_TEXT = tuple(f".{i:03d}+00:00" for i in range(1000))  # a formatted suffix costs 4x a lookup


def _fmt(ts: datetime | None) -> str | None:
    """ts.isoformat(timespec="milliseconds"), several times faster for UTC datetimes of
    1970-2106 (every stored timestamp): the text up to the second is cached (a request's
    events share their second) and the milliseconds appended."""
    if ts is None:
        return None
    f = ts.timestamp()
    if ts.tzinfo is not UTC or not 0 <= f < 4294967296:  # float seconds exact to the us here
        return ts.isoformat(timespec="milliseconds")
    sec = int(f)
    head = _SECOND_TEXT.get(sec)
    if head is None:
        if len(_SECOND_TEXT) > 4096:
            _SECOND_TEXT.clear()
        head = _SECOND_TEXT[sec] = ts.replace(microsecond=0).isoformat()[:19]
    return head + _MS_TEXT[ts.microsecond // 1000]


# -- validate --------------------------------------------------------------------------------
def step_limits(rq: RequestContext, sv: Services, w: Work) -> Reject | None:
    if not isinstance(w.raw, dict):
        return Reject("", "a message must be a JSON object")
    if rq.strict_strings and (problem := strict_problem(w.raw)):  # the body needed the stdlib parser
        return Reject(*problem)
    try:
        check_message(w.raw, sv.limits, rq.body_small, w.dumped)
    except LimitError as e:
        return Reject(e.field, e.reason)
    except orjson.JSONEncodeError:  # a message not from parse_json (in-process callers)
        return Reject(*(strict_problem(w.raw) or ("", "cannot be written as JSON")))
    return None


def step_schema(rq: RequestContext, sv: Services, w: Work) -> Reject | None:
    msg, fld, reason = parse_message(w.raw)
    if msg is None:
        return Reject(fld, reason)
    w.msg = msg
    return None


def step_source_rules(rq: RequestContext, sv: Services, w: Work) -> Reject | None:
    """What a public (browser) key may not do."""
    m = w.msg
    assert m is not None
    if not m.userId and not m.anonymousId and not rq.site.aggregate_when_denied:
        return Reject("anonymousId", "a message without ids (a cookieless ping under denied consent) needs "
                                     "aggregate_when_denied = true on the site")
    if rq.source == "browser":
        if m.type == "alias":
            return Reject("type", "alias merges users and needs a server write key")
        if m.ip:
            return Reject("context.ip", "browser sources may not set the IP; it is taken from the connection")
    elif m.ip and not _valid_ip(m.ip):
        return Reject("context.ip", "not an IPv4 or IPv6 address")
    return None


_valid_ip = lru_cache(maxsize=100_000)(clientip.valid_ip)


def step_clock(rq: RequestContext, sv: Services, w: Work) -> Reject | None:
    m = w.msg
    assert m is not None
    original = m.timestamp or m.originalTimestamp
    sent_at = m.sentAt or rq.batch_sent_at
    try:
        ts = clock.corrected(original, sent_at, rq.received_at)
    except OverflowError:  # e.g. year 1 vs year 9999: no sensible correction exists
        return Reject("timestamp" if original else "sentAt", "timestamp or sentAt out of any sensible range")
    if rq.ts_bounds is None:  # once per request, not per message
        rq.ts_bounds = (rq.received_at - sv.past, rq.received_at + sv.future)
    if not rq.ts_bounds[0] <= ts <= rq.ts_bounds[1]:
        reason = clock.out_of_range(ts, rq.received_at, sv.max_past_days, sv.max_future_seconds)
        if original is not None and sent_at is not None:  # the correction put it there: say so
            ahead = (sent_at - rq.received_at).total_seconds()
            reason += (f" once corrected for the sender's clock (sentAt {sent_at.isoformat()}, "
                       f"{abs(ahead):.0f} s {'ahead of' if ahead >= 0 else 'behind'} the collector's)")
        return Reject("timestamp", reason)
    ts_text = rq.received_at_text if ts is rq.received_at else _fmt(ts)
    row = w.row
    row["timestamp"] = ts_text
    row["original_timestamp"] = ts_text if original is ts else _fmt(original)
    row["sent_at"] = rq.sent_at_text if sent_at is rq.batch_sent_at else _fmt(sent_at)
    row["received_at"] = rq.received_at_text
    return None


def step_dedup(rq: RequestContext, sv: Services, w: Work) -> Drop | None:
    m = w.msg
    assert m is not None
    if m.messageId is None:
        # A sender without ids cannot re-send one: the generated id is not remembered, so
        # it takes no place in the cache from ids that can come back.
        m.messageId = uuid7()
        return None
    if sv.recent.seen_or_add(rq.site.id, m.messageId):
        return Drop("duplicate")
    rq.added_ids.append(m.messageId)  # to forget again if the buffer append fails
    return None


# -- enrich ----------------------------------------------------------------------------------
# context keys stored in their own columns (or enforced) rather than in `context`
_PROMOTED_CONTEXT = frozenset({"ip", "userAgent", "page", "consent", "campaign", "sessionId", "seq",
                               "pageViewId", "locale"})


def step_fields(rq: RequestContext, sv: Services, w: Work) -> None:
    """Promote the Segment message's fields to columns."""
    m = w.msg
    assert m is not None
    props = m.properties or {}
    props_text = w.dumped.get("properties")
    category = w.raw.get("category")  # Segment's page(category, name): kept as analytics.js does
    if category and m.type in ("page", "screen") and "category" not in props:
        props, props_text = {**props, "category": category}, None
    # A page's properties repeat its url, path, title and referrer (Segment's page spec);
    # on any other call they are the call's own (a Product Viewed's url is the product's)
    page_props = props if m.type == "page" else _NO_PROPS
    url = m.page_url or _s(page_props.get("url"))
    path = m.page_path or _s(page_props.get("path"))
    if not path and url:
        path = _url_path(url)
    raw_ctx = w.raw.get("context")
    rest: JSON = ({k: v for k, v in raw_ctx.items() if k not in _PROMOTED_CONTEXT and v is not None}
                  if isinstance(raw_ctx, dict) else {})
    row = w.row  # keys exist already (ROW_COLUMNS): plain stores, no keyword dict to build
    row["message_id"] = m.messageId
    row["site_id"] = rq.site.id
    row["type"] = m.type
    row["event"] = m.event or ""
    row["name"] = m.name or ""
    row["anonymous_id"] = m.anonymousId or ""
    row["user_id"] = m.userId or ""
    row["group_id"] = m.groupId or ""
    row["previous_id"] = m.previousId or ""
    row["session_id"] = m.session_id or ""
    row["seq"] = m.seq or 0
    row["page_view_id"] = m.page_view_id or ""
    row["url"] = url or ""
    row["path"] = path or ""
    row["title"] = m.page_title or _s(page_props.get("title"))
    row["referrer"] = m.page_referrer or _s(page_props.get("referrer"))
    row["locale"] = m.locale or ""
    row["source"] = rq.source
    row["library"] = _library(m)
    row["properties"] = _json_text(props, props_text)
    row["traits"] = _json_text(m.traits, w.dumped.get("traits"))
    row["context"] = orjson.dumps(rest).decode() if rest else "{}"
    w.ip = (m.ip if m.ip and rq.source == "server" else None) or rq.peer_ip
    ua = m.user_agent or ""
    if not ua and rq.source == "browser":
        ua = rq.header_ua
    row["user_agent"] = ua
    return None


_NO_PROPS: JSON = {}


def _json_text(value: JSON | None, dumped: bytes | None) -> str:
    """The stored JSON text of properties/traits: the limits step's encoding when it made
    one (the same value: the schema step copies, never changes, these objects)."""
    if not value:
        return "{}"
    return (dumped or orjson.dumps(value)).decode()


@lru_cache(maxsize=20_000)
def _url_path(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return ""


def step_campaign(rq: RequestContext, sv: Services, w: Work) -> None:
    row = w.row
    m = w.msg
    assert m is not None
    cols = campaign.columns(row["url"], m.campaign or None)
    row.update(cols)
    row["referrer_host"], row["referrer_class"] = campaign.classify_referrer(
        row["referrer"], campaign.url_host(row["url"]), rq.site.hosts, cols["utm_medium"])
    return None


def step_user_agent(rq: RequestContext, sv: Services, w: Work) -> None:
    row = w.row
    kind = app.platform(w.raw.get("context"))
    if kind is None:
        row.update(sv.ua.columns(row["user_agent"]))
    else:  # an app describes its device itself; its HTTP client's User-Agent says nothing of it
        m = w.msg
        assert m is not None
        row.update(app.columns(kind, w.raw["context"], sv.ua.columns(m.user_agent or "")))
    return None


def step_geo(rq: RequestContext, sv: Services, w: Work) -> None:
    row = w.row
    ip = w.ip
    row.update(sv.geo.columns(ip) if ip else _NO_GEO)
    row["ip"] = (clientip.anonymize(ip) if rq.site.ip_anonymize else ip) if ip else ""
    return None


_NO_GEO = {"country_code": "", "region": "", "city": "", "asn": 0, "as_org": ""}


def step_consent(rq: RequestContext, sv: Services, w: Work) -> Drop | None:
    m = w.msg
    assert m is not None
    state = consent.effective_state(rq.site, rq.source, m.consent, rq.gpc, m.consent_categories)
    reason = consent.enforce(rq.site, state, m.type, w.row)
    return Drop(reason) if reason else None


STEPS: tuple[tuple[str, Step], ...] = (
    ("limits", step_limits),
    ("schema", step_schema),
    ("source_rules", step_source_rules),
    ("clock", step_clock),
    ("dedup", step_dedup),
    ("fields", step_fields),
    ("campaign", step_campaign),
    ("user_agent", step_user_agent),
    ("geo", step_geo),
    ("consent", step_consent),  # last: it strips what the enrichers derived from identifiers
    ("plan", step_plan),  # after consent: a blocked row is quarantined exactly as it would be stored
)


class Outcome:
    """What one request's messages came to (plain slotted class, as RequestContext)."""

    __slots__ = ("rows", "other_rows", "accepted", "rejected", "dropped", "step_seconds", "added_ids")

    def __init__(self, rows: list[Row], other_rows: dict[str, list[Row]], accepted: int, rejected: list[JSON],
                 dropped: dict[str, int], step_seconds: dict[str, float], added_ids: list[str]):
        self.rows = rows  # for footpath.events
        self.other_rows = other_rows  # table -> rows diverted elsewhere by a step
        self.accepted = accepted
        self.rejected = rejected
        self.dropped = dropped
        self.step_seconds = step_seconds  # per step, when the run was timed (else empty)
        self.added_ids = added_ids  # message_ids registered in the dedup cache by this request


_NAMES = tuple(n for n, _ in STEPS)
_TIMED_STEPS = tuple(enumerate(s for _, s in STEPS))
_STEP_FNS = tuple(s for _, s in STEPS)


def run(rq: RequestContext, sv: Services, messages: list[Any], timed: bool = True) -> Outcome:
    rows: list[Row] = []
    other: dict[str, list[Row]] = {}
    rejected: list[JSON] = []
    dropped: dict[str, int] = {}
    acc = [0.0] * len(_NAMES)
    rq.added_ids = []
    accepted = 0
    clock_ = time.perf_counter
    for i, raw in enumerate(messages):
        w = Work(raw)
        verdict: Reject | Drop | None = None
        if timed:  # one clock read per step: each step's end is the next one's start
            t0 = clock_()
            for k, step in _TIMED_STEPS:
                verdict = step(rq, sv, w)
                t1 = clock_()
                acc[k] += t1 - t0
                t0 = t1
                if verdict is not None:
                    break
        else:
            for step in _STEP_FNS:
                verdict = step(rq, sv, w)
                if verdict is not None:
                    break
        if verdict is None:
            accepted += 1
            if w.table == "footpath.events":
                rows.append(w.row)
            else:
                other.setdefault(w.table, []).append(w.row)
        elif isinstance(verdict, Reject):
            rejected.append({"index": i, "field": verdict.field, "reason": verdict.reason})
            if sv.keeper is not None and (kept := sv.keeper.row(rq, raw, verdict.field, verdict.reason)):
                other.setdefault(rejected_rows.TABLE, []).append(kept)
        else:
            accepted += 1
            dropped[verdict.reason] = dropped.get(verdict.reason, 0) + 1
    return Outcome(rows, other, accepted, rejected, dropped, dict(zip(_NAMES, acc, strict=True)) if timed else {},
                   rq.added_ids)


def encode_rows(rows: list[Row]) -> bytes:
    """JSONEachRow bytes: rows that name their columns."""
    return b"\n".join(map(orjson.dumps, rows))


def encode_compact(rows: list[Row]) -> bytes:
    """JSONCompactEachRow bytes of rows holding exactly ROW_COLUMNS, in that order."""
    return b"\n".join([orjson.dumps(list(r.values())) for r in rows])


_COMPACT_KEY = layouts.record_key(layouts.EVENTS_TABLE, layouts.CURRENT)


def buffer_records(out: Outcome) -> list[bytes]:
    """The request's buffer records: footpath.events rows in the compact layout, those with
    columns beyond it (a tracking plan's) as JSONEachRow, then one record per other table."""
    recs = []
    if out.rows:
        rows = out.rows
        other = [r for r in rows if len(r) != _N_COLUMNS]
        if other:
            rows = [r for r in rows if len(r) == _N_COLUMNS]
            recs.append(encode_rows(other))
        if rows:
            recs.append(table_record(_COMPACT_KEY, encode_compact(rows)))
    recs += [table_record(t, encode_rows(rs)) for t, rs in out.other_rows.items() if rs]
    return recs


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _library(m: Msg) -> str:
    if not m.library_name:
        return ""
    return f"{m.library_name}/{m.library_version}" if m.library_version else m.library_name


_rng = random.Random(random.SystemRandom().getrandbits(128))  # ids need uniqueness, not secrecy
_bits = _rng.getrandbits


def _reseed() -> None:
    """A forked child must not repeat its parent's sequence (uvicorn --workers forks)."""
    global _rng, _bits
    _rng = random.Random(random.SystemRandom().getrandbits(128))
    _bits = _rng.getrandbits


os.register_at_fork(after_in_child=_reseed)  # not os.getpid() per id: a syscall each time
_ms_text = [-1, ""]  # the last millisecond seen and its "tttttttt-tttt-7" prefix


def uuid7() -> str:
    """RFC 9562 UUIDv7: 48-bit unix ms, version, 74 random bits, variant; time-ordered."""
    ms = time.time_ns() // 1_000_000
    if ms != _ms_text[0]:  # the time part is formatted once per millisecond
        h = "%012x" % ms  # noqa: UP031 - fastest here
        _ms_text[0], _ms_text[1] = ms, f"{h[:8]}-{h[8:]}-7"
    rnd = _bits(74)  # 12 bits after the version, 62 after the variant (0b10)
    return "%s%03x-%04x-%012x" % (_ms_text[1], rnd >> 62, 0x8000 | (rnd >> 48) & 0x3FFF,  # noqa: UP031
                                  rnd & 0xFFFFFFFFFFFF)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_received: tuple[int, datetime, str] = (-1, _EPOCH, "")  # the last millisecond seen, as datetime and text


def received_now() -> tuple[datetime, str]:
    """A request's receive time and its text, truncated to the millisecond the row stores
    (so clock correction computes with the received_at it stores); made once per
    millisecond, which a busy edge shares between several requests."""
    global _received
    ms = time.time_ns() // 1_000_000
    last = _received
    if ms != last[0]:
        at = _EPOCH + timedelta(milliseconds=ms)
        last = _received = (ms, at, _fmt(at) or "")
    return last[1], last[2]
