"""DELETE /v1/persons/{site}/{id} and `footpath erase`: every event of every id of the
person and its links go; other persons' data on a shared device stays; the audit row
holds no personal data."""

from __future__ import annotations

import secrets

import orjson
import pytest

from collector import cli
from tests.conftest import ADMIN
from tests.identity.conftest import api, at, fresh, msg, post, view_persons


def counts(server, ids: list[str]) -> dict[str, int]:
    """Rows anywhere that still carry one of these ids (an independent check, not the API's)."""
    fresh(server)
    p = {"s": server.site.id, "ids": ids}
    q = {
        "events": "SELECT count() FROM footpath.events WHERE site_id = {s:String} AND (user_id IN {ids:Array(String)} "
                  "OR anonymous_id IN {ids:Array(String)} OR previous_id IN {ids:Array(String)})",
        "links": "SELECT count() FROM footpath.identity_links WHERE site_id = {s:String} "
                 "AND (user_id IN {ids:Array(String)} OR anonymous_id IN {ids:Array(String)})",
        "merges": "SELECT count() FROM footpath.identity_merges WHERE site_id = {s:String} "
                  "AND (user_id IN {ids:Array(String)} OR previous_id IN {ids:Array(String)})",
        "canonical": "SELECT count() FROM footpath.identity_canonical WHERE site_id = {s:String} "
                     "AND (user_id IN {ids:Array(String)} OR canonical_id IN {ids:Array(String)})",
    }
    return {k: server.sql(sql, p)[0][0] for k, sql in q.items()}


@pytest.fixture
def sarah(server):
    phone, laptop = "phone-" + secrets.token_hex(4), "laptop-" + secrets.token_hex(4)
    mine = [msg("track", 0, anon=phone, event="Product Viewed"), msg("identify", 20, anon=phone, user="sarah"),
            msg("track", 100, anon=laptop, event="Product Added"), msg("identify", 120, anon=laptop, user="sarah"),
            msg("track", 130, anon=laptop, user="sarah", event="Order Completed"),
            msg("alias", 140, user="sarah", previousId="sarah-old"), msg("track", 1, user="sarah-old", event="Old")]
    others = [msg("track", 5, anon="other-" + secrets.token_hex(3), event="Product Viewed"),
              msg("track", 6, user="olivia", event="Product Viewed")]
    post(server, mine + others)
    fresh(server)
    return {"ids": ["sarah", "sarah-old", phone, laptop], "mine": mine, "others": others}


def test_erasure_removes_everything_of_the_person(server, sarah):
    before = view_persons(server)
    assert {before[m["messageId"]] for m in sarah["mine"]} == {"u:sarah"}
    assert counts(server, sarah["ids"]) == {"events": 7, "links": 3, "merges": 1, "canonical": 2}
    r = api(server, "DELETE", server.site.id, "sarah")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["person_id"] == "u:sarah" and doc["dry_run"] is False
    assert doc["deleted"]["events"] == 7
    assert doc["deleted"]["links"] == 3  # phone, laptop, and the alias's previous id
    assert doc["deleted"]["merges"] == 1
    assert sorted(doc["user_ids"]) == ["sarah", "sarah-old"]
    assert counts(server, sarah["ids"]) == {"events": 0, "links": 0, "merges": 0, "canonical": 0}
    after = view_persons(server)
    assert set(after) == {m["messageId"] for m in sarah["others"]}  # the others are untouched
    assert "u:sarah" not in after.values()
    assert api(server, "GET", server.site.id, "sarah").status_code == 404
    audit = server.sql("SELECT * FROM footpath.erasure_audit WHERE site_id = {s:String}", {"s": server.site.id})
    assert len(audit) == 1
    text = repr(audit)
    assert not any(i in text for i in sarah["ids"]), audit  # no personal data in the audit
    cols = server.sql("SELECT events_deleted, links_deleted, merges_deleted, user_ids, anonymous_ids "
                      "FROM footpath.erasure_audit WHERE site_id = {s:String}", {"s": server.site.id})
    assert cols == [[7, 3, 1, 2, 3]]
    assert doc["erasure_id"] == audit[0][0]


def test_an_erased_person_can_come_back_and_is_recognised_again(server, sarah):
    assert api(server, "DELETE", server.site.id, "sarah").status_code == 200
    phone = sarah["ids"][2]
    again = [msg("track", 200, anon=phone, event="Back"), msg("identify", 210, anon=phone, user="sarah")]
    post(server, again)
    got = view_persons(server)
    assert [got[m["messageId"]] for m in again] == ["u:sarah", "u:sarah"]


def test_erasing_one_user_of_a_shared_device_keeps_the_other(server):
    tablet = "tablet-" + secrets.token_hex(4)
    batch = [msg("track", 0, anon=tablet, event="bob before login"), msg("identify", 10, anon=tablet, user="bob"),
             msg("track", 15, anon=tablet, event="bob anonymous"), msg("identify", 30, anon=tablet, user="carol"),
             msg("track", 40, anon=tablet, user="carol", event="carol"), msg("track", 50, anon=tablet, event="carol anon")]
    post(server, batch)
    got = view_persons(server)
    bob = {m["messageId"] for m in batch if got[m["messageId"]] == "u:bob"}
    carol = {m["messageId"] for m in batch if got[m["messageId"]] == "u:carol"}
    assert len(bob) == 3 and len(carol) == 3
    r = api(server, "DELETE", server.site.id, tablet)  # ambiguous: names the persons, erases nothing
    assert r.status_code == 409 and r.json()["persons"] == ["u:bob", "u:carol"]
    r = api(server, "DELETE", server.site.id, "u:bob")
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["events"] == 3 and r.json()["shared_anonymous_ids"] == [tablet]
    after = view_persons(server)
    assert set(after) == carol and set(after.values()) == {"u:carol"}
    links = server.sql("SELECT user_id FROM footpath.identity_links WHERE site_id = {s:String}", {"s": server.site.id})
    assert links == [["carol"]]


def test_an_anonymous_person_and_a_dry_run(server):
    anon = "anon-" + secrets.token_hex(4)
    post(server, [msg("track", i, anon=anon, event="E") for i in range(3)])
    fresh(server)
    r = api(server, "DELETE", server.site.id, anon, dry_run="1")
    assert r.status_code == 200 and r.json()["dry_run"] is True and r.json()["deleted"]["events"] == 3
    assert counts(server, [anon])["events"] == 3
    for flag in ("maybe", "on", "y"):  # found in QA: any value but 1/true/yes erased for real
        r = api(server, "DELETE", server.site.id, anon, dry_run=flag)
        assert r.status_code == 400 and r.json()["field"] == "dry_run", r.text
    assert counts(server, [anon])["events"] == 3
    r = api(server, "DELETE", server.site.id, "a:" + anon)
    assert r.status_code == 200 and r.json()["deleted"]["events"] == 3 and r.json()["kind"] == "anonymous"
    assert counts(server, [anon])["events"] == 0
    assert api(server, "DELETE", server.site.id, anon, token=None).status_code == 401


def test_rows_keyed_by_the_ids_in_other_tables_are_erased_too(server, ch, sarah):
    table = "zz_identity_erasure_" + secrets.token_hex(3)
    ch.command(f"CREATE TABLE footpath.{table} (site_id String, anonymous_id String, user_id String, n UInt32) "
               "ENGINE = MergeTree ORDER BY site_id")
    try:
        phone = sarah["ids"][2]
        ch.insert(f"footpath.{table}", [[server.site.id, phone, "", 1], [server.site.id, "", "sarah", 2],
                                        [server.site.id, "keep-me", "", 3], ["other-site", "", "sarah", 4]],
                  column_names=["site_id", "anonymous_id", "user_id", "n"])
        r = api(server, "DELETE", server.site.id, "sarah")
        assert r.status_code == 200, r.text
        assert r.json()["deleted"]["other"][table] == 2
        left = ch.query(f"SELECT n FROM footpath.{table} ORDER BY n").result_rows
        assert left == [(3,), (4,)]
    finally:
        ch.command(f"DROP TABLE footpath.{table}")


def test_events_kept_whole_as_json_rows_are_erased_too(server, ch, sarah):
    """A table keeping whole footpath.events rows as JSON (like the quarantine)."""
    table = "zz_identity_rows_" + secrets.token_hex(3)
    ch.command(f"CREATE TABLE footpath.{table} (site_id String, message_id String, timestamp DateTime64(3, 'UTC'), "
               "row String) ENGINE = MergeTree ORDER BY site_id")
    try:
        phone = sarah["ids"][2]
        rows = [("a", phone, "", 0), ("b", "", "sarah", 1), ("c", phone, "olivia", 2), ("d", "x", "", 3)]
        ch.insert(f"footpath.{table}", [[server.site.id, m, at(t), orjson.dumps({"anonymous_id": a, "user_id": u}).decode()]
                                        for m, a, u, t in rows], column_names=["site_id", "message_id", "timestamp", "row"])
        r = api(server, "DELETE", server.site.id, "sarah")
        assert r.status_code == 200, r.text
        assert r.json()["deleted"]["other"][table] == 2
        assert ch.query(f"SELECT message_id FROM footpath.{table} ORDER BY message_id").result_rows == [("c",), ("d",)]
    finally:
        ch.command(f"DROP TABLE footpath.{table}")


def test_her_rejected_messages_are_erased_too(server, sarah):
    phone = sarah["ids"][2]
    bad = [{**msg("track", 150, user="sarah", event="Bad"), "properties": ["not", "an", "object"]},
           {**msg("track", 151, anon=phone, event="Bad"), "context": {"seq": -1}},
           {**msg("track", 152, user="olivia", event="Bad"), "properties": [1]}]
    assert [r["index"] for r in post(server, bad)["rejected"]] == [0, 1, 2]
    fresh(server)
    left = "SELECT user_id, anonymous_id FROM footpath.rejected_messages WHERE site_id = {s:String} ORDER BY user_id"
    assert len(server.sql(left, {"s": server.site.id})) == 3
    r = api(server, "DELETE", server.site.id, "sarah")
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["other"]["rejected_messages"] == 2
    assert server.sql(left, {"s": server.site.id}) == [["olivia", ""]]


def test_footpath_erase_command(server, sarah, capsys, monkeypatch):
    monkeypatch.setenv("FOOTPATH_ADMIN_TOKEN", ADMIN)
    assert cli.main(["--url", server.url, "erase", server.site.id, "sarah"]) == 1  # dry run without --yes
    captured = capsys.readouterr()
    assert "would delete 7 events" in captured.out and "--yes" in captured.err
    assert counts(server, sarah["ids"])["events"] == 7
    assert cli.main(["--url", server.url, "erase", server.site.id, "sarah", "--yes"]) == 0
    assert "deleted     7 events, 3 links, 1 merges" in capsys.readouterr().out
    assert counts(server, sarah["ids"]) == {"events": 0, "links": 0, "merges": 0, "canonical": 0}
