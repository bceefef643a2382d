"""Compact buffer records (collector/buffer/layouts.py): a released layout never changes,
its columns are the events table's, and a compact record stores exactly the rows the same
rows as JSONEachRow store."""

import time
from datetime import UTC, datetime

import pytest

from collector import pipeline
from collector.buffer import layouts
from collector.buffer.wal import table_record
from collector.enrich.geo import GeoIP
from collector.enrich.useragent import UAClassifier
from collector.sites import Site
from collector.validate.dedup import RecentIds
from collector.validate.limits import Limits
from tests.collector.test_pipeline_rows import MESSAGES
from tests.conftest import ASN_DB, CITY_DB

# Layout 1 as released (segments written with it must drain under every later version):
# this list is its specification, not a copy of the code's.
LAYOUT_1 = [
    "user_id", "anonymous_id", "previous_id", "site_id", "type", "source", "timestamp", "original_timestamp",
    "sent_at", "received_at", "message_id", "event", "name", "group_id", "session_id", "seq", "page_view_id",
    "url", "path", "title", "referrer", "locale", "library", "properties", "traits", "context", "user_agent",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "click_id", "click_id_type",
    "referrer_host", "referrer_class", "browser", "browser_version", "os", "os_version", "device_type", "is_bot",
    "country_code", "region", "city", "asn", "as_org", "ip", "consent_analytics",
]


def test_released_layouts_never_change():
    assert list(layouts.LAYOUTS["1"]) == LAYOUT_1
    assert layouts.CURRENT in layouts.LAYOUTS
    assert layouts.LAYOUTS[layouts.CURRENT] == pipeline.ROW_COLUMNS
    for cols in layouts.LAYOUTS.values():
        assert cols[0] == "user_id"  # identity's scan skips rows starting [""
        assert len(set(cols)) == len(cols)


def test_every_layout_column_is_an_events_column(server):
    have = {r[0] for r in server.sql("SELECT name FROM system.columns WHERE database = 'footpath' "
                                     "AND table = 'events'")}
    assert len(have) > 40
    for name, cols in layouts.LAYOUTS.items():
        assert set(cols) <= have, (name, set(cols) - have)


def test_unknown_layout_is_named():
    with pytest.raises(ValueError, match="layout '9' is unknown"):
        layouts.columns("9")
    assert layouts.split_key("footpath.events!1") == ("footpath.events", "1")
    assert layouts.split_key("footpath.quarantine") == ("footpath.quarantine", None)


def _rows(site_id: str, received: datetime) -> list[dict]:
    sv = pipeline.Services(Limits(32768, 8, 300, 8192), GeoIP(str(CITY_DB), str(ASN_DB)), UAClassifier(),
                           RecentIds(1000), 400, 86400)
    site = Site(id=site_id, public_key="pk_" + site_id, aggregate_when_denied=True, consent_default="granted")
    rq = pipeline.RequestContext(site, "server", received, "81.2.69.160", "", False, None, True)
    batch = [{**m, "messageId": f"m{i}"} for i, m in enumerate(MESSAGES)]
    out = pipeline.run(rq, sv, batch)
    assert len(out.rows) == len(batch)
    return out.rows


def test_compact_and_named_rows_store_the_same_values(server):
    """The same pipeline rows, once as JSONEachRow (site a) and once compact (site b)."""
    a, b = f"lay-a-{time.time_ns()}", f"lay-b-{time.time_ns()}"
    now = datetime.now(UTC)
    named, compact = _rows(a, now), _rows(b, now)
    assert all(len(r) == len(pipeline.ROW_COLUMNS) for r in compact)
    key = layouts.record_key(layouts.EVENTS_TABLE, layouts.CURRENT)
    server.collector.wal.append_nowait([pipeline.encode_rows(named),
                                        table_record(key, pipeline.encode_compact(compact))])
    server.flush()
    q = "SELECT * EXCEPT (site_id) FROM footpath.events WHERE site_id = {s:String} ORDER BY message_id"
    got_a, got_b = server.sql(q, {"s": a}), server.sql(q, {"s": b})
    assert len(got_a) == len(MESSAGES)
    assert got_a == got_b


def test_identity_reads_the_users_of_both_record_kinds():
    rows = _rows(f"lay-i-{time.time_ns()}", datetime.now(UTC))
    want = [r for r in rows if r["user_id"]]
    assert 0 < len(want) < len(rows)
    key = layouts.record_key(layouts.EVENTS_TABLE, layouts.CURRENT)
    assert list(layouts.row_dicts(key, pipeline.encode_compact(rows), with_user_only=True)) == want
    assert list(layouts.row_dicts(layouts.EVENTS_TABLE, pipeline.encode_rows(rows), with_user_only=True)) == want
    assert list(layouts.row_dicts(key, pipeline.encode_compact(rows))) == rows  # the warm-up reads them all


def test_a_restart_remembers_the_ids_of_both_record_kinds_in_the_buffer(tmp_path):
    from collector.buffer.wal import WriteAheadBuffer
    from collector.service import Collector
    from collector.settings import load_settings
    from tests.conftest import write_config

    site = f"lay-w-{time.time_ns()}"
    rows = _rows(site, datetime.now(UTC))
    named, compact = rows[:3], rows[3:]
    data = tmp_path / "data"
    wal = WriteAheadBuffer(data / "buffer", series="before", fsync="off")  # the previous run's records
    wal.append_nowait([pipeline.encode_rows(named),
                       table_record(layouts.record_key(layouts.EVENTS_TABLE, layouts.CURRENT),
                                    pipeline.encode_compact(compact))])
    wal.close()
    cfg = write_config(tmp_path / "footpath.toml", [{"id": site, "public_key": "pk_" + site}])
    c = Collector(load_settings(str(cfg), env={}, overrides={"data_dir": str(data)}), run_writer=False)
    try:
        c._warm_from_buffer()
        recent = c.services.recent
        assert len(recent) == len(rows)
        assert all(recent.seen_or_add(site, r["message_id"]) for r in rows)  # each a re-send now
        assert not recent.seen_or_add(site, "never-sent")
    finally:
        c.wal.close()
