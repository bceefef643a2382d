"""The issue's scenarios end to end: POST /v1/batch -> footpath.events -> identity links ->
footpath.events_person, compared with the independent model in tests/identity/model.py."""

from __future__ import annotations

import secrets
import time

from tests.identity import model
from tests.identity.conftest import at, funnel, msg, post, view_persons

STEPS = ["Product Viewed", "Product Added", "Order Completed"]


def _as_model(batch: list[dict], source: str = "server") -> list[dict]:
    out = []
    for m in batch:
        out.append({"id": m["messageId"], "type": m["type"], "anon": m.get("anonymousId"), "user": m.get("userId"),
                    "prev": m.get("previousId"), "t": _t(m), "source": source})
    return out


def _t(m: dict) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)


def test_sarah_one_person_across_phone_and_laptop(server):
    phone, laptop, sarah = "phone-" + secrets.token_hex(4), "laptop-" + secrets.token_hex(4), "sarah@example.com"
    tracks = [
        msg("page", 0, anon=phone, event="Yoga shorts"),
        msg("track", 10, anon=phone, event="Product Viewed", properties={"sku": "YOGA-SHORTS"}),
        msg("track", 100, anon=laptop, event="Product Added", properties={"sku": "YOGA-SHORTS"}),
    ]
    post(server, tracks)
    # Before any login: two anonymous persons, the funnel breaks after its first step.
    assert set(view_persons(server).values()) == {"a:" + phone, "a:" + laptop}
    assert funnel(server, STEPS) == {"Product Viewed": 1, "Product Added": 0, "Order Completed": 0}

    identifies = [
        msg("identify", 20, anon=phone, user=sarah, traits={"plan": "free"}),
        msg("identify", 120, anon=laptop, user=sarah, traits={"plan": "pro"}),
        msg("track", 130, anon=laptop, user=sarah, event="Order Completed", properties={"total": 35}),
    ]
    post(server, identifies)
    got = view_persons(server)
    expected = model.persons(_as_model(tracks + identifies))
    assert got == expected
    assert set(got.values()) == {"u:" + sarah}
    # Retroactively one person who viewed, added and bought; keyed by anonymous id it breaks.
    assert funnel(server, STEPS) == {"Product Viewed": 1, "Product Added": 1, "Order Completed": 1}
    assert funnel(server, STEPS, key="person_key") == {"Product Viewed": 1, "Product Added": 1, "Order Completed": 1}
    assert funnel(server, STEPS, key="anonymous_id") == {"Product Viewed": 1, "Product Added": 0,
                                                         "Order Completed": 0}


def test_bob_and_carol_share_a_tablet_and_stay_two_people(server):
    tablet, bob_phone = "tablet-" + secrets.token_hex(4), "bobphone-" + secrets.token_hex(4)
    tracks = [
        msg("track", 0, anon=tablet, event="Product Viewed"),  # before any login: Bob's (first login)
        msg("track", 20, anon=tablet, user="bob", event="Product Added"),
        msg("track", 25, anon=tablet, event="Product Viewed"),  # anonymous, after Bob's login: Bob's
        msg("track", 40, anon=tablet, user="carol", event="Order Completed"),
        msg("track", 50, anon=tablet, event="Product Viewed"),  # anonymous, after Carol's login: Carol's
        msg("track", 70, anon=bob_phone, event="Order Completed"),
    ]
    identifies = [
        msg("identify", 10, anon=tablet, user="bob"),
        msg("identify", 30, anon=tablet, user="carol"),  # nobody logged out
        msg("identify", 60, anon=bob_phone, user="bob"),
    ]
    post(server, tracks)
    post(server, identifies)
    got = view_persons(server)
    assert got == model.persons(_as_model(tracks + identifies))
    by_person: dict[str, set[str]] = {}
    for m in tracks + identifies:
        by_person.setdefault(got[m["messageId"]], set()).add(m["messageId"])
    assert set(by_person) == {"u:bob", "u:carol"}
    ids = [m["messageId"] for m in tracks]
    assert [got[i] for i in ids] == ["u:bob", "u:bob", "u:bob", "u:carol", "u:carol", "u:bob"]


def test_out_of_order_links_give_the_same_answer(server):
    anon = "dev-" + secrets.token_hex(4)
    events = [msg("track", t, anon=anon, event=f"E{t}") for t in (0, 15, 35, 60)]
    late_first_login = msg("identify", 5, anon=anon, user="early")
    logins = [msg("identify", 30, anon=anon, user="late"), msg("identify", 10, anon=anon, user="middle")]
    # Identifies arrive first, newest first; the events after them; a login from before
    # everything arrives last of all.
    post(server, logins)
    post(server, events[::-1])
    got = view_persons(server)
    assert got == model.persons(_as_model(logins + events))
    assert [got[m["messageId"]] for m in events] == ["u:middle", "u:middle", "u:late", "u:late"]
    post(server, [late_first_login])
    got = view_persons(server)
    assert got == model.persons(_as_model(logins + events + [late_first_login]))
    assert [got[m["messageId"]] for m in events] == ["u:early", "u:middle", "u:late", "u:late"]


def test_unlinked_anonymous_id_and_rows_without_ids(server):
    anon = "solo-" + secrets.token_hex(4)
    denied = msg("track", 5, anon=anon, user="someone", event="Denied",
                 context={"consent": {"analytics": "denied"}})  # stored without any id
    batch = [msg("track", 0, anon=anon, event="Viewed"), denied]
    post(server, batch)
    got = view_persons(server)
    assert got == {batch[0]["messageId"]: "a:" + anon, denied["messageId"]: ""}
    keys = server.sql("SELECT person_id, person_key FROM footpath.events_person WHERE site_id = {s:String}",
                      {"s": server.site.id})
    assert {(p == "", k == 0) for p, k in keys} == {(True, True), (False, False)}


def test_person_key_is_person_id_as_a_number(server):
    devs = ["k-" + secrets.token_hex(3) for _ in range(4)]
    batch = [msg("track", i, anon=d, event="X") for i, d in enumerate(devs)]
    batch += [msg("identify", 10, anon=devs[0], user="ann"), msg("identify", 11, anon=devs[1], user="ann"),
              msg("identify", 12, anon=devs[2], user="ben"), msg("track", 13, user="ben", event="Y")]
    post(server, batch)
    view_persons(server)
    rows = server.sql("SELECT person_id, groupUniqArray(person_key) FROM footpath.events_person "
                      "WHERE site_id = {s:String} GROUP BY person_id", {"s": server.site.id})
    assert len(rows) == 3  # ann, ben, the fourth device
    keys = [r[1] for r in rows]
    assert all(len(k) == 1 for k in keys) and len({k[0] for k in keys}) == 3


def test_a_report_reflects_an_identify_within_five_seconds(server):
    anon = "fast-" + secrets.token_hex(4)
    post(server, [msg("track", 0, anon=anon, event="Product Viewed")])
    view_persons(server)
    # The anonymous track must become the user's too (the identify row is the user's by itself).
    sql = "SELECT count() FROM footpath.events_person WHERE site_id = {s:String} AND person_id = {p:String}"
    post(server, [msg("identify", 5, anon=anon, user="quick")])
    acked = time.monotonic()
    while True:
        if server.sql(sql, {"s": server.site.id, "p": "u:quick"})[0][0] == 2:
            break
        assert time.monotonic() - acked < 5, "the identify is not reflected 5 s after its acknowledgement"
        time.sleep(0.1)


def test_two_logins_on_the_same_millisecond_are_ordered_by_user_id(server):
    anon = "tie-" + secrets.token_hex(4)
    events = [msg("track", 5, anon=anon, event="Before"), msg("track", 15, anon=anon, event="After")]
    logins = [msg("identify", 10, anon=anon, user="zed"), msg("identify", 10, anon=anon, user="amy")]
    post(server, logins + events)
    got = view_persons(server)
    assert got == model.persons(_as_model(logins + events))
    # (first_seen, user_id) orders links: before both, the first (amy); from then on, the latest (zed).
    assert [got[m["messageId"]] for m in events] == ["u:amy", "u:zed"]


def test_rows_written_behind_the_collectors_back_are_picked_up(server, ch):
    """The periodic check reloads when links changed without passing through this process."""
    anon = "direct-" + secrets.token_hex(4)
    post(server, [msg("track", 0, anon=anon, event="Viewed")])
    assert set(view_persons(server).values()) == {"a:" + anon}
    ch.insert("footpath.events", [["direct-" + secrets.token_hex(4), server.site.id, "identify", at(5), at(5), anon,
                                   "behind", "server"]],
              column_names=["message_id", "site_id", "type", "timestamp", "received_at", "anonymous_id", "user_id",
                            "source"])
    server.collector.identity.periodic()
    assert set(view_persons(server).values()) == {"u:behind"}
