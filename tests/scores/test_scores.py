"""RFM and lead score on small hand-built data sets: footpath.person_rfm and
footpath.person_lead_score against values worked out by hand (and RFM quintiles against an
independent rank implementation), the segment-filter helper, the person lookup, config
validation."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from collector.scores.segments import ScoreFilterError, SimpleParams, parse_score_filter, score_condition
from collector.settings import ConfigError, load_settings
from tests.attribution.helpers import DAY, fresh, identify, page, post, track, uid, write_config
from tests.conftest import ADMIN

LEAD_RULES = [{"event": "Demo Requested", "weight": 40}, {"path": "/pricing*", "weight": 10},
              {"type": "track", "event": "Heartbeat", "weight": 0}]
SCORES = {"rfm_event": "Purchase", "rfm_value_property": "amount", "lead_rules": LEAD_RULES}

# Purchases (days ago, amount) per person.  Times sit mid-day so full days are unambiguous.
BUYERS = {
    "A": [(1.5, 100), (10.5, 50), (20.5, 25)],
    "B": [(3.5, 500)],
    "C": [(40.5, 20), (45.5, 20), (50.5, 20), (60.5, 20)],
    "D": [(100.5, 10)],
    "E": [(1.5, 30), (2.5, 30)],
    "F": [(200.5, 1000), (201.5, 1000)],
    "H": [(5.5, "12.5")],  # a numeric string counts
}
# Worked out by hand: ranks over the seven buyers, score = 1 + floor(5 (rank - 1) / 6).
RFM = {  # person: (recency_days, frequency, monetary, r, f, m, segment)
    "A": (1, 3, 175.0, 5, 5, 4, "Champions"),
    "B": (3, 1, 500.0, 4, 1, 5, "Promising"),
    "C": (40, 4, 80.0, 2, 5, 3, "Can't Lose Them"),
    "D": (100, 1, 10.0, 1, 1, 1, "Hibernating"),
    "E": (1, 2, 60.0, 5, 3, 2, "Potential Loyalists"),
    "F": (200, 2, 2000.0, 1, 3, 5, "At Risk"),
    "H": (5, 1, 12.5, 3, 1, 1, "About to Sleep"),
}


@pytest.fixture(scope="module")
def env(env_factory):
    return env_factory([{"scores": SCORES}, {}, {}])


@pytest.fixture(scope="module")
def data(env):
    """Posts the hand-built data set once: RFM buyers and lead-score persons on site 0."""
    site = env.site()
    anons = {p: uid(p) for p in [*BUYERS, "G", "P1", "P2", "P3", "P4"]}
    batch = []
    for p, buys in BUYERS.items():
        batch += [track(anons[p], -d * DAY, "Purchase", amount=amt) for d, amt in buys]
    batch.append(track(anons["G"], -2.5 * DAY, "Order Completed", amount=99))  # not this site's rfm_event
    a = anons
    batch += [page(a["P1"], -2 * DAY, path="/pricing"), page(a["P1"], -3 * DAY, path="/pricing/enterprise"),
              page(a["P1"], -4 * DAY, path="/"), track(a["P1"], -5 * DAY, "Demo Requested"),
              track(a["P1"], -1 * DAY, "Heartbeat"), track(a["P1"], -6 * DAY, "Viewed"),
              page(a["P1"], -35 * DAY, path="/"), track(a["P1"], -40 * DAY, "Demo Requested"),
              page(a["P1"], -90 * DAY, path="/")]
    batch += [track(a["P2"], -t * DAY, "Demo Requested") for t in (1, 2, 3)]
    batch += [page(a["P2"], -1 * DAY, path="/pricing"), track(a["P2"], -45 * DAY, "Demo Requested")]
    anons["P3 user"] = uid("user")  # P3 logs in: its person is u:<user id>
    batch += [page(a["P3"], -1 * DAY, path="/blog"), identify(a["P3"], -1 * DAY + 5, anons["P3 user"])]
    batch += [track(a["P4"], -3 * DAY, "Demo Requested")] + [page(a["P4"], -3 * DAY - i, path="/pricing")
                                                             for i in range(7)]
    post(env.server, site, batch)
    fresh(env.server)
    return site, anons


def reference_score(values: list[float], mine: float, higher_is_better: bool) -> int:
    """1 + floor(5 (rank - 1) / (n - 1)), rank = 1 + persons strictly worse, capped at 5."""
    worse = sum(1 for v in values if (v < mine if higher_is_better else v > mine))
    return min(5, 1 + (5 * worse) // max(len(values) - 1, 1))


def test_rfm_values_scores_and_segments(env, data):
    site, anons = data
    rows = env.server.sql("SELECT person_id, recency_days, frequency, monetary, r_score, f_score, m_score, rfm, "
                          "segment FROM footpath.person_rfm WHERE site_id = {s:String}", {"s": site.id})
    got = {r[0]: tuple(r[1:]) for r in rows}
    want = {f"a:{anons[p]}": (*v[:6], f"{v[3]}{v[4]}{v[5]}", v[6]) for p, v in RFM.items()}
    assert got == want
    # The hand-worked quintiles agree with an independent rank implementation.
    rec, freq, mon = ([v[i] for v in RFM.values()] for i in range(3))
    for v in RFM.values():
        assert v[3:6] == (reference_score(rec, v[0], False), reference_score(freq, v[1], True),
                          reference_score(mon, v[2], True))


def test_rfm_defaults_use_order_completed_and_revenue(env):
    site = env.site()
    a, b = uid("a"), uid("b")
    post(env.server, site, [track(a, -1.5 * DAY, "Order Completed", revenue=40),
                            track(a, -3.5 * DAY, "Order Completed", revenue=2.5),
                            track(b, -9.5 * DAY, "Order Completed", revenue=10), track(b, -1 * DAY, "Purchase", amount=5)])
    fresh(env.server)
    rows = env.server.sql("SELECT person_id, recency_days, frequency, monetary, r_score, f_score, m_score "
                          "FROM footpath.person_rfm WHERE site_id = {s:String}", {"s": site.id})
    assert {r[0]: tuple(r[1:]) for r in rows} == {f"a:{a}": (1, 2, 42.5, 5, 5, 5), f"a:{b}": (9, 1, 10.0, 1, 1, 1)}


def test_lead_score_points_decay_and_tiers(env, data):
    site, anons = data
    rows = env.server.sql("SELECT person_id, points_0_29, points_30_59, points_60_plus, points, score, tier "
                          "FROM footpath.person_lead_score WHERE site_id = {s:String}", {"s": site.id})
    got = {r[0]: tuple(r[1:]) for r in rows}

    def row(p):
        return got[f"u:{anons['P3 user']}"] if p == "P3" else got[f"a:{anons[p]}"]

    # P1: recent /pricing 10 + /pricing/enterprise 10 + / 2 + Demo 40 + Heartbeat 0 + Viewed 5 = 67;
    # 30-59 days: / 2 + Demo 40 = 42; older: / 2.  0.6*67 + 0.3*42 + 0.1*2 = 53 -> cool.
    assert row("P1")[:5] == pytest.approx((67, 42, 2, 53.0, 53)) and row("P1")[5] == "cool"
    assert row("P2")[:5] == pytest.approx((130, 40, 0, 90.0, 90)) and row("P2")[5] == "hot"  # 0.6*130 + 0.3*40
    assert row("P3")[:5] == pytest.approx((2, 0, 0, 1.2, 1)) and row("P3")[5] == "cold"  # identify scores 0
    assert row("P4")[:5] == pytest.approx((110, 0, 0, 66.0, 66)) and row("P4")[5] == "warm"
    # Buyers earn the default track weight (5 points) per purchase: A's three are all within 29 days.
    assert row("A")[:3] == pytest.approx((15, 0, 0))
    assert row("F")[:5] == pytest.approx((0, 0, 10, 1.0, 1))


def test_lead_score_defaults(env):
    site = env.site()
    a = uid("a")
    post(env.server, site, [page(a, -1 * DAY), page(a, -40 * DAY), track(a, -3 * DAY, "Demo Requested"),
                            track(a, -100 * DAY, "Signed Up")])
    fresh(env.server)
    rows = env.server.sql("SELECT points, score, tier FROM footpath.person_lead_score WHERE site_id = {s:String}",
                          {"s": site.id})
    # defaults: page 2, track 5: 0.6 * (2 + 5) + 0.3 * 2 + 0.1 * 5 = 5.3 -> 5
    assert rows == [[pytest.approx(5.3), 5, "cold"]]


@pytest.mark.parametrize("flt, persons", [
    ({"rfm_segment": ["Champions", "At Risk"]}, {"A", "F"}),
    ({"rfm": {"r": [4, 5]}}, {"A", "B", "E"}),
    ({"rfm": {"f": [3, 5], "m": {"min": 4}}}, {"A", "F"}),
    ({"lead_tier": ["hot", "warm"]}, {"P2", "P4"}),
    ({"lead_score": {"min": 50, "max": 90}}, {"P1", "P2", "P4"}),
    ({"rfm_segment": "Champions", "lead_score": [5, 100]}, {"A"}),  # A's lead score: 0.6 * 15 = 9
    ({"rfm_segment": "Champions", "lead_score": [10, 100]}, set()),
])
def test_segment_filters(env, data, flt, persons):
    site, anons = data
    p = SimpleParams()
    cond = score_condition(parse_score_filter(flt), site.id, p)
    rows = env.server.sql("SELECT DISTINCT person_id FROM footpath.events_person WHERE site_id = {s:String} AND "
                          + cond, {"s": site.id, **p.values})
    assert {r[0] for r in rows} == {f"a:{anons[x]}" for x in persons}


@pytest.mark.parametrize("flt, field", [
    ({}, "scores"), ({"rfm_segment": "Heroes"}, "scores.rfm_segment"), ({"lead_tier": []}, "scores.lead_tier"),
    ({"lead_score": {"min": 90, "max": 10}}, "scores.lead_score"), ({"rfm": {"x": [1, 2]}}, "scores.rfm"),
    ({"rfm": {"r": [0, 9]}}, "scores.rfm.r"), ({"colour": 1}, "scores.colour"),
])
def test_segment_filter_errors_name_the_field(flt, field):
    with pytest.raises(ScoreFilterError) as e:
        parse_score_filter(flt)
    assert e.value.field == field


def test_person_lookup_shows_lead_score(env, data):
    site, anons = data
    r = httpx.get(f"{env.server.url}/v1/persons/{site.id}/{quote('a:' + anons['P1'], safe='')}",
                  headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
    assert r.status_code == 200, r.text
    lead = r.json()["lead_score"]
    assert (lead["score"], lead["tier"], lead["points"]) == (53, "cool", pytest.approx(53.0))


@pytest.mark.parametrize("value, why", [
    ({"rfm_event": ""}, "rfm_event"),
    ({"lead_rules": [{"event": "Demo"}]}, "lead_rules[0].weight"),
    ({"lead_rules": [{"weight": 3}]}, "lead_rules[0]"),
    ({"lead_rules": [{"type": "click", "weight": 3}]}, "lead_rules[0].type"),
    ({"lead_decay": [0.5, 0.5]}, "lead_decay"),
    ({"colour": "red"}, "colour"),
])
def test_scores_config_errors_name_the_field(tmp_path, value, why):
    cfg = write_config(tmp_path / "f.toml", [{"id": "shop", "public_key": "pk_shop_1", "scores": value}])
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg), env={})
    assert "'scores'" in str(e.value) and why in str(e.value)


@pytest.mark.parametrize("value, why", [
    ([{"utm_source": "x"}], "rule 1: 'channel'"),
    ([{"channel": "X"}], "rule 1: needs at least one condition"),
    ([{"channel": "X", "utm_colour": "y"}], "unknown key 'utm_colour'"),
    ([{"channel": "X", "utm_source": 3}], "'utm_source' must be a glob"),
    ("Partners", "must be a list"),
])
def test_channel_rules_config_errors(tmp_path, value, why):
    cfg = write_config(tmp_path / "f.toml", [{"id": "shop", "public_key": "pk_shop_1", "channel_rules": value}])
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg), env={})
    assert "'channel_rules'" in str(e.value) and why in str(e.value)
