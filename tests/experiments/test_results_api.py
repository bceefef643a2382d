"""POST /v1/reports/experiment on the real engine: first exposure per person (identities
resolved), conversions only after it, metrics, guardrails, SRM, the CLI."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from collector.experiments import stats
from collector.experiments.assign import assign
from tests.conftest import ADMIN
from tests.experiments.conftest import EXPERIMENT

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def msg(event: str, at: datetime, anon: str = "", user: str = "", **props: object) -> dict:
    m = {"type": "track", "event": event, "messageId": str(uuid.uuid4()), "timestamp": at.isoformat(),
         "properties": props}
    if anon:
        m["anonymousId"] = anon
    if user:
        m["userId"] = user
    return m


def exposure(v: str, at: datetime, **ids: str) -> dict:
    return msg("Experiment Viewed", at, experiment_id="checkout-button", variation_id=v, **ids)


def report(srv, **kw) -> dict:
    r = httpx.post(srv.url + "/v1/reports/experiment", headers={"Authorization": f"Bearer {ADMIN}"},
                   json={"site": srv.site.id, "experiment": "checkout-button", "from": "2026-11-01",
                         "to": "2026-11-10", **kw}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_results_table(exp_server_factory) -> None:
    srv = exp_server_factory({"experiment": [EXPERIMENT]})
    batch, truth = [], {"control": [0, 0, []], "green": [0, 0, []]}
    for i in range(400):
        anon = f"a{i}"
        v = ("control", "green")[assign("checkout-button", anon, (50, 50))]
        t = T0 + timedelta(minutes=i)
        batch.append(msg("Order Completed", t - timedelta(seconds=30), anon, revenue=999))  # before: ignored
        batch.append(exposure(v, t, anon=anon))
        batch.append(exposure("control" if v == "green" else "green", t + timedelta(seconds=5), anon=anon))  # later: ignored
        truth[v][0] += 1
        rev = 0.0
        if i % (4 if v == "green" else 6) == 0:
            batch.append(msg("Order Completed", t + timedelta(hours=1), anon, revenue=10 + i % 7))
            truth[v][1] += 1
            rev = 10 + i % 7
        truth[v][2].append(rev)
        if i % 10 == 0:
            batch.append(msg("Order Refunded", t + timedelta(hours=2), anon))
    for k in range(0, len(batch), 200):
        r = srv.post("/v1/batch", {"batch": batch[k:k + 200]}, key=srv.site.write_key)
        assert r.status_code == 200 and not r.json()["rejected"], r.text
    srv.flush()
    out = report(srv)
    c, g = out["variants"]
    assert (c["key"], g["key"]) == ("control", "green")
    assert (c["persons"], c["conversions"]) == tuple(truth["control"][:2])
    assert (g["persons"], g["conversions"]) == tuple(truth["green"][:2])
    ref = stats.compare_rates(g["conversions"], g["persons"], c["conversions"], c["persons"])
    assert g["uplift"] == pytest.approx(ref["uplift"]) and g["p_value"] == pytest.approx(ref["p_value"])
    assert c["uplift"] is None and c["p_value"] is None
    assert c["rate_ci"] == pytest.approx(list(stats.wilson(c["conversions"], c["persons"])))
    assert g["chance_to_beat_control"] == pytest.approx(
        stats.chance_to_beat(g["conversions"], g["persons"], c["conversions"], c["persons"]))
    assert g["chance_to_beat_control"] > 0.5 and "sequential_p_value" in g  # green converts more
    srm = stats.srm_p_value([c["persons"], g["persons"]], [50, 50])
    assert out["srm_p_value"] == pytest.approx(srm) and out["srm"] is False
    revenue = out["metrics"][0]
    assert revenue["name"] == "revenue" and revenue["kind"] == "value"
    assert revenue["variants"][1]["total"] == pytest.approx(sum(truth["green"][2]))
    assert revenue["variants"][0]["mean"] == pytest.approx(sum(truth["control"][2]) / len(truth["control"][2]))
    refunds = out["metrics"][1]
    assert refunds["guardrail"] and sum(v["conversions"] for v in refunds["variants"]) == 40
    assert out["curves"]["variants"]["green"]["persons"][-1] == g["persons"]
    assert isinstance(out["verdict"], str) and out["verdict"]
    assert out["sample_size"]["per_variant"] == stats.sample_size(c["rate"], 0.05)


def test_first_exposure_across_devices_and_identities(exp_server_factory) -> None:
    srv = exp_server_factory({"experiment": [EXPERIMENT]})
    batch = [
        exposure("green", T0, anon="dev1"),
        msg("Signed In", T0 + timedelta(minutes=1), "dev1", "user-1"),  # links dev1 to user-1
        {"type": "identify", "userId": "user-1", "anonymousId": "dev1", "messageId": str(uuid.uuid4()),
         "timestamp": (T0 + timedelta(minutes=1)).isoformat()},
        exposure("control", T0 + timedelta(hours=1), anon="dev2", user="user-1"),  # other device: later
        msg("Order Completed", T0 + timedelta(hours=2), "dev2", "user-1", revenue=5),
        exposure("control", T0, anon="solo"),
    ]
    r = srv.post("/v1/batch", {"batch": batch}, key=srv.site.write_key)
    assert r.status_code == 200 and not r.json()["rejected"], r.text
    srv.flush()
    c, g = report(srv)["variants"]
    assert (g["persons"], g["conversions"]) == (1, 1)
    assert (c["persons"], c["conversions"]) == (1, 0)


def test_srm_flagged_and_errors(exp_server_factory) -> None:
    srv = exp_server_factory({"experiment": [EXPERIMENT]})
    batch = [exposure("control" if i < 700 else "green", T0 + timedelta(seconds=i), anon=f"p{i}") for i in range(1000)]
    for k in range(0, 1000, 250):
        srv.post("/v1/batch", {"batch": batch[k:k + 250]}, key=srv.site.write_key)
    srv.flush()
    out = report(srv)
    assert out["srm"] is True and out["srm_p_value"] < 0.001 and "mismatch" in out["verdict"].lower()
    h = {"Authorization": f"Bearer {ADMIN}"}
    url = srv.url + "/v1/reports/experiment"
    assert httpx.post(url, json={"site": srv.site.id, "experiment": "nope"}, headers=h).status_code == 404
    for body, field, words in (({"site": srv.site.id}, "experiment", "required"), ({}, "site", "required")):
        r = httpx.post(url, json=body, headers=h)  # found in QA: "no experiment None", "unknown site None"
        assert r.status_code == 400 and r.json()["field"] == field and words in r.json()["error"], r.text
    assert httpx.post(url, json={"site": srv.site.id, "experiment": "checkout-button", "from": "x"},
                      headers=h).json()["field"] == "from"
    assert httpx.post(url, json={"site": srv.site.id, "experiment": "checkout-button"}).status_code == 401
    assert not math.isnan(out["variants"][0]["rate"])
    # a range without exposures says so, instead of "within chance" (found in QA)
    empty = report(srv, **{"from": "2026-10-01", "to": "2026-10-05"})
    assert [v["persons"] for v in empty["variants"]] == [0, 0]
    assert empty["verdict"].startswith("No exposures") and "chance" not in empty["verdict"], empty["verdict"]


def test_cli_report_experiment(exp_server_factory, monkeypatch, capsys, tmp_path) -> None:
    from collector.cli import main

    srv = exp_server_factory({"experiment": [EXPERIMENT]})
    batch = [exposure(("control", "green")[i % 2], T0 + timedelta(seconds=i), anon=f"c{i}") for i in range(40)]
    batch += [msg("Order Completed", T0 + timedelta(minutes=5), f"c{i}") for i in range(0, 40, 3)]
    srv.post("/v1/batch", {"batch": batch}, key=srv.site.write_key)
    srv.flush()
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    monkeypatch.delenv("FOOTPATH_CONFIG", raising=False)
    monkeypatch.setenv("FOOTPATH_DATA_DIR", str(tmp_path))
    args = ["--url", srv.url, "report", "experiment", "--site", srv.site.id, "--experiment", "checkout-button",
            "--from", "2026-11-01", "--to", "2026-11-09"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "control" in out and "green" in out and "sample ratio check" in out
    assert main([*args, "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert [v["persons"] for v in doc["variants"]] == [20, 20]
    assert main(["--url", srv.url, "report", "experiment", "--site", srv.site.id, "--experiment", "nope"]) == 1
    capsys.readouterr()
    # an error about a field names the option (found in QA: only the fallout/paths/attribution ones did)
    assert main([*args[:-4], "--from", "2026-13-01"]) == 1
    assert "(set it with --from)" in capsys.readouterr().err


def test_an_overwhelming_winner_is_declared_though_its_p_value_is_exactly_zero() -> None:
    """Found in QA: at 25,000 persons per arm, 10 % against 30 %, the sequential p-value
    underflows to 0.0, which `or 1` took for missing: "no winner yet"."""
    from collector.experiments.results import verdict

    base = {"srm": False, "srm_p_value": 0.5, "metrics": [], "sample_size": {"remaining": 0, "mde": 0.05}}
    variants = [{"key": "control", "persons": 25000, "rate": 0.1, "uplift": None, "sequential_p_value": None},
                {"key": "green", "persons": 25000, "rate": 0.3, "uplift": 2.0, "sequential_p_value": 0.0}]
    assert verdict({**base, "variants": variants}).startswith("'green' beats 'control'")


def test_bandit_weights_recomputed_and_served(exp_server_factory) -> None:
    from collector.experiments import registry

    srv = exp_server_factory({"experiment": [{**EXPERIMENT, "allocation": "bandit", "bandit_floor": 0.05,
                                              "start": "2026-11-01"}]})
    batch = []
    for i in range(400):
        v = ("control", "green")[i % 2]
        batch.append(exposure(v, T0 + timedelta(seconds=i), anon=f"b{i}"))
        if (v == "green" and i % 6 < 2) or (v == "control" and i % 20 == 0):
            batch.append(msg("Order Completed", T0 + timedelta(seconds=i, minutes=3), f"b{i}"))
    for k in range(0, len(batch), 200):
        srv.post("/v1/batch", {"batch": batch[k:k + 200]}, key=srv.site.write_key)
    srv.flush()
    site = srv.collector.sites[srv.site.id]
    exp = registry.find(site, "checkout-button")
    w = srv.app.state.bandits.update(site, exp)
    assert w[1] > 0.9 and w[0] == pytest.approx(0.05, abs=0.01)
    cfg = httpx.get(f"{srv.url}/v1/sites/{srv.site.public_key}/config").json()
    assert cfg["experiments"]["checkout-button"]["weights"] == pytest.approx(w)
    assert report(srv)["weights_served"] == pytest.approx(w)
    assert report(srv)["srm_p_value"] is None  # weights move under a bandit: no SRM test
