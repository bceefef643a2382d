"""The validated message the pipeline steps read, and a fast path that builds it.

pydantic (collector/validate/schema.py) is the definition of a valid message and the
source of every error text, but it costs ~16 us a message.  Almost every message on the
wire is plainly valid: strings where strings belong, RFC 3339 timestamps, known types.
`fast_message` accepts only such messages (a strict subset of what pydantic accepts) and
builds the same values pydantic would; anything else -- a bad field, a numeric string in
an int field, a timestamp in another format -- returns None and goes to pydantic, which
either accepts it (lax coercions) or names the field.  tests/collector/validate/test_fast.py
checks both paths agree on generated messages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from collector.types import MESSAGE_TYPES
from collector.validate.schema import Message, validate_message

_TYPES = frozenset(MESSAGE_TYPES)
_CONSENT = frozenset({"granted", "denied", "pending"})
# RFC 3339 with 'T', optional fraction (<= 6 digits) and optional zone: the shape both
# pydantic and datetime.fromisoformat read to the same instant.
# ASCII digits only ([0-9], not \d): narrower than before, and a quarter cheaper to match.
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_PAGE_KEYS = ("url", "path", "referrer", "title", "search")


class Msg:
    """A valid Segment message, flattened for the steps (fields pydantic nests in
    context.page / context.library / context.consent come out as plain attributes)."""

    __slots__ = ("type", "messageId", "anonymousId", "userId", "previousId", "groupId", "event", "name",
                 "timestamp", "originalTimestamp", "sentAt", "properties", "traits", "has_context",
                 "page_url", "page_path", "page_referrer", "page_title", "user_agent", "ip", "locale",
                 "library_name", "library_version", "consent", "consent_categories", "session_id", "seq", "page_view_id",
                 "campaign")

    def __init__(self) -> None:
        self.type = ""
        self.messageId = self.anonymousId = self.userId = self.previousId = self.groupId = None
        self.event = self.name = None
        self.timestamp = self.originalTimestamp = self.sentAt = None
        self.properties = self.traits = None
        self.has_context = False
        self.page_url = self.page_path = self.page_referrer = self.page_title = None
        self.user_agent = self.ip = self.locale = self.library_name = self.library_version = None
        self.consent = self.consent_categories = self.session_id = self.seq = self.page_view_id = None
        self.campaign = None

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self.__slots__)

    @classmethod
    def from_model(cls, m: Message) -> Msg:
        out = cls()
        for k in ("type", "messageId", "anonymousId", "userId", "previousId", "groupId", "event", "name",
                  "timestamp", "originalTimestamp", "sentAt", "properties", "traits"):
            setattr(out, k, getattr(m, k))
        c = m.context
        if c is not None:
            out.has_context = True
            if c.page is not None:
                out.page_url, out.page_path = c.page.url, c.page.path
                out.page_referrer, out.page_title = c.page.referrer, c.page.title
            out.user_agent, out.ip, out.locale = c.userAgent, c.ip, c.locale
            if c.library is not None:
                out.library_name, out.library_version = c.library.name, c.library.version
            if c.consent is not None:
                out.consent, out.consent_categories = c.consent.analytics, c.consent.categoryPreferences
            out.session_id, out.seq, out.page_view_id = c.sessionId, c.seq, c.pageViewId
            if c.campaign is not None:
                out.campaign = c.campaign.model_dump(exclude_none=True)
        return out


def parse_message(raw: Any) -> tuple[Msg | None, str, str]:
    """(message, "", "") or (None, field, reason): the fast path, else pydantic."""
    m = fast_message(raw)
    if m is not None:
        return m, "", ""
    model, fld, reason = validate_message(raw)
    return (Msg.from_model(model), "", "") if model is not None else (None, fld, reason)


def _id(v: Any) -> str | None | bool:
    """The id pydantic would store, None when absent, False when the fast path must defer."""
    if v is None:
        return None
    if type(v) is int:
        v = str(v)
    elif type(v) is not str:
        return False
    return v if 0 < len(v) <= 255 else False


def _text(v: Any, limit: int) -> bool:
    return v is None or (type(v) is str and len(v) <= limit)


def _short_texts(d: dict[str, Any], limit: int) -> bool:
    """Every value None or a string of at most `limit` characters: then so is every known
    key's (one pass over the values instead of a get and a call per known key)."""
    for v in d.values():  # noqa: SIM110 - a loop: all() with a generator costs twice as much
        if v is not None and (type(v) is not str or len(v) > limit):
            return False
    return True


def _ts(v: Any) -> datetime | None | bool:
    if v is None:
        return None
    if type(v) is not str or not _TS.fullmatch(v):
        return False
    try:
        t = datetime.fromisoformat(v)
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00:00+04:00 is before year 1 in UTC
        return False


def fast_message(raw: Any) -> Msg | None:  # noqa: C901 - one flat pass is the point
    if type(raw) is not dict:
        return None
    g = raw.get
    t = g("type")
    if type(t) is not str or t not in _TYPES or g("receivedAt") is not None:
        return None
    m = Msg()
    m.type = t
    # unrolled (no setattr by name): this runs for every message on the wire
    if ((mid := _id(g("messageId"))) is False or (aid := _id(g("anonymousId"))) is False
            or (uid := _id(g("userId"))) is False or (pid := _id(g("previousId"))) is False
            or (gid := _id(g("groupId"))) is False):
        return None
    m.messageId, m.anonymousId, m.userId, m.previousId, m.groupId = mid, aid, uid, pid, gid
    ev, name, cat = g("event"), g("name"), g("category")
    if ev is not None and (type(ev) is not str or not 0 < len(ev) <= 255):
        return None
    if not (_text(name, 255) and _text(cat, 255)):
        return None
    m.event, m.name = ev, name
    if ((ts := _ts(g("timestamp"))) is False or (ots := _ts(g("originalTimestamp"))) is False
            or (sent := _ts(g("sentAt"))) is False):
        return None
    m.timestamp, m.originalTimestamp, m.sentAt = ts, ots, sent
    props, traits, integ = g("properties"), g("traits"), g("integrations")
    if ((props is not None and type(props) is not dict) or (traits is not None and type(traits) is not dict)
            or (integ is not None and type(integ) is not dict)):
        return None
    m.properties, m.traits = props, traits
    ctx = g("context")
    if ctx is not None:
        if type(ctx) is not dict or not _context(ctx, m):
            return None
    # the per-type rules of Message._per_type_rules; any failure defers for its error text
    if t == "track" and not ev:
        return None
    if t == "alias":
        return m if m.userId and m.previousId else None
    if t == "group" and not m.groupId:
        return None
    # a group with its groupId still needs an id, as every type but alias does
    if not m.userId and not m.anonymousId and not (t in ("page", "track", "screen") and m.consent == "denied"):
        return None
    return m


def _context(c: dict[str, Any], m: Msg) -> bool:  # noqa: C901
    g = c.get
    m.has_context = True
    page = g("page")
    if page is not None:
        if type(page) is not dict:
            return False
        if not _short_texts(page, 8192) and not all(_text(page.get(k), 8192) for k in _PAGE_KEYS):
            return False
        m.page_url, m.page_path = page.get("url"), page.get("path")
        m.page_referrer, m.page_title = page.get("referrer"), page.get("title")
    camp = g("campaign")
    if camp is not None:
        if type(camp) is not dict:
            return False
        if not _short_texts(camp, 8192):
            return False  # a long one, or nested extras: pydantic's dump decides None-dropping
        m.campaign = {k: v for k, v in camp.items() if v is not None}
    ua, ip, loc = g("userAgent"), g("ip"), g("locale")
    if not (_text(ua, 8192) and _text(ip, 64) and _text(loc, 64)):
        return False
    m.user_agent, m.ip, m.locale = ua, ip, loc
    lib = g("library")
    if lib is not None:
        if type(lib) is not dict:
            return False
        ln, lv = lib.get("name"), lib.get("version")
        if not (_text(ln, 100) and _text(lv, 50)):
            return False
        m.library_name, m.library_version = ln, lv
    cons = g("consent")
    if cons is not None:
        if type(cons) is not dict:
            return False
        a = cons.get("analytics")
        if a is not None and (type(a) is not str or a not in _CONSENT):
            return False
        m.consent = a
        cp = cons.get("categoryPreferences")
        if cp is not None:  # Segment's consent management: {category: bool}
            if type(cp) is not dict:
                return False
            for v in cp.values():
                if type(v) is not bool:
                    return False
            m.consent_categories = cp
    sid, pvid = _id(g("sessionId")), _id(g("pageViewId"))
    if sid is False or pvid is False:
        return False
    m.session_id, m.page_view_id = sid, pvid
    seq = g("seq")
    if seq is not None and (type(seq) is not int or not 0 <= seq <= 4294967295):
        return False
    m.seq = seq
    return True
