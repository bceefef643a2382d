"""POST /v1/reports/attribution end to end: Segment messages -> footpath.events ->
ClickHouse path assembly -> models, compared with tests/attribution/reference.py on the
journeys the tests posted (channels, times and values known)."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from tests.attribution.helpers import DAY, fresh, identify, iso, ok_report, page, post, report, track, uid
from tests.attribution.reference import (
    Conv,
    markov_simulated,
    rule_credits,
    shapley_coalitions,
    shapley_rate_permutations,
)
from tests.conftest import ADMIN

H = 3600.0
RULES = [{"channel": "Partners", "utm_source": ["partner*", "globex"]},
         {"channel": "Reviews", "referrer_host": "*.trustpilot.com", "referrer_class": "referral"}]


@pytest.fixture(scope="module")
def env(env_factory):
    return env_factory([{} for _ in range(14)] + [{"channel_rules": RULES}])


def credits(doc: dict, model: str) -> dict[str, list[float]]:
    return {ch: [x["conversions"], x["value"]] for ch, x in doc["models"][model].items()
            if x["conversions"] or x["value"]}


def assert_credits(got: dict[str, list[float]], want: dict[str, list[float]], rel: float = 1e-9) -> None:
    assert set(got) == {k for k, v in want.items() if v[0] or v[1]}
    for k, v in want.items():
        assert got.get(k, [0.0, 0.0]) == pytest.approx(v, rel=rel, abs=1e-9), k


def journey(anon: str, visits: list[tuple[float, str]], buys: list[tuple[float, float, int | None]],
            user: str | None = None) -> list[dict]:
    """Visits (start, channel), each its own session with one more page a minute later;
    buys (time, revenue, index of the visit whose session it happens in, or None)."""
    sessions = [uid("s") for _ in visits]
    out = []
    for (t, ch), s in zip(visits, sessions, strict=True):
        out += [page(anon, t, ch, session=s, user=user), page(anon, t + 60, "Direct", session=s, user=user,
                                                              path="/product")]
    for t, revenue, idx in buys:
        out.append(track(anon, t, "Order Completed", session=sessions[idx] if idx is not None else None,
                         user=user, revenue=revenue))
    return out


# Six persons over every default channel: (visits, purchases, reference conversions, nulls).
def scenario() -> tuple[list[dict], list[Conv], list[list[str]]]:
    d = -DAY
    people = [
        ([(10 * d, "Email"), (5 * d, "Organic Search")], [(5 * d + H, 100.0, 1)]),
        ([(8 * d, "Paid Search")], [(8 * d + 600, 50.0, 0)]),
        ([(20 * d, "Direct"), (15 * d, "Referral"), (3 * d, "Direct")], [(3 * d + 900, 30.0, 2)]),
        ([(6 * d, "Organic Social")], []),
        ([(4 * d, "Email"), (2 * d, "Email")], [(2 * d + 300, 20.0, 1)]),
        ([(12 * d, "Display"), (11 * d, "Affiliates"), (9 * d, "Paid Social"), (7 * d, "Other"),
          (1 * d, "Direct")], [(7 * d + 120, 10.0, 3)]),
    ]
    batch, convs, nulls = [], [], []
    for visits, buys in people:
        batch += journey(uid("a"), visits, buys)
        for t, revenue, _ in buys:
            convs.append(Conv([(ch, vt) for vt, ch in visits if vt <= t], t, revenue))
        after = [ch for vt, ch in visits if not buys or vt > buys[-1][0]]
        if after:
            nulls.append(after)
    # A crawler that "buys" is no visitor: its rows never count.
    bot = page(uid("bot"), 3 * d, "Email", session=uid("s"))
    bot["context"]["userAgent"] = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    batch.append(bot)
    return batch, convs, nulls


def test_every_model_against_reference(env):
    site = env.site()
    batch, convs, nulls = scenario()
    post(env.server, site, batch)
    fresh(env.server)
    doc = ok_report(env.server, site=site.id, conversion={"event": "Order Completed"}, value_property="revenue",
                    **{"from": iso(-25 * DAY), "to": iso(DAY)})
    assert doc["conversions"] == 5 and doc["value"] == 210.0 and doc["nulls"] == 2
    assert [(p["path"], p["conversions"], p["value"], p["nulls"]) for p in doc["paths"]] == [
        (["Direct", "Referral", "Direct"], 1, 30.0, 0),
        (["Display", "Affiliates", "Paid Social", "Other"], 1, 10.0, 0),
        (["Email", "Email"], 1, 20.0, 0),
        (["Email", "Organic Search"], 1, 100.0, 0),
        (["Paid Search"], 1, 50.0, 0),
        (["Direct"], 0, 0.0, 1),
        (["Organic Social"], 0, 0.0, 1),
    ]
    for model in ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay"):
        assert_credits(credits(doc, model), rule_credits(convs, model, 7 * DAY))
    assert_credits(credits(doc, "shapley"), shapley_coalitions(convs))
    assert_credits(credits(doc, "shapley_rate"), shapley_rate_permutations(convs, nulls))
    assert doc["markov"]["conversion_probability"] == pytest.approx(5 / 7, abs=1e-12)
    p_sim, want = markov_simulated(convs, nulls, 1, walks=40_000)
    got = credits(doc, "markov")
    for ch, (c, v) in want.items():
        assert got.get(ch, [0, 0]) == pytest.approx([c, v], rel=0.03, abs=0.02), ch
    for model, table in doc["models"].items():
        assert sum(x["conversions"] for x in table.values()) == pytest.approx(5), model
        assert sum(x["value"] for x in table.values()) == pytest.approx(210.0), model


def test_time_decay_by_hand_and_half_life(env):
    site = env.site()
    t = -DAY
    post(env.server, site, journey(uid("a"), [(t - 14 * DAY, "Email"), (t - 7 * DAY, "Referral"), (t, "Direct")],
                                   [(t, 70.0, 2)]))
    # The same path without a conversion: one distinct path, 1 conversion and 1 null.
    post(env.server, site, journey(uid("a"), [(-2.5 * DAY, "Email"), (-2.4 * DAY, "Referral"), (-2.3 * DAY, "Direct")],
                                   []))
    fresh(env.server)
    body = {"site": site.id, "conversion": {"event": "Order Completed"}, "value_property": "revenue",
            "models": ["time_decay"], "from": iso(-3 * DAY), "to": iso(DAY)}
    # Visits 14 and 7 days before, and at the conversion: 2^-2, 2^-1, 1 of 1.75.
    doc = ok_report(env.server, **body)
    assert [(p["path"], p["conversions"], p["nulls"]) for p in doc["paths"]] == [(["Email", "Referral", "Direct"], 1, 1)]
    assert_credits(credits(doc, "time_decay"), {"Email": [1 / 7, 10.0], "Referral": [2 / 7, 20.0], "Direct": [4 / 7, 40.0]})
    # Half-life 14 days: 2^-1, 2^-0.5, 1.
    w = [0.5, 2 ** -0.5, 1.0]
    want = {ch: [x / sum(w), 70 * x / sum(w)] for ch, x in zip(["Email", "Referral", "Direct"], w, strict=True)}
    assert_credits(credits(ok_report(env.server, **body, half_life_days=14), "time_decay"), want)


def test_cross_device_path_is_one_person(env):
    site = env.site()
    phone, laptop, user = uid("phone"), uid("laptop"), uid("user") + "@example.com"
    sp, sl = uid("s"), uid("s")
    post(env.server, site, [
        page(phone, -6 * DAY, "Email", session=sp), identify(phone, -6 * DAY + 60, user, session=sp),
        page(laptop, -2 * DAY, "Organic Search", session=sl), identify(laptop, -2 * DAY + 30, user, session=sl),
        track(laptop, -2 * DAY + 120, "Order Completed", session=sl, user=user, revenue=80)])
    fresh(env.server)
    body = {"site": site.id, "conversion": {"event": "Order Completed"}, "value_property": "revenue",
            "from": iso(-10 * DAY), "to": iso(DAY)}
    doc = ok_report(env.server, **body)
    assert [(p["path"], p["conversions"], p["nulls"]) for p in doc["paths"]] == [(["Email", "Organic Search"], 1, 0)]
    assert credits(doc, "first_touch") == {"Email": [1, 80.0]}
    assert credits(doc, "last_touch") == {"Organic Search": [1, 80.0]}
    # Per session, the phone's visit is a path of its own that never converted.
    doc = ok_report(env.server, **body, container="session")
    assert [(p["path"], p["conversions"], p["nulls"]) for p in doc["paths"]] == [
        (["Organic Search"], 1, 0), (["Email"], 0, 1)]


def test_lookback_edges(env):
    site = env.site()
    conv = -DAY
    batch = []
    # In: exactly 30 days before (Paid Search), 30 days less an hour (Email).  Out: 30 days
    # and an hour (Referral).  The purchases are server-side (no visit of their own).
    for visits in ([(conv - 30 * DAY, "Paid Search")], [(conv - 30 * DAY + H, "Email")],
                   [(conv - 30 * DAY - H, "Referral")]):
        batch += journey(uid("a"), visits, [(conv, 5.0, None)])
    post(env.server, site, batch)
    fresh(env.server)
    body = {"site": site.id, "conversion": {"event": "Order Completed"}, "value_property": "revenue",
            "models": ["first_touch"], "from": iso(-3 * DAY), "to": iso(DAY)}
    doc = ok_report(env.server, **body)
    # No touch left in the window: the conversion is Direct's.
    assert credits(doc, "first_touch") == {"Paid Search": [1, 5.0], "Email": [1, 5.0], "Direct": [1, 5.0]}
    doc = ok_report(env.server, **body, lookback_days=31)
    assert credits(doc, "first_touch") == {"Paid Search": [1, 5.0], "Email": [1, 5.0], "Referral": [1, 5.0]}
    assert doc["nulls"] == 0  # the visits fell before `from`: no non-converting paths


def test_later_conversion_starts_a_new_path(env):
    site = env.site()
    d = -DAY
    anon = uid("a")
    batch = journey(anon, [(21 * d, "Paid Search"), (10 * d, "Email"), (5 * d, "Referral"), (2 * d, "Paid Social")],
                    # before `from` (a boundary only), two server-side, then twice in the last visit
                    [(20 * d, 1.0, None), (9 * d, 2.0, None), (4 * d, 4.0, None), (3 * d + H, 8.0, None),
                     (2 * d + 600, 16.0, 3), (2 * d + 1200, 32.0, 3)])
    post(env.server, site, batch)
    fresh(env.server)
    doc = ok_report(env.server, site=site.id, conversion={"event": "Order Completed"}, value_property="revenue",
                    models=["linear"], **{"from": iso(15 * d), "to": iso(DAY)})
    assert doc["conversions"] == 5 and doc["value"] == 62.0
    assert sorted((p["path"], p["conversions"], p["value"]) for p in doc["paths"]) == [
        (["Direct"], 1, 8.0), (["Email"], 1, 2.0), (["Paid Social"], 2, 48.0), (["Referral"], 1, 4.0)]


def test_page_views_without_a_session_form_visits(env):
    """Server-side page views (Segment libraries send no session id): a device's views are
    one visit until more than 30 minutes pass without one; tracks without a session id
    start no visit, so a server-side purchase is not a touch."""
    site = env.site()
    d = -DAY
    a, b, user = uid("a"), uid("b"), uid("user")
    post(env.server, site, [
        page(a, 10 * d, "Email"),
        page(a, 10 * d + 1800, "Direct", path="/product"),  # 30 minutes later: the same visit
        page(a, 10 * d + 3600.001, "Paid Search"),  # 30 minutes and 1 ms after the last: a new one
        track(a, 7 * d, "Product Viewed"),  # no visit of its own, no Direct touch
        page(a, 5 * d, "Organic Search"),
        identify(a, 5 * d + 60, user),
        track(None, 5 * d + 120, "Order Completed", user=user, revenue=40),
        page(b, 3 * d, "Referral"),
        page(b, 3 * d + 600, "Direct", path="/thanks"),
    ])
    fresh(env.server)
    body = {"site": site.id, "value_property": "revenue", "from": iso(-25 * DAY), "to": iso(DAY)}
    doc = ok_report(env.server, **body, conversion={"event": "Order Completed"})
    assert [(p["path"], p["conversions"], p["value"], p["nulls"]) for p in doc["paths"]] == [
        (["Email", "Paid Search", "Organic Search"], 1, 40.0, 0), (["Referral"], 0, 0.0, 1)]
    # Per visit: b's visit converts on its own page view; a's three never do.
    doc = ok_report(env.server, **body, conversion={"type": "page", "path": "/thanks"}, container="session")
    assert sorted((p["path"], p["conversions"], p["nulls"]) for p in doc["paths"]) == [
        (["Email"], 0, 1), (["Organic Search"], 0, 1), (["Paid Search"], 0, 1), (["Referral"], 1, 0)]


def test_channel_dimensions_and_site_rules(env):
    plain, ruled = env.site(), env.free.pop()  # the last site has the channel rules
    d = -DAY
    for site in (plain, ruled):
        batch = journey(uid("a"), [(5 * d, "Paid Search"), (4 * d, "Organic Search"), (3 * d, "Email"),
                                   (2 * d, "Affiliates"), (1.5 * d, "Referral")], [(1.5 * d + 60, 1.0, 4)])
        batch.append(page(uid("a"), 2 * d, session=uid("s"), query="utm_source=globex&utm_medium=cpc"))
        batch.append(page(uid("a"), 2 * d, session=uid("s"), referrer="https://uk.trustpilot.com/review/shop"))
        post(env.server, site, batch)
    fresh(env.server)

    def labels(site, **kw):
        doc = ok_report(env.server, site=site.id, conversion={"event": "Order Completed"}, models=["linear"],
                        **{"from": iso(-10 * DAY), "to": iso(DAY)}, **kw)
        return sorted(tuple(p["path"]) for p in doc["paths"])

    assert labels(plain) == [("Paid Search",), ("Paid Search", "Organic Search", "Email", "Affiliates", "Referral"),
                             ("Referral",)]
    assert labels(ruled) == [("Paid Search", "Organic Search", "Email", "Partners", "Referral"), ("Partners",),
                             ("Reviews",)]
    assert labels(plain, channel="utm_source") == [
        ("globex",), ("google", "www.google.com", "newsletter", "partnerx", "blog.example.org"),
        ("uk.trustpilot.com",)]
    # Both one-visit persons now share the path ("(not set)",): one row, two nulls.
    assert labels(ruled, channel="utm_campaign") == [
        ("(not set)",), ("brand", "(not set)", "spring", "(not set)", "(not set)")]


def test_one_site_never_sees_another(env):
    a, b = env.site(), env.site()
    anon = uid("shared")
    post(env.server, a, journey(anon, [(-3 * DAY, "Email")], [(-3 * DAY + 60, 10.0, 0)]))
    post(env.server, b, journey(anon, [(-2 * DAY, "Referral")], [(-2 * DAY + 60, 99.0, 0)]))
    fresh(env.server)
    doc = ok_report(env.server, site=a.id, conversion={"event": "Order Completed"}, value_property="revenue",
                    **{"from": iso(-10 * DAY), "to": iso(DAY)})
    assert (doc["conversions"], doc["value"], doc["channels"]) == (1, 10.0, ["Email"])


def test_no_conversions_is_an_empty_report(env):
    site = env.site()
    post(env.server, site, journey(uid("a"), [(-2 * DAY, "Email")], []))
    fresh(env.server)
    doc = ok_report(env.server, site=site.id, conversion={"event": "Order Completed"},
                    **{"from": iso(-10 * DAY), "to": iso(DAY)})
    assert doc["conversions"] == 0 and doc["nulls"] == 1
    assert all(x["conversions"] == 0 for m in doc["models"].values() for x in m.values())
    # A site with no events at all answers an empty report, not an error.
    empty = ok_report(env.server, site=env.free[0].id, conversion={"event": "Order Completed"})
    assert (empty["conversions"], empty["nulls"], empty["paths"], empty["models"]["markov"]) == (0, 0, [], {})


@pytest.mark.parametrize("body, status, field", [
    ({}, 400, "site"),
    ({"site": "nope-never"}, 404, "site"),
    ({"conversion": None}, 400, "conversion"),
    ({"conversion": {"event": 5}}, 400, "conversion.event"),
    ({"conversion": {"colour": "red"}}, 400, "conversion.colour"),
    ({"models": ["markov", "magic"]}, 400, "models"),
    ({"models": []}, 400, "models"),
    ({"lookback_days": 0}, 400, "lookback_days"),
    ({"lookback_days": "30"}, 400, "lookback_days"),
    ({"container": "device"}, 400, "container"),
    ({"channel": "utm_medium"}, 400, "channel"),
    ({"half_life_days": -1}, 400, "half_life_days"),
    ({"markov_order": 9}, 400, "markov_order"),
    ({"from": "yesterday"}, 400, "from"),
    ({"from": "2024-05-02", "to": "2024-05-01"}, 400, "from"),
    ({"value_property": 3}, 400, "value_property"),
    ({"sight": "typo"}, 400, "sight"),
])
def test_bad_requests_name_the_field(env, body, status, field):
    site = env.free[0]
    full = {"site": site.id, "conversion": {"event": "Order Completed"}, **body}
    if body == {}:
        full = {}
    r = report(env.server, **full)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field, r.text


def test_admin_token_required(env):
    r = report(env.server, token=None, site=env.free[0].id, conversion={"event": "Order Completed"})
    assert r.status_code == 401
    r = report(env.server, token="wrong", site=env.free[0].id, conversion={"event": "Order Completed"})
    assert r.status_code == 401


def test_cli_report_attribution(env):
    site = env.site()
    post(env.server, site, journey(uid("a"), [(-3 * DAY, "Email"), (-2 * DAY, "Referral")], [(-2 * DAY + 60, 25.0, 1)]))
    fresh(env.server)
    cmd = [sys.executable, "-m", "collector.cli", "--url", env.server.url, "report", "attribution", "--site", site.id,
           "--conversion", "track:Order Completed", "--value-property", "revenue", "--models", "first_touch,linear",
           "--from", iso(-10 * DAY), "--to", iso(DAY)]
    environ = {**os.environ, "FOOTPATH_ADMIN_TOKEN": ADMIN}
    environ.pop("FOOTPATH_CONFIG", None)
    out = subprocess.run(cmd, capture_output=True, text=True, env=environ, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "1 conversions, value 25, 0 non-converting paths"
    assert lines[2].split() == ["channel", "first", "linear"]
    assert lines[3].split() == ["Email", "1.00", "0.50"] and lines[4].split() == ["Referral", "0.00", "0.50"]
    assert "Email > Referral" in out.stdout
    js = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=environ, timeout=120)
    assert orjson.loads(js.stdout)["models"]["linear"]["Referral"] == {"conversions": 0.5, "value": 12.5}
    bad = subprocess.run([*cmd[:-4], "--models", "magic"], capture_output=True, text=True, env=environ, timeout=120)
    assert bad.returncode == 1 and "models" in bad.stderr and "(set it with --models)" in bad.stderr
    # an error about a field names the option that sets it (found in QA: only the API field)
    none = subprocess.run([*cmd[:9], *cmd[11:]], capture_output=True, text=True, env=environ, timeout=120)
    assert none.returncode == 1 and "conversion" in none.stderr and "(set it with --conversion)" in none.stderr, none.stderr
