"""Clock-skew correction as Segment documents it: the sender's clock may be wrong, but
the gap between its timestamp and its sentAt is trusted, so
timestamp = receivedAt - (sentAt - originalTimestamp)."""

from __future__ import annotations

from datetime import datetime, timedelta


def corrected(timestamp: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    # The sender's clock corrected (Segment's rule): its offset is sentAt - receivedAt.  A
    # timestamp after its own sentAt (the two read from different clocks, or a replayed
    # batch's old sentAt) would land after the receipt: an event cannot happen after it
    # arrived, so it is taken at the receipt.
    return min(received_at - (sent_at - timestamp), received_at)


def out_of_range(ts: datetime, received_at: datetime, max_past_days: int, max_future_seconds: int) -> str:
    """'' when acceptable, else the reason."""
    if ts > received_at + timedelta(seconds=max_future_seconds):
        return f"timestamp more than {max_future_seconds} s in the future"
    if ts < received_at - timedelta(days=max_past_days):
        return f"timestamp more than {max_past_days} days in the past"
    return ""
