"""Helpers for the identity tests: post Segment messages with explicit times, wait until
the person dictionary reflects them, read persons from SQL and from the API."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import ADMIN

BASE = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)


def at(seconds: float) -> str:
    """An ISO timestamp `seconds` after a fixed base three days ago."""
    return (BASE + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ms(seconds: float) -> int:
    return int((BASE + timedelta(seconds=seconds)).timestamp() * 1000)


def msg(kind: str, t: float, anon: str | None = None, user: str | None = None, event: str | None = None,
        **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"type": kind, "timestamp": at(t), "messageId": extra.pop("messageId", None)
                         or "m-" + secrets.token_hex(8)}
    if anon:
        m["anonymousId"] = anon
    if user:
        m["userId"] = user
    if kind == "track":
        m["event"] = event or "Viewed"
    elif kind == "page":
        m["name"] = event or "Home"
    m.update(extra)
    return m


def post(server: Any, batch: list[dict[str, Any]], key: str | None = None, site: Any = None) -> dict[str, Any]:
    site = site or server.site
    r = server.post("/v1/batch", {"batch": batch}, key=key or site.write_key)
    assert r.status_code == 200, r.text
    return r.json()


def fresh(server: Any) -> None:
    """Everything posted so far is stored and reflected in footpath.events_person."""
    server.flush()
    assert server.collector.identity.wait_fresh(20), server.collector.identity.last_error


def view_persons(server: Any, site: Any = None) -> dict[str, str]:
    """message_id -> person_id from footpath.events_person."""
    site = site or server.site
    fresh(server)
    rows = server.sql("SELECT message_id, person_id FROM footpath.events_person WHERE site_id = {s:String}",
                      {"s": site.id})
    return dict((r[0], r[1]) for r in rows)


def funnel(server: Any, steps: list[str], key: str = "person_id") -> dict[str, int]:
    """Entered-step counts of an eventual-path funnel over the view, keyed by person (or by
    anonymous_id), computed with windowFunnel."""
    fresh(server)
    conds = ", ".join(f"event = '{s}'" for s in steps)
    none = "0" if key == "person_key" else "''"
    rows = server.sql(
        f"SELECT level, count() FROM (SELECT {key} AS k, windowFunnel(86400 * 30)(toDateTime(timestamp), {conds}) "
        f"AS level FROM footpath.events_person WHERE site_id = {{s:String}} AND {key} != {none} GROUP BY k) "
        "GROUP BY level", {"s": server.site.id})
    levels = dict((int(r[0]), int(r[1])) for r in rows)
    return {s: sum(n for lv, n in levels.items() if lv >= i + 1) for i, s in enumerate(steps)}


def api(server: Any, method: str, site_id: str, ref: str, token: str | None = ADMIN, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{server.url}/v1/persons/{quote(site_id, safe='')}/{quote(ref, safe='')}",
                         headers=headers, params=params, timeout=60)


@pytest.fixture
def two_site_server(server_factory: Any) -> Any:
    return server_factory(n_sites=2)
