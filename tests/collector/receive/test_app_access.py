"""Apps send with the site's public key (`app_access = true`): Segment's mobile libraries post
without Origin or Referer, as analytics-kotlin does (HTTPClient.upload: https://{apiHost}/b,
text/plain, gzip, the key as writeKey in the body) or with the key as HTTP Basic user.  Their
messages are browser messages: no alias, no context.ip, the browser consent default."""

from __future__ import annotations

import base64
import gzip
import uuid
from datetime import UTC, datetime

import httpx
import orjson

KOTLIN_UA = "analytics-kotlin/1.19.1"


def _app_messages(anon: str) -> list[dict]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ctx = {"library": {"name": "analytics-kotlin", "version": "1.19.1"},
           "os": {"name": "Android", "version": "14"}, "device": {"type": "android", "model": "Pixel 8"},
           "app": {"name": "Shop", "version": "5.2"}, "locale": "de-DE"}
    return [{"type": "screen", "name": "Product", "anonymousId": anon, "messageId": str(uuid.uuid4()),
             "timestamp": now, "context": ctx, "properties": {"sku": "yoga-mat"}},
            {"type": "track", "event": "Product Added", "anonymousId": anon, "messageId": str(uuid.uuid4()),
             "timestamp": now, "context": ctx}]


def _kotlin_post(server, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(server.url + "/v1/b", content=gzip.compress(orjson.dumps(body)), timeout=30, headers={
        "Content-Type": "text/plain", "Content-Encoding": "gzip", "User-Agent": KOTLIN_UA, **(headers or {})})


def test_an_app_sends_with_the_public_key_when_the_site_allows_it(server_factory):
    srv = server_factory({"app_access": True, "consent_default": "granted"})
    anon = "app-" + uuid.uuid4().hex
    r = _kotlin_post(srv, {"batch": _app_messages(anon), "sentAt": datetime.now(UTC).isoformat(),
                           "writeKey": srv.site.public_key})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "rejected": []}
    assert "access-control-allow-origin" not in r.headers  # no browser, no CORS
    # the key as HTTP Basic user, as other mobile libraries send it
    auth = base64.b64encode(f"{srv.site.public_key}:".encode()).decode()
    r = _kotlin_post(srv, {"batch": _app_messages(anon)}, {"Authorization": f"Basic {auth}"})
    assert r.json()["accepted"] == 2
    srv.flush()
    rows = srv.sql("SELECT type, name, event, source, library, locale, JSONExtractString(context, 'device', 'model') "
                   "FROM footpath.events WHERE anonymous_id = {a:String} ORDER BY type, received_at", {"a": anon})
    assert rows == [["screen", "Product", "", "browser", "analytics-kotlin/1.19.1", "de-DE", "Pixel 8"]] * 2 + [
        ["track", "", "Product Added", "browser", "analytics-kotlin/1.19.1", "de-DE", "Pixel 8"]] * 2


def test_without_app_access_the_public_key_needs_an_origin(server):
    r = _kotlin_post(server, {"batch": _app_messages("a"), "writeKey": server.site.public_key})
    assert r.status_code == 403
    assert "app_access" in r.json()["error"]


def test_app_access_opens_nothing_to_other_websites(server_factory):
    srv = server_factory({"app_access": True})
    body = {"batch": _app_messages("a"), "writeKey": srv.site.public_key}
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}):
        r = _kotlin_post(srv, body, headers)
        assert r.status_code == 403 and "not allowed" in r.json()["error"], (headers, r.text)


def test_an_app_is_a_browser_source_no_alias_no_ip_browser_consent(server_factory):
    srv = server_factory({"app_access": True, "consent_default": "pending"})
    anon = "app-" + uuid.uuid4().hex
    msgs = [{"type": "alias", "userId": "u", "previousId": anon},
            {"type": "track", "event": "E", "anonymousId": anon, "context": {"ip": "203.0.113.7"}},
            {"type": "track", "event": "Pending", "anonymousId": anon}]
    r = _kotlin_post(srv, {"batch": msgs, "writeKey": srv.site.public_key})
    assert r.status_code == 200, r.text
    assert [x["index"] for x in r.json()["rejected"]] == [0, 1]
    srv.flush()
    # the browser default (pending) applies, as to the tag: no identifiers kept
    assert srv.sql("SELECT anonymous_id, consent_analytics FROM footpath.events WHERE event = 'Pending' "
                   "AND site_id = {s:String}", {"s": srv.site.id}) == [["", "pending"]]


def test_an_apps_device_and_os_come_from_its_context_not_its_http_client(server_factory):
    """React Native posts with fetch (okhttp on Android, which the crawler list calls a bot)
    and sends no context.userAgent; analytics-kotlin sends the runtime's Dalvik user agent,
    which parses as a tablet.  Both describe the device in context, and that is what counts:
    the Pixel 8's 1080 px at density 2.625 are 411 dp, a phone; the tablet's 1600 px at
    density 2 are 800 dp."""
    srv = server_factory({"app_access": True, "consent_default": "granted"})
    anon = "app-" + uuid.uuid4().hex
    rn_ctx = {"library": {"name": "analytics-react-native", "version": "2.20.3"},
              "app": {"name": "Shop", "version": "5.2", "build": "52", "namespace": "com.example.shop"},
              "device": {"type": "android", "model": "Pixel 8", "manufacturer": "Google", "name": "shiba"},
              "os": {"name": "Android", "version": "14"},
              "screen": {"width": 1080, "height": 2400, "density": 2.625}}
    kotlin_tablet = {**rn_ctx, "library": {"name": "analytics-kotlin", "version": "1.19.1"},
                     "device": {"type": "android", "model": "SM-X700"}, "os": {"name": "Android", "version": "13"},
                     "screen": {"width": 2560, "height": 1600, "density": 2.0},
                     "userAgent": "Dalvik/2.1.0 (Linux; U; Android 13; SM-X700 Build/TP1A.220624.014)"}
    msgs = [{"type": "screen", "name": "Home", "anonymousId": anon, "context": rn_ctx},
            {"type": "screen", "name": "Cart", "anonymousId": anon, "context": kotlin_tablet}]
    r = httpx.post(srv.url + "/v1/b", json={"batch": msgs, "writeKey": srv.site.public_key}, timeout=30,
                   headers={"User-Agent": "okhttp/4.12.0"})
    assert r.json() == {"accepted": 2, "rejected": []}, r.text
    srv.flush()
    rows = srv.sql("SELECT name, browser, browser_version, os, os_version, device_type, toUInt8(is_bot) "
                   "FROM footpath.events WHERE anonymous_id = {a:String} ORDER BY name", {"a": anon})
    assert rows == [["Cart", "Shop", "5.2", "Android", "13", "tablet", 0],
                    ["Home", "Shop", "5.2", "Android", "14", "mobile", 0]]
