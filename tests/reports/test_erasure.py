"""Right to erasure reaches the report views: after identity's DELETE /v1/persons, the views
and the raw table still agree, and the person is gone from both."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN
from tests.reports.conftest import Env
from tests.reports.test_fallout import both, entered
from tests.reports.test_paths import both as both_paths

STEPS = [{"type": "page", "path": "/product/*"}, {"type": "track", "event": "Product Added"},
         {"type": "track", "event": "Order Completed"}]


def test_erased_person_leaves_the_views(reports_env: Env) -> None:
    env = reports_env
    assert entered(both(env, "erase", {"steps": STEPS, "container": "person"})) == [2, 1, 1]
    r = httpx.delete(f"{env.url}/v1/persons/{env.sites['erase']}/u:sarah",
                     headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120)
    assert r.status_code == 200, r.text
    assert entered(both(env, "erase", {"steps": STEPS, "container": "person"})) == [1, 0, 0]  # Bob is left
    assert entered(both(env, "erase", {"steps": STEPS, "container": "session"})) == [1, 0, 0]
    doc = both_paths(env, "erase", {"include": ["page", "track"], "depth": 3})
    labels = {n["label"] for n in doc["nodes"]}
    assert "/product/1" not in labels  # Sarah's only page view
    assert doc["containers"] == 2  # Bob's session and Carol's
