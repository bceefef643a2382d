"""User agent -> browser, OS, device_type.  ua-parser with its Rust resolver does the
parsing (~33 us); user-agents' own classification properties (is_mobile, is_tablet, is_pc,
is_bot) decide the device class, so its semantics are kept exactly; an LRU keyed by the
UA string makes repeat visitors nearly free."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ua_parser
from user_agents.parsers import UserAgent, parse_browser, parse_device, parse_operating_system

from collector.enrich import bots


@dataclass(frozen=True, slots=True)
class UAInfo:
    browser: str
    browser_version: str
    os: str
    os_version: str
    device_type: str  # desktop | mobile | tablet | bot | other
    is_bot: bool


EMPTY = UAInfo("", "", "", "", "other", False)


class _FastUserAgent(UserAgent):
    """user-agents' UserAgent, fed by the fast resolver instead of the pure-Python parser."""

    def __init__(self, ua: str):  # noqa: D107 - intentionally does not call super()
        r = ua_parser.parse(ua)
        b, o, d = r.user_agent, r.os, r.device
        self.ua_string = ua
        self.browser = parse_browser(*(b.family, b.major, b.minor, b.patch) if b else ("Other",))
        self.os = parse_operating_system(*(o.family, o.major, o.minor, o.patch) if o else ("Other",))
        self.device = parse_device(*(d.family, d.brand, d.model) if d else ("Other", None, None))


def _classify(ua: str) -> UAInfo:
    if not ua:
        return EMPTY
    u = _FastUserAgent(ua)
    is_bot = u.is_bot or bots.is_bot_ua(ua)
    if is_bot:
        device = "bot"
    elif u.is_tablet:
        device = "tablet"
    elif u.is_mobile:
        device = "mobile"
    elif u.is_pc:
        device = "desktop"
    else:
        device = "other"
    return UAInfo(u.browser.family, u.browser.version_string, u.os.family, u.os.version_string, device, is_bot)


class UAClassifier:
    def __init__(self, cache_size: int = 50_000):
        self.lookup = lru_cache(maxsize=cache_size)(_classify)
        self._columns = lru_cache(maxsize=cache_size)(self._columns_of)

    def __call__(self, ua: str) -> UAInfo:
        return self.lookup(ua[:1024])

    def columns(self, ua: str) -> dict[str, object]:
        """The events columns of a user agent, one cached dict (read-only: callers copy it
        into their row with dict.update, one C call instead of six assignments)."""
        return self._columns(ua[:1024])

    def _columns_of(self, ua: str) -> dict[str, object]:
        i = self.lookup(ua)
        return {"browser": i.browser, "browser_version": i.browser_version, "os": i.os, "os_version": i.os_version,
                "device_type": i.device_type, "is_bot": i.is_bot}
