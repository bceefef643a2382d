"""Campaign and referrer: utm_* and click ids from the page URL (falling back to Segment's
context.campaign), referrer host and class.  Classes: search, social, email, internal,
direct, referral (any other site)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

CLICK_IDS = ("gclid", "gbraid", "wbraid", "dclid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid")
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

# Registrable-name prefixes: "google" matches google.com, google.co.uk, www.google.de ...
SEARCH = ("google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "qwant", "naver",
          "seznam", "startpage", "search.brave", "kagi", "ask", "aol", "sogou", "so")
SOCIAL = ("facebook", "fb", "m.facebook", "l.facebook", "lm.facebook", "instagram", "l.instagram",
          "t", "twitter", "x", "linkedin", "lnkd", "reddit", "old.reddit", "pinterest", "youtube",
          "tiktok", "snapchat", "threads", "bsky", "mastodon", "vk", "weibo", "quora", "tumblr",
          "discord", "whatsapp", "telegram", "news.ycombinator")
EMAIL_HOSTS = ("mail.google.com", "outlook.live.com", "outlook.office.com", "outlook.office365.com",
               "mail.yahoo.com", "mail.aol.com", "mail.proton.me", "app.fastmail.com", "mail.zoho.com",
               "webmail", "mail.yandex")
EMAIL_MEDIUMS = ("email", "e-mail", "newsletter", "mail")


@dataclass(frozen=True, slots=True)
class Campaign:
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    click_id: str = ""
    click_id_type: str = ""


_SECOND_LEVEL = ("co", "com", "net", "org", "ac", "gov", "edu", "ne", "or")


def _registrable(host: str) -> tuple[str, str]:
    """("google", "news") for news.google.co.uk: the registrable label and the one before it."""
    labels = host.lower().removeprefix("www.").split(".")
    cut = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    if len(labels) < cut:
        return labels[0], ""
    name = labels[-cut]
    sub = labels[-cut - 1] if len(labels) > cut else ""
    return name, sub


def _matches(host: str, names: tuple[str, ...]) -> bool:
    name, sub = _registrable(host)
    return name in names or (bool(sub) and f"{sub}.{name}" in names)


@lru_cache(maxsize=20_000)
def url_host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""


@lru_cache(maxsize=20_000)
def _url_campaign(url: str) -> Campaign:
    return _parse_campaign(url, None)


def parse_campaign(url: str, fallback: dict[str, str] | None = None) -> Campaign:
    """utm_* and click ids of a page URL; Segment's context.campaign fills the gaps.
    URLs repeat (landing pages), so the common no-fallback case is cached."""
    if not fallback:
        return _url_campaign(url)
    return _parse_campaign(url, fallback)


def _as_columns(c: Campaign) -> dict[str, str]:
    return {"utm_source": c.utm_source, "utm_medium": c.utm_medium, "utm_campaign": c.utm_campaign,
            "utm_term": c.utm_term, "utm_content": c.utm_content, "click_id": c.click_id,
            "click_id_type": c.click_id_type}


@lru_cache(maxsize=20_000)
def _url_columns(url: str) -> dict[str, str]:
    return _as_columns(_url_campaign(url))


def columns(url: str, fallback: dict[str, str] | None = None) -> dict[str, str]:
    """parse_campaign as the events columns: a cached dict (read-only) when there is no
    fallback, so the pipeline copies it into the row in one dict.update."""
    return _url_columns(url) if not fallback else _as_columns(_parse_campaign(url, fallback))


def _parse_campaign(url: str, fallback: dict[str, str] | None) -> Campaign:
    q: dict[str, str] = {}
    if url and "?" in url:
        for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=False):
            lk = k.lower()
            if lk not in q:
                q[lk] = v[:500]
    fb = fallback or {}
    utm = [q.get(k) or fb.get(k.removeprefix("utm_").replace("campaign", "name")) or "" for k in UTM]
    click_type = next((c for c in CLICK_IDS if q.get(c)), "")
    return Campaign(*utm, click_id=q.get(click_type, "") if click_type else "", click_id_type=click_type)


@lru_cache(maxsize=20_000)
def classify_referrer(referrer: str, page_host: str, internal_hosts: frozenset[str] = frozenset(),
                      utm_medium: str = "") -> tuple[str, str]:
    """(referrer_host, referrer_class)."""
    if not referrer:
        return "", ("email" if utm_medium.lower() in EMAIL_MEDIUMS else "direct")
    try:
        host = (urlsplit(referrer).hostname or "").lower()
    except ValueError:
        host = ""
    if not host:
        return "", "direct"
    if host == page_host or host in internal_hosts or (page_host and host.endswith("." + page_host)):
        return host, "internal"
    if utm_medium.lower() in EMAIL_MEDIUMS or any(h in host for h in EMAIL_HOSTS):
        return host, "email"
    if _matches(host, SEARCH):
        return host, "search"
    if _matches(host, SOCIAL):
        return host, "social"
    return host, "referral"
