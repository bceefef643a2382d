"""Test helpers shared by tests/attribution and tests/scores: a module-scoped collector with
several sites (config values may be tables and lists of tables), and Segment messages
for visits of a known channel at known times."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import conftest as base

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = 86400.0
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
      "Safari/537.36")

# How a visit of each default channel arrives: (query string of the landing URL, referrer).
CHANNEL_VISITS = {
    "Direct": ("", ""),
    "Organic Search": ("", "https://www.google.com/"),
    "Paid Search": ("utm_source=google&utm_medium=cpc&utm_campaign=brand", "https://www.google.com/"),
    "Organic Social": ("", "https://www.facebook.com/"),
    "Paid Social": ("fbclid=IwAR123", "https://l.facebook.com/"),
    "Email": ("utm_source=newsletter&utm_medium=email&utm_campaign=spring", ""),
    "Referral": ("", "https://blog.example.org/best-shops"),
    "Affiliates": ("utm_source=partnerx&utm_medium=affiliate", "https://partnerx.example.net/"),
    "Display": ("utm_source=dv360&utm_medium=display&utm_campaign=retarget", ""),
    "Other": ("utm_source=flyer&utm_medium=print", ""),
}


def toml_value(v: Any) -> str:
    """conftest.write_config's values plus inline tables (dicts), also inside lists."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sites: list[dict[str, Any]], settings: dict[str, Any] | None = None) -> Path:
    lines = ["[settings]", *(f"{k} = {toml_value(v)}" for k, v in (settings or {}).items())] if settings else []
    for s in sites:
        lines.append("[[site]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in s.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Env:
    """One running collector with several sites; each test takes sites of its own."""

    def __init__(self, server: base.Server, keys: list[base.SiteKeys]):
        self.server = server
        self.free = list(keys)

    def site(self) -> base.SiteKeys:
        return self.free.pop(0)


@pytest.fixture(scope="module")
def env_factory(tmp_path_factory: pytest.TempPathFactory, engine_dir: Path, ch: Any) -> Iterator[Any]:
    running: list[tuple[Any, threading.Thread]] = []

    def start(site_extras: list[dict[str, Any]]) -> Env:
        pairs = [base.make_site("https://shop.example", **extra) for extra in site_extras]
        tmp = tmp_path_factory.mktemp("attr")
        mp = pytest.MonkeyPatch()
        mp.setattr(base, "write_config", write_config)  # start_server writes the config with it
        try:
            server, srv, th = base.start_server(tmp, engine_dir, [p[1] for p in pairs], [p[0] for p in pairs])
        finally:
            mp.undo()
        running.append((srv, th))
        assert server.app.state.score_sync.wait(20), server.app.state.score_sync.last_error
        return Env(server, [p[0] for p in pairs])

    yield start
    for srv, th in running:
        srv.should_exit = True
        th.join(timeout=30)


def iso(t: float) -> str:
    """`t` seconds after NOW (negative: in the past) as an ISO timestamp."""
    return (NOW + timedelta(seconds=t)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ms(t: float) -> int:
    return int((NOW + timedelta(seconds=t)).timestamp() * 1000)


def page(anon: str | None, t: float, channel: str = "Direct", session: str | None = None, user: str | None = None,
         path: str = "/", query: str | None = None, referrer: str | None = None) -> dict[str, Any]:
    q, ref = CHANNEL_VISITS[channel]
    q = q if query is None else query
    ref = ref if referrer is None else referrer
    ctx: dict[str, Any] = {"page": {"url": f"https://shop.example{path}" + (f"?{q}" if q else ""), "path": path,
                                    "referrer": ref}, "userAgent": UA}
    if session:
        ctx["sessionId"] = session
    m: dict[str, Any] = {"type": "page", "messageId": "m-" + secrets.token_hex(8), "timestamp": iso(t),
                         "context": ctx, "properties": {}}
    if anon:
        m["anonymousId"] = anon
    if user:
        m["userId"] = user
    return m


def track(anon: str | None, t: float, event: str, session: str | None = None, user: str | None = None,
          path: str = "/checkout", **props: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"page": {"url": f"https://shop.example{path}", "path": path}, "userAgent": UA}
    if session:
        ctx["sessionId"] = session
    m: dict[str, Any] = {"type": "track", "event": event, "messageId": "m-" + secrets.token_hex(8),
                         "timestamp": iso(t), "context": ctx, "properties": props}
    if anon:
        m["anonymousId"] = anon
    if user:
        m["userId"] = user
    return m


def identify(anon: str, t: float, user: str, session: str | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"userAgent": UA}
    if session:
        ctx["sessionId"] = session
    return {"type": "identify", "messageId": "m-" + secrets.token_hex(8), "timestamp": iso(t),
            "anonymousId": anon, "userId": user, "context": ctx, "traits": {}}


def post(server: base.Server, site: base.SiteKeys, batch: list[dict[str, Any]]) -> None:
    for i in range(0, len(batch), 500):
        r = server.post("/v1/batch", {"batch": batch[i:i + 500]}, key=site.write_key)
        assert r.status_code == 200, r.text
        assert not r.json()["rejected"], r.json()


def fresh(server: base.Server) -> None:
    server.flush()
    assert server.collector.identity.wait_fresh(20), server.collector.identity.last_error


def report(server: base.Server, token: str | None = base.ADMIN, **body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(server.url + "/v1/reports/attribution", json=body, headers=headers, timeout=120)


def ok_report(server: base.Server, **body: Any) -> dict[str, Any]:
    r = report(server, **body)
    assert r.status_code == 200, r.text
    return r.json()


def uid(prefix: str = "p") -> str:
    return f"{prefix}-{secrets.token_hex(5)}"
