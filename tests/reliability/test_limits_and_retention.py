"""Overload answers 429 with Retry-After per client and per site; retention is a
per-site TTL that ClickHouse applies."""

from datetime import UTC, datetime, timedelta

import httpx


def _post(server, n_msgs=1, xff=None):
    headers = {"x-forwarded-for": xff} if xff else {}
    return httpx.post(server.url + "/v1/batch", auth=(server.site.write_key, ""), headers=headers,
                      json={"batch": [{"type": "page", "anonymousId": "a"}] * n_msgs})


def test_per_client_rate_limit(server_factory):
    server = server_factory({"rate_limit_client": 5}, trusted_proxies="127.0.0.1/32")
    codes = [_post(server, xff="198.51.100.1").status_code for _ in range(30)]
    assert codes[:10] == [200] * 10  # burst of 2 s at 5/s
    limited = [c for c in codes if c == 429]
    assert limited, codes
    r = _post(server, xff="198.51.100.1")
    if r.status_code == 429:
        assert int(r.headers["retry-after"]) >= 1
    # another client is not affected
    assert _post(server, xff="198.51.100.2").status_code == 200


def test_per_site_event_rate_limit(server_factory):
    server = server_factory({"rate_limit_events": 50})
    codes = [_post(server, n_msgs=20).status_code for _ in range(20)]
    assert codes[:5] == [200] * 5  # 100 events of burst
    assert 429 in codes


def test_retention_ttl_removes_old_rows_of_that_site_only(server_factory, ch):
    keep = server_factory()  # a site with no retention (started first: the last config sets the TTL)
    short = server_factory({"retention_days": 2})
    old = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    for srv in (short, keep):
        r = httpx.post(srv.url + "/v1/batch", auth=(srv.site.write_key, ""), json={"batch": [
            {"type": "page", "anonymousId": "a", "timestamp": old},
            {"type": "page", "anonymousId": "a"}]})
        assert r.json()["accepted"] == 2
        srv.flush()
    sites = [short.site, keep.site]
    create = str(ch.command("SHOW CREATE TABLE footpath.events"))
    assert "TTL" in create and sites[0].id in create and sites[1].id not in create
    ch.command("OPTIMIZE TABLE footpath.events FINAL")
    rows = dict(ch.query("SELECT site_id, count() FROM footpath.events WHERE site_id IN {ids:Array(String)} "
                         "GROUP BY site_id", parameters={"ids": [s.id for s in sites]}).result_rows)
    assert rows == {sites[0].id: 1, sites[1].id: 2}
