"""`footpath plan infer` recovers the schema a data set was generated from; `plan check`
reads plan files offline with clear errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import yaml

from collector.cli import main
from collector.plans.check import check
from collector.plans.infer import draft_plan
from collector.plans.model import load_plan
from tests.conftest import ADMIN

# The generating schema: property -> (JSON type, required?, enum values or None)
TRUTH = {
    "Order Completed": {"order_id": ("string", True, None), "total": ("number", True, None),
                        "items": ("integer", True, None), "currency": ("string", True, ["EUR", "GBP", "USD"]),
                        "coupon": ("string", False, None), "gift": ("boolean", False, None)},
    "Signed Up": {"plan": ("string", True, ["free", "pro", "team"]), "referrer": ("string", False, None)},
    "page": {"path": ("string", True, None), "section": ("string", True, ["blog", "docs", "shop"])},
    "traits": {"email": ("string", True, None), "tier": ("string", True, ["gold", "silver"]),
               "age": ("integer", False, None)},
}


def value(rng: random.Random, jtype: str, enum: list | None, i: int):
    if enum:
        return rng.choice(enum)
    return {"string": f"v{i}-{rng.random():.6f}", "number": round(rng.uniform(1, 500), 2) + 0.5,
            "integer": rng.randint(1, 9), "boolean": rng.random() < 0.5}[jtype]


def generate(n: int = 120, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        for name, props in TRUTH.items():
            body = {k: value(rng, t, e, i) for k, (t, req, e) in props.items() if req or rng.random() < 0.6}
            if name == "page":
                out.append({"type": "page", "name": "P", "userId": f"u{i}", "properties": body})
            elif name == "traits":
                out.append({"type": "identify", "userId": f"u{i}", "traits": body})
            else:
                out.append({"type": "track", "event": name, "userId": f"u{i}", "properties": body})
    return out


def recovered(schema: dict) -> dict:
    req = set(schema.get("required", []))
    return {k: (p["type"], k in req, p.get("enum")) for k, p in schema["properties"].items()}


def test_infer_recovers_the_generating_schema(server, tmp_path: Path, monkeypatch, capsys):
    messages = generate()
    for i in range(0, len(messages), 100):
        r = server.post("/v1/batch", {"batch": messages[i:i + 100]}, key=server.site.write_key)
        assert r.json()["rejected"] == []
    server.flush()
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    out = tmp_path / "draft.yaml"
    code = main(["--url", server.url, "--data-dir", str(tmp_path / "d"), "plan", "infer", "--site", server.site.id,
                 "--days", "2", "--output", str(out)])
    assert code == 0, capsys.readouterr()
    plan_doc = yaml.safe_load(out.read_text())
    assert sorted(plan_doc["events"]) == ["Order Completed", "Signed Up"]
    for name in ("Order Completed", "Signed Up"):
        assert recovered(plan_doc["events"][name]) == TRUTH[name], name
    assert recovered(plan_doc["page"]) == TRUTH["page"]
    assert recovered(plan_doc["traits"]) == TRUTH["traits"]
    assert plan_doc["allow_unplanned"] is False and plan_doc["version"] == 1

    # The draft is a valid plan that passes every message it was drafted from.
    assert main(["plan", "check", str(out)]) == 0
    assert "ok: " in capsys.readouterr().out
    plan = load_plan(out)
    for m in messages:
        v = check(plan, "block", m["type"], m.get("event", ""), m.get("properties"), m.get("traits"))
        assert v.violations == [] and v.unplanned == [], (m, v)


def test_infer_rules_on_counts():
    """Enums need few values that recur; integers mixed with floats are numbers; nulls widen."""
    events = [("track", "E", 100)]
    props = [("track", "E", "c", "String", 100, 3, ['"a"', '"b"', '"c"']),
             ("track", "E", "rare", "String", 10, 4, ['"w"', '"x"', '"y"', '"z"']),
             ("track", "E", "n", "Int64", 60, 9, []), ("track", "E", "n", "Double", 40, 40, []),
             ("track", "E", "opt", "String", 50, 2, ['"p"', '"q"']), ("track", "E", "opt", "Null", 50, 1, [])]
    doc = draft_plan(events, props, max_enum=10, min_support=5)
    e = doc["events"]["E"]
    assert e["properties"]["c"] == {"type": "string", "enum": ["a", "b", "c"]}
    assert e["properties"]["rare"] == {"type": "string"}  # 4 values in 10 events: not an enum
    assert e["properties"]["n"] == {"type": "number"}
    assert e["properties"]["opt"] == {"type": ["null", "string"], "enum": ["p", "q", None]}
    assert e["required"] == ["c", "n", "opt"]


def test_plan_check_cli(tmp_path: Path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"version": 4, "events": {"A": {"type": "object"}, "B": {}},
                                "traits": {"type": "object"}}))
    assert main(["plan", "check", str(good)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"ok: {good}: version 4, 2 planned event(s), no page schema, traits schema, unplanned events allowed")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nevents:\n  A:\n    properties:\n      x: {type: strin}\n")
    assert main(["plan", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"plan check failed: {bad}: events.'A'['properties']['x']['type']: not a valid JSON Schema" in err


def test_plans_api_needs_the_admin_token(server):
    r = httpx.post(server.url + "/v1/plans/infer", json={"site": server.site.id})
    assert r.status_code == 401
    r = httpx.post(server.url + "/v1/plans/infer", json={"site": server.site.id, "days": 0},
                   headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 400 and "'days' must be between 1 and 400" in r.json()["error"]
    r = httpx.get(server.url + "/v1/plans", params={"site": server.site.id},
                  headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.json() == {"site": server.site.id, "plan": None}
