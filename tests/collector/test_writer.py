"""The writer's batching and per-table insert settings, against a recording client."""

import threading
import time
from types import SimpleNamespace

from collector.buffer import layouts
from collector.buffer.wal import WriteAheadBuffer, table_record
from collector.write.writer import INSERT_SETTINGS, Writer


class RecordingClient:
    def __init__(self):
        self.inserts = []
        self.columns = []
        self.types = {}  # the events table's column types as system.columns gives them: none known here

    def query(self, sql, parameters=None):
        assert "system.columns" in sql
        return SimpleNamespace(result_rows=list(self.types.items()))

    def raw_insert(self, table, columns, insert_block, fmt, settings):
        self.inserts.append((table, insert_block, fmt, settings))
        self.columns.append(columns)


class FakeStore:
    url = "chdb://fake"
    embedded = True

    def __init__(self):
        self.client = RecordingClient()

    def writer(self):
        return self.client

    def reset(self):
        pass


def _drain(tmp_path, **kw):
    store = FakeStore()
    w = Writer(store, tmp_path, **kw)
    w.start()
    assert w.wait_idle(10)
    w.stop()
    return store.client.inserts


def _fill(tmp_path, records=50, rows=20):
    wal = WriteAheadBuffer(tmp_path, fsync="off", segment_bytes=4096)
    for i in range(records):
        body = b"\n".join(b'{"message_id":"m%d-%d"}' % (i, j) for j in range(rows))
        wal.append_nowait([body, table_record("footpath.quarantine", b'{"q":%d}' % i)] if i == 3 else body)
    wal.close()


def test_a_backlog_goes_in_one_insert_per_table_whatever_flush_rows(tmp_path):
    _fill(tmp_path)
    inserts = _drain(tmp_path, flush_rows=100, flush_ms=10)
    assert [t for t, *_ in inserts] == ["footpath.events", "footpath.quarantine"]
    assert inserts[0][1].count(b"\n") + 1 == 50 * 20


def test_batch_bytes_splits_a_backlog(tmp_path):
    _fill(tmp_path)
    inserts = _drain(tmp_path, flush_rows=100, flush_ms=10, batch_bytes=5000)
    events = [p for t, p, *_ in inserts if t == "footpath.events"]
    assert len(events) > 3
    assert sum(p.count(b"\n") + 1 for p in events) == 50 * 20
    assert len({s["insert_deduplication_token"] for *_, s in inserts}) == len(inserts)


def test_events_inserts_skip_optimize_on_insert_other_tables_keep_the_defaults(tmp_path):
    _fill(tmp_path)
    inserts = {t: s for t, _, _, s in _drain(tmp_path, flush_rows=100, flush_ms=10)}
    for s in inserts.values():
        for k, v in INSERT_SETTINGS.items():
            assert s[k] == v
    assert inserts["footpath.events"]["optimize_on_insert"] == 0
    assert "optimize_on_insert" not in inserts["footpath.quarantine"]


def test_read_and_insert_time_are_tallied(tmp_path):
    _fill(tmp_path, records=5)
    store = FakeStore()
    w = Writer(store, tmp_path, 100, 10)
    done = threading.Event()
    w.after_insert.append(lambda b: done.set())
    w.start()
    assert done.wait(10)
    w.stop()
    assert w.read_seconds > 0 and w.insert_seconds >= 0 and w.inserted_rows == 5 * 20 + 1  # the quarantine row too


def test_compact_records_go_in_with_their_layout_as_the_column_list(tmp_path):
    key = layouts.record_key(layouts.EVENTS_TABLE, layouts.CURRENT)
    wal = WriteAheadBuffer(tmp_path, fsync="off")
    wal.append_nowait([b'{"message_id":"named"}', table_record(key, b'["u","a"]\n["","b"]')])
    wal.close()
    store = FakeStore()
    w = Writer(store, tmp_path, 100, 10)
    w.start()
    assert w.wait_idle(10)
    w.stop()
    got = {t + ("!" + fmt if fmt != "JSONEachRow" else ""): (p, c, s["insert_deduplication_token"])
           for (t, p, fmt, s), c in zip(store.client.inserts, store.client.columns, strict=True)}
    assert set(got) == {"footpath.events", "footpath.events!JSONCompactEachRow"}
    assert got["footpath.events"][:2] == (b'{"message_id":"named"}', None)
    assert got["footpath.events!JSONCompactEachRow"][:2] == (b'["u","a"]\n["","b"]', layouts.columns("1"))
    assert got["footpath.events"][2] != got["footpath.events!JSONCompactEachRow"][2]  # a token each


def test_a_layout_this_version_does_not_know_stops_the_writer_and_keeps_the_rows(tmp_path):
    wal = WriteAheadBuffer(tmp_path, fsync="off")
    wal.append_nowait(table_record("footpath.events!99", b'["u"]'))
    wal.close()
    store = FakeStore()
    w = Writer(store, tmp_path, 100, 10)
    w.start()
    try:
        deadline = time.monotonic() + 10
        while "layout '99' is unknown" not in w.last_error:
            assert time.monotonic() < deadline, w.last_error
            time.sleep(0.02)
        assert not w.healthy and store.client.inserts == []
        assert w.reader.backlog_bytes() > 0  # still in the buffer for the version that wrote it
    finally:
        w.stop(0.1)
