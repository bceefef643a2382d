"""The alert evaluator on synthetic hourly series (a pure function: no storage)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collector.quality.alerts import AlertConfig, evaluate, hour_index, wilson_lower
from tests.quality.synth import at, synth, visible

DEPLOY = at(30, 14)  # week 5, a Wednesday, 14:00 UTC
OC = "track:Order Completed"


def kinds(findings):
    return sorted((f.kind, f.key) for f in findings)


def wilson_by_bisection(k: float, n: float, z: float) -> float:
    """Independent check: the smallest p whose score interval contains k/n."""
    phat = k / n
    lo, hi = 0.0, phat
    for _ in range(100):
        mid = (lo + hi) / 2
        inside = (phat - mid) ** 2 <= z * z * mid * (1 - mid) / n
        lo, hi = (lo, mid) if inside else (mid, hi)
    return hi


@pytest.mark.parametrize("k,n", [(1, 9), (5, 9), (3, 100), (30, 100), (0, 10), (10, 10), (120, 1000)])
def test_wilson_lower_bound(k, n):
    assert wilson_lower(k, n, 1.96) == pytest.approx(wilson_by_bisection(k, n, 1.96), abs=1e-6)


def violation_series(checked: int, violating: int, hours_ago: int = 1):
    h = hour_index(DEPLOY)
    return {OC: {h - hours_ago: (float(checked), float(checked), float(violating))}}


def test_one_bad_event_in_nine_does_not_page():
    assert evaluate(violation_series(9, 1), DEPLOY) == []
    assert evaluate(violation_series(100, 7), DEPLOY) == []  # 7 %: the bound is below 5 %


def test_a_clearly_high_violation_rate_pages():
    (f,) = evaluate(violation_series(9, 5), DEPLOY)
    assert (f.kind, f.key, f.details["checked"], f.details["violating"]) == ("violation_rate", OC, 9, 5)
    assert f.details["lower_bound"] == pytest.approx(wilson_lower(5, 9, 1.96), abs=1e-4)
    assert "Order Completed: 5 of 9 events (55.6%) violated the tracking plan" in f.summary
    # The threshold is the site's alert_violation_percent.
    assert evaluate(violation_series(1000, 120), DEPLOY, AlertConfig(violation_threshold=0.2)) == []


def test_four_weeks_of_weekly_seasonality_fire_nothing():
    series = synth(weeks=5)
    fired = []
    for hours in range(7 * 24, 35 * 24):  # every hour with >= 7 days of history, weeks 2 to 5
        now = at(0, 0) + timedelta(hours=hours, minutes=(0, 20, 40)[hours % 3])
        found = evaluate(visible(series, now), now)
        fired += [(now.isoformat(), f.summary) for f in found]
    assert fired == []


def test_a_drop_to_20_percent_after_a_deploy_fires_within_the_hour():
    series = synth(change=lambda k, t: 0.2 if k == OC and t >= DEPLOY else 1.0)
    assert evaluate(visible(series, DEPLOY - timedelta(minutes=5)), DEPLOY - timedelta(minutes=5)) == []
    first = None
    for minutes in range(5, 65, 5):  # the scheduler's 5-minute ticks
        now = DEPLOY + timedelta(minutes=minutes)
        found = evaluate(visible(series, now), now)
        if found:
            first = (minutes, kinds(found), found[0])
            break
    assert first is not None and first[0] <= 60, first
    assert first[1] == [("volume_drop", OC)]
    f = first[2]
    assert f.details["basis"] == "same weekday and hour, previous 4 weeks"
    assert f.details["observed"] < 0.5 * f.details["expected"]


def test_an_event_that_stops_arriving_fires_within_minutes():
    series = synth(change=lambda k, t: 0.0 if k == OC and t >= DEPLOY else 1.0)
    now = DEPLOY + timedelta(minutes=5)
    found = evaluate(visible(series, now), now)
    assert kinds(found) == [("stopped", OC)]
    assert found[0].details["since"] == DEPLOY.isoformat()
    assert "no events since 2024-01-31 14:00 UTC" in found[0].summary


def test_a_site_wide_dip_is_reported_once():
    series = synth(change=lambda k, t: 0.1 if t >= DEPLOY else 1.0)
    seen = set()
    for minutes in range(0, 125, 5):  # the busiest event crosses its alarm first: no alert of its own
        now = DEPLOY + timedelta(minutes=minutes)
        seen |= {tuple(kinds(evaluate(visible(series, now), now)))}
    assert seen == {(), (("site_dip", "*"),)}
    now = DEPLOY + timedelta(hours=1)
    found = evaluate(visible(series, now), now)
    assert found[0].covers == tuple(sorted(series))
    assert "3 of 3 events affected" in found[0].summary


def test_a_double_firing_tag_is_a_rise():
    series = synth(change=lambda k, t: 3.0 if k == "track:Product Viewed" and t >= DEPLOY else 1.0)
    now = DEPLOY + timedelta(hours=1)
    assert kinds(evaluate(visible(series, now), now)) == [("volume_rise", "track:Product Viewed")]


def test_no_volume_judgement_without_a_week_of_history():
    series = synth(weeks=1, change=lambda k, t: 0.1 if t >= at(5, 14) else 1.0)
    now = at(5, 15)
    assert [f for f in evaluate(visible(series, now), now) if f.kind != "stopped"] == []


def test_a_violation_spike_after_a_deploy():
    series = synth(violation_rate=lambda k, t: 0.3 if k == OC and t >= DEPLOY else 0.01)
    now = DEPLOY + timedelta(hours=1)
    found = evaluate(visible(series, now), now)
    assert kinds(found) == [("violation_rate", OC)]
    assert 0.2 < found[0].details["rate"] < 0.4


def test_messages_rejected_as_invalid_page_once_for_the_site():
    h = hour_index(DEPLOY)  # DEPLOY is on the hour: the window is the previous hour
    stored = {OC: {h - 1: (90.0, 0.0, 0.0)}}
    # 1 rejected among 91 received: a lower bound well under 5 %, no page
    assert evaluate(stored, DEPLOY, rejected={h - 1: (1.0, 0.0, 0.0)}) == []
    (f,) = evaluate(stored, DEPLOY, rejected={h - 1: (30.0, 0.0, 0.0)}, rejected_fields=("properties",))
    assert (f.kind, f.key, f.family) == ("rejected_rate", "*", "rejected")
    assert (f.details["received"], f.details["rejected"]) == (120, 30)
    assert f.details["lower_bound"] == pytest.approx(wilson_by_bisection(30, 120, 1.96), abs=1e-4)
    assert f.summary.startswith("30 of 120 messages (25.0%) were rejected as invalid in the last hour; "
                                "most often properties")
    # rejections outside the window, or none stored beside them, count as they fall
    assert evaluate(stored, DEPLOY, rejected={h - 3: (30.0, 0.0, 0.0)}) == []
    (only,) = evaluate({}, DEPLOY, rejected={h - 1: (3.0, 0.0, 0.0)})
    assert only.details["rate"] == 1.0
