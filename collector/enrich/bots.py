"""Bot detection from the maintained crawler-user-agents list (PyPI `crawler-user-agents`,
the same patterns as monperrus/crawler-user-agents), plus the generic words every crawler
list agrees on.  The ~1,500 patterns are compiled once into a single RE2 automaton
(google-re2): one linear pass per user agent instead of the package's own chunked Python
regex search, which costs ~0.5 ms for an ordinary browser.  Callers also cache by UA
string (see useragent.UAClassifier)."""

from __future__ import annotations

import re

import crawleruseragents
import re2

# Tokens no ordinary browser sends; they catch new crawlers before the list learns them.
_GENERIC = re.compile(r"(?i)(?:bot\b|bot/|crawl|spider|scrap|headless|python-requests|curl/|wget/|go-http-client)")


def _compile_list() -> tuple[re2._Regexp, list[re.Pattern[str]]]:
    fast, slow = [], []
    for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA:
        pattern = entry["pattern"]
        try:
            re2.compile(pattern)
            fast.append(f"(?:{pattern})")
        except re2.error:  # a pattern RE2 cannot express stays on Python's engine
            slow.append(re.compile(pattern))
    # RE2's default 8 MiB for the lazily built DFA is too little for ~1,500 alternatives:
    # some user agents (okhttp/4.x) ran it out on every search, which fell back to the
    # slower NFA and wrote "DFA out of memory" to stderr each time.  This is a cap, not an
    # allocation: states are built as searches need them (peak RSS measured unchanged).
    options = re2.Options()
    options.max_mem = 64 << 20
    return re2.compile("|".join(fast), options), slow


_LIST, _LIST_SLOW = _compile_list()


def is_bot_ua(ua: str) -> bool:
    if not ua:
        return False
    if _GENERIC.search(ua) or _LIST.search(ua):
        return True
    return any(p.search(ua) for p in _LIST_SLOW)
