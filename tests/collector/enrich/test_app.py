"""An app's device, OS and name come from its context, as Segment's app libraries build it.

The contexts below are the ones analytics-kotlin (AndroidContextPlugin), analytics-swift
(Context.swift, AppleUtils) and analytics-react-native (context.ts) send.  The expected
device classes follow Android's own tablet line, a smallest width of 600 dp (pixels /
density), worked out here by hand for each screen."""

from __future__ import annotations

import pytest

from collector.enrich import app
from collector.enrich.useragent import UAClassifier

DALVIK_PIXEL = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.230803.041)"
DALVIK_TAB = "Dalvik/2.1.0 (Linux; U; Android 13; SM-X700 Build/TP1A.220624.014)"
IOS_WEBVIEW = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"

ua = UAClassifier()


def _ctx(kind: str, model: str = "", os_: tuple[str, object] | None = None, screen: dict | None = None,
         app_: tuple[str, object] = ("Shop", "5.2"), name: str = "") -> dict:
    ctx: dict = {"device": {"type": kind, "model": model, "name": name, "manufacturer": "x"},
                 "app": {"name": app_[0], "version": app_[1], "build": "52"}}
    if os_:
        ctx["os"] = {"name": os_[0], "version": os_[1]}
    if screen:
        ctx["screen"] = screen
    return ctx


def _columns(ctx: dict, user_agent: str = "") -> dict:
    kind = app.platform(ctx)
    assert kind is not None
    return app.columns(kind, ctx, ua.columns(user_agent))


@pytest.mark.parametrize(("ctx", "user_agent", "expected"), [
    # Pixel 8: 1080 x 2400 px at density 2.625 -> 411 dp wide, a phone (its Dalvik UA parses as a tablet)
    (_ctx("android", "Pixel 8", ("Android", "14"), {"width": 1080, "height": 2400, "density": 2.625}), DALVIK_PIXEL,
     ("Shop", "5.2", "Android", "14", "mobile", False)),
    # Galaxy Tab S8 (SM-X700) in landscape: 2560 x 1600 px at density 2.0 -> 800 dp, a tablet
    (_ctx("android", "SM-X700", ("Android", "13"), {"width": 2560, "height": 1600, "density": 2.0}), DALVIK_TAB,
     ("Shop", "5.2", "Android", "13", "tablet", False)),
    # exactly on the line: 1200 px at density 2 -> 600 dp
    (_ctx("android", "T", ("Android", "12"), {"width": 1200, "height": 1920, "density": 2}), "",
     ("Shop", "5.2", "Android", "12", "tablet", False)),
    # just under it: 1199 px at density 2 -> 599.5 dp
    (_ctx("android", "P", ("Android", "12"), {"width": 1199, "height": 1920, "density": 2}), "",
     ("Shop", "5.2", "Android", "12", "mobile", False)),
    # React Native on Android sends no userAgent; without a density the device is taken for a phone
    (_ctx("android", "Pixel 7", ("Android", "13"), {"width": 1080, "height": 2400}), "",
     ("Shop", "5.2", "Android", "13", "mobile", False)),
    # analytics-swift: the model is the hardware identifier, the name UIDevice.model
    (_ctx("ios", "iPhone15,2", ("iOS", "17.2"), {"width": 393, "height": 852}, name="iPhone"), IOS_WEBVIEW,
     ("Shop", "5.2", "iOS", "17.2", "mobile", False)),
    (_ctx("ios", "iPad13,1", ("iPadOS", "17.2"), name="iPad"), "", ("Shop", "5.2", "iOS", "17.2", "tablet", False)),
    (_ctx("ios", "arm64", ("iPadOS", "17.2")), "", ("Shop", "5.2", "iOS", "17.2", "tablet", False)),  # a simulator
    (_ctx("macos", "MacBookPro18,3", ("macOS", "14.2.1")), "", ("Shop", "5.2", "Mac OS X", "14.2.1", "desktop", False)),
    (_ctx("tvos", "AppleTV11,1", ("tvOS", "17.2")), "", ("Shop", "5.2", "tvOS", "17.2", "other", False)),
    # no context.os: the platform's system, no version; numbers sent as numbers are kept as text
    (_ctx("Android", "Pixel 8", app_=("Shop", 52)), "", ("Shop", "52", "Android", "", "mobile", False)),
    (_ctx("ios", "iPhone15,2", ("iOS", 17.2)), "", ("Shop", "5.2", "iOS", "17.2", "mobile", False)),
    # a crawler's user agent in context.userAgent is still a bot
    (_ctx("android", "Pixel 8", ("Android", "14")), "Googlebot/2.1 (+http://www.google.com/bot.html)",
     ("Shop", "5.2", "Android", "14", "bot", True)),
])
def test_an_apps_columns_come_from_its_context(ctx, user_agent, expected):
    c = _columns(ctx, user_agent)
    assert (c["browser"], c["browser_version"], c["os"], c["os_version"], c["device_type"], c["is_bot"]) == expected


@pytest.mark.parametrize("ctx", [
    None, [], {}, {"device": "android"}, {"device": {"model": "Pixel 8"}}, {"device": {"type": 7}},
    {"device": {"type": "desktop"}},  # not a platform a library names: the user agent decides
    {"os": {"name": "Android", "version": "14"}},  # an OS alone is not an app's description
])
def test_other_messages_keep_the_user_agent_classification(ctx):
    assert app.platform(ctx) is None


def test_damaged_values_are_ignored_not_fatal():
    ctx = {"device": {"type": "android", "model": ["x"], "name": None}, "os": "Android", "app": 5,
           "screen": {"width": True, "height": 2400, "density": 0}}
    c = _columns(ctx)
    assert (c["browser"], c["os"], c["os_version"], c["device_type"]) == ("", "Android", "", "mobile")


def test_runaway_strings_are_cut():
    c = _columns(_ctx("ios", "iPhone15,2", ("iOS", "1" * 500), app_=("A" * 500, "1")))
    assert len(c["browser"]) == 64 and len(c["os_version"]) == 64
