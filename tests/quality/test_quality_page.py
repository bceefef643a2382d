"""The quality page in headless Chromium shows what GET /v1/quality answers."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import ADMIN
from tests.plans.conftest import plan_doc, write_plan
from tests.quality.test_report import mixed_traffic

CHROMIUM = os.environ.get("FOOTPATH_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.browser


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_pct(r: float | None) -> str:
    return "–" if r is None else f"{r * 100:.1f} %"


def test_quality_page_matches_the_api(server_factory, tmp_path, chromium):
    plan = write_plan(tmp_path / "plan.json", plan_doc())
    srv = server_factory({"tracking_plan": str(plan), "plan_mode": "block"})
    msgs = mixed_traffic(seed=11)
    assert srv.post("/v1/batch", {"batch": msgs}, key=srv.site.write_key).json()["accepted"] == len(msgs)
    bad = [{"type": "track", "userId": "u", "event": "Order Completed", "properties": []}] * 2 + [
        {"type": "page", "userId": "u", "context": {"seq": "first"}}]
    assert len(srv.post("/v1/batch", {"batch": bad}, key=srv.site.write_key).json()["rejected"]) == 3
    srv.flush()
    api = httpx.get(srv.url + "/v1/quality", params={"site": srv.site.id},
                    headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60).json()

    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{srv.url}/quality?site={srv.site.id}#token={ADMIN}")
    page.wait_for_selector("body[data-loaded='1']", timeout=20000)
    assert "token=" not in page.url  # the token left the address bar

    card = lambda k: page.locator(f"#cards [data-k='{k}']").inner_text()  # noqa: E731
    t = api["totals"]
    assert card("events") == fmt_int(t["events"])
    assert card("checked") == fmt_int(t["checked"])
    assert card("violation_rate") == fmt_pct(t["violation_rate"])
    assert card("blocked") == fmt_int(t["blocked"])
    assert card("quarantined") == fmt_int(api["quarantine"]["quarantined"])
    assert card("completeness") == fmt_pct(api["completeness"]["estimated"])
    assert api["rejected"]["total"] == 3 and card("rejected") == "3"
    for f in api["rejected"]["fields"]:
        row = page.locator(f"#rejected tr[data-rejected='{f['field']}:{f['type']}']")
        assert row.locator("[data-k='count']").inner_text() == fmt_int(f["count"])
        assert row.locator("[data-k='reason']").inner_text() == f["reason"]
    assert page.locator("#rejected tbody tr").count() == 2
    assert page.locator("[data-k='plan-version']").inner_text() == f"version {api['plan']['version']}"
    assert page.locator("[data-k='plan-mode']").inner_text() == "block"

    rows = page.locator("tr.event")
    assert rows.count() == len(api["events"])
    for i, e in enumerate(api["events"]):
        row = rows.nth(i)
        assert row.get_attribute("data-event") == f"{e['type']}:{e['event']}"
        cell = lambda k, row=row: row.locator(f"[data-k='{k}']").inner_text()  # noqa: E731
        assert cell("label") == e["label"]
        assert cell("events") == fmt_int(e["events"])
        assert cell("violation_rate") == fmt_pct(e["violation_rate"])
        assert cell("unplanned") == fmt_int(e["unplanned"])
        assert cell("blocked") == fmt_int(e["blocked"])
        assert row.locator("svg polyline").count() == 2

    oc = next(e for e in api["events"] if e["event"] == "Order Completed")
    detail = page.locator("tr[data-detail='track:Order Completed']")
    assert detail.is_hidden()
    page.locator("tr[data-event='track:Order Completed']").click()
    assert detail.is_visible()
    for v in oc["violations"]:
        vrow = detail.locator(f"tr[data-violation='{v['rule']}:{v['property']}']")
        assert vrow.locator("[data-k='count']").inner_text() == fmt_int(v["count"])
        assert v["example"] in vrow.inner_text()
    for f in oc["fill_rates"]:
        assert detail.locator(f"tr[data-fill='{f['property']}'] [data-k='rate']").inner_text() == fmt_pct(f["rate"])
    assert errors == []
    context.close()


def test_quality_page_without_a_token_says_so(server, chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/quality?site={server.site.id}")
    page.wait_for_function("document.querySelector('#status').textContent.includes('admin bearer token')")
    assert page.locator("#out").is_hidden()
    context.close()
