"""Browser, OS and device class of a message sent by an app, from the app's own context.

Segment's app libraries describe the device themselves: `context.device.type` names the
platform ("android" from analytics-kotlin, analytics-android and React Native; "ios",
"macos", "tvos", "watchos", "visionos" from analytics-swift), with `context.device.model`,
`context.os` {name, version}, `context.app` {name, version} and `context.screen` {width,
height, density}.  Their user agents say much less: the HTTP client's (`okhttp/4.12.0`,
which the crawler list counts as a bot, `MyApp/5 CFNetwork/1490 Darwin/23.2.0`) or the
runtime's (`Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 ...)`, which parses as a tablet
because it lacks "Mobile").  So for a message whose `context.device.type` names a platform:

- `os`, `os_version`: `context.os`, with the names ua-parser gives the same systems on the
  web (iPadOS is "iOS", macOS "Mac OS X"), so app and web traffic share a breakdown;
- `device_type`: an iPad model (or iPadOS) is a tablet, another iOS device a phone; an
  Android device is a tablet when its screen's smallest width is at least 600 dp (Android's
  own `sw600dp` tablet line: pixels / density), else a phone; macOS, Windows and Linux are
  desktops; tvOS, watchOS and visionOS "other";
- `browser`, `browser_version`: the app's name and version (the "browser" it was used in);
- `is_bot`: judged on `context.userAgent` alone, never on the HTTP client's header.

A message without such a `context.device.type` (every web page, every server library) keeps
the user-agent classification."""

from __future__ import annotations

from typing import Any

# context.device.type -> (os family when context.os names none, device class)
PLATFORMS: dict[str, tuple[str, str]] = {
    "android": ("Android", "mobile"),
    "ios": ("iOS", "mobile"),
    "ipados": ("iOS", "tablet"),
    "macos": ("Mac OS X", "desktop"),
    "windows": ("Windows", "desktop"),
    "linux": ("Linux", "desktop"),
    "tvos": ("tvOS", "other"),
    "watchos": ("watchOS", "other"),
    "visionos": ("visionOS", "other"),
}

# context.os.name (lower case) -> ua-parser's family for the same system
_OS_NAMES = {"ios": "iOS", "ipados": "iOS", "iphone os": "iOS", "android": "Android", "macos": "Mac OS X",
             "mac os x": "Mac OS X", "os x": "Mac OS X", "windows": "Windows", "linux": "Linux",
             "tvos": "tvOS", "watchos": "watchOS", "visionos": "visionOS"}

TABLET_MIN_DP = 600  # Android's smallest-width qualifier for tablet layouts (sw600dp)
_TEXT_MAX = 64  # the app's strings go to LowCardinality columns; a runaway value is cut


def platform(context: Any) -> str | None:
    """The app platform a message's context names, or None for every other message."""
    if context.__class__ is not dict:
        return None
    device = context.get("device")
    if device.__class__ is not dict:
        return None
    kind = device.get("type")
    if kind.__class__ is not str:
        return None
    kind = kind.lower()
    return kind if kind in PLATFORMS else None


def columns(kind: str, context: dict[str, Any], ua_columns: dict[str, object]) -> dict[str, object]:
    """The events columns of an app message on `kind` (a key of PLATFORMS); `ua_columns` are
    those of its `context.userAgent` (empty string when it sent none), for is_bot."""
    default_os, device_class = PLATFORMS[kind]
    device = context["device"]
    os_ = _dict(context.get("os"))
    app = _dict(context.get("app"))
    os_name = _text(os_.get("name"))
    family = _OS_NAMES.get(os_name.lower(), os_name) if os_name else default_os
    if kind in ("ios", "ipados"):
        ipad = (_text(device.get("model")).startswith("iPad") or _text(device.get("name")).startswith("iPad")
                or os_name.lower() == "ipados")
        device_class = "tablet" if ipad or kind == "ipados" else "mobile"
    elif kind == "android":
        sw = _smallest_width_dp(_dict(context.get("screen")))
        device_class = "tablet" if sw is not None and sw >= TABLET_MIN_DP else "mobile"
    is_bot = bool(ua_columns["is_bot"])
    return {"browser": _text(app.get("name")), "browser_version": _text(app.get("version")), "os": family,
            "os_version": _text(os_.get("version")), "device_type": "bot" if is_bot else device_class,
            "is_bot": is_bot}


def _smallest_width_dp(screen: dict[str, Any]) -> float | None:
    w, h, density = screen.get("width"), screen.get("height"), screen.get("density")
    if not (_number(w) and _number(h) and _number(density)) or density <= 0 or w <= 0 or h <= 0:
        return None
    return min(w, h) / density


def _number(v: object) -> bool:
    return v.__class__ in (int, float)  # not bool, which is an int subclass


def _dict(v: object) -> dict[str, Any]:
    return v if v.__class__ is dict else {}  # type: ignore[return-value]


def _text(v: object) -> str:
    if v.__class__ is str:
        return v[:_TEXT_MAX]  # type: ignore[index]
    if v.__class__ in (int, float):  # an app build number or OS version sent as a number
        return str(v)
    return ""
