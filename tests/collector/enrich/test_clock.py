from datetime import UTC, datetime, timedelta

from collector.enrich.clock import corrected, out_of_range

R = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def test_skewed_client_clock_is_corrected_by_sent_at_gap():
    # client clock runs 1 hour fast: it says the event happened 10 s before sending
    ts = datetime(2026, 11, 23, 13, 0, 0, tzinfo=UTC)
    sent = ts + timedelta(seconds=10)
    assert corrected(ts, sent, R) == R - timedelta(seconds=10)


def test_no_sent_at_keeps_timestamp_and_no_timestamp_uses_receipt():
    ts = R - timedelta(minutes=5)
    assert corrected(ts, None, R) == ts
    assert corrected(None, None, R) == R


def test_range_limits():
    assert out_of_range(R + timedelta(days=2), R, 400, 86400).startswith("timestamp more than 86400 s")
    assert "days in the past" in out_of_range(R - timedelta(days=401), R, 400, 86400)
    assert out_of_range(R - timedelta(days=399), R, 400, 86400) == ""


def test_a_timestamp_after_its_own_sent_at_is_taken_at_the_receipt():
    """Found in QA: sentAt 10 minutes before the timestamp put the event 10 minutes after
    it arrived; an event cannot happen after it was received."""
    ts = R - timedelta(minutes=1)
    assert corrected(ts, ts - timedelta(minutes=10), R) == R
    assert corrected(ts, ts, R) == R  # sent as it happened, on a clock 1 minute behind
