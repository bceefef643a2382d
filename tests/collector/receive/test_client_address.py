"""The client address a row stores comes from the socket peer, or from X-Forwarded-For only
through the collector's own `trusted_proxies` setting: the server in front of the app
(uvicorn, which by default believes X-Forwarded-For from 127.0.0.1) must not decide it
first.  Run against `footpath serve` itself, one process and with edge workers."""

import httpx
import pytest

GB_IP = "81.2.69.142"  # in the GeoLite2 test database: GB


@pytest.mark.parametrize("args", [(), ("--workers", "2")], ids=["one-process", "edge-workers"])
def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(live_collector_factory, args):
    lc = live_collector_factory(args=args)
    r = httpx.post(lc.url + "/v1/batch", auth=(lc.write_key, ""), headers={"X-Forwarded-For": GB_IP},
                   json={"batch": [{"type": "track", "event": "Spoofed", "anonymousId": "a1"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    rows = lc.sql("SELECT ip, country_code FROM footpath.events WHERE event = 'Spoofed'")
    assert rows == [["127.0.0.0", ""]]  # the socket peer (127.0.0.1), anonymised to /24


def test_forwarded_for_from_a_trusted_proxy_names_the_client(live_collector_factory):
    lc = live_collector_factory(env={"FOOTPATH_TRUSTED_PROXIES": "127.0.0.1/32"})
    r = httpx.post(lc.url + "/v1/batch", auth=(lc.write_key, ""), headers={"X-Forwarded-For": GB_IP},
                   json={"batch": [{"type": "track", "event": "Proxied", "anonymousId": "a1"}]})
    assert r.status_code == 200, r.text
    rows = lc.sql("SELECT ip, country_code FROM footpath.events WHERE event = 'Proxied'")
    assert rows == [["81.2.69.0", "GB"]]
