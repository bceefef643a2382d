"""/openapi.json documents every HTTP endpoint, and accurately:

* the app's routes are walked: each one (but the pages and static files listed in
  collector.ops.openapi.NON_API) must be documented with each of its methods, and nothing
  is documented that the app does not serve;
* schemathesis drives the collector from the published schema: no 5xx, status codes,
  content types and bodies as documented, whatever it generates;
* every documented operation is called once with a real, valid request against a site
  with data, a tracking plan and an experiment, and its answer must match the document."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.routing import Mount, Route

import tests.conftest as base
from collector.app import build_app
from collector.ops.openapi import NON_API, openapi_document
from collector.settings import load_settings
from tests.conftest import ADMIN
from tests.experiments.conftest import EXPERIMENT
from tests.experiments.conftest import write_config as write_nested_config
from tests.plans.conftest import order, plan_doc, write_plan

_c = schemathesis.checks
CHECKS = [_c.not_a_server_error, _c.status_code_conformance, _c.content_type_conformance,
          _c.response_schema_conformance, _c.negative_data_rejection]
_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def app_operations(app: Any) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every API route of the app; fails on an unlisted Mount."""
    out = set()
    for r in app.routes:
        if r.path in NON_API:
            continue
        assert not isinstance(r, Mount), f"mount {r.path} is neither documented nor listed in NON_API"
        assert isinstance(r, Route), r
        for m in sorted(r.methods or ()):
            if m != "HEAD":  # Starlette adds HEAD to every GET
                out.add((_CONVERTER.sub(r"{\1}", r.path), m.lower()))
    return out


def test_every_route_is_documented(tmp_path: Path) -> None:
    cfg = tmp_path / "f.toml"
    cfg.write_text('[[site]]\nid = "s"\npublic_key = "pk_s_123456"\n')
    app = build_app(load_settings(str(cfg), env={}, overrides={
        "data_dir": str(tmp_path / "data"), "clickhouse_url": "chdb://" + str(tmp_path / "ch")}))
    served = app_operations(app)
    doc = openapi_document()
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served - documented == set(), "routes missing from /openapi.json"
    assert documented - served == set(), "documented operations the app does not serve"
    assert ("/v1/reports/fallout", "post") in served and ("/v1/persons/{site}/{ref}", "delete") in served
    # every admin route says so, and every operation says what it answers
    for (p, m) in documented:
        op = doc["paths"][p][m]
        assert op.get("responses"), (p, m)
        if p.startswith(("/v1/reports", "/v1/persons", "/v1/plans", "/v1/quarantine", "/v1/quality", "/v1/sql",
                         "/v1/admin")) or p == "/v1/experiments":
            assert op.get("security") == [{"admin": []}], (p, m)
            assert "401" in op["responses"], (p, m)


def _headers(op: Any, server: Any) -> dict[str, str]:
    security = op.definition.raw.get("security") or []
    if {"admin": []} in security:
        return {"Authorization": f"Bearer {ADMIN}"}
    if {"writeKey": []} in security:
        return {"Authorization": "Basic " + base64.b64encode(f"{server.site.write_key}:".encode()).decode()}
    return {}


def wait_ready(url: str) -> None:
    """/readyz answers 503 (a 5xx to schemathesis) until recent message ids are loaded."""
    deadline = time.time() + 30
    while httpx.get(url + "/readyz", timeout=10).status_code != 200:
        assert time.time() < deadline, "collector never became ready"
        time.sleep(0.1)


def test_api_conforms_to_its_schema(rich_server):
    server = rich_server  # a site with data, a tracking plan (block mode) and an experiment
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 34
    for op in operations:
        check_operation(op, server.url, _headers(op, server),
                        {"site": server.site.id, "experiment": EXPERIMENT["key"]})


def check_operation(op, base_url: str, headers: dict, real: dict | None = None) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=op.as_strategy())
    def check(case):
        # A random site id or experiment key only reaches the 404; most cases name the real
        # ones, so the rest of each generated request is parsed and run.
        if real and hash(repr(case.body)) % 4:
            for part in (case.body, case.query, case.path_parameters):
                for k, v in real.items():
                    if isinstance(part, dict) and k in part:
                        part[k] = v
        # Schema-valid is not always semantically valid (any string is not valid SQL, a
        # track without an event is rejected), so positive-data acceptance is not checked.
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    check()


# -- real answers against the document ------------------------------------------------------------
@pytest.fixture
def rich_server(server_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A site with a tracking plan in block mode, an experiment, and stored events."""
    monkeypatch.setattr(base, "write_config", write_nested_config)
    plan = write_plan(tmp_path / "plan.json", plan_doc(allow_unplanned=True))
    server = server_factory({"experiment": [EXPERIMENT], "tracking_plan": str(plan), "plan_mode": "block"})
    now = time.time()
    batch = []
    for i in range(6):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600 * (i + 1)))
        ctx = {"sessionId": f"s{i}", "page": {"path": "/product/1", "url": "https://shop.example/product/1"}}
        batch += [
            {"type": "page", "anonymousId": f"a{i}", "userId": f"u{i}", "timestamp": ts, "context": ctx},
            {"type": "track", "event": "Experiment Viewed", "anonymousId": f"a{i}", "userId": f"u{i}", "timestamp": ts,
             "properties": {"experiment": EXPERIMENT["key"], "variant": ["control", "green"][i % 2]}, "context": ctx},
            {**order(i), "anonymousId": f"a{i}", "timestamp": ts, "context": ctx},
        ]
    batch.append(order(99, total=-1))  # blocked by the plan: quarantined
    r = httpx.post(server.url + "/v1/batch", auth=(server.site.write_key, ""), json={"batch": batch}, timeout=30)
    assert r.status_code == 200 and not r.json()["rejected"], r.text
    bad = {"batch": [{"type": "track", "userId": "u1", "event": "Order Completed", "properties": [1]}]}
    assert httpx.post(server.url + "/v1/batch", auth=(server.site.write_key, ""), json=bad,
                      timeout=30).json()["rejected"]  # kept in footpath.rejected_messages
    server.flush()
    wait_ready(server.url)
    return server


def _real_requests(server: Any) -> dict[tuple[str, str], dict[str, Any]]:
    site = server.site.id
    step = {"type": "page", "path": "/product/*"}
    return {
        ("/v1/batch", "post"): {"body": {"batch": [{"type": "page", "anonymousId": "x"}]}},
        ("/v1/batch", "options"): {"headers": {"Origin": "https://shop.example"}, "expect": 204},
        **{(f"/v1/{t}", "post"): {"body": {"type": t, "anonymousId": "x", "userId": "y", "previousId": "z",
                                           "groupId": "g", "event": "E"}}
           for t in ("track", "page", "screen", "identify", "group")},
        ("/v1/alias", "post"): {"body": {"type": "alias", "userId": "y", "previousId": "z"}},
        **{(f"/v1/{t}", "options"): {"headers": {"Origin": "https://shop.example"}, "expect": 204}
           for t in ("track", "page", "screen", "identify", "group", "alias")},
        # analytics.js's names for the same endpoints
        ("/v1/b", "post"): {"body": {"batch": [{"type": "page", "anonymousId": "x"}]}},
        **{(p, "post"): {"body": {"batch": [{"type": "page", "anonymousId": "x"}], "context": {"locale": "en"}}}
           for p in ("/v1/import", "/v1/import/")},
        **{(f"/v1/{t[0]}", "post"): {"body": {"type": t, "anonymousId": "x", "userId": "y", "previousId": "z",
                                              "groupId": "g", "event": "E"}}
           for t in ("track", "page", "screen", "identify", "group")},
        ("/v1/a", "post"): {"body": {"type": "alias", "userId": "y", "previousId": "z"}},
        **{(f"/v1/{t}", "options"): {"headers": {"Origin": "https://shop.example"}, "expect": 204}
           for t in ("b", "t", "p", "s", "i", "g", "a", "import", "import/")},
        ("/v1/sites/{key}/config", "get"): {"path_parameters": {"key": server.site.public_key}},
        ("/v1/projects/{key}/settings", "get"): {"path_parameters": {"key": server.site.public_key}},
        ("/openapi.json", "get"): {}, ("/healthz", "get"): {}, ("/metrics", "get"): {},
        ("/readyz", "get"): {},
        ("/v1/admin/flush", "post"): {},
        ("/v1/sql", "post"): {"body": {"sql": "SELECT count() AS n FROM footpath.events WHERE site_id = {s:String}",
                                       "params": {"s": site}}},
        ("/v1/persons/{site}/{ref}", "get"): {"path_parameters": {"site": site, "ref": "u:u1"}},
        ("/v1/persons/{site}/{ref}", "delete"): {"path_parameters": {"site": site, "ref": "u:u2"},
                                                 "query": {"dry_run": "1"}},
        ("/v1/reports/fallout", "post"): {"body": {
            "site": site, "steps": [step, {"type": "track", "event": "Order Completed"}], "breakdown": "country_code",
            "segment": {"filters": [{"event": "Order Completed"}, {"lead_score": {"min": 0}}], "match": "any"}}},
        ("/v1/reports/paths", "post"): {"body": {"site": site, "include": ["page", "track"], "depth": 3}},
        ("/v1/reports/experiment", "post"): {"body": {"site": site, "experiment": EXPERIMENT["key"]}},
        ("/v1/reports/attribution", "post"): {"body": {"site": site, "conversion": {"event": "Order Completed"},
                                                       "value_property": "total"}},
        ("/v1/reports/sites", "get"): {},
        ("/v1/plans", "get"): {"query": {"site": site}},
        ("/v1/plans/infer", "post"): {"body": {"site": site, "days": 7}},
        ("/v1/quarantine", "get"): {"query": {"site": site}},
        ("/v1/quarantine/replay", "post"): {"body": {"site": site, "dry_run": True}},
        ("/v1/quality", "get"): {"query": {"site": site}},
        ("/v1/rejected", "get"): {"query": {"site": site}},
        ("/v1/experiments", "get"): {},
        ("/v1/experiments/assign", "get"): {"query": {"experiment": EXPERIMENT["key"], "anonymous_id": "a1"}},
    }


def test_documented_answers_match_real_ones(rich_server: Any) -> None:
    server = rich_server
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = {(op.path, op.method.lower()): op for op in (r.ok() for r in schema.get_all_operations())}
    requests = _real_requests(server)
    # (schemathesis leaves out the document's own path)
    assert set(operations) == set(requests) - {("/openapi.json", "get")}, "one real request per documented operation"
    checks = [_c.not_a_server_error, _c.status_code_conformance, _c.content_type_conformance,
              _c.response_schema_conformance]
    for key, spec in sorted(requests.items()):
        if key not in operations:
            continue
        op = operations[key]
        spec = dict(spec)
        expect = spec.pop("expect", 200)
        headers = {**_headers(op, server), **spec.pop("headers", {})}
        if "body" in spec:
            spec["media_type"] = "application/json"
        case = op.Case(**spec)
        response = case.call(base_url=server.url, headers=headers)
        assert response.status_code in (expect if isinstance(expect, tuple) else (expect,)), (
            key, response.status_code, response.text[:500])
        case.validate_response(response, checks=checks, headers=headers)


@pytest.mark.parametrize("path,body,status", [
    ("/v1/reports/attribution", {"conversion": {"event": "Order Completed"}, "to": "9999-12-31"}, 400),
    ("/v1/reports/attribution", {"conversion": {"event": "Order Completed"}, "to": "0001-01-01T00:00:00"}, 400),
    ("/v1/reports/fallout", {"steps": [{"event": "x"}], "to": "9999-12-31"}, 400),  # a date as its datetime (when.py)
    ("/v1/reports/experiment", {"experiment": EXPERIMENT["key"], "from": "0001-01-01"}, 400),
])
def test_extreme_dates_are_not_server_errors(rich_server: Any, path: str, body: dict[str, Any], status: int) -> None:
    """Found while documenting: dates near year 1 or 9999 overflowed (500) in attribution and quality."""
    r = httpx.post(rich_server.url + path, json={"site": rich_server.site.id, **body},
                   headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
    assert r.status_code == status, r.text
    for q in ({"to": "0001-01-01T00:00:00"}, {"from": "9999-12-31T23:00:00", "to": "9999-12-31T23:30:00"}):
        r = httpx.get(rich_server.url + "/v1/quality", params={"site": rich_server.site.id, **q},
                      headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
        assert r.status_code == 400, r.text
