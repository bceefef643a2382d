"""GET /v1/projects/{key}/settings: what analytics.js reads from its CDN, aimed back at the
collector under the host and scheme the browser used (behind a TLS proxy too)."""

import httpx


def settings(server, key=None, **headers):
    return httpx.get(f"{server.url}/v1/projects/{key or server.site.public_key}/settings", headers=headers)


def test_settings_aim_analytics_js_at_the_collector(server_factory):
    server = server_factory()
    r = settings(server, Host="collector.example", Origin="https://shop.example")
    assert r.status_code == 200
    doc = r.json()
    assert doc["integrations"]["Segment.io"] == {"apiKey": server.site.public_key,
                                                 "apiHost": "collector.example/v1", "protocol": "https"}
    assert doc["metrics"] == {"sampleRate": 0}
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    # A page on plain http, and a proxy nobody trusts claiming https: the socket's scheme.
    assert settings(server, Origin="http://shop.example").json()["integrations"]["Segment.io"]["protocol"] == "http"
    assert settings(server, **{"X-Forwarded-Proto": "https"}).json()["integrations"]["Segment.io"]["protocol"] == "http"
    # Another site's origin gets the document without CORS (the browser will not hand it over).
    assert "access-control-allow-origin" not in settings(server, Origin="https://other.example").headers
    # The write key is not a public key: never echoed into a page.
    r = settings(server, key=server.site.write_key)
    assert r.status_code == 404 and "public key" in r.json()["error"]


def test_a_trusted_proxy_states_the_scheme(server_factory):
    server = server_factory(trusted_proxies="127.0.0.1/32")
    r = settings(server, **{"X-Forwarded-Proto": "https"})
    assert r.json()["integrations"]["Segment.io"]["protocol"] == "https"
