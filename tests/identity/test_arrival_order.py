"""Property: for a given set of messages (links, aliases, events), the persons that
footpath.events_person assigns do not depend on the order or the batching in which the
messages arrive, and they equal the independent model's (tests/identity/model.py)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.identity import model
from tests.identity.conftest import at, fresh, ms, post

ANONS = ["a0", "a1"]
USERS = ["u0", "u1", "u2"]
_counter = itertools.count()

times = st.integers(0, 3)  # few distinct seconds: ties on purpose
anon_only = st.tuples(st.just("track"), st.sampled_from(ANONS), st.none(), st.none(), times)
user_only = st.tuples(st.just("track"), st.none(), st.sampled_from(USERS), st.none(), times)
both = st.tuples(st.sampled_from(["identify", "track"]), st.sampled_from(ANONS), st.sampled_from(USERS), st.none(),
                 times)
alias = st.tuples(st.just("alias"), st.none() | st.sampled_from(ANONS), st.sampled_from(USERS),
                  st.sampled_from(USERS + ANONS), times)
messages = st.lists(st.one_of(anon_only, anon_only, user_only, both, both, both, alias), min_size=4, max_size=14)


def _batches(data: st.DataObject, items: list) -> list[list]:
    order = data.draw(st.permutations(items))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(order)), max_size=3)))
    bounds = [0, *cuts, len(order)]
    return [order[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no slow shrinking
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), spec=messages)
def test_persons_do_not_depend_on_arrival_order(two_site_server, data, spec):
    server = two_site_server
    ns = f"p{next(_counter)}-"
    wire, rules = [], []
    for i, (kind, anon, user, prev, t) in enumerate(spec):
        mid = f"{ns}{i}"
        m = {"type": kind, "messageId": mid, "timestamp": at(t)}
        if anon:
            m["anonymousId"] = ns + anon
        if user:
            m["userId"] = ns + user
        if prev:
            m["previousId"] = ns + prev
        if kind == "track":
            m["event"] = "E"
        wire.append(m)
        rules.append({"id": mid, "type": kind, "anon": m.get("anonymousId"), "user": m.get("userId"),
                      "prev": m.get("previousId"), "t": ms(t), "source": "server"})
    expected = model.persons(rules)
    site_a, site_b = server.sites.values()
    for site in (site_a, site_b):
        for batch in _batches(data, wire):
            assert post(server, batch, site=site)["rejected"] == []
    fresh(server)
    rows = server.sql("SELECT site_id, message_id, person_id FROM footpath.events_person WHERE site_id IN "
                      "{sites:Array(String)} AND startsWith(message_id, {ns:String})",
                      {"sites": [site_a.id, site_b.id], "ns": ns})
    got_a = {m: p for s, m, p in rows if s == site_a.id}
    got_b = {m: p for s, m, p in rows if s == site_b.id}
    assert got_a == got_b == expected
