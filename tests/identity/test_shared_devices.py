"""An anonymous id linked to more persons than site.shared_device_threshold is counted in
/metrics (footpath_shared_devices{site}); attribution on it stays time-ordered."""

from __future__ import annotations

import re
import secrets
import time

import httpx

from tests.identity.conftest import msg, post, view_persons


def gauge(server) -> float | None:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    pattern = r'^footpath_shared_devices\{site="' + re.escape(server.site.id) + r'"\} (\S+)$'
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


def test_shared_devices_are_counted_per_site_threshold(server_factory):
    server = server_factory(site_extra={"shared_device_threshold": 2})
    kiosk, family, merged = ("dev-" + secrets.token_hex(3) for _ in range(3))
    batch = [msg("identify", i, anon=kiosk, user=f"k{i}") for i in range(3)]  # 3 persons > 2: shared
    batch += [msg("identify", i, anon=family, user=f"f{i}") for i in range(2)]  # 2 persons: not above 2
    batch += [msg("identify", i, anon=merged, user=f"m{i}") for i in range(3)]  # 3 ids, but m1 = m2 (alias)
    batch += [msg("alias", 10, user="m2", previousId="m1")]
    batch += [msg("track", 0.5, anon=kiosk, event="E"), msg("track", 1.5, anon=kiosk, event="E")]
    post(server, batch)
    got = view_persons(server)
    assert [got[m["messageId"]] for m in batch[-2:]] == ["u:k0", "u:k1"]  # time-ordered
    deadline = time.monotonic() + 15
    while gauge(server) != 1.0:
        assert time.monotonic() < deadline, f"footpath_shared_devices is {gauge(server)}, want 1"
        time.sleep(0.2)
