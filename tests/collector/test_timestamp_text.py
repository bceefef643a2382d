"""The stored timestamp text (pipeline._fmt, cached per second) is exactly what
datetime.isoformat(timespec="milliseconds") writes, for every instant and zone."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.pipeline import _fmt

ZONES = st.one_of(st.just(UTC), st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-900, 900)))


@settings(max_examples=3000, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), ZONES)
def test_text_is_isoformat_in_milliseconds(naive, zone):
    ts = naive.replace(tzinfo=zone)
    assert _fmt(ts) == ts.isoformat(timespec="milliseconds")


def test_one_second_shares_its_cached_head():
    base = datetime(2026, 11, 23, 17, 30, 5, tzinfo=UTC)
    for us in (0, 999, 1000, 500_500, 999_999):
        ts = base.replace(microsecond=us)
        assert _fmt(ts) == ts.isoformat(timespec="milliseconds")
    assert _fmt(None) is None
