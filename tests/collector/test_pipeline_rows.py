"""Every row the pipeline gives footpath.events carries every column of ROW_COLUMNS with a
value of its own, in that order: rows start as a copy of a template of Nones (one
allocation), so a step that skipped a column on some path would leave a None that
ClickHouse quietly turns into the column default, and the buffer writes the values in
the compact layout's order (collector/buffer/layouts.py)."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from collector import pipeline
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.sites import Site
from collector.validate.dedup import RecentIds
from collector.validate.limits import Limits
from tests.conftest import ASN_DB, CITY_DB, ROOT

# None is a value only where the column is Nullable (the table's own definition)
NULLABLE = set(re.findall(r"^\s+(\w+)\s+Nullable\(", (ROOT / "clickhouse" / "0002_events.sql").read_text(), re.M))

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148"
AGO = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
MESSAGES = [
    {"type": "track", "event": "Order Completed", "anonymousId": "a", "properties": {"total": 12.5},
     "context": {"ip": "81.2.69.142", "userAgent": UA, "locale": "en-GB", "library": {"name": "x", "version": "1"},
                 "page": {"url": "https://shop.example/c?utm_source=news&gclid=1", "referrer": "https://www.google.com/"},
                 "campaign": {"name": "spring"}, "sessionId": "s1", "seq": 3, "pageViewId": "v1", "extra": {"k": 1}}},
    {"type": "page", "name": "Home", "userId": "u1", "timestamp": AGO, "sentAt": AGO,
     "properties": {"url": "https://shop.example/", "path": "/", "title": "Home"}},
    {"type": "screen", "name": "Cart", "anonymousId": "a"},
    {"type": "identify", "userId": "u1", "anonymousId": "a", "traits": {"plan": "pro"}},
    {"type": "group", "userId": "u1", "groupId": "g1", "traits": {"size": 3}},
    {"type": "alias", "userId": "u2", "previousId": "u1"},
    {"type": "track", "event": "Seq As Text", "anonymousId": "a", "context": {"seq": "7"}},  # pydantic's path
    {"type": "page", "anonymousId": "a", "originalTimestamp": "2026-11-23T10:00:00Z",
     "context": {"consent": {"analytics": "denied"}, "userAgent": UA}},
    {"type": "page", "context": {"consent": {"analytics": "denied"}}},  # cookieless, aggregate_when_denied
]


@pytest.mark.parametrize("source", ["server", "browser"])
def test_every_stored_row_has_every_column_filled(source):
    sv = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP(str(CITY_DB), str(ASN_DB)), UAClassifier(),
                           RecentIds(1000), 400, 86400)
    site = Site(id="s", public_key="pk_sss1", aggregate_when_denied=True, consent_default="granted")
    batch = [m for m in MESSAGES if source == "server" or (m["type"] != "alias" and "ip" not in m.get("context", {}))]
    rq = pipeline.RequestContext(site, source, datetime.now(UTC), "81.2.69.160", UA, False, None, True)
    out = pipeline.run(rq, sv, batch)
    assert {"original_timestamp", "sent_at"} == NULLABLE  # the pattern found the table's two
    assert out.rejected == [] and out.dropped == {}
    assert len(out.rows) == len(batch)
    for row in out.rows:
        assert set(pipeline.ROW_COLUMNS) <= set(row), set(pipeline.ROW_COLUMNS) - set(row)
        assert [k for k, v in row.items() if v is None and k not in NULLABLE] == [], row
        # the values are in the compact layout's order (buffer_records writes row.values())
        assert tuple(row) == pipeline.ROW_COLUMNS


def _rows(batch: list) -> list:
    sv = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP(), UAClassifier(), RecentIds(1000), 400, 86400)
    rq = pipeline.RequestContext(Site(id="s", public_key="pk_sss1"), "server", datetime.now(UTC), "81.2.69.160",
                                 "", False, None, True)
    out = pipeline.run(rq, sv, batch)
    assert out.accepted == len(batch), out.rejected
    return out.rows


def test_only_a_page_takes_its_url_path_title_and_referrer_from_its_properties():
    """Segment's page spec repeats the page's fields in its properties; a track's properties are
    its own (Product Viewed's url is the product's, an outbound click's the target): taken as
    the page they made server events land on the target's path and its utm_source (QA)."""
    props = {"url": "https://partner.example/out?utm_source=affiliate", "path": "/out", "title": "T",
             "referrer": "https://r.example/"}
    page, track, screen = _rows([{"type": "page", "anonymousId": "a", "properties": props},
                                 {"type": "track", "event": "Link Clicked", "anonymousId": "a", "properties": props},
                                 {"type": "screen", "name": "S", "anonymousId": "a", "properties": props}])
    assert (page["url"], page["path"], page["title"], page["referrer"], page["utm_source"]) == (
        props["url"], "/out", "T", "https://r.example/", "affiliate")
    for row in (track, screen):
        assert (row["url"], row["path"], row["title"], row["referrer"], row["utm_source"]) == ("", "", "", "", "")
        assert row["properties"] == '{"url":"https://partner.example/out?utm_source=affiliate","path":"/out",' \
                                    '"title":"T","referrer":"https://r.example/"}'


def test_a_page_or_screen_category_is_kept_in_its_properties():
    """Segment's page(category, name) and screen(category, name): analytics.js stores the
    category as properties.category; it was validated and then dropped (QA).  A category the
    properties already give stays theirs."""
    page, screen, own = _rows([{"type": "page", "name": "Intro", "category": "Docs", "anonymousId": "a"},
                               {"type": "screen", "name": "Cart", "category": "Shop", "anonymousId": "a",
                                "properties": {"items": 2}},
                               {"type": "page", "category": "Docs", "anonymousId": "a",
                                "properties": {"category": "mine"}}])
    assert (page["name"], page["properties"]) == ("Intro", '{"category":"Docs"}')
    assert screen["properties"] == '{"items":2,"category":"Shop"}'
    assert own["properties"] == '{"category":"mine"}'
