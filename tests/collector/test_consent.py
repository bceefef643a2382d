"""Consent is enforced by the collector, whatever the sender says: a matrix of every
consent state x source x GPC x site mode against every identifying column."""

import itertools

import httpx
import orjson
import pytest

IDENTIFYING = ("anonymous_id", "user_id", "session_id", "page_view_id", "ip", "user_agent", "city", "region")
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def expected_state(stated, source, gpc, consent_default, server_default, honour_gpc):
    """Independent statement of the rule in ARCHITECTURE.md / collector/enrich/consent.py."""
    if honour_gpc and gpc:  # the browser's signal, unless the visitor's own explicit grant
        return "granted" if stated == "granted" else "denied"
    if stated is not None:
        return stated
    return consent_default if source == "browser" else server_default


@pytest.mark.parametrize("denied_mode", ["anonymize", "drop"])
def test_consent_matrix(server_factory, denied_mode):
    site_extra = {"consent_default": "pending", "server_consent_default": "granted", "gpc": True,
                  "denied_mode": denied_mode}
    server = server_factory(site_extra)
    cases = []
    for i, (stated, source, gpc) in enumerate(itertools.product(
            (None, "granted", "denied", "pending"), ("browser", "server"), (False, True))):
        msg = {"type": "page", "messageId": f"m{i}", "anonymousId": f"a{i}", "userId": f"u{i}",
               "context": {"sessionId": f"s{i}", "pageViewId": f"p{i}",
                           "page": {"url": "https://shop.example/x"}}}
        if stated:
            msg["context"]["consent"] = {"analytics": stated}
        headers = {"user-agent": UA}
        if gpc:
            headers["sec-gpc"] = "1"
        if source == "server":
            msg["context"].update(ip="81.2.69.142", userAgent=UA)
            r = httpx.post(server.url + "/v1/batch", json={"batch": [msg]}, auth=(server.site.write_key, ""),
                           headers=headers)
        else:
            headers.update({"origin": "https://shop.example", "content-type": "text/plain"})
            r = httpx.post(server.url + "/v1/batch", headers=headers, content=orjson.dumps(
                {"writeKey": server.site.public_key, "batch": [msg]}))
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        cases.append((f"m{i}", expected_state(stated, source, gpc, "pending", "granted", True)))
    server.flush()
    rows = server.sql(f"SELECT message_id, consent_analytics, {', '.join(IDENTIFYING)} FROM footpath.events "
                      "WHERE site_id = {s:String}", {"s": server.site.id})
    stored = {r[0]: r for r in rows}
    for mid, state in cases:
        if state == "granted":
            row = stored[mid]
            assert row[1] == "granted"
            assert row[2] and row[3] and row[4] and row[5] and row[6] and row[7], row
        elif denied_mode == "drop":
            assert mid not in stored
        else:
            row = stored[mid]
            assert row[1] == state
            assert all(v == "" for v in row[2:]), f"{mid} under {state} kept an identifier: {row}"


def test_identify_is_never_stored_without_consent(server):
    r = server.post("/v1/batch", {"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}, "context": {"consent": {"analytics": "denied"}}},
        {"type": "page", "anonymousId": "a", "context": {"consent": {"analytics": "denied"}}}]},
        key=server.site.write_key)
    assert r.json() == {"accepted": 2, "rejected": [], "dropped": {"consent_denied": 1}}
    server.flush()
    rows = server.sql("SELECT type, traits FROM footpath.events WHERE site_id = {s:String}", {"s": server.site.id})
    assert rows == [["page", "{}"]]


def test_cookieless_pings_only_for_sites_that_opt_in(server_factory):
    ping = {"type": "page", "context": {"consent": {"analytics": "denied"}, "page": {"url": "https://shop.example/a"}}}
    no_ids_granted = {"type": "page", "context": {"consent": {"analytics": "granted"}}}
    closed = server_factory()
    doc = closed.post("/v1/batch", {"batch": [ping]}, key=closed.site.write_key).json()
    assert doc["accepted"] == 0 and doc["rejected"][0]["field"] == "anonymousId"
    opted = server_factory({"aggregate_when_denied": True})
    doc = opted.post("/v1/batch", {"batch": [ping, no_ids_granted]}, key=opted.site.write_key).json()
    assert doc["accepted"] == 1 and [r["index"] for r in doc["rejected"]] == [1]
    opted.flush()
    rows = opted.sql("SELECT path, anonymous_id, consent_analytics FROM footpath.events WHERE site_id = {s:String}",
                     {"s": opted.site.id})
    assert rows == [["/a", "", "denied"]]


def test_segment_consent_categories(server_factory):
    """Segment's consent management sends context.consent.categoryPreferences {category: bool}
    (analytics.js's consent wrappers, OneTrust ids such as C0002): the site names which
    category means analytics; an explicit context.consent.analytics and GPC still come first
    (GPC gives way only to an explicit analytics "granted")."""
    server = server_factory({"consent_default": "granted", "consent_category": "C0002", "gpc": True})
    cases = [  # (consent object, Sec-GPC, expected state)
        ({"categoryPreferences": {"c0002": True, "C0004": False}}, False, "granted"),  # names: any case
        ({"categoryPreferences": {"C0002": False, "C0004": True}}, False, "denied"),
        ({"categoryPreferences": {"C0004": True}}, False, "denied"),  # not listed: not consented
        ({"categoryPreferences": {}}, False, "denied"),  # consent management that lists nothing: not consented
        ({"analytics": "pending", "categoryPreferences": {"C0002": True}}, False, "pending"),
        ({"categoryPreferences": {"C0002": True}}, True, "denied"),  # GPC beats a CMP's record
        ({"analytics": "granted"}, True, "granted"),  # but not the visitor's explicit grant (sdk_js/README.md)
        ({"analytics": "pending"}, True, "denied"),
    ]
    for i, (cons, gpc, _) in enumerate(cases):
        headers = {"origin": "https://shop.example", "content-type": "text/plain", "user-agent": UA}
        if gpc:
            headers["sec-gpc"] = "1"
        msg = {"type": "page", "messageId": f"c{i}", "anonymousId": f"a{i}", "context": {"consent": cons}}
        r = httpx.post(server.url + "/v1/p", headers=headers,
                       content=orjson.dumps({**msg, "writeKey": server.site.public_key}))
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    bad = [{"categoryPreferences": {"C0002": "yes"}}, {"categoryPreferences": ["C0002"]}]
    doc = server.post("/v1/batch", {"batch": [{"type": "page", "anonymousId": "b", "context": {"consent": c}}
                                              for c in bad]}, key=server.site.write_key).json()
    assert doc["accepted"] == 0
    assert [r["field"] for r in doc["rejected"]] == ["context.consent.categoryPreferences.C0002",
                                                     "context.consent.categoryPreferences"]
    server.flush()
    stored = dict(server.sql("SELECT message_id, consent_analytics FROM footpath.events WHERE site_id = {s:String}",
                             {"s": server.site.id}))
    assert stored == {f"c{i}": want for i, (_, _, want) in enumerate(cases)}
    # Without consent_category the category is "Analytics".
    other = server_factory()
    doc = other.post("/v1/batch", {"batch": [
        {"type": "page", "messageId": "d1", "anonymousId": "a", "context": {"consent": {"categoryPreferences": {"analytics": True}}}},
        {"type": "page", "messageId": "d2", "anonymousId": "a", "context": {"consent": {"categoryPreferences": {"C0002": True}}}},
    ]}, key=other.site.write_key).json()
    assert doc["accepted"] == 2
    other.flush()
    assert dict(other.sql("SELECT message_id, consent_analytics FROM footpath.events WHERE site_id = {s:String}",
                          {"s": other.site.id})) == {"d1": "granted", "d2": "denied"}


def test_an_anonymised_row_keeps_no_identifier_in_its_context(server_factory):
    """Apps describe the device in context with its identifiers (analytics-kotlin: device.id,
    advertisingId; React Native: context.traits, instanceId), and senders add their own keys.
    Under denied or pending consent only the software and the device class stay; granted
    rows keep the context whole."""
    server = server_factory({"consent_default": "granted"})
    ctx = {"library": {"name": "analytics-react-native", "version": "2.20.3"},
           "app": {"name": "Shop", "version": "5.2", "build": "52", "namespace": "com.example.shop"},
           "device": {"type": "android", "manufacturer": "Google", "model": "Pixel 8", "name": "shiba",
                      "id": "dev-4711", "advertisingId": "ad-0815", "adTrackingEnabled": True, "token": "push-1"},
           "os": {"name": "Android", "version": "14"}, "screen": {"width": 1080, "height": 2400, "density": 2.625},
           "timezone": "Europe/Berlin", "network": {"wifi": True}, "instanceId": "inst-9",
           "traits": {"email": "ada@example.com"}, "location": {"latitude": 52.5, "longitude": 13.4},
           "referrer": {"id": "ref-1", "type": "link"}, "customerNumber": "C-77"}
    msgs = [{"type": "track", "event": "E", "messageId": f"k{i}", "anonymousId": "a1",
             "context": {**ctx, "consent": {"analytics": state}}}
            for i, state in enumerate(("granted", "denied", "pending"))]
    msgs.append({"type": "track", "event": "E", "messageId": "k3", "anonymousId": "a1",
                 "context": {"consent": {"analytics": "denied"}, "device": "not an object", "traits": {"x": 1}}})
    assert server.post("/v1/batch", {"batch": msgs}, key=server.site.write_key).json()["accepted"] == 4
    server.flush()
    stored = {m: orjson.loads(c) for m, c in server.sql(
        "SELECT message_id, context FROM footpath.events WHERE site_id = {s:String}", {"s": server.site.id})}
    assert stored["k0"] == ctx  # granted: as sent (consent is a column)
    anonymous = {"library": ctx["library"], "app": ctx["app"], "os": {"name": "Android"},
                 "device": {"type": "android", "manufacturer": "Google", "model": "Pixel 8"}}
    assert stored["k1"] == anonymous and stored["k2"] == anonymous
    assert stored["k3"] == {}
