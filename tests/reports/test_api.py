"""The report API's edges: auth, unknown sites, 400s that name the field, bound parameters,
and the `footpath report` commands."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from collector.cli import main
from collector.query.sql import sql_limits
from collector.reports import api
from collector.write.store import Store
from tests.conftest import ADMIN
from tests.reports.conftest import Env

STEPS = [{"type": "page", "path": "/product/*"}, {"type": "track", "event": "Product Added"}]


def test_admin_token_required(reports_env: Env) -> None:
    body = {"site": reports_env.sites["main"], "steps": STEPS}
    assert httpx.post(f"{reports_env.url}/v1/reports/fallout", json=body, timeout=30).status_code == 401
    assert reports_env.post("fallout", body, token="wrong").status_code == 401
    assert reports_env.post("paths", {"site": reports_env.sites["main"]}, token="nope").status_code == 401


def test_unknown_site(reports_env: Env) -> None:
    r = reports_env.post("fallout", {"site": "nosuchsite", "steps": STEPS})
    assert r.status_code == 404 and r.json()["field"] == "site"
    r = reports_env.post("paths", {"site": "x' OR 1=1 --"})
    assert r.status_code == 404


BAD_FALLOUT = [
    ({}, "site"),
    ({"steps": []}, "steps"),
    ({"steps": "page"}, "steps"),
    ({"steps": [{"type": "click"}]}, "steps[0].type"),
    ({"steps": [STEPS[0], {}]}, "steps[1]"),
    ({"steps": [{"event": 5}]}, "steps[0].event"),
    ({"steps": [{"event": "A", "properties": {"x": {"nested": 1}}}]}, "steps[0].properties.x"),
    ({"steps": [{"event": "A", "colour": "red"}]}, "steps[0].colour"),
    ({"steps": [{"event": "A"}] * 17}, "steps"),
    ({"steps": STEPS, "window_seconds": 0}, "window_seconds"),
    ({"steps": STEPS, "window_seconds": "1h"}, "window_seconds"),
    ({"steps": STEPS, "container": "device"}, "container"),
    ({"steps": STEPS, "mode": "loose"}, "mode"),
    ({"steps": STEPS, "from": "yesterday"}, "from"),
    ({"steps": STEPS, "from": "2026-02-01", "to": "2026-01-01"}, "to"),
    ({"steps": STEPS, "breakdown": "password"}, "breakdown"),
    ({"steps": STEPS, "segment": {"filters": []}}, "segment.filters"),
    ({"steps": STEPS, "segment": {"filters": [{"event": "A", "since": "2026-13-01"}]}}, "segment.filters[0].since"),
    ({"steps": STEPS, "segment": {"filters": [{"event": "A", "did": "no"}]}}, "segment.filters[0].did"),
    ({"steps": STEPS, "include_bots": 1}, "include_bots"),
    ({"steps": STEPS, "surprise": True}, "surprise"),
]


@pytest.mark.parametrize("body,field", BAD_FALLOUT, ids=[f for _, f in BAD_FALLOUT])
def test_fallout_400_names_the_field(reports_env: Env, body: dict[str, Any], field: str) -> None:
    if field != "site":
        body = {"site": reports_env.sites["main"], **body}
    r = reports_env.post("fallout", body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert field in r.json()["error"]


BAD_PATHS = [
    ({"start": {"path": "/a"}, "end": {"path": "/b"}}, "end"),
    ({"depth": 0}, "depth"),
    ({"depth": 11}, "depth"),
    ({"top": 0}, "top"),
    ({"include": ["page", "click"]}, "include[1]"),
    ({"include": []}, "include"),
    ({"start": {}}, "start"),
    ({"collapse_repeats": "yes"}, "collapse_repeats"),
]


@pytest.mark.parametrize("body,field", BAD_PATHS, ids=[f for _, f in BAD_PATHS])
def test_paths_400_names_the_field(reports_env: Env, body: dict[str, Any], field: str) -> None:
    r = reports_env.post("paths", {"site": reports_env.sites["main"], **body})
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field


def test_values_are_bound_not_interpolated(reports_env: Env) -> None:
    hostile = "x' OR 1=1) --"
    doc = reports_env.report("fallout", "main", {"steps": [{"type": "track", "event": hostile},
                                                           {"path": "%' OR '1'='1",
                                                            "properties": {"category": "yo'ga\\"}}],
                                                 "breakdown": "properties.category"})
    assert [s["entered"] for s in doc["steps"]] == [0, 0]
    doc = reports_env.report("paths", "main", {"start": {"type": "page", "path": "/x'; DROP TABLE footpath.events --"}})
    assert doc["nodes"] == [] and doc["containers"] == 0
    # LIKE wildcards in a value are literal: only * and ? are glob characters
    doc = reports_env.report("fallout", "main", {"steps": [{"type": "page", "path": "/product/_"}]})
    assert doc["steps"][0]["entered"] == 0


def test_default_range_and_request_echo(reports_env: Env) -> None:
    r = reports_env.post("fallout", {"site": reports_env.sites["window"], "steps": STEPS, "container": "session"})
    assert r.status_code == 200
    doc = r.json()
    assert [s["entered"] for s in doc["steps"]] == [4, 3]  # the last 30 days hold the whole dataset
    assert doc["request"]["container"] == "session" and doc["request"]["mode"] == "eventual"
    assert doc["steps"][0]["label"] == "/product/*" and doc["steps"][1]["label"] == "Product Added"


def test_cli_report_commands(reports_env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                             tmp_path: Any) -> None:
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    monkeypatch.setenv("FOOTPATH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FOOTPATH_CONFIG", raising=False)
    site = reports_env.sites["window"]
    rng = reports_env.range()
    args = ["--url", reports_env.url, "report", "fallout", "--site", site, "--from", rng["from"], "--to", rng["to"],
            "--step", "page:/product/*", "--step", "track:Product Added", "--window", "600", "--container", "session"]
    assert main(args + ["--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert [s["entered"] for s in doc["steps"]] == [4, 2]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "/product/*" in out and "Product Added" in out and "550.0" in out
    assert main(["--url", reports_env.url, "report", "paths", "--site", reports_env.sites["strict"],
                 "--from", rng["from"], "--to", rng["to"], "--include", "page,track", "--depth", "2", "--top", "1",
                 "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert {n["id"]: n["count"] for n in doc["nodes"]}["1:Checkout Started"] == 3
    assert main(["--url", reports_env.url, "report", "fallout", "--site", site, "--step", "track:A",
                 "--window", "-5"]) == 1
    assert "window_seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["--url", "http://127.0.0.1:9", "report", "paths", "--site", site])
    assert stop.value.code == 2
    assert "no collector answers" in capsys.readouterr().err


def test_cli_bad_options_are_usage_errors_and_paths_take_a_segment(
        reports_env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Any) -> None:
    """Found in QA: a bad --segment or --body ended in a Python traceback, and `report paths`
    had no --segment although paths take segments (docs/reports.md)."""
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    monkeypatch.setenv("FOOTPATH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FOOTPATH_CONFIG", raising=False)
    site, rng = reports_env.sites["strict"], reports_env.range()
    base = ["--url", reports_env.url, "report"]
    with pytest.raises(SystemExit) as stop:
        main(base + ["fallout", "--site", site, "--step", "page:/", "--segment", "{bad"])
    assert stop.value.code == 2 and "--segment: not valid JSON" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{nope")
    for body, words in ((tmp_path / "missing.json", "No such file"), (tmp_path / "bad.json", "not valid JSON")):
        with pytest.raises(SystemExit) as stop:
            main(base + ["paths", "--site", site, "--body", str(body)])
        assert words in str(stop.value.code)
    paths = base + ["paths", "--site", site, "--from", rng["from"], "--to", rng["to"], "--include", "page,track",
                    "--json"]
    assert main(paths) == 0
    everyone = orjson.loads(capsys.readouterr().out)
    nobody = {"filters": [{"type": "track", "event": "No Such Event"}]}
    assert main(paths + ["--segment", orjson.dumps(nobody).decode()]) == 0
    segmented = orjson.loads(capsys.readouterr().out)
    assert everyone["nodes"] and segmented["nodes"] == []  # the segment reached the report


@pytest.mark.parametrize("kind", ["fallout", "paths"])
@pytest.mark.parametrize("container", ["session", "person"])
def test_reports_are_not_cut_by_the_sql_row_limit(reports_env: Env, engine_dir: Any, kind: str,
                                                  container: str) -> None:
    """sql_max_rows limits what /v1/sql returns; the reports stream every row of the range
    through the collector, and must not fail when those are more (with the shipped
    100,000 a report over more rows than that failed)."""
    limited = Store("chdb://" + str(engine_dir), sql_limits(20, 10, 2 << 30))
    site = reports_env.sites["main"]
    with limited.reading() as c:
        assert c.query(f"SELECT count() FROM footpath.report_steps WHERE site_id = '{site}'"
                       ).result_rows[0][0] > 10 * 50  # the views' rows are far more than the limit
    with pytest.raises(DatabaseError, match="TOO_MANY_ROWS|Limit for result"), limited.reading() as c:
        c.query(f"SELECT t FROM footpath.report_steps WHERE site_id = '{site}'")  # /v1/sql's client keeps it
    body = {"site": site, **reports_env.range(), "container": container,
            **({"steps": STEPS} if kind == "fallout" else {"depth": 3})}
    run = api.run_fallout if kind == "fallout" else api.run_paths
    for source in ("mv", "raw"):
        got = run(limited, {**body, "source": source})
        want = reports_env.report(kind, "main", {**body, "source": source})
        strip = ("elapsed_ms", "request")
        assert {k: v for k, v in got.items() if k not in strip} == {k: v for k, v in want.items() if k not in strip}
