"""Alias merges: only a server write key may merge two known users; a browser key is
refused, and a browser identify never fuses two users."""

from __future__ import annotations

import secrets

from tests.identity import model
from tests.identity.conftest import msg, post, view_persons


def _ids(batch):
    return [m["messageId"] for m in batch]


def test_alias_with_a_write_key_merges_two_users_into_one_person(server):
    old, new = "old-" + secrets.token_hex(3), "new-" + secrets.token_hex(3)
    dev = "dev-" + secrets.token_hex(3)
    before = [msg("track", 0, user=old, event="Product Viewed"), msg("track", 5, anon=dev, event="Product Added"),
              msg("identify", 6, anon=dev, user=old), msg("track", 10, user=new, event="Order Completed")]
    post(server, before)
    got = view_persons(server)
    assert [got[i] for i in _ids(before)] == ["u:" + old] * 3 + ["u:" + new]
    alias = msg("alias", 20, user=new, previousId=old)
    post(server, [alias])
    got = view_persons(server)
    # Retroactively one person, named after the alias target, anonymous events included.
    assert [got[i] for i in _ids(before)] == ["u:" + new] * 4
    assert got[alias["messageId"]] == "u:" + new
    rules = [{"id": m["messageId"], "type": m["type"], "anon": m.get("anonymousId"), "user": m.get("userId"),
              "prev": m.get("previousId"), "t": i, "source": "server"} for i, m in enumerate(before + [alias])]
    assert set(model.persons(rules).values()) == {"u:" + new}


def test_chained_and_crossed_aliases_form_one_person(server):
    a, b, c, d = ("x" + secrets.token_hex(3) for _ in range(4))
    events = [msg("track", i, user=u, event="E") for i, u in enumerate((a, b, c, d))]
    aliases = [msg("alias", 10, user=b, previousId=a), msg("alias", 30, user=c, previousId=b),
               msg("alias", 20, user=d, previousId=a)]  # a -> b, a -> d, b -> c: all one person
    post(server, aliases[::-1] + events)
    got = view_persons(server)
    assert {got[i] for i in _ids(events)} == {"u:" + c}  # target of the latest alias (t=30)


def test_alias_from_a_browser_key_is_refused_and_merges_nothing(server):
    one, two = "b1-" + secrets.token_hex(3), "b2-" + secrets.token_hex(3)
    events = [msg("track", 0, user=one, event="E"), msg("track", 1, user=two, event="E")]
    post(server, events)
    r = server.post("/v1/batch", {"batch": [msg("alias", 5, user=two, previousId=one)]},
                    key=server.site.public_key, headers={"Origin": server.site.origin})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 0
    assert r.json()["rejected"][0]["field"] == "type"
    got = view_persons(server)
    assert [got[i] for i in _ids(events)] == ["u:" + one, "u:" + two]
    n = server.sql("SELECT count() FROM footpath.identity_merges WHERE site_id = {s:String}", {"s": server.site.id})
    assert n == [[0]]


def test_browser_identifies_of_two_users_on_one_device_never_merge_them(server):
    dev = "d-" + secrets.token_hex(3)
    batch = [msg("identify", 0, anon=dev, user="first"), msg("identify", 10, anon=dev, user="second"),
             msg("track", 1, anon=dev, user="first", event="A"), msg("track", 11, anon=dev, user="second", event="B")]
    r = server.post("/v1/batch", {"batch": batch}, key=server.site.public_key, headers={"Origin": server.site.origin})
    assert r.status_code == 200 and r.json()["accepted"] == 4, r.text
    got = view_persons(server)
    assert [got[i] for i in _ids(batch)] == ["u:first", "u:second", "u:first", "u:second"]


def test_an_alias_from_an_anonymous_id_attributes_its_browsing(server):
    anon, user = "anon-" + secrets.token_hex(3), "known-" + secrets.token_hex(3)
    browsing = [msg("track", 0, anon=anon, event="Viewed"), msg("track", 30, anon=anon, event="Viewed")]
    post(server, browsing + [msg("alias", 10, user=user, previousId=anon)])
    got = view_persons(server)
    assert [got[i] for i in _ids(browsing)] == ["u:" + user] * 2
