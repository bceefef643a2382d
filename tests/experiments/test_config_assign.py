"""Config validation, the assignment hash and GET /v1/experiments/assign."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import numpy as np
import pytest

from collector.experiments.assign import assign, bucket, fnv1a32
from collector.experiments.config import parse_experiments
from collector.settings import load_settings
from tests.experiments.conftest import EXPERIMENT, write_config


def test_fnv1a_known_vectors() -> None:
    # published FNV-1a 32-bit test vectors
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968


def test_parse_typed() -> None:
    (e,) = parse_experiments([{**EXPERIMENT, "allocation": "bandit", "control_share": 0.5}])
    assert e.keys == ("control", "green") and e.weights == (50.0, 50.0)
    assert e.goal[0].event == "Order Completed"
    assert e.metrics[0].property == "revenue" and e.guardrails[0].guardrail
    assert e.allocation == "bandit" and e.control_share == 0.5 and e.bandit_floor == 0.01


@pytest.mark.parametrize(("change", "needle"), [
    ({"variants": [{"key": "control", "weight": 1}]}, "'variants'"),
    ({"goal": None}, "'goal'"),
    ({"goal": {"type": "click"}}, "'goal.type'"),
    ({"allocation": "greedy"}, "'allocation'"),
    ({"colour": 1}, "'colour'"),
    ({"variants": [{"key": "a", "weight": -1}, {"key": "b", "weight": 1}]}, "variants[0].weight"),
    ({"winner": "blue"}, "'winner'"),
])
def test_config_errors_name_site_and_field(tmp_path: Path, change: dict, needle: str) -> None:
    exp = {**EXPERIMENT, **change}
    exp = {k: v for k, v in exp.items() if v is not None}
    cfg = write_config(tmp_path / "f.toml", [{"id": "shop", "public_key": "pk_shop_1", "experiment": [exp]}])
    with pytest.raises((SystemExit, ValueError)) as ei:
        load_settings(str(cfg), env={}, overrides={"data_dir": str(tmp_path)})
    msg = str(ei.value)
    assert "site 'shop'" in msg and "experiment 'checkout-button'" in msg and needle in msg, msg


def test_split_matches_weights_chi_square() -> None:
    from scipy.stats import chisquare

    weights = (20, 30, 50)
    idx = np.array([assign("exp-a", f"anon-{i}", weights) for i in range(30_000)])
    counts = np.bincount(idx, minlength=3)
    expected = np.array(weights) / 100 * len(idx)
    assert chisquare(counts, expected).pvalue > 0.001, counts


def test_experiments_independent() -> None:
    from scipy.stats import chi2_contingency

    a = np.array([assign("exp-a", f"u{i}", (1, 1)) for i in range(20_000)])
    b = np.array([assign("exp-b", f"u{i}", (1, 1)) for i in range(20_000)])
    table = np.zeros((2, 2))
    np.add.at(table, (a, b), 1)
    assert chi2_contingency(table).pvalue > 0.001, table
    # buckets themselves uncorrelated
    ua = np.array([bucket("exp-a", f"u{i}") for i in range(20_000)])
    ub = np.array([bucket("exp-b", f"u{i}") for i in range(20_000)])
    assert abs(np.corrcoef(ua, ub)[0, 1]) < 4 / math.sqrt(20_000)


def test_assign_endpoint(exp_server_factory) -> None:
    srv = exp_server_factory({"experiment": [EXPERIMENT]})
    k = srv.site
    url = srv.url + "/v1/experiments/assign"
    q = {"site": k.id, "experiment": "checkout-button", "anonymous_id": "a-1"}
    want = ("control", "green")[assign("checkout-button", "a-1", (50, 50))]
    # write key (server-side)
    r = httpx.get(url, params=q, auth=(k.write_key, ""))
    assert r.status_code == 200 and r.json()["variant"] == want, r.text
    # the user id wins over the anonymous id
    r = httpx.get(url, params={**q, "user_id": "u-9"}, auth=(k.write_key, ""))
    assert r.json()["variant"] == ("control", "green")[assign("checkout-button", "u-9", (50, 50))]
    # public key needs an allowed origin
    r = httpx.get(url, params={**q, "key": k.public_key}, headers={"Origin": k.origin})
    assert r.status_code == 200 and r.json()["variant"] == want
    assert r.headers["access-control-allow-origin"] == k.origin
    assert httpx.get(url, params={**q, "key": k.public_key}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert httpx.get(url, params={**q, "key": k.public_key}).status_code == 403
    r = httpx.get(url, params=q)
    assert r.status_code == 401 and "?key=" in r.json()["error"] and "body" not in r.json()["error"], r.text
    assert httpx.get(url, params={**q, "site": "other"}, auth=(k.write_key, "")).status_code == 403
    assert httpx.get(url, params={**q, "experiment": "nope"}, auth=(k.write_key, "")).status_code == 404
    assert httpx.get(url, params={"experiment": "checkout-button"}, auth=(k.write_key, "")).status_code == 400
    r = httpx.get(url, params={"anonymous_id": "a1"}, auth=(k.write_key, ""))
    assert r.status_code == 400 and "?experiment=" in r.json()["error"], r.text
    # served to the tag with the site settings
    cfg = httpx.get(f"{srv.url}/v1/sites/{k.public_key}/config").json()
    assert cfg["experiments"]["checkout-button"] == {"variants": ["control", "green"], "weights": [50.0, 50.0]}


def test_stopped_experiment_serves_winner(exp_server_factory) -> None:
    srv = exp_server_factory({"experiment": [{**EXPERIMENT, "status": "stopped", "winner": "green"}]})
    r = httpx.get(srv.url + "/v1/experiments/assign", auth=(srv.site.write_key, ""),
                  params={"experiment": "checkout-button", "anonymous_id": "x"})
    assert r.json() == {"experiment": "checkout-button", "variant": "green", "running": False}
