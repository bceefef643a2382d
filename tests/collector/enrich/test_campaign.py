import pytest

from collector.enrich.campaign import classify_referrer, parse_campaign


def test_utm_and_click_ids_from_url():
    c = parse_campaign("https://shop.example/p?utm_source=Newsletter&UTM_MEDIUM=email&utm_campaign=bf"
                       "&utm_term=yoga&utm_content=hero&gclid=Cj0K&fbclid=zzz")
    assert (c.utm_source, c.utm_medium, c.utm_campaign, c.utm_term, c.utm_content) == (
        "Newsletter", "email", "bf", "yoga", "hero")
    assert (c.click_id_type, c.click_id) == ("gclid", "Cj0K")


@pytest.mark.parametrize("param", ["fbclid", "msclkid"])
def test_other_click_ids(param):
    c = parse_campaign(f"https://s.example/?{param}=abc")
    assert (c.click_id_type, c.click_id) == (param, "abc")


def test_segment_context_campaign_is_the_fallback():
    c = parse_campaign("https://s.example/", {"name": "spring", "source": "google", "medium": "cpc"})
    assert (c.utm_source, c.utm_medium, c.utm_campaign) == ("google", "cpc", "spring")


def test_no_url_no_campaign():
    assert parse_campaign("").utm_source == ""


@pytest.mark.parametrize("ref,cls", [
    ("https://www.google.com/search?q=x", "search"),
    ("https://www.google.co.uk/", "search"),
    ("https://duckduckgo.com/", "search"),
    ("https://search.brave.com/search?q=y", "search"),
    ("https://l.facebook.com/l.php?u=x", "social"),
    ("https://t.co/abc", "social"),
    ("https://news.ycombinator.com/item?id=1", "social"),
    ("https://www.linkedin.com/feed", "social"),
    ("https://mail.google.com/mail/u/0", "email"),
    ("https://outlook.live.com/mail", "email"),
    ("https://shop.example/cart", "internal"),
    ("https://blog.shop.example/post", "internal"),
    ("https://someblog.example.org/post", "referral"),
    ("", "direct"),
])
def test_referrer_classes(ref, cls):
    assert classify_referrer(ref, "shop.example")[1] == cls


def test_email_campaign_without_referrer_is_email():
    assert classify_referrer("", "shop.example", frozenset(), "email") == ("", "email")


def test_referrer_host_is_reported():
    assert classify_referrer("https://www.bing.com/search?q=1", "shop.example") == ("www.bing.com", "search")
