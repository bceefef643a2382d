import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.validate.limits import LimitError, Limits, _no_long_key, _walk, check_message, within_limits

L = Limits(max_message_bytes=1000, max_depth=3, max_keys=10, max_string=50)


def test_within_limits():
    check_message({"type": "track", "properties": {"a": {"b": [1, 2]}}}, L, body_small=False)


@pytest.mark.parametrize("msg,field,words", [
    ({"properties": {"a": {"b": {"c": {"d": 1}}}}}, "properties.a.b.c", "nested deeper"),
    ({"properties": {f"k{i}": i for i in range(11)}}, "properties", "more than 10 keys"),
    # the limit is on all of properties: found in QA, it named properties.n (6 keys) alone
    ({"properties": {**{f"k{i}": i for i in range(5)}, "n": {f"j{i}": i for i in range(6)}}}, "properties",
     "more than 10 keys and items in all of properties (the count passed it at properties.n)"),
    ({"properties": {"s": "x" * 51}}, "properties.s", "longer than 50"),
    ({"event": "x" * 51}, "event", "longer than 50"),
    ({"properties": {str(i): "x" * 50 for i in range(9)}, "traits": {str(i): "y" * 50 for i in range(9)},
      "context": {str(i): "z" * 50 for i in range(9)}}, "", "larger than 1000 bytes"),
])
def test_each_limit_names_the_field(msg, field, words):
    with pytest.raises(LimitError) as e:
        check_message(msg, L, body_small=False)
    assert e.value.field == field
    assert words in e.value.reason


def test_size_check_skipped_when_whole_body_is_small():
    big = {"traits": {str(i): "y" * 40 for i in range(9)}, "context": {str(i): "z" * 40 for i in range(9)}}
    check_message(big, L, body_small=True)  # the caller knows the body is under the limit


# -- the quick proof from the JSON text (within_limits) never hides a problem --------------
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=12),
              st.sampled_from(["x" * 60, "é" * 30, "\u0001" * 20, 'q"' * 10])),
    lambda kids: st.one_of(st.lists(kids, max_size=6), st.lists(st.integers(0, 9), max_size=90),
                           st.dictionaries(st.one_of(st.text(max_size=4), st.just("k" * 257), st.just('"' * 60)),
                                           kids, max_size=6)),
    max_leaves=40)
LIMITS = st.builds(Limits, st.just(10**6), st.integers(1, 6), st.one_of(st.integers(1, 40), st.integers(130, 400)),
                   st.integers(5, 1000))


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=6), st.lists(JSON_VALUES, max_size=4)),
       LIMITS)
def test_quick_proof_implies_the_walk_agrees(value, lim):
    if within_limits(orjson.dumps(value), lim):
        assert _walk(value, 1, lim, [lim.max_keys]) is None


def test_everyday_context_is_proved_without_a_walk():
    lim = Limits(32768, 8, 300, 8192)
    ctx = {"ip": "81.2.69.160", "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "locale": "en-GB",
           "page": {"url": "https://shop.example/p/1?utm_source=news&utm_medium=email",
                    "referrer": "https://www.google.com/", "title": "Yoga mats", "path": "/p/1"},
           "library": {"name": "footpath.js", "version": "1.0.0"}, "consent": {"analytics": "granted"},
           "sessionId": "s-0192f0c4", "seq": 12, "pageViewId": "v-0192f0c4"}
    assert len(orjson.dumps(ctx)) > 258  # the long-key scan is exercised too
    assert within_limits(orjson.dumps(ctx), lim)
    assert not within_limits(orjson.dumps({**ctx, "k" * 257: 1}), lim)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 300), st.sampled_from([255, 256, 257, 258])), max_size=6))
def test_long_piece_scan_finds_every_long_piece_after_a_quote(pieces):
    """The regex scan finds exactly the texts with a piece of 257+ bytes after a quote (in
    the middle or at the end; the piece before the first quote is outside every string)."""
    text = b'"'.join(b"a" * n for n in pieces)
    assert _no_long_key(text) == (max(map(len, text.split(b'"')[1:]), default=0) <= 256)


def test_key_budget_bound_is_exact_at_the_edge():
    """n items need 2n + 1 bytes at least ("[0,0]"): the proof accepts exactly up to the limit."""
    for k in range(1, 40):
        lim = Limits(10**6, 8, k, 10**6)
        for n in range(0, 3 * k + 3):
            proved = within_limits(orjson.dumps([0] * n), lim)
            assert proved == (n <= k), (k, n)
            assert (_walk([0] * n, 1, lim, [k]) is None) == (n <= k)
