"""Bot detection from the maintained crawler-user-agents list (PyPI `crawler-user-agents`,
the same patterns as monperrus/crawler-user-agents), plus the generic words every crawler
list agrees on.  Callers cache by UA string (see useragent.UAClassifier)."""

from __future__ import annotations

import re

import crawleruseragents

# Tokens no ordinary browser sends; they catch new crawlers before the list learns them.
_GENERIC = re.compile(r"(?i)(?:bot\b|bot/|crawl|spider|scrap|headless|python-requests|curl/|wget/|go-http-client)")


def is_bot_ua(ua: str) -> bool:
    if not ua:
        return False
    return bool(_GENERIC.search(ua)) or crawleruseragents.is_crawler(ua)
