"""The one reading of a report's `from` / `to` (fallout, paths, attribution, quality): a UTC
date (YYYY-MM-DD, its midnight) or an ISO 8601 datetime (naive means UTC), in years 1971
to 2200, which keeps the defaults computed from it (to - 30 days, to + 1 day) and the
engine's DateTime64 in range (a 1900 date was a 500 from the engine)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

FIRST_YEAR, LAST_YEAR = 1971, 2200
SHAPE = "must be a date (YYYY-MM-DD) or an ISO 8601 datetime"
RANGE = f"out of range: years {FIRST_YEAR} to {LAST_YEAR}"


def parse_when(v: Any) -> tuple[datetime, bool]:
    """(the time in UTC, whether it was a bare date); ValueError with the reason (SHAPE or
    RANGE) otherwise."""
    if not isinstance(v, str) or not v:
        raise ValueError(SHAPE)
    try:
        if len(v) == 10:
            d = date.fromisoformat(v)
            ts, bare = datetime(d.year, d.month, d.day, tzinfo=UTC), True
        else:
            ts, bare = datetime.fromisoformat(v.replace("Z", "+00:00")), False
            ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    except OverflowError:  # 0001-01-01T00:00:00+04:00 is before year 1 in UTC
        raise ValueError(RANGE) from None
    except ValueError:
        raise ValueError(SHAPE) from None
    if not FIRST_YEAR <= ts.year <= LAST_YEAR:
        raise ValueError(RANGE)
    return ts, bare
