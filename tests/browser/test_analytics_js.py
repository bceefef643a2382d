"""Segment's own browser library, analytics.js (@segment/analytics-next, the real build
from npm), in Chromium against the collector with nothing changed but its CDN URL: it
reads its settings from /v1/projects/{key}/settings, posts to /v1/p, /v1/t, /v1/i (or /v1/b
when batching), and every call is stored as Footpath reads it; nothing goes to Segment."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import rows, wait_for, wait_rows

ROOT = Path(__file__).resolve().parents[2]
UMD = ROOT / "sdk_js" / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd" / "index.js"
PAGE = "/__fixtures__/analytics-js.html"


@pytest.mark.parametrize("batching", [False, True])
def test_analytics_js_unchanged_but_its_cdn(live_collector_factory, tab_factory, batching):
    assert UMD.is_file(), f"{UMD} missing: run `make tag` (npm install in sdk_js)"
    lc = live_collector_factory(site_extra={"consent_default": "granted"})
    tab = tab_factory(lc.url)
    tab.context.route("**/vendor/analytics-next.js",
                      lambda route: route.fulfill(body=UMD.read_bytes(), content_type="application/javascript"))
    tab.open(PAGE + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring" + ("&batching=1" if batching else ""))
    wait_rows(lc, 2)
    tab.js("() => window.analytics.identify('u-42', {plan: 'pro'})")
    got = wait_rows(lc, 3)
    anon = tab.js("() => window.analytics.instance.user().anonymousId()")
    assert anon and all(r["anonymous_id"] == anon for r in got)
    assert [(r["type"], r["event"], r["user_id"], r["path"], r["utm_source"]) for r in got] == [
        ("page", "", "", PAGE, "newsletter"),
        ("track", "Product Added", "", PAGE, "newsletter"),
        ("identify", "", "u-42", PAGE, "newsletter")]
    assert got[1]["properties"] == {"sku": "Y1", "price": 35, "tags": ["yoga"]}
    assert len({r["message_id"] for r in got}) == 3

    tab.pump()
    posts = [urlsplit(r.url).path for r in tab.requests if r.method == "POST"]
    assert posts == (["/v1/b", "/v1/b"] if batching else ["/v1/p", "/v1/t", "/v1/i"])
    # Every request stayed on the collector's origin: settings, calls, no telemetry to Segment.
    assert {f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}" for r in tab.requests} == {lc.url}
    assert any(urlsplit(r.url).path == "/v1/projects/pk_test/settings" for r in tab.requests)
    settings = httpx.get(lc.url + "/v1/projects/pk_test/settings").json()
    assert settings["integrations"]["Segment.io"]["apiHost"] == urlsplit(lc.url).netloc + "/v1"
    assert settings["metrics"]["sampleRate"] == 0  # its telemetry would go to api.segment.io
    assert httpx.get(lc.url + "/v1/projects/pk_nope/settings").status_code == 404
    wait_for(lambda: all(r.response() and r.response().status == 200 for r in tab.requests if r.method == "POST"),
             10, "200 answers to every call")
    assert not tab.errors
    assert len(rows(lc)) == 3  # nothing stored twice
