"""GET /v1/persons/{site}/{id} and `footpath person`: the profile agrees with the
footpath.events_person view and with what was sent."""

from __future__ import annotations

import secrets

import orjson
import pytest

from collector import cli
from tests.conftest import ADMIN
from tests.identity.conftest import api, at, fresh, msg, post


@pytest.fixture
def sarah(server):
    phone, laptop = "phone-" + secrets.token_hex(4), "laptop-" + secrets.token_hex(4)
    batch = [
        msg("page", 0, anon=phone, event="Yoga shorts", context={"sessionId": "s1"}),
        msg("track", 10, anon=phone, event="Product Viewed", context={"sessionId": "s1"}),
        msg("identify", 20, anon=phone, user="sarah", traits={"plan": "free", "name": "Sarah"}),
        msg("track", 100, anon=laptop, event="Product Added", context={"sessionId": "s2"}),
        msg("identify", 120, anon=laptop, user="sarah", traits={"plan": "pro"}),
        msg("track", 130, anon=laptop, user="sarah", event="Order Completed", context={"sessionId": "s2"}),
        msg("track", 5, anon="stranger-" + secrets.token_hex(3), event="Product Viewed"),
    ]
    post(server, batch)
    fresh(server)
    return {"phone": phone, "laptop": laptop, "batch": batch}


def view_count(server, person_id: str) -> int:
    fresh(server)
    return server.sql("SELECT count() FROM footpath.events_person WHERE site_id = {s:String} AND person_id = {p:String}",
                      {"s": server.site.id, "p": person_id})[0][0]


def test_profile_of_a_known_person(server, sarah):
    r = api(server, "GET", server.site.id, "sarah")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["person_id"] == "u:sarah" and doc["kind"] == "known"
    assert doc["user_ids"] == ["sarah"]
    assert doc["anonymous_ids"] == sorted([sarah["phone"], sarah["laptop"]])
    assert doc["traits"] == {"plan": "pro", "name": "Sarah"}  # latest value of each trait
    assert doc["first_seen"].startswith(at(0)[:19]) and doc["last_seen"].startswith(at(130)[:19])
    assert doc["events"]["total"] == 6 == view_count(server, "u:sarah")
    assert doc["events"]["by_type"] == {"identify": 2, "page": 1, "track": 3}
    assert {t["event"]: t["count"] for t in doc["events"]["top"]} == {
        "Product Viewed": 1, "Product Added": 1, "Order Completed": 1}
    assert doc["sessions"] == 2
    assert [(link["anonymous_id"], link["user_id"]) for link in doc["links"]] == [
        (sarah["phone"], "sarah"), (sarah["laptop"], "sarah")]
    assert len(doc["recent"]) == 6 and doc["recent"][0]["event"] == "Order Completed"


def test_visits_without_session_ids_count_at_30_minute_gaps(server):
    """Server-side or analytics.js page views carry no session id: a device's views are one
    visit until more than 30 minutes pass; events other than views start none."""
    anon = "srv-" + secrets.token_hex(4)
    post(server, [
        msg("page", 0, anon=anon), msg("page", 1800, anon=anon),  # 30 minutes apart: one visit
        msg("page", 3600.001, anon=anon),  # 30 minutes and 1 ms after: the second
        msg("track", 9000, anon=anon, event="Order Completed"),  # no visit of its own
        msg("screen", 20000, anon=anon),  # the third
        msg("page", 30000, anon=anon, context={"sessionId": "tag-1"}),  # a session: the fourth
        msg("track", 30010, anon=anon, context={"sessionId": "tag-1"}),
    ])
    fresh(server)
    doc = api(server, "GET", server.site.id, "a:" + anon).json()
    assert doc["events"]["total"] == 7 and doc["sessions"] == 4


def test_the_same_person_by_any_of_its_ids(server, sarah):
    for ref in ("u:sarah", sarah["phone"], sarah["laptop"]):
        r = api(server, "GET", server.site.id, ref)
        assert r.status_code == 200 and r.json()["person_id"] == "u:sarah", (ref, r.text)
    r = api(server, "GET", server.site.id, "a:" + sarah["phone"])  # not an anonymous person any more
    assert r.status_code == 409 and r.json()["persons"] == ["u:sarah"]


def test_unknown_ids_missing_token_and_bad_site(server, sarah):
    assert api(server, "GET", server.site.id, "nobody").status_code == 404
    assert api(server, "GET", server.site.id, "u:nobody").status_code == 404
    assert api(server, "GET", server.site.id, "sarah", token=None).status_code == 401
    assert api(server, "GET", server.site.id, "sarah", token="wrong").status_code == 401
    assert api(server, "GET", "Bad Site!", "sarah").status_code == 400
    r = api(server, "GET", "other-site", "sarah")
    assert r.status_code == 404 and r.json()["error"] == "unknown site 'other-site'"  # not "no user id" (QA)


def test_a_shared_device_names_its_persons(server):
    tablet = "tablet-" + secrets.token_hex(4)
    post(server, [msg("track", 0, anon=tablet, event="E"), msg("identify", 10, anon=tablet, user="bob"),
                  msg("identify", 30, anon=tablet, user="carol"), msg("track", 40, anon=tablet, event="E")])
    fresh(server)
    r = api(server, "GET", server.site.id, tablet)
    assert r.status_code == 409
    assert r.json()["persons"] == ["u:bob", "u:carol"]
    bob = api(server, "GET", server.site.id, "bob").json()
    assert bob["shared_anonymous_ids"] == [tablet]
    assert bob["events"]["total"] == 2 == view_count(server, "u:bob")  # pre-login track + identify
    assert api(server, "GET", server.site.id, "carol").json()["events"]["total"] == 2 == view_count(server, "u:carol")


def test_api_counts_agree_with_the_view_for_every_person(server):
    devs = [f"d{i}-" + secrets.token_hex(2) for i in range(5)]
    batch = []
    for i, d in enumerate(devs):
        batch += [msg("track", i, anon=d, event="E"), msg("track", 50 + i, anon=d, event="F")]
    batch += [msg("identify", 10, anon=devs[0], user="ann"), msg("identify", 20, anon=devs[1], user="ann"),
              msg("identify", 30, anon=devs[1], user="ben"), msg("identify", 25, anon=devs[2], user="cy"),
              msg("track", 60, user="cy", event="G"), msg("alias", 70, user="cy", previousId="dee"),
              msg("track", 71, user="dee", event="H"), msg("identify", 40, anon=devs[3], user="dee")]
    post(server, batch)
    fresh(server)
    rows = server.sql("SELECT person_id, count() FROM footpath.events_person WHERE site_id = {s:String} "
                      "GROUP BY person_id", {"s": server.site.id})
    assert len(rows) == 4  # ann, ben, cy (= dee), the fifth device
    for person_id, n in rows:
        r = api(server, "GET", server.site.id, person_id)
        assert r.status_code == 200, (person_id, r.text)
        assert r.json()["events"]["total"] == n, person_id
    cy = api(server, "GET", server.site.id, "dee").json()
    assert cy["person_id"] == "u:cy" and cy["user_ids"] == ["cy", "dee"]


def test_footpath_person_command(server, sarah, capsys, monkeypatch):
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    assert cli.main(["--url", server.url, "person", server.site.id, "sarah"]) == 0
    out = capsys.readouterr().out
    assert "u:sarah" in out and sarah["phone"] in out and "Order Completed" in out
    assert cli.main(["--url", server.url, "person", server.site.id, "sarah", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["events"]["total"] == 6
    assert cli.main(["--url", server.url, "person", server.site.id, "nobody"]) == 1
    assert "HTTP 404" in capsys.readouterr().err
