"""The experiments module (t/exp.js) in headless Chromium: the variant is the shared hash
of the anonymous id, stays the same across reloads and after identify, one
`Experiment Viewed` per page view; under denied consent nothing is assigned, stored or
sent."""

from __future__ import annotations

import pytest

import tests.conftest as base
from collector.experiments.assign import assign
from tests.experiments.conftest import EXPERIMENT, write_config

from .conftest import rows, wait_rows

KEY = EXPERIMENT["key"]
VARIANT = f"() => new Promise((r) => footpath('variant', '{KEY}', r))"


@pytest.fixture
def exp_collector(live_collector_factory, monkeypatch):
    monkeypatch.setattr(base, "write_config", write_config)
    return live_collector_factory({"experiment": [EXPERIMENT], "consent_default": "granted"})


def load_module(tab) -> None:
    tab.page.add_script_tag(url="/t/exp.js")
    tab.page.wait_for_function("() => window.footpath && window.footpath.v && window.footpath.x")


def test_variant_sticky_across_reloads_and_identify(exp_collector, tab_factory):
    lc = exp_collector
    tab = tab_factory(lc.url)
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    load_module(tab)
    v1 = tab.js(VARIANT)
    anon = next(c["value"] for c in tab.cookies() if c["name"] == "fp_id")
    assert v1 == ("control", "green")[assign(KEY, anon, (50, 50))]
    assert tab.js(VARIANT) == v1  # same page view: no second exposure
    tab.page.reload(wait_until="load")
    tab.wait_tag()
    load_module(tab)
    assert tab.js(VARIANT) == v1
    # a user id whose own hash gives the other variant: the first assignment is kept
    user = next(f"user-{i}" for i in range(1000) if ("control", "green")[assign(KEY, f"user-{i}", (50, 50))] != v1)
    tab.js(f"() => footpath('identify', '{user}')")
    assert tab.js(VARIANT) == v1
    tab.page.reload(wait_until="load")
    tab.wait_tag()
    load_module(tab)
    assert tab.js(VARIANT) == v1
    got = wait_rows(lc, 3, "event = 'Experiment Viewed'")
    assert len(got) == 3, got  # one per page view
    assert {(r["properties"]["experiment_id"], r["properties"]["variation_id"]) for r in got} == {(KEY, v1)}
    assert got[-1]["user_id"] == user and got[0]["anonymous_id"] == anon
    assert tab.errors == []


def test_module_loaded_before_the_tag_answers_queued_calls(exp_collector, tab_factory):
    lc = exp_collector
    tab = tab_factory(lc.url)
    # the documented order: t/exp.js (plain script) before the async t.js, and a variant
    # call made before either has run
    html = ("<!doctype html><html><head><script>window.footpath=window.footpath||function()"
            "{(footpath.q=footpath.q||[]).push(arguments)};"
            f"window.__v=new Promise((r)=>footpath('variant','{KEY}',r))</script>"
            '<script src="/t/exp.js"></script><script async src="/t.js" data-key="pk_test"></script>'
            "</head><body>exp first</body></html>")
    tab.page.route("**/__fixtures__/exp-first.html",
                   lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    tab.open("/__fixtures__/exp-first.html")
    v = tab.js("() => window.__v")
    anon = next(c["value"] for c in tab.cookies() if c["name"] == "fp_id")
    assert v == ("control", "green")[assign(KEY, anon, (50, 50))]
    assert wait_rows(lc, 1, "event = 'Experiment Viewed'")[0]["properties"]["variation_id"] == v


def test_nothing_assigned_or_sent_under_denied(exp_collector, tab_factory):
    lc = exp_collector
    tab = tab_factory(lc.url)
    tab.context.add_init_script("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})")
    tab.open("/__fixtures__/page.html")
    tab.wait_tag()
    load_module(tab)
    assert tab.js(VARIANT) is None  # the page renders its control
    tab.js("() => footpath('track', 'Something')")
    tab.sleep(1.5)
    assert tab.sent() == []
    st = tab.storage()
    assert not [k for k in {**st["local"], **st["session"]} if k.startswith("fp_")]
    assert not [c for c in tab.cookies() if c["name"].startswith("fp_")]
    assert rows(lc, "event = 'Experiment Viewed'") == []


def test_results_page_shows_table_and_verdict(exp_collector, tab_factory):
    import uuid

    import httpx

    from tests.conftest import ADMIN

    lc = exp_collector
    batch = []
    for i in range(60):
        v = ("control", "green")[i % 2]
        batch.append({"type": "track", "event": "Experiment Viewed", "anonymousId": f"p{i}", "messageId": str(uuid.uuid4()),
                      "properties": {"experiment_id": KEY, "variation_id": v}})
        if i % 5 == 0:
            batch.append({"type": "track", "event": "Order Completed", "anonymousId": f"p{i}", "messageId": str(uuid.uuid4()),
                          "properties": {"revenue": 12}, "timestamp": "2099-01-01T00:00:00Z"})
    r = httpx.post(lc.url + "/v1/batch", json={"batch": batch}, auth=(lc.write_key, ""))
    assert r.status_code == 200, r.text
    lc.flush()
    tab = tab_factory(lc.url)
    tab.open("/experiments")
    tab.page.fill("#token", ADMIN)
    tab.page.dispatch_event("#token", "change")
    tab.page.wait_for_function("() => document.querySelector('#exp').value.includes('checkout-button')")
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector(".verdict")
    text = tab.page.inner_text("#out")
    assert "control" in text and "green" in text and "No winner yet" in text, text
    assert "Guardrail: refunds" in text and "Sample ratio check" in text
    assert tab.errors == []
