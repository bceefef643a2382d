"""when.py: the from/to every report reads (fallout, paths, attribution, quality)."""

import re
from datetime import UTC, datetime

import httpx
import pytest

from collector.when import RANGE, SHAPE, parse_when
from tests.conftest import ADMIN


@pytest.mark.parametrize("text,want,bare", [
    ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC), True),
    ("2026-12-01T10:00:00", datetime(2026, 12, 1, 10, tzinfo=UTC), False),
    ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC), False),
    ("2026-12-01T12:00:00+02:00", datetime(2026, 12, 1, 10, tzinfo=UTC), False),
])
def test_dates_and_datetimes_in_utc(text, want, bare):
    assert parse_when(text) == (want, bare)


@pytest.mark.parametrize("text,reason", [
    ("1900-01-01", RANGE), ("0001-01-05", RANGE), ("2299-12-01", RANGE), ("1969-12-01T00:00:00", RANGE),
    ("0001-01-01T00:00:00+04:00", RANGE), ("2300-01-01T00:00:00", RANGE),
    ("yesterday", SHAPE), ("", SHAPE), (20261201, SHAPE), ("2026-13-01", SHAPE),
])
def test_out_of_range_or_not_a_time(text, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_when(text)


@pytest.mark.parametrize("path,body", [
    ("/v1/reports/fallout", {"steps": [{"type": "page"}]}),
    ("/v1/reports/paths", {}),
    ("/v1/reports/attribution", {"conversion": {"event": "Order Completed"}}),
])
@pytest.mark.parametrize("dates", [{"from": "1900-01-01", "to": "1900-02-01"}, {"to": "0001-01-05"},
                                   {"from": "2299-12-01", "to": "2299-12-02"}])
def test_every_report_answers_a_date_out_of_range_with_a_400_naming_it(server, path, body, dates):
    """Found in QA: a bare date before 1970 was a 500 from the engine, year 1 an OverflowError."""
    r = httpx.post(server.url + path, json={"site": server.site.id, **body, **dates},
                   headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
    assert r.status_code == 400, r.text
    assert "out of range" in r.text and ("from" in r.text or "to" in r.text)
