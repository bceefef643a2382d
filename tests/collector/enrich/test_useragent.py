"""User agents: browser and device class from the fast resolver with user-agents' own
classification, checked against hand-labelled real browsers."""

import pytest
import user_agents

from collector.enrich.useragent import UAClassifier
from tests.conftest import ROOT

CASES = [line.split("\t") for line in (ROOT / "tests/fixtures/browser_user_agents.tsv").read_text().splitlines()
         if line and not line.startswith("#")]


@pytest.mark.parametrize("device,browser,ua", CASES)
def test_real_browsers(device, browser, ua):
    info = UAClassifier()(ua)
    assert info.device_type == device
    assert info.browser == browser
    assert info.is_bot is False


@pytest.mark.parametrize("device,browser,ua", CASES)
def test_device_class_agrees_with_user_agents_library(device, browser, ua):
    """Same semantics as user-agents' slow path (its own parser underneath)."""
    u = user_agents.parse(ua)
    slow = "tablet" if u.is_tablet else "mobile" if u.is_mobile else "desktop" if u.is_pc else "other"
    assert UAClassifier()(ua).device_type == slow


def test_bots_are_classed_bot():
    info = UAClassifier()("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert (info.device_type, info.is_bot) == ("bot", True)


def test_empty_user_agent():
    assert UAClassifier()("").device_type == "other"


def test_versions_and_os():
    info = UAClassifier()(CASES[0][2])
    assert (info.os, info.browser_version.split(".")[0]) == ("Windows", "131")


def test_results_are_cached_by_string():
    c = UAClassifier(cache_size=10)
    c(CASES[0][2])
    c(CASES[0][2])
    assert c.lookup.cache_info().hits == 1
